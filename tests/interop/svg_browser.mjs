// SPDX-License-Identifier: MIT
// Opens an ember SVG flamegraph in headless Chromium, runs a search through the
// Search button's prompt and reads "Matched: X%" (of the whole profile), hovers
// a frame and reads the tooltip, clicks it and checks the zoom, then reloads with the URL fragment and checks the state comes back.
// usage: node svg_browser.mjs FILE.svg FRAME REGEX EXPECTED_PERCENT SCREENSHOT.png
import { launch } from "./browser.mjs";
import { pathToFileURL } from "node:url";

const [svgPath, frameName, regex, expectPct, shot] = process.argv.slice(2);
function fail(msg) {
	console.error("FAIL: " + msg);
	process.exit(1);
}

const b = await launch();
try {
	const page = await b.context.newPage();
	const errors = [];
	page.on("pageerror", (e) => errors.push(String(e)));
	page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
	await page.goto(pathToFileURL(svgPath).href);

	page.once("dialog", (d) => d.accept(regex));
	await page.locator("#search").click();
	const matched = (await page.locator("#matched").textContent()).trim();
	console.log(`search ${regex}: ${matched}`);
	if (matched !== `Matched: ${expectPct}%`)
		fail(`expected Matched: ${expectPct}%`);
	const hl = await page.locator("g.f.hl").count();
	if (hl === 0)
		fail("no frame highlighted");

	// flamegraph.js moves each <title> into data-name (and its tooltip).
	const frame = page.locator(`g.f[data-name="${frameName}"]`).first();
	if ((await frame.count()) === 0)
		fail(`no frame ${frameName}`);
	const before = parseFloat(await frame.locator("rect").getAttribute("width"));
	// Hover: the tooltip shows name, samples and percentage.
	await frame.hover();
	const tip = (await page.locator("#tooltip text").textContent()) || "";
	const tipHidden = await page.locator("#tooltip").evaluate((e) => e.classList.contains("hide"));
	console.log(`tooltip: ${tip}`);
	if (tipHidden || !new RegExp(`^${frameName} \\(\\d+ \\S+, \\d+\\.\\d\\d%`).test(tip))
		fail("hover tooltip missing or without name, samples and percent");
	await frame.click();
	const after = parseFloat(await frame.locator("rect").getAttribute("width"));
	const width = parseFloat(await page.locator("svg").getAttribute("width"));
	console.log(`zoom: ${frameName} width ${before} -> ${after} (image ${width})`);
	if (!(after > before && Math.abs(after - (width - 20)) < 0.5))
		fail("clicked frame did not fill the width");
	if (await page.locator("#unzoom").evaluate((e) => e.classList.contains("hide")))
		fail("Reset Zoom not shown after zoom");
	if (!/#x=/.test(page.url()))
		fail("zoom not kept in the URL: " + page.url());

	// Reset zoom: every frame back to its original width.
	await page.locator("#unzoom").click();
	const reset = parseFloat(await frame.locator("rect").getAttribute("width"));
	if (Math.abs(reset - before) > 0.01)
		fail("reset zoom did not restore the frame");

	// URL state: zoom into the frame again and reopen the URL in a fresh page.
	await frame.click();
	const url = page.url();
	const page2 = await b.context.newPage();
	await page2.goto(url);
	const frame2 = page2.locator(`g.f[data-name="${frameName}"]`).first();
	const w2 = parseFloat(await frame2.locator("rect").getAttribute("width"));
	const m2 = (await page2.locator("#matched").textContent()).trim();
	console.log(`reloaded ${url.replace(/^.*#/, "#")}: width ${w2}, ${m2}`);
	if (Math.abs(w2 - after) > 0.5 || !m2.startsWith("Matched:"))
		fail("zoom or search not restored from the URL");
	if (shot)
		await page2.screenshot({ path: shot });
	if (errors.length)
		fail("script errors: " + errors.join("; "));
	console.log("ok");
} finally {
	await b.close();
}

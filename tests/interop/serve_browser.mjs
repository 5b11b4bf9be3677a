// SPDX-License-Identifier: MIT
// Drives `ember serve`'s page in headless Chromium: the page loads, the
// flamegraph holds the expected functions, dragging a range on the timeline
// changes the flamegraph and its total (and the URL keeps the range), search
// highlights and reports the share the selection's folded download gives, a
// baseline A and a second range B give a differential where GREW grew, and the
// pprof download is saved for `ember report` and `go tool pprof`.
// usage: node serve_browser.mjs URL FUNCS(comma-separated) REGEX SCREENSHOT.png DOWNLOAD.pb.gz [GREW]
import { launch } from "./browser.mjs";

const [url, funcs, regex, shot, dlPath, grew] = process.argv.slice(2);
function fail(msg) {
	console.error("FAIL: " + msg);
	process.exit(1);
}

async function frameDoc(page, id) {
	// The iframe's document once the SVG's script ran (frames have data-name).
	await page.waitForFunction((i) => {
		const d = document.getElementById(i).contentDocument;
		return d && d.querySelector("#frames g.f[data-name]");
	}, id, { timeout: 20000 });
	return page.frameLocator("#" + id);
}
async function total(page) {
	await page.waitForFunction(() => /\d/.test(document.getElementById("total").textContent));
	return parseInt((await page.locator("#total").textContent()).replace(/^\D*/, ""), 10);
}
async function drag(page, f0, f1) {
	const box = await page.locator("#timeline").boundingBox();
	const y = box.y + box.height / 2;
	await page.mouse.move(box.x + box.width * f0, y);
	await page.mouse.down();
	await page.mouse.move(box.x + box.width * (f0 + f1) / 2, y);
	await page.mouse.move(box.x + box.width * f1, y);
	await page.mouse.up();
}
function share(folded, re) {
	let all = 0, hit = 0;
	for (const line of folded.split("\n")) {
		const m = /^(.*) (\d+)$/.exec(line);
		if (!m)
			continue;
		all += +m[2];
		if (m[1].split(";").some((f) => re.test(f)))
			hit += +m[2];
	}
	return all ? (100 * hit / all).toFixed(2) : "0.00";
}

const b = await launch();
try {
	const page = await b.context.newPage();
	const errors = [];
	page.on("pageerror", (e) => errors.push(String(e)));
	await page.goto(url);
	await page.waitForSelector("body[data-ready]", { timeout: 20000 });
	let flame = await frameDoc(page, "flame");
	for (const fn of funcs.split(",")) {
		if ((await flame.locator(`g.f[data-name="${fn}"]`).count()) === 0)
			fail(`function ${fn} not in the flamegraph`);
	}
	const all = await total(page);
	console.log(`page loaded: total ${all}, functions ${funcs} present`);

	// Drag over the first half of the timeline: fewer samples, the range in the URL.
	await drag(page, 0.02, 0.48);
	await page.waitForFunction((t) => {
		const s = document.getElementById("total").textContent;
		return /\d/.test(s) && parseInt(s.replace(/^\D*/, ""), 10) !== t;
	}, all, { timeout: 20000 });
	const part = await total(page);
	console.log(`dragged 2%..48%: total ${all} -> ${part}, url ${page.url()}`);
	if (!(part > 0 && part < all))
		fail("the range selection did not narrow the total");
	if (!/#.*r=\d+\.\.\d+/.test(page.url()))
		fail("range not kept in the URL");
	flame = await frameDoc(page, "flame");

	// Search: highlighted frames, the share of the selection's folded download.
	const q = new URL(page.url()).hash.match(/r=([^&]*)/)[1];
	const folded = await (await page.request.get(new URL(`/download?fmt=folded&r=${q}`, url).href)).text();
	const expect = share(folded, new RegExp(regex));
	page.once("dialog", (d) => d.accept(regex));
	await flame.locator("#search").click();
	const matched = (await flame.locator("#matched").textContent()).trim();
	console.log(`search ${regex}: ${matched} (folded download: ${expect}%)`);
	if (matched !== `Matched: ${expect}%` || expect === "0.00")
		fail(`expected Matched: ${expect}%`);
	if ((await flame.locator("g.f.hl").count()) === 0)
		fail("no frame highlighted");
	await page.screenshot({ path: shot, fullPage: true });

	// A shared link reopens the same range and total.
	const link = page.url();
	const p2 = await b.context.newPage();
	await p2.goto(link);
	await p2.waitForSelector("body[data-ready]");
	await frameDoc(p2, "flame");
	const again = await total(p2);
	console.log(`reopened link: total ${again}`);
	if (again !== part)
		fail("the link did not restore the selection");
	await p2.close();

	// Download the selection as pprof.
	const [dl] = await Promise.all([page.waitForEvent("download"), page.locator("#dl-pprof").click()]);
	await dl.saveAs(dlPath);
	console.log(`downloaded ${dl.suggestedFilename()} to ${dlPath}`);

	if (grew) {
		await page.locator("#setA").click();
		await drag(page, 0.52, 0.98);
		await page.locator("#v-diff").click();
		const diff = await frameDoc(page, "diff");
		const g = diff.locator(`g.f[data-name="${grew}"]`).first();
		if ((await g.count()) === 0)
			fail(`${grew} not in the differential`);
		await g.hover();
		const tip = (await diff.locator("#tooltip text").textContent()) || "";
		const fill = await g.locator("rect").getAttribute("fill");
		console.log(`diff: ${tip} fill ${fill}`);
		const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(fill || "");
		if (!/; \+\d+\.\d\d%/.test(tip) || !m || !(+m[1] > +m[3]))
			fail(`${grew} does not show as grown (red, +share)`);
	}
	if (errors.length)
		fail("page errors: " + errors.join("; "));
	console.log("PASS");
} finally {
	await b.close();
}

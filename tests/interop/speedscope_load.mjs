// SPDX-License-Identifier: MIT
// Serves speedscope's page (npm package speedscope) and one profile from a
// single 127.0.0.1 HTTP server, opens it in headless Chromium with
// #profileURL=, and checks that the profile loads without an error: the page
// title becomes "<name> - speedscope", no script error is logged, and no
// "Something went wrong" message appears. It waits for speedscope to finish
// (the import done and the flame chart drawn), not for a fixed time, so a slow
// machine neither fails it nor hides an error. Saves a screenshot.
// usage: node speedscope_load.mjs PROFILE SCREENSHOT.png
import { launch } from "./browser.mjs";
import { createServer } from "node:http";
import { readFileSync, existsSync, statSync } from "node:fs";
import { dirname, join, basename, extname, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const [profilePath, shot] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "node_modules", "speedscope", "dist", "release");
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
	".json": "application/json", ".wasm": "application/wasm", ".png": "image/png",
	".woff2": "font/woff2", ".ico": "image/x-icon", ".txt": "text/plain" };
const profileName = basename(profilePath);

const server = createServer((req, res) => {
	const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
	let file = path === "/" ? join(root, "index.html")
		: path === "/" + profileName ? profilePath : join(root, normalize(path));
	if (file !== profilePath && !file.startsWith(root)) {
		res.writeHead(403).end();
		return;
	}
	if (!existsSync(file) || !statSync(file).isFile()) {
		res.writeHead(404).end();
		return;
	}
	res.writeHead(200, { "Content-Type": types[extname(file)] || "application/octet-stream",
		"Access-Control-Allow-Origin": "*" });
	res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const port = server.address().port;

// Bounds of each wait: generous, a slow machine must not fail the test.
const LOAD_MS = 60000;

// @p, or a rejection naming @what after @ms.
function within(p, ms, what) {
	let timer;
	const t = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
	});
	return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

let code = 0;
const b = await launch();
try {
	const page = await b.context.newPage();
	const errors = [];
	let failed, imported;
	const failure = new Promise((r) => { failed = r; });
	const importDone = new Promise((r) => { imported = r; });
	const error = (e) => { errors.push(e); failed(); };
	page.on("pageerror", (e) => error(String(e)));
	page.on("console", (m) => {
		if (m.type() === "error" || /^Failed to load format/.test(m.text()))
			error(m.text());
		// speedscope's console.timeEnd("import"): demangled, about to render.
		else if (m.type() === "timeEnd" && /^import: /.test(m.text()))
			imported();
	});
	page.on("dialog", (d) => { error("dialog: " + d.message()); d.dismiss(); });
	const errorText = page.waitForFunction(
		() => /Something went wrong|Unrecognized format/.test(document.body.innerText), null,
		{ timeout: 0 });
	errorText.catch(() => {});
	const profileURL = `http://127.0.0.1:${port}/${profileName}`;
	await page.goto(`http://127.0.0.1:${port}/#profileURL=${encodeURIComponent(profileURL)}`);
	try {
		// speedscope sets the title before it demangles and renders: not an end.
		const how = await within(Promise.race([importDone.then(() => "imported"),
			failure.then(() => "failed"), errorText.then(() => "failed")]), LOAD_MS,
			"speedscope did not import the profile");
		// Then the flame chart: its labels are drawn on 2D canvases (over one
		// WebGL canvas); every 2D canvas with pixels set means a frame was drawn.
		// Polled only after the import, when speedscope has its contexts.
		if (how === "imported")
			await within(Promise.race([failure, errorText, page.waitForFunction(() => {
				const c = [...document.querySelectorAll("canvas")]
					.map((e) => e.getContext("2d")).filter(Boolean);
				return c.length > 0 && c.every((x) => {
					const d = x.getImageData(0, 0, x.canvas.width, x.canvas.height).data;
					for (let i = 3; i < d.length; i += 4)
						if (d[i])
							return true;
					return false;
				});
			}, null, { timeout: 0, polling: 100 })]), LOAD_MS, "the flame chart was not drawn");
		// Two more frames: errors thrown while drawing the first ones arrive first.
		await page.evaluate(() => new Promise((r) =>
			requestAnimationFrame(() => requestAnimationFrame(r))));
	} catch (e) {
		errors.push(String(e.message || e));
	}
	const title = await page.title();
	const text = await page.evaluate(() => document.body.innerText);
	if (shot)
		await page.screenshot({ path: shot });
	console.log(`title: ${title}`);
	if (!/ - speedscope$/.test(title)) {
		console.error("FAIL: profile did not load; page says: " + text.slice(0, 300));
		code = 1;
	}
	if (/Something went wrong|Unrecognized format/.test(text)) {
		console.error("FAIL: speedscope reported an error: " + text.slice(0, 300));
		code = 1;
	}
	if (errors.length) {
		console.error("FAIL: errors: " + errors.join("; "));
		code = 1;
	}
	if (!code)
		console.log("ok");
} finally {
	await b.close();
	server.close();
}
process.exit(code);

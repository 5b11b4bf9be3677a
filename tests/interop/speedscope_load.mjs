// SPDX-License-Identifier: MIT
// Serves speedscope's page (npm package speedscope) and one profile from a
// single 127.0.0.1 HTTP server, opens it in headless Chromium with
// #profileURL=, and checks that the profile loads without an error: the page
// title becomes "<name> - speedscope", no script error is logged, and no
// "Something went wrong" message appears. Saves a screenshot.
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

let code = 0;
const b = await launch();
try {
	const page = await b.context.newPage();
	const errors = [];
	page.on("pageerror", (e) => errors.push(String(e)));
	page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
	page.on("dialog", (d) => { errors.push("dialog: " + d.message()); d.dismiss(); });
	const profileURL = `http://127.0.0.1:${port}/${profileName}`;
	await page.goto(`http://127.0.0.1:${port}/#profileURL=${encodeURIComponent(profileURL)}`);
	await page.waitForFunction(() => / - speedscope$/.test(document.title) ||
		/Something went wrong|Unrecognized format/.test(document.body.innerText), null,
		{ timeout: 30000 }).catch(() => {});
	await page.waitForTimeout(500);
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

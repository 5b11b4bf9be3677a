// SPDX-License-Identifier: MIT
// Headless Debian Chromium through playwright-core, with the flags the tests
// agreed on (no network side traffic, fresh profile directory every run).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function launch() {
	const userDataDir = mkdtempSync(join(tmpdir(), "ember-chromium-"));
	const context = await chromium.launchPersistentContext(userDataDir, {
		executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: [
			"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
		],
		viewport: { width: 1300, height: 900 },
	});
	return {
		context,
		async close() {
			await context.close();
			rmSync(userDataDir, { recursive: true, force: true });
		},
	};
}

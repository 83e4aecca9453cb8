// Two tabs of one browser profile: each is its own peer to the server, so neither knocks the
// other off; and each sees what the other stored without a reload, online and offline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, cleanup, DEMO, signIn, startServer, waitSaved, waitValue } from "./harness.mjs";


/** Records every state the sync status line goes through from now on. */
async function watchStates(page) {
  await page.evaluate(() => {
    window.__states = [];
    let last = null;
    setInterval(() => {
      const state = document.querySelector("#sync-status")?.dataset.state;
      if (state !== last) window.__states.push((last = state));
    }, 25);
  });
}

test("two tabs of one profile stay connected side by side and see each other's records", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "zh-CN" });
    const a = await context.newPage();
    const b = await context.newPage();
    for (const p of [a, b]) p.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(a, server.url, DEMO.federation);
    await b.goto(server.url);
    await b.waitForSelector('#sync-status[data-state="up-to-date"]', { timeout: 20000 });
    await watchStates(a);
    await watchStates(b);

    // A new record in tab A shows in tab B's list, with its code, without a reload.
    await a.click("#new-intake");
    await a.fill("#f-survivor_code", "TAB-001");
    await waitSaved(a);
    const id = a.url().split("#/r/")[1];
    const row = b.locator(`li.record[data-id="${id}"]`);
    await row.waitFor({ timeout: 10000 });
    await b.waitForFunction((i) => /TAB-001/.test(document.querySelector(`li.record[data-id="${i}"]`)?.textContent || ""), id, {
      timeout: 10000,
    });

    // It reaches the server, and neither tab lost its connection on the way (with one peer id
    // for both, each tab's join closed the other's socket, over and over).
    await a.waitForSelector('#record-sync[data-synced="true"]', { timeout: 20000 });
    await new Promise((r) => setTimeout(r, 3000));
    for (const [name, page] of [["A", a], ["B", b]]) {
      const states = await page.evaluate(() => window.__states);
      assert.ok(!states.some((s) => s === "connecting" || s === "error"), `tab ${name} stayed connected: ${states.join(" → ")}`);
      assert.equal(await page.getAttribute("#sync-status", "data-state"), "up-to-date", `tab ${name} is up to date`);
    }

    // With no network at all, an edit in tab A reaches the record open in tab B through the
    // device's storage.
    await row.locator("a").click();
    await waitValue(b, "#f-survivor_code", "TAB-001");
    await context.setOffline(true);
    await a.waitForSelector('#sync-status[data-state="offline"]');
    await a.fill("#f-description", "Written in the first tab.");
    await waitSaved(a);
    await waitValue(b, "#f-description", "Written in the first tab.");
  } finally {
    await browser.close();
    await server.stop();
    cleanup(server.dataDir);
  }
});

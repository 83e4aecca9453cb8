// A township cadre records a case clue with no network; the record survives reloads, a
// browser restart and the server being gone, because the app starts from its service worker
// and the record lives in IndexedDB.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cleanup, clearHttpCache, launchProfile, startServer, tempDir, waitOfflineReady, waitSaved,
} from "./harness.mjs";

test("a case clue recorded offline survives reload, browser restart and a stopped server", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  let browser = await launchProfile(profile);
  try {
    let { context, page } = browser;
    await page.goto(server.url);
    await page.waitForSelector("#empty-list");
    await waitOfflineReady(page);

    // From here on the device has no network at all.
    await context.setOffline(true);
    await page.click("#new-intake");
    await page.fill("#f-survivor_code", "ZX-2026-031");
    await page.fill("#f-survivor_age", "14");
    await page.selectOption("#f-minor", "yes");
    await page.selectOption("#f-incident_type", "domestic_violence");
    await page.fill("#f-incident_date", "2026-11-20");
    await page.fill("#f-description", "邻居反映夜间多次听到哭喊声。");
    await waitSaved(page);
    assert.equal(await page.locator("button", { hasText: /^保存$|^Save$/ }).count(), 0, "there is no save button to forget");

    // A reload, still offline, reopens the same record from the URL.
    await page.reload();
    await page.waitForSelector("#f-survivor_code");
    assert.equal(await page.inputValue("#f-survivor_code"), "ZX-2026-031");
    assert.equal(await page.inputValue("#f-description"), "邻居反映夜间多次听到哭喊声。");

    // Close the browser and stop the server.
    await context.close();
    await server.stop();

    browser = await launchProfile(profile);
    ({ context, page } = browser);
    await clearHttpCache(context, page);
    await context.setOffline(true);
    const response = await page.goto(server.url);
    assert.ok(response, "the page loaded");
    assert.ok(response.fromServiceWorker(), "the page came from the service worker, not the network or HTTP cache");
    const row = page.locator("#records li.record");
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.match(await row.first().innerText(), /ZX-2026-031/);
    assert.match(await row.first().innerText(), /家庭暴力/);

    await row.first().locator("a").click();
    await page.waitForSelector("#f-survivor_code");
    assert.equal(await page.inputValue("#f-survivor_code"), "ZX-2026-031");
    assert.equal(await page.inputValue("#f-survivor_age"), "14");
    assert.equal(await page.inputValue("#f-minor"), "yes");
    assert.equal(await page.inputValue("#f-incident_date"), "2026-11-20");
    assert.equal(await page.inputValue("#f-description"), "邻居反映夜间多次听到哭喊声。");
  } finally {
    await browser.context.close().catch(() => {});
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

// A township cadre records a case clue with no network; the record survives reloads, a
// browser restart and the server being gone, because the app starts from its service worker
// and the record lives in IndexedDB.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
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

// The record page is a wasm chunk of its own (`cargo xtask dist` splits it off): the list never
// fetches it, the service worker precaches it, and a record opens with no network on a device
// that has only ever seen the list. (The sync code is a chunk too, fetched after the first screen.)
test("the record page's chunk is precached: a first record opens offline on a device that only saw the list", async () => {
  const chunks = lazyChunks();
  assert.ok(chunks.some((c) => c.startsWith("split_record_page-")), "the build has a record-page chunk");
  assert.ok(chunks.some((c) => c.startsWith("split_sync_core-")), "the build has a sync chunk");
  const server = await startServer();
  const profile = tempDir("profile");
  const browser = await launchProfile(profile);
  try {
    const { context, page } = browser;
    await page.goto(server.url);
    await page.waitForSelector("#empty-list");
    await waitOfflineReady(page);

    const fetched = await page.evaluate(() => performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname));
    for (const chunk of chunks.filter((c) => c.startsWith("split_record_page-"))) {
      assert.ok(!fetched.includes(`/${chunk}`), `the list does not fetch ${chunk}`);
    }
    const cached = await page.evaluate(async () => {
      const urls = [];
      for (const key of await caches.keys()) {
        for (const request of await (await caches.open(key)).keys()) urls.push(new URL(request.url).pathname);
      }
      return urls;
    });
    for (const chunk of chunks) assert.ok(cached.includes(`/${chunk}`), `the service worker cached ${chunk}`);

    await clearHttpCache(context, page);
    await context.setOffline(true);
    await page.click("#new-intake");
    await page.waitForSelector("#f-survivor_code");
    assert.equal(await page.locator("#page-load-failed").count(), 0);
    await page.fill("#f-survivor_code", "ZX-2026-032");
    await waitSaved(page);
  } finally {
    await browser.context.close().catch(() => {});
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

// Without a service worker and without network the chunk cannot load: the app says so and
// keeps running, and the retry button opens the page once the chunk can be fetched.
test("a record page that cannot be fetched says so and opens on retry", async () => {
  const chunks = lazyChunks().filter((c) => c.startsWith("split_record_page-"));
  const server = await startServer();
  const profile = tempDir("profile");
  const browser = await launchProfile(profile, { serviceWorkers: "block" });
  try {
    const { page } = browser;
    const blocked = (url) => chunks.some((c) => new URL(url).pathname === `/${c}`);
    const abort = (route) => route.abort("internetdisconnected");
    await page.route(blocked, abort);
    await page.goto(server.url);
    await page.waitForSelector("#empty-list");
    await page.click("#new-intake");
    await page.waitForSelector("#page-load-failed");
    assert.match(await page.innerText("#page-load-failed"), /记录页无法载入/);

    await page.unroute(blocked, abort);
    await page.click("#page-load-failed button");
    await page.waitForSelector("#f-survivor_code");
    // The app still answers: the list opens again.
    await page.click("a.back");
    await page.waitForSelector("#records li.record");
  } finally {
    await browser.context.close().catch(() => {});
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

/** The wasm chunks the split loader fetches on demand, by their names in `dist/`. */
// The first screen needs none of the sync code: with its chunks unreachable the list shows,
// the status line says sync could not start, and it starts by itself once they can be fetched.
test("the list shows without the sync code, and sync starts once its chunk arrives", async () => {
  const sync = syncChunks();
  const server = await startServer();
  const profile = tempDir("profile");
  const browser = await launchProfile(profile, { serviceWorkers: "block" });
  try {
    const { page } = browser;
    const blocked = (url) => sync.some((c) => new URL(url).pathname === `/${c}`);
    const abort = (route) => route.abort("internetdisconnected");
    await page.route(blocked, abort);
    await page.goto(server.url);
    await page.waitForSelector("#empty-list");
    await page.waitForSelector('#sync-status[data-state="error"]', { timeout: 10000 });
    assert.match(await page.innerText("#sync-status"), /同步模块未能载入/);

    await page.unroute(blocked, abort);
    await page.waitForSelector('#sync-status[data-state="signed-out"]', { timeout: 15000 });
    await page.click("#new-intake");
    await page.fill("#f-survivor_code", "ZX-2026-040");
    await waitSaved(page);
  } finally {
    await browser.context.close().catch(() => {});
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

/** The chunks the sync code needs: its own and those it shares with the record page. */
function syncChunks() {
  const dist = process.env.LIAISON_DIST;
  const loader = readdirSync(dist).find((f) => /^split-[0-9a-f]{16}\.js$/.test(f));
  const js = readFileSync(join(dist, loader), "utf8");
  return lazyChunks().filter((c) => !c.startsWith("split_record_page-") && js.includes(c));
}

function lazyChunks() {
  const dist = process.env.LIAISON_DIST;
  const loader = readdirSync(dist).find((f) => /^split-[0-9a-f]{16}\.js$/.test(f));
  assert.ok(loader, "dist/ has the split loader");
  return [...readFileSync(join(dist, loader), "utf8").matchAll(/"\.\/([^"]+\.wasm)"/g)].map((m) => m[1]);
}

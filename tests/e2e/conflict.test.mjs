// Two people of one organisation set the same field offline to different values. After both
// reconnect, each sees both values with who entered them, one person picks one, and both
// devices show the choice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, cleanup, DEMO, signIn, startServer, waitSaved, waitValue } from "./harness.mjs";


test("concurrent values of one field are both shown, and the one picked wins on both devices", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const aCtx = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "zh-CN" });
    const bCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
    const a = await aCtx.newPage();
    const b = await bCtx.newPage();
    for (const p of [a, b]) p.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(a, server.url, DEMO.federation);
    await signIn(b, server.url, DEMO.federation);

    await a.click("#new-intake");
    await a.fill("#f-survivor_code", "ZX-300");
    await a.waitForSelector('#record-sync[data-state="on-server"]', { timeout: 20000 });
    const id = a.url().split("#/r/")[1];
    // The second device finds it through the change feed on its next connection.
    await b.reload();
    const row = b.locator(`li.record[data-id="${id}"]`);
    await row.waitFor({ timeout: 20000 });
    await row.locator("a").click();
    await waitValue(b, "#f-survivor_code", "ZX-300");

    await aCtx.setOffline(true);
    await bCtx.setOffline(true);
    await a.fill("#f-survivor_age", "12");
    await waitSaved(a);
    await b.fill("#f-survivor_age", "13");
    await waitSaved(b);
    await aCtx.setOffline(false);
    await bCtx.setOffline(false);

    // Both devices show both values, with who entered them.
    const chooser = "#c-survivor_age";
    await a.waitForSelector(chooser, { timeout: 30000 });
    await b.waitForSelector(chooser, { timeout: 30000 });
    const zh = await a.innerText(`${chooser} .conflict-values`);
    assert.match(zh, /^两个值：/);
    assert.match(zh, /12（李敏 Li Min，县妇女联合会 County Women's Federation）/);
    assert.match(zh, /13（李敏 Li Min，县妇女联合会 County Women's Federation）/);
    const en = await b.innerText(`${chooser} .conflict-values`);
    assert.match(en, /^Two values were entered: 1[23] \(李敏 Li Min, 县妇女联合会 County Women's Federation\) and 1[23] \(李敏 Li Min, /);
    assert.equal(await a.locator(`${chooser} button.use-value`).count(), 2);

    // Device A picks 13 (device B's value).
    await a.locator(`${chooser} button.use-value`, { hasText: "13" }).click();
    await a.waitForSelector(chooser, { state: "detached" });
    await waitValue(a, "#f-survivor_age", "13");
    // Device B hears of the choice: the chooser goes, and the value is 13.
    await b.waitForSelector(chooser, { state: "detached", timeout: 30000 });
    await waitValue(b, "#f-survivor_age", "13");

    // And it stays decided after a reload on both.
    for (const p of [a, b]) {
      await p.waitForSelector('#record-sync[data-state="on-server"]', { timeout: 20000 });
      await p.reload();
      await waitValue(p, "#f-survivor_age", "13");
      assert.equal(await p.locator(chooser).count(), 0);
    }
  } finally {
    await browser.close();
    await server.stop();
    cleanup(server.dataDir);
  }
});

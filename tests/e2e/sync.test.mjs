// Two organisations, two browsers: the federation writes the minutes of a joint meeting
// offline and shares them with the procuratorate; both edit different fields and the same
// paragraph offline; both reconnect; both see every edit. (A case clue is not co-edited: each
// side writes only its own fields of a case, see case.test.mjs.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, cleanup, DEMO, share, signIn, startServer, waitSaved, waitValue } from "./harness.mjs";



test("offline edits by two organisations merge, and only after sharing", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const fedCtx = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "zh-CN" });
    const procCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
    const fed = await fedCtx.newPage();
    const proc = await procCtx.newPage();
    for (const p of [fed, proc]) p.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(fed, server.url, DEMO.federation);
    await signIn(proc, server.url, DEMO.procuratorate);

    // The federation writes the minutes with no network.
    await fedCtx.setOffline(true);
    await fed.waitForSelector('#sync-status[data-state="offline"]');
    await fed.click("#new-minutes");
    await fed.fill("#f-title", "ZX-077 联席会议");
    await fed.fill("#f-agenda", "First sentence. Second sentence.");
    await waitSaved(fed);
    await fed.waitForSelector('#record-sync[data-synced="false"]');
    const recordUrl = fed.url();
    const id = recordUrl.split("#/r/")[1];

    // Back online: it reaches the server, and is shared with the procuratorate.
    await fedCtx.setOffline(false);
    await fed.waitForSelector('#record-sync[data-synced="true"]', { timeout: 20000 });
    await share(fed, DEMO.procuratorate.org);

    // The procuratorate finds it through the change feed (its next connection).
    await proc.reload();
    const row = proc.locator(`li.record[data-id="${id}"]`);
    await row.waitFor({ timeout: 20000 });
    assert.match(await row.innerText(), /ZX-077/);
    await row.locator("a").click();
    await waitValue(proc, "#f-agenda", "First sentence. Second sentence.");

    // Both offline; each edits a different field and a different sentence.
    await fedCtx.setOffline(true);
    await procCtx.setOffline(true);
    await fed.fill("#f-place", "李家村");
    await fed.fill("#f-agenda", "First sentence, checked by the federation. Second sentence.");
    await waitSaved(fed);
    await proc.fill("#f-decisions", "Refer to the county court.");
    await proc.fill("#f-agenda", "First sentence. Second sentence, noted by the procuratorate.");
    await waitSaved(proc);

    // Both reconnect; both see everything.
    await fedCtx.setOffline(false);
    await procCtx.setOffline(false);
    const merged = "First sentence, checked by the federation. Second sentence, noted by the procuratorate.";
    for (const page of [fed, proc]) {
      await waitValue(page, "#f-agenda", merged);
      await waitValue(page, "#f-place", "李家村");
      await waitValue(page, "#f-decisions", "Refer to the county court.");
    }
    // And it is on both devices, not only on screen: reload each offline.
    for (const [ctx, page] of [[fedCtx, fed], [procCtx, proc]]) {
      await page.waitForSelector('#record-sync[data-synced="true"]', { timeout: 20000 });
      await page.waitForSelector('#sync-status[data-state="up-to-date"]', { timeout: 20000 });
      await ctx.setOffline(true);
      await page.reload();
      await waitValue(page, "#f-agenda", merged);
    }

    // The court, never shared with, sees nothing.
    const courtCtx = await browser.newContext();
    const court = await courtCtx.newPage();
    await signIn(court, server.url, DEMO.court);
    assert.equal(await court.locator("li.record").count(), 0);
  } finally {
    await browser.close();
    await server.stop();
    cleanup(server.dataDir);
  }
});

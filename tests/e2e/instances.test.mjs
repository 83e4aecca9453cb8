// Two server instances on one PostgreSQL serve as one: the federation works through instance A,
// the procuratorate through instance B; a case clue transferred on A is found on B, and an edit
// on A and a step on B show live on the other side.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, cleanup, DEMO, signIn, startPostgres, startServer, transfer, waitSaved, waitValue } from "./harness.mjs";


test("two instances on one PostgreSQL serve two browsers as one", async () => {
  const pg = await startPostgres();
  const a = await startServer({ database: pg.url });
  const b = await startServer({ database: pg.url });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const fed = await (await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "zh-CN" })).newPage();
    const proc = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" })).newPage();
    for (const p of [fed, proc]) p.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(fed, a.url, DEMO.federation);
    await signIn(proc, b.url, DEMO.procuratorate);

    // The federation records a case through A and transfers it to the procuratorate.
    await fed.click("#new-intake");
    await fed.fill("#f-survivor_code", "PG-001");
    await waitSaved(fed);
    const id = fed.url().split("#/r/")[1];
    await fed.waitForSelector('#record-sync[data-synced="true"]', { timeout: 20000 });
    await transfer(fed, DEMO.procuratorate.org);

    // The procuratorate, on B, finds it in its feed and opens it.
    await proc.reload();
    const row = proc.locator(`li.record[data-id="${id}"]`);
    await row.waitFor({ timeout: 20000 });
    assert.match(await row.innerText(), /PG-001/);
    await row.locator("a").click();
    await waitValue(proc, "#f-survivor_code", "PG-001");

    // Edits through either instance show live through the other.
    await fed.fill("#f-description", "Visited on Monday; the survivor is safe.");
    await waitSaved(fed);
    await waitValue(proc, "#f-description", "Visited on Monday; the survivor is safe.");
    // The procuratorate writes none of the clue's fields; its step is its edit.
    assert.ok(await proc.isDisabled("#f-incident_place"));
    await proc.click('#case-actions button[data-step="accept"]');
    await proc.click("#case-confirm");
    await fed.waitForSelector('#case-state[data-state="accepted"]', { timeout: 20000 });
  } finally {
    await browser.close();
    await a.stop();
    await b.stop();
    await pg.stop();
    cleanup(a.dataDir, b.dataDir);
  }
});

// Each record says where it stands with the server, in the list and on its page: on the
// server or not yet. Sharing by hand asks first; a withdrawn share takes the record off the
// other organisation's device, which says so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanup, DEMO, launchProfile, startServer, tempDir, waitSaved, signIn } from "./harness.mjs";

test("a record shows not yet / on the server; a withdrawn share leaves the other device", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const procProfile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  const proc = await launchProfile(procProfile);
  try {
    await signIn(page, server.url, DEMO.federation);
    await context.setOffline(true);
    await page.click("#new-mediation");
    await page.fill("#f-case_code", "TJ-400");
    await waitSaved(page);
    const id = page.url().split("#/r/")[1];
    await page.waitForSelector('#record-sync[data-state="pending"]');
    assert.match(await page.innerText("#record-sync"), /尚未同步到服务器/);
    await page.click(".back");
    await page.waitForSelector(`li.record[data-id="${id}"][data-sync="pending"]`);

    await context.setOffline(false);
    await page.waitForSelector(`li.record[data-id="${id}"][data-sync="on-server"]`, { timeout: 20000 });
    assert.match(await page.locator(`li.record[data-id="${id}"] .sync-badge`).innerText(), /服务器已有最新内容/);

    // Shared with the procuratorate, which opens it; then the federation withdraws the share.
    // Sharing asks first and says what it means; nothing chosen gets a message.
    const procOrg = DEMO.procuratorate.org;
    await page.click(`li.record[data-id="${id}"] a`);
    await page.waitForSelector("#share-org");
    await page.click("#share-button");
    await page.waitForFunction(() => /请先选择要共享的单位/.test(document.querySelector("#share-panel")?.textContent || ""));
    await page.selectOption("#share-org", procOrg);
    await page.click("#share-button");
    assert.match(await page.innerText("#share-confirm-text"), /确认把此记录共享给.*对方将能查看和修改全部内容/);
    await page.click("#share-cancel");
    await page.waitForSelector("#share-confirm-text", { state: "detached" });
    assert.equal(await page.locator(`#unshare-${procOrg}`).count(), 0, "cancelled: not shared");
    await page.selectOption("#share-org", procOrg);
    await page.click("#share-button");
    await page.click("#share-confirm-button");
    await page.waitForSelector(`#unshare-${procOrg}`);
    assert.equal(await page.locator(`#share-org option[value="${procOrg}"]`).count(), 0, "not offered twice");
    // (On another device: this one keeps the federation's records to the federation.)
    const p = proc.page;
    await signIn(p, server.url, DEMO.procuratorate);
    const row = p.locator(`li.record[data-id="${id}"]`);
    await row.waitFor({ timeout: 20000 });
    await row.locator("a").click();
    await p.waitForSelector('#record-sync[data-state="on-server"]', { timeout: 20000 });

    await p.fill("#f-place", "李家村");
    await waitSaved(p);

    // The federation withdraws the share from the record page: the procuratorate's open page
    // says the record left its device, and the list says so too.
    await page.click(`#unshare-${procOrg}`);
    await page.waitForSelector(`#unshare-${procOrg}`, { state: "detached" });
    await page.waitForSelector(`#share-org option[value="${procOrg}"]`, { state: "attached" });
    await p.waitForSelector("#record-gone", { timeout: 20000 });
    assert.match(await p.innerText("#record-gone"), /此记录已不再共享给本单位.*已从本设备删除/);
    assert.equal(await p.locator("#f-place").count(), 0, "nothing of it shows");
    await p.click(".back");
    await p.waitForSelector("#records-gone");
    assert.equal(await p.locator(`li.record[data-id="${id}"]`).count(), 0);
    // Gone from storage too: started again, it is not there (the list is read from IndexedDB).
    await p.reload();
    await p.waitForSelector("#empty-list");
    assert.equal(await p.locator(`li.record[data-id="${id}"]`).count(), 0);
    const left = await p.evaluate(async (doc) => {
      const db = await new Promise((ok, fail) => { const r = indexedDB.open("liaison"); r.onsuccess = () => ok(r.result); r.onerror = fail; });
      const count = (store) => new Promise((ok) => {
        const req = db.transaction(store).objectStore(store).count(IDBKeyRange.bound([doc], [doc, []]));
        req.onsuccess = () => ok(req.result);
      });
      const summary = await new Promise((ok) => { const req = db.transaction("records").objectStore("records").get(doc); req.onsuccess = () => ok(req.result); });
      return { chunks: await count("chunks"), summary: summary ?? null };
    }, id);
    assert.deepEqual(left, { chunks: 0, summary: null }, "no chunk and no summary of it left in IndexedDB");
    // The federation still has it, of course.
    await page.reload();
    await page.waitForSelector("#f-case_code");
    assert.equal(await page.inputValue("#f-case_code"), "TJ-400");
  } finally {
    await proc.context.close();
    await context.close();
    await server.stop();
    cleanup(profile, procProfile, server.dataDir);
  }
});

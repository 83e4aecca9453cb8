// Each record says where it stands with the server, in the list and on its page: on the
// server, not yet, or refused (the organisation has no access there any more).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanup, DEMO, launchProfile, startServer, tempDir, waitSaved, signIn } from "./harness.mjs";

test("a record shows not yet / on the server / refused, in the list and on its page", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const procProfile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  const proc = await launchProfile(procProfile);
  try {
    await signIn(page, server.url, DEMO.federation);
    await context.setOffline(true);
    await page.click("#new-intake");
    await page.fill("#f-survivor_code", "ZX-400");
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

    // The federation withdraws the share from the record page.
    await page.click(`#unshare-${procOrg}`);
    await page.waitForSelector(`#unshare-${procOrg}`, { state: "detached" });
    await page.waitForSelector(`#share-org option[value="${procOrg}"]`, { state: "attached" });
    // An edit the server no longer takes: the page says so rather than "not yet".
    await p.fill("#f-incident_place", "李家村");
    await waitSaved(p);
    await p.waitForSelector('#record-sync[data-state="refused"]', { timeout: 20000 });
    assert.match(await p.innerText("#record-sync"), /服务器拒绝了此记录（无访问权限）/);
    await p.click("#lang-switch");
    assert.match(await p.innerText("#record-sync"), /The server refused this record \(no access\)/);
    await p.click(".back");
    await p.waitForSelector(`li.record[data-id="${id}"][data-sync="refused"]`);
    assert.match(await p.locator(`li.record[data-id="${id}"] .sync-badge`).innerText(), /The server refused this record/);
  } finally {
    await proc.context.close();
    await context.close();
    await server.stop();
    cleanup(profile, procProfile, server.dataDir);
  }
});

// The audit trail as an organisation's administrator meets it: the federation shares meeting
// minutes with the procuratorate, the procuratorate opens them, and the federation's
// administrator finds that read in the audit view, narrows it to the record, and sees it in
// both languages. A member of the federation has no audit link and is refused by the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, DEMO, login, share, signIn, startServer, waitSaved, waitValue } from "./harness.mjs";

const SHOTS = process.env.LIAISON_SCREENSHOTS || "/tmp/liaison-screenshots";

test("the federation's administrator sees that the procuratorate read a record it shared", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const fedCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "zh-CN", acceptDownloads: true });
    const procCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
    const fed = await fedCtx.newPage();
    const proc = await procCtx.newPage();
    for (const p of [fed, proc]) p.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(fed, server.url, DEMO.federation);
    await signIn(proc, server.url, DEMO.procuratorate);

    await fed.click("#new-minutes");
    await fed.fill("#f-title", "ZX-301 联席会议");
    await fed.fill("#f-agenda", "王某某的情况");
    await waitSaved(fed);
    await fed.waitForSelector('#record-sync[data-synced="true"]', { timeout: 20000 });
    const id = fed.url().split("#/r/")[1];
    await share(fed, DEMO.procuratorate.org);

    await proc.reload();
    const row = proc.locator(`li.record[data-id="${id}"]`);
    await row.waitFor({ timeout: 20000 });
    await row.locator("a").click();
    await waitValue(proc, "#f-agenda", "王某某的情况");

    // The administrator's view: the procuratorate's read of the shared record is there.
    await fed.click("#audit-link");
    const read = `#audit-table tr[data-action="read"][data-doc="${id}"][data-user="${DEMO.procuratorate.username}"]`;
    await fed.waitForSelector(read, { timeout: 20000 });
    assert.match(await fed.innerText(read), /查看/);
    assert.match(await fed.innerText(read), /ZX-301/, "the record's code, as this device knows it");
    const procDevice = await proc.evaluate(() => localStorage.getItem("liaison.device"));
    assert.equal(await fed.innerText(`${read} td.audit-device`), procDevice.replace(/^device-/, "").slice(0, 8), "and which device read it");
    assert.ok(await fed.$(`#audit-table tr[data-action="share"][data-doc="${id}"]`), "the share too");
    assert.doesNotMatch(await fed.innerText("#audit-table"), /王某某/, "nothing written in the record");

    // Narrowed to the record (by its code, as people know it) and the procuratorate's
    // account: its read alone.
    await fed.fill("#audit-doc", "zx-301 联席会议");
    await fed.fill("#audit-user", DEMO.procuratorate.username);
    await fed.click("#audit-apply");
    // (A read is a record given to a connection: each of the procuratorate's connections
    // that synced it left one.)
    await fed.waitForFunction(
      ([doc, user]) => {
        const rows = [...document.querySelectorAll("#audit-table tr.audit-row")];
        return rows.length > 0 && rows.every((r) => r.dataset.doc === doc && r.dataset.user === user && r.dataset.action === "read");
      },
      [id, DEMO.procuratorate.username],
    );
    await fed.click("#lang-switch");
    assert.match(await fed.innerText(read), /Read/);
    const [file] = await Promise.all([fed.waitForEvent("download"), fed.click("#audit-export")]);
    const csv = await (await file.createReadStream()).toArray().then((parts) => Buffer.concat(parts).toString());
    assert.ok(csv.startsWith("\ufeffWhen,What,Account"), csv.slice(0, 40));
    assert.match(csv, new RegExp(`Read,${DEMO.procuratorate.username},.*,${id}`));
    // A day long ago: nothing matches, and it says so.
    await fed.fill("#audit-from", "2020-01-01");
    await fed.fill("#audit-to", "2020-01-02");
    await fed.click("#audit-apply");
    await fed.waitForSelector("#audit-empty");
    // A code this device does not know: said so, not an empty answer.
    await fed.fill("#audit-doc", "ZX-999");
    await fed.click("#audit-apply");
    assert.match(await (await fed.waitForSelector("#audit-error")).innerText(), /ZX-999/);
    await fed.screenshot({ path: `${SHOTS}/audit-empty.png` }).catch(() => {});

    // A member of the federation: no link, and the server refuses the audit to it.
    const env = { ...process.env, LIAISON_PASSWORD: "a member's password" };
    execFileSync(process.env.LIAISON_SERVER_BIN, ["--data-dir", server.dataDir, "user", "add", "fed-zhou", "--org", DEMO.federation.org, "--name", "周干事"], { env });
    const member = { username: "fed-zhou", password: "a member's password", org: DEMO.federation.org };
    const memberCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN" });
    const phone = await memberCtx.newPage();
    await signIn(phone, server.url, member);
    assert.equal(await phone.$("#audit-link"), null, "a member has no audit link");
    const token = await login(server.url, member);
    const refused = await fetch(`${server.url}/api/audit`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(refused.status, 403);
    await phone.goto(`${server.url}/#/audit`);
    await phone.waitForSelector("#audit-error");
    assert.match(await phone.innerText("#audit-error"), /administrator/);
  } finally {
    await browser.close();
    await server.stop();
  }
});

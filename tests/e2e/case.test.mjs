// Case work between organisations, in two browsers: the federation (a phone, in Chinese)
// records a case clue about a minor and transfers it with no signal; once it is back online
// the procuratorate (a laptop, in English) finds it in its inbox, accepts it, records that it
// supervised the police filing and reports the result, which the federation sees with the case
// closed. An item goes overdue when the clock (injected) passes its due date. Then an
// entrustment round trip: the procuratorate entrusts a custody investigation, the federation
// accepts and reports, the procuratorate acknowledges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, DEMO, signIn, startServer, transfer } from "./harness.mjs";
import { png } from "./fields-helpers.mjs";

const DAY = 86_400_000;
const SHOTS = process.env.LIAISON_SCREENSHOTS || "/tmp/liaison-screenshots";

async function step(page, id, fill = async () => {}) {
  await page.click(`#case-actions button[data-step="${id}"]`);
  await page.waitForSelector(`#case-form[data-step="${id}"]`);
  await fill();
  await page.click("#case-confirm");
  await page.waitForSelector(`#case-timeline li[data-step="${id}"]`);
}
const caseState = (page, expected, timeout = 30000) =>
  page.waitForSelector(`#case-state[data-state="${expected}"]`, { timeout }).catch(async (e) => {
    throw new Error(`the case is ${await page.getAttribute("#case-state", "data-state").catch(() => "?")}, expected ${expected}: ${e.message}`);
  });
const received = (page, stepId) => page.waitForSelector(`#case-timeline li[data-step="${stepId}"][data-received="true"]`, { timeout: 30000 });

/** Reloads until the inbox lists `id` (the feed brings new records on start). */
async function inboxHas(page, url, id) {
  for (let i = 0; i < 10; i++) {
    await page.goto(`${url}/#/inbox`);
    await page.reload();
    const found = await page.waitForSelector(`#inbox-list li[data-id="${id}"]`, { timeout: 5000 }).catch(() => null);
    if (found) return found;
  }
  throw new Error(`the inbox never listed ${id}`);
}

test("a case clue is transferred offline, worked to a result, and an entrustment comes back", async () => {
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
    if ((await proc.innerText("#lang-switch")) === "English") await proc.click("#lang-switch");

    // The cadre signs in at the office and leaves for the village: no signal from here on,
    // and no record was opened while online (the receivers come with sign-in).
    await fed.waitForSelector('#sync-status[data-state="up-to-date"]', { timeout: 20000 });
    await fed.waitForFunction(() => (localStorage.getItem("liaison.orgs") || "").includes("procuratorate"));
    await fedCtx.setOffline(true);

    // The federation records a case clue about a minor, with its legal basis.
    await fed.click("#new-intake");
    await fed.waitForSelector("#case-panel");
    await fed.fill("#f-survivor_code", "ZX-510");
    await fed.selectOption("#f-minor", "yes");
    await fed.selectOption("#f-incident_type", "sexual_assault");
    await fed.selectOption("#f-legal_basis", "mandatory_report");
    await caseState(fed, "recorded");
    const id = fed.url().split("#/r/")[1];

    // Still no signal: the transfer is recorded on the phone, waiting to sync.
    await step(fed, "transfer", async () => {
      // Offered only the procuratorate: a case clue goes to no court, and not back to itself.
      const offered = await fed.$$eval("#case-to-org option", (os) => os.map((o) => o.value).filter(Boolean));
      assert.deepEqual(offered, [DEMO.procuratorate.org]);
      await fed.selectOption("#case-to-org", DEMO.procuratorate.org);
    });
    await caseState(fed, "transferred");
    assert.equal(await fed.getAttribute('#case-timeline li[data-step="transfer"]', "data-received"), "false", "not on the server yet");
    assert.match(await fed.innerText("#case-timeline"), /尚未同步到服务器/);
    // The procuratorate has its inbox open, empty and synced, before the transfer arrives.
    await proc.goto(`${server.url}/#/inbox`);
    await proc.waitForSelector("#inbox-empty");
    await proc.waitForSelector('#sync-status[data-state="up-to-date"]', { timeout: 20000 });
    const woken = proc.waitForResponse(
      async (r) => r.url().includes("/api/docs/wait") && (await r.json().catch(() => ({}))).changed === true,
      { timeout: 20000 },
    );
    await fedCtx.setOffline(false);
    await received(fed, "transfer");
    await woken;

    // The procuratorate's inbox shows it, with a count on the navigation, without a reload:
    // the server wakes its waiting device at the transfer (well before the 30 s poll).
    const item = await proc.waitForSelector(`#inbox-list li[data-id="${id}"]`, { timeout: 15000 });
    assert.equal(await item.getAttribute("data-overdue"), "false");
    mkdirSync(SHOTS, { recursive: true });
    await proc.screenshot({ path: `${SHOTS}/case-inbox.png`, fullPage: true });
    assert.match(await item.innerText(), /ZX-510/);
    assert.match(await item.innerText(), /Transferred, awaiting acceptance/);
    await proc.waitForSelector('#inbox-link[data-count="1"]');

    // Eight days on (the clock injected, on a device of its own: a context's clock is shared
    // by its pages), the same item is overdue.
    const laterCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
    await laterCtx.clock.setFixedTime(new Date(Date.now() + 8 * DAY));
    const later = await laterCtx.newPage();
    await signIn(later, server.url, DEMO.procuratorate);
    await inboxHas(later, server.url, id);
    await later.waitForSelector(`#inbox-list li[data-id="${id}"][data-overdue="true"]`, { timeout: 20000 });
    assert.match(await later.innerText(`#inbox-list li[data-id="${id}"]`), /已逾期|Overdue/);
    await laterCtx.close();

    // The procuratorate accepts, records the supervised police filing and reports back.
    await proc.click(`#inbox-list li[data-id="${id}"] a`);
    await caseState(proc, "transferred");
    assert.ok(!(await proc.$('#case-actions button[data-step="withdraw"]')), "only the sender withdraws");
    await step(proc, "accept");
    await caseState(proc, "accepted");
    // The clue is the federation's: the procuratorate reads it and cannot change it.
    assert.ok(await proc.isDisabled("#f-survivor_code"), "the receiver does not write the sender's fields");
    assert.match(await proc.innerText("#w-survivor_code"), /other organisation's to fill in/);
    assert.ok(await proc.isHidden("#mark-complete"), "nothing here is the receiver's to mark complete");
    assert.ok(await proc.isHidden("#record-status"), "nor a draft of its own: the case panel says where it stands");
    await step(proc, "police_filing_supervised");
    await step(proc, "report_result", async () => {
      await proc.selectOption("#case-outcome", "prosecuted");
      await proc.fill("#case-text", "Prosecution filed; the court has accepted the case.");
      // The indictment goes with the result, attached in the step's own form.
      await proc.click("#case-form #add-result_files");
      const item = proc.locator('#case-form [data-field="result_files"] li.item').first();
      await item.locator('input[type="file"]').setInputFiles({ name: "起诉书.png", mimeType: "image/png", buffer: png(40, 30) });
      await item.locator(".file-view").waitFor();
    });
    assert.equal(await proc.locator('form.fields > [data-field="result_files"]').count(), 0, "not among the record's own fields");
    await caseState(proc, "result_reported");
    await received(proc, "report_result");
    assert.match(await proc.innerText("#case-timeline"), /took/, "how long each step took");

    // The federation sees the result and the case closed; nothing is left for it to do.
    await caseState(fed, "result_reported");
    const timeline = await fed.innerText("#case-timeline");
    assert.match(timeline, /已提起公诉/);
    assert.match(timeline, /已监督公安机关立案/);
    assert.match(timeline, /Prosecution filed/);
    assert.equal(await fed.locator("#case-actions button").count(), 0);
    const files = fed.locator('#case-fields[data-step="report_result"] [data-field="result_files"]');
    await files.locator(".file-name").filter({ hasText: "起诉书.png" }).waitFor({ timeout: 20000 });
    assert.ok(await files.locator("button").first().isDisabled(), "the result's documents stand as reported");
    assert.match(await files.locator("a.open-image").getAttribute("href"), /^blob:/, "the document opens full size");
    await fed.locator("#case-panel").screenshot({ path: `${SHOTS}/case-fed-closed.png` });
    await proc.locator("#case-panel").screenshot({ path: `${SHOTS}/case-proc-closed.png` });

    // The entrustment: the procuratorate asks the federation to investigate custody.
    await proc.goto(`${server.url}/#/`);
    await proc.click("#new-entrustment");
    await proc.waitForSelector("#case-panel");
    await proc.fill("#f-case_code", "ZX-510");
    await proc.selectOption("#f-subject", "custody");
    await proc.fill("#f-questions", "Who cares for the child day to day, and where?");
    // A due date already past is refused before anything is sent.
    await proc.fill("#f-due", "2020-01-15");
    await proc.click('#case-actions button[data-step="entrust"]');
    await proc.selectOption("#case-to-org", DEMO.federation.org);
    await proc.click("#case-confirm");
    assert.match(await proc.innerText("#case-message"), /due date has passed/);
    await proc.click("#case-form button.secondary");
    // Due in 40 days (in China Standard Time, as the app reads dates).
    const due = new Date(Date.now() + 40 * DAY + 8 * 3600 * 1000).toISOString().slice(0, 10);
    await proc.fill("#f-due", due);
    await caseState(proc, "drafted");
    assert.ok(await proc.isDisabled("#f-findings"), "the report waits for the federation, even before it is sent");
    await proc.waitForSelector('#record-sync[data-state="on-server"]', { timeout: 20000 });
    const entrustment = proc.url().split("#/r/")[1];
    await step(proc, "entrust", async () => {
      const offered = await proc.$$eval("#case-to-org option", (os) => os.map((o) => o.value).filter(Boolean));
      assert.deepEqual(offered, [DEMO.federation.org], "an entrustment goes to a federation");
      await proc.selectOption("#case-to-org", DEMO.federation.org);
    });
    await received(proc, "entrust");
    // The questions went out with the entrustment: read-only now, on both sides.
    assert.ok(await proc.isDisabled("#f-questions"), "the questions are fixed once entrusted");
    await proc.waitForSelector('#w-questions[data-fixed="true"] .fixed-note');

    const fedItem = await inboxHas(fed, server.url, entrustment);
    assert.match(await fedItem.innerText(), /已委托，待接受/);
    await fed.click(`#inbox-list li[data-id="${entrustment}"] a`);
    await step(fed, "accept");
    await fed.fill("#f-findings", "祖母日常照料，居住条件尚可。");
    assert.ok(await fed.isDisabled("#f-questions"), "the federation answers the questions as sent");
    assert.ok(!(await fed.isDisabled("#f-findings")), "the report is the federation's to write");
    await step(fed, "submit_report");
    await received(fed, "submit_report");
    // Submitted: the report stays as sent, items included.
    assert.ok(await fed.isDisabled("#f-findings"));
    assert.ok(await fed.isDisabled("#add-visits"), "no visit is added to a submitted report");
    assert.equal(await fed.inputValue("#f-findings"), "祖母日常照料，居住条件尚可。");

    await proc.reload();
    await caseState(proc, "reported");
    assert.ok(await proc.isDisabled("#f-findings"), "the report is the federation's, not the sender's");
    await step(proc, "acknowledge");
    await caseState(proc, "acknowledged");
    await caseState(fed, "acknowledged");
    // Nothing left in the procuratorate's inbox (the count follows the list, a moment later).
    await proc.waitForSelector('#inbox-link[data-count="0"]', { timeout: 10000 });

    // A second case clue, transferred and returned: the procuratorate's copy leaves its
    // device at once, and the federation sees the case returned.
    await fed.goto(`${server.url}/#/`);
    await fed.click("#new-intake");
    await fed.waitForSelector("#case-panel");
    assert.equal(await fed.locator("#share-org").count(), 0, "a case clue is shared by transferring it");
    await fed.fill("#f-survivor_code", "ZX-511");
    await fed.waitForSelector('#record-sync[data-state="on-server"]', { timeout: 20000 });
    const second = fed.url().split("#/r/")[1];
    await transfer(fed, DEMO.procuratorate.org);
    await inboxHas(proc, server.url, second);
    await proc.click(`#inbox-list li[data-id="${second}"] a`);
    await caseState(proc, "transferred");
    await proc.click('#case-actions button[data-step="return"]');
    await proc.waitForSelector('#case-form[data-step="return"]');
    await proc.selectOption("#case-reason", "not_competent");
    await proc.click("#case-confirm");
    await proc.waitForSelector("#record-gone", { timeout: 30000 });
    assert.match(await proc.innerText("#record-gone"), /no longer shared with your organisation/);
    await caseState(fed, "returned");
    // On the federation's list each case shows its stage, and the list filters by it.
    await fed.goto(`${server.url}/#/`);
    await fed.waitForSelector(`li.record[data-id="${id}"] .badge.case-state[data-state="result_reported"]`);
    await fed.waitForSelector(`li.record[data-id="${second}"] .badge.case-state[data-state="returned"]`);
    await fed.click("#filters-toggle");
    await fed.selectOption("#filter-stage", "case:returned");
    await fed.waitForSelector(`li.record[data-id="${id}"]`, { state: "detached" });
    assert.deepEqual(await fed.locator("li.record").evaluateAll((rows) => rows.map((r) => r.dataset.id)), [second]);
    await proc.goto(`${server.url}/#/`);
    await proc.waitForSelector("#records-gone");
    assert.equal(await proc.locator(`li.record[data-id="${second}"]`).count(), 0);
  } finally {
    await browser.close();
    await server.stop();
  }
});

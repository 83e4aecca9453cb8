// Every kind of field as a person meets it: a real control for each type, labels bound to
// controls, values back after a reload, skip logic, and "mark complete" with its problems
// listed next to each field and at the top.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanup, launchProfile, startServer, tempDir, waitSaved } from "./harness.mjs";
import { drawOn, png } from "./fields-helpers.mjs";

async function withApp(fn) {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await page.goto(server.url);
    await page.waitForSelector("#empty-list");
    await fn(page, server);
  } finally {
    await context.close();
    await server.stop();
    cleanup(profile, server.dataDir);
  }
}

/** Ids of form controls that no label names (should be none). */
async function unlabelled(page) {
  return page.$$eval(".fields input, .fields select, .fields textarea", (els) =>
    els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.id || e.outerHTML));
}

test("every field type has its own control and keeps its value across a reload", async () => {
  await withApp(async (page) => {
    // Training: text, date, select many, decimal, repeat groups with a select, a signature
    // and an attachment, long text.
    await page.click("#new-training");
    await page.fill("#f-topic", "反家庭暴力法培训");
    await page.fill("#f-training_date", "2026-11-20");
    await page.fill("#f-trainer", "县妇联权益部");
    for (const org of ["federation", "court", "police"]) await page.check(`#f-organisations-${org}`);
    await page.uncheck("#f-organisations-police");
    await page.fill("#f-hours", "2.5");
    assert.equal(await page.getAttribute("#f-hours", "inputmode"), "decimal");

    await page.click("#add-attendees");
    const attendee = page.locator('[data-field="attendees"] li.item').first();
    await attendee.locator('[data-field="name"] input').fill("张敏");
    await attendee.locator('[data-field="organisation"] input').fill("县人民法院");
    await attendee.locator('[data-field="role"] select').selectOption("judge");
    const pad = attendee.locator("canvas.pad-canvas");
    assert.equal(await attendee.locator(".pad-save").isDisabled(), true, "nothing to save before drawing");
    await drawOn(page, pad);
    await attendee.locator(".pad-save").click();
    await attendee.locator(".file-view img.thumb").waitFor();
    assert.equal(await pad.count(), 0, "the pad closes once the signature is saved");

    await page.click("#add-materials");
    const material = page.locator('[data-field="materials"] li.item').first();
    await material.locator('input[type="file"]').setInputFiles({ name: "课件.png", mimeType: "image/png", buffer: png(40, 30) });
    await material.locator(".file-view .file-name").waitFor();
    await material.locator('[data-field="title"] input').fill("课件首页");
    await page.fill("#f-follow_up", "三个月后回访参训单位。\n第二段。");
    assert.deepEqual(await unlabelled(page), [], "every control has a label");
    await waitSaved(page);

    await page.reload();
    await page.waitForSelector("#f-topic");
    assert.equal(await page.inputValue("#f-topic"), "反家庭暴力法培训");
    assert.equal(await page.inputValue("#f-training_date"), "2026-11-20");
    assert.equal(await page.inputValue("#f-trainer"), "县妇联权益部");
    assert.equal(await page.isChecked("#f-organisations-federation"), true);
    assert.equal(await page.isChecked("#f-organisations-court"), true);
    assert.equal(await page.isChecked("#f-organisations-police"), false, "unticking removed the choice");
    assert.equal(await page.inputValue("#f-hours"), "2.5");
    assert.equal(await attendee.locator('[data-field="name"] input').inputValue(), "张敏");
    assert.equal(await attendee.locator('[data-field="organisation"] input').inputValue(), "县人民法院");
    assert.equal(await attendee.locator('[data-field="role"] select').inputValue(), "judge");
    // The signature is a PNG on this device, shown as an image.
    const signature = attendee.locator(".file-view");
    await signature.locator("img.thumb").waitFor();
    assert.equal(await signature.locator(".file-name").innerText(), "signature.png");
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await signature.locator("img.thumb").elementHandle());
    assert.equal(await material.locator(".file-name").innerText(), "课件.png");
    assert.match(await material.locator(".file-size").innerText(), /\d+ B/);
    assert.equal(await material.locator('[data-field="title"] input').inputValue(), "课件首页");
    assert.equal(await page.inputValue("#f-follow_up"), "三个月后回访参训单位。\n第二段。");
    assert.match(await material.locator(".upload-state").innerText(), /仅保存在本机/, "not signed in: the file waits on this device");

    // Intake: phone, date and time, whole number, yes/no.
    await page.click(".back");
    await page.click("#new-intake");
    await page.fill("#f-survivor_code", "ZX-100");
    await page.fill("#f-reporter_phone", "138 0013 8000");
    await page.fill("#f-reported_at", "2026-11-20T09:30");
    await page.fill("#f-survivor_age", "15");
    await page.selectOption("#f-minor", "yes");
    await page.selectOption("#f-channel", "visit");
    assert.equal(await page.getAttribute("#f-reporter_phone", "type"), "tel");
    assert.equal(await page.getAttribute("#f-reporter_phone", "inputmode"), "tel");
    assert.equal(await page.getAttribute("#f-reported_at", "type"), "datetime-local");
    assert.equal(await page.getAttribute("#f-survivor_age", "inputmode"), "numeric");
    assert.equal(await page.$eval("#f-minor", (e) => e.tagName), "SELECT");
    assert.deepEqual(await unlabelled(page), []);
    await waitSaved(page);
    await page.reload();
    await page.waitForSelector("#f-reporter_phone");
    assert.equal(await page.inputValue("#f-reporter_phone"), "13800138000", "stored as digits");
    assert.equal(await page.inputValue("#f-reported_at"), "2026-11-20T09:30");
    assert.equal(await page.inputValue("#f-survivor_age"), "15");
    assert.equal(await page.inputValue("#f-minor"), "yes");
    assert.equal(await page.inputValue("#f-channel"), "visit");
  });
});

test("skip logic shows the guardian's phone only for a minor, and keeps what was typed", async () => {
  await withApp(async (page) => {
    await page.click("#new-intake");
    const guardian = page.locator("#w-guardian_contact");
    await page.waitForSelector("#f-minor");
    assert.equal(await guardian.isVisible(), false, "hidden until the survivor is known to be a minor");
    await page.selectOption("#f-minor", "yes");
    await guardian.waitFor({ state: "visible" });
    await page.fill("#f-guardian_contact", "13900001111");
    await page.selectOption("#f-minor", "no");
    await guardian.waitFor({ state: "hidden" });
    await waitSaved(page);

    // Hidden, not deleted: after a reload it is still hidden, and back with its value.
    await page.reload();
    await page.waitForSelector("#f-minor");
    assert.equal(await guardian.isVisible(), false);
    await page.selectOption("#f-minor", "yes");
    await guardian.waitFor({ state: "visible" });
    assert.equal(await page.inputValue("#f-guardian_contact"), "13900001111");

    // The checks follow what is shown: a minor needs the legal basis, not consent.
    assert.equal(await page.locator("#w-legal_basis").isVisible(), true);
    assert.equal(await page.locator("#w-consent").isVisible(), false);
    await page.click("#mark-complete");
    const summary = page.locator("#check-summary");
    await summary.waitFor();
    assert.match(await summary.innerText(), /移送的法律依据/);
    assert.doesNotMatch(await summary.innerText(), /移送同意/);
  });
});

test("mark complete lists what is missing at the top and next to each field, then completes", async () => {
  await withApp(async (page) => {
    await page.click("#new-roster");
    await page.waitForSelector("#f-organisation");
    assert.equal(await page.getAttribute("#record-status", "data-status"), "draft");
    await page.click("#mark-complete");
    const summary = page.locator("#check-summary");
    await summary.waitFor();
    assert.equal(await summary.getAttribute("data-count"), "5");
    assert.match(await summary.innerText(), /还有 5 处需要补充或修改/);
    assert.match(await page.innerText("#p-organisation"), /此项为必填项/);
    assert.match(await page.innerText("#complete-result"), /尚未完成/);
    assert.equal(await page.getAttribute("#record-status", "data-status"), "draft");

    // The list shrinks as each problem is fixed.
    await page.fill("#f-organisation", "县妇女联合会");
    await page.waitForSelector('#check-summary[data-count="4"]');
    assert.equal(await page.innerText("#p-organisation"), "");
    await page.selectOption("#f-org_type", "federation");
    await page.fill("#f-contact_name", "李敏");
    await page.fill("#f-phone", "0571-8888 1234");
    await page.selectOption("#f-active", "yes");
    // A deputy named makes the deputy's phone shown and required.
    await page.fill("#f-deputy_name", "王芳");
    await page.waitForSelector('#check-summary[data-count="1"]');
    assert.match(await page.innerText("#p-deputy_phone"), /此项为必填项/);
    // "Go to" puts the cursor in the field.
    await summary.locator("button.go-to").first().click();
    assert.equal(await page.evaluate(() => document.activeElement.id), "f-deputy_phone");
    await page.keyboard.type("13700002222");
    await page.waitForSelector('#check-summary[data-count="0"]');

    await page.click("#mark-complete");
    await page.waitForSelector('#record-status[data-status="complete"]');
    assert.match(await page.innerText("#complete-result"), /已标记为完成/);
    await waitSaved(page);
    const id = page.url().split("#/r/")[1];

    await page.click(".back");
    const row = page.locator(`li.record[data-id="${id}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute("data-status"), "complete");
    assert.match(await row.locator(".badge.status").innerText(), /已完成/);

    // Any later edit makes it a draft again.
    await row.locator("a").click();
    await page.fill("#f-position", "权益部部长");
    await page.waitForSelector('#record-status[data-status="draft"]');
    await waitSaved(page);
    await page.click(".back");
    await page.waitForSelector(`li.record[data-id="${id}"][data-status="draft"]`);
  });
});

test("repeat groups and checkboxes work from the keyboard alone", async () => {
  await withApp(async (page) => {
    await page.click("#new-minutes");
    await page.waitForSelector("#f-title");
    const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.className);

    // Space ticks a checkbox (and stores the choice).
    await page.focus("#f-organisations-federation");
    await page.keyboard.press("Space");
    assert.equal(await page.isChecked("#f-organisations-federation"), true);

    // "Add" puts the cursor into the new item's first field.
    await page.focus("#add-attendees");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => /^f-attendees-.+-name$/.test(document.activeElement?.id || ""));
    await page.keyboard.type("刘芳");
    await page.focus("#add-attendees");
    await page.keyboard.press("Enter");
    // Type only once the cursor is in the second item: typed earlier, a keystroke is lost.
    await page.waitForFunction(() => {
      const items = document.querySelectorAll('[data-field="attendees"] li.item');
      return items.length === 2 && items[1].contains(document.activeElement) &&
        /^f-attendees-.+-name$/.test(document.activeElement.id);
    });
    await page.keyboard.type("陈静");
    const items = page.locator('[data-field="attendees"] li.item');
    assert.equal(await items.nth(1).locator('[data-field="name"] input').inputValue(), "陈静");

    // Removing asks once more; focus moves to the question and back to "add" afterwards.
    await items.first().locator(".remove-item").focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.activeElement?.classList.contains("confirm-remove"));
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter"); // "cancel": nothing removed
    await page.waitForFunction(() => document.activeElement?.classList.contains("remove-item"));
    assert.equal(await items.count(), 2);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.activeElement?.classList.contains("confirm-remove"));
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelectorAll('[data-field="attendees"] li.item').length === 1);
    assert.equal(await focused(), "add-attendees");
    await waitSaved(page);

    await page.reload();
    await page.waitForSelector('[data-field="attendees"] li.item');
    assert.equal(await items.count(), 1);
    assert.equal(await items.first().locator('[data-field="name"] input').inputValue(), "陈静");
    assert.match(await items.first().locator("h4").innerText(), /第 1 项/);
    assert.equal(await page.isChecked("#f-organisations-federation"), true);
  });
});

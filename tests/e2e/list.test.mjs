// The list: a new-record button for every form, filters by kind, status, updated date (behind
// a button that counts them) and text over codes and categories, empty states in both
// languages, and never a name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { cleanup, DEMO, launchProfile, signIn, startServer, tempDir, waitSaved } from "./harness.mjs";

const FORMS = [
  ["intake", "案件线索登记", "Case clue intake", "#f-survivor_code", "ZX-001"],
  ["mediation", "纠纷调解记录", "Dispute mediation record", "#f-case_code", "TJ-2026-07"],
  ["minutes", "联席会议纪要", "Joint meeting minutes", "#f-title", "第三季度联席会议"],
  ["roster", "联络员登记", "Liaison roster entry", "#f-organisation", "县人民检察院"],
  ["training", "培训记录", "Training session", "#f-topic", "反家暴法培训"],
];

const rows = (page) => page.locator("#records li.record");

// Every form in shared/forms (a new file is a new form, no code or test change needed).
const FORM_IDS = [...new Set(
  readdirSync(new URL("../../shared/forms/", import.meta.url))
    .map((name) => name.match(/^(.+)\.v\d+\.json$/)?.[1])
    .filter(Boolean),
)];

test("the chooser offers every form, and the list filters by kind, status, date and text", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await page.goto(server.url);
    await page.waitForSelector("#empty-list");
    const buttons = page.locator("#new-record button");
    assert.equal(await buttons.count(), FORM_IDS.length);
    for (const id of FORM_IDS) await page.waitForSelector(`#new-${id}`);
    for (const [id, zh] of FORMS) {
      assert.match(await page.innerText(`#new-${id}`), new RegExp(zh));
    }

    // One record of each form, each named by its form's title field.
    for (const [id, zh, , field, code] of FORMS) {
      await page.click(`#new-${id}`);
      await page.waitForSelector(field);
      assert.equal(await page.innerText(".record-head h2"), zh);
      await page.fill(field, code);
      if (id === "intake") {
        await page.selectOption("#f-incident_type", "domestic_violence");
        await page.fill("#f-survivor_name", "王小红");
      }
      if (id === "roster") {
        await page.selectOption("#f-org_type", "procuratorate");
        await page.fill("#f-contact_name", "赵刚");
        await page.fill("#f-phone", "13800000000");
        await page.selectOption("#f-active", "yes");
        await page.click("#mark-complete");
        await page.waitForSelector('#record-status[data-status="complete"]');
      }
      await waitSaved(page);
      await page.click(".back");
      await page.waitForSelector("#records");
    }
    assert.equal(await rows(page).count(), FORMS.length);
    assert.doesNotMatch(await page.innerText("#records"), /王小红/, "lists never show names");
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no sideways scrolling at 360 px");

    // On a phone the filters are one line: the text search, and a button that shows the
    // others and counts those in use.
    const toggle = page.locator("#filters-toggle");
    const filtersHeight = (await page.locator("#filters").boundingBox()).height;
    assert.ok(filtersHeight <= 56, `the folded filters are one line at 360 px, not ${filtersHeight} px`);
    assert.equal(await toggle.innerText(), "筛选");
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");
    assert.equal(await page.isVisible("#filter-kind"), false);
    await toggle.click();
    await page.waitForSelector("#filter-kind", { state: "visible" });
    assert.equal(await toggle.getAttribute("aria-expanded"), "true");
    assert.ok(await page.isVisible("#filter-status") && await page.isVisible("#filter-from") && await page.isVisible("#filter-to"));

    await page.selectOption("#filter-kind", "intake");
    assert.equal(await rows(page).count(), 1);
    assert.match(await rows(page).first().innerText(), /ZX-001/);
    assert.equal(await toggle.innerText(), "筛选 (1)");
    // Folded away, a filter in use still narrows the list, and the button still counts it.
    await toggle.click();
    await page.waitForSelector("#filter-kind", { state: "hidden" });
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");
    assert.equal(await rows(page).count(), 1);
    assert.equal(await toggle.innerText(), "筛选 (1)");
    await toggle.click();
    await page.waitForSelector("#filter-status", { state: "visible" });
    await page.selectOption("#filter-status", "draft");
    assert.equal(await toggle.innerText(), "筛选 (2)");
    assert.equal(await rows(page).count(), 1);
    await page.selectOption("#filter-kind", "");
    assert.equal(await toggle.innerText(), "筛选 (1)");

    await page.selectOption("#filter-status", "complete");
    assert.equal(await rows(page).count(), 1);
    assert.match(await rows(page).first().innerText(), /县人民检察院/);
    await page.selectOption("#filter-status", "draft");
    assert.equal(await rows(page).count(), FORMS.length - 1);
    await page.selectOption("#filter-status", "");
    assert.equal(await toggle.innerText(), "筛选");

    // Text: the code (any case) and the category's label.
    await page.fill("#filter-text", "tj-2026");
    assert.equal(await rows(page).count(), 1);
    assert.match(await rows(page).first().innerText(), /TJ-2026-07/);
    assert.equal(await toggle.innerText(), "筛选", "the search is in view, so the button does not count it");
    await page.fill("#filter-text", "家庭暴力");
    assert.equal(await rows(page).count(), 1);
    assert.match(await rows(page).first().innerText(), /ZX-001/);
    await page.fill("#filter-text", "王小红");
    await page.waitForSelector("#no-match");
    assert.match(await page.innerText("#no-match"), /没有符合筛选条件的记录/);
    await page.click("#no-match button");
    assert.equal(await rows(page).count(), FORMS.length);
    assert.equal(await page.inputValue("#filter-text"), "");

    // Updated date range, as this device's calendar has it.
    const [today, tomorrow] = await page.evaluate(() => {
      const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
      const now = new Date();
      return [day(now), day(new Date(now.getTime() + 86400000))];
    });
    await page.fill("#filter-from", today);
    assert.equal(await rows(page).count(), FORMS.length);
    await page.fill("#filter-to", today);
    assert.equal(await rows(page).count(), FORMS.length);
    assert.equal(await toggle.innerText(), "筛选 (1)", "the updated dates are one filter");
    await page.fill("#filter-from", tomorrow);
    await page.waitForSelector("#no-match");

    await page.click("#lang-switch");
    assert.match(await page.innerText("#no-match"), /No records match these filters/);
    assert.equal(await toggle.innerText(), "Filters (1)");
    for (const [id, , en] of FORMS) assert.match(await page.innerText(`#new-${id}`), new RegExp(en));
    await page.click("#clear-filters");
    assert.equal(await rows(page).count(), FORMS.length);
    assert.equal(await toggle.innerText(), "Filters");
  } finally {
    await context.close();
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

// The status line's English texts are longer: signed out and signed in, the phone's first
// screen still never scrolls sideways.
test("in English the phone's first screen does not scroll sideways either", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const browser = await launchProfile(profile, { locale: "en-GB" });
  try {
    const { page } = browser;
    const width = () => page.evaluate(() => document.documentElement.scrollWidth);
    await page.goto(server.url);
    await page.waitForSelector('#sync-status[data-state="signed-out"]');
    await page.waitForSelector("#sign-in");
    assert.ok((await width()) <= 360, `signed out: the page is ${await width()} px wide at 360 px`);
    assert.ok(await page.locator("#status-toggle").isVisible(), "the details button stays on screen");
    await signIn(page, server.url, DEMO.federation);
    assert.ok((await width()) <= 360, `signed in: the page is ${await width()} px wide at 360 px`);
  } finally {
    await browser.context.close().catch(() => {});
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

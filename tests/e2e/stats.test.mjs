// The dashboard as a federation cadre meets it: two case clues and a mediation recorded, the
// figures count them by kind, this month (China Standard Time), type and stage; a number
// opens the list of exactly the records it counts; offline it still counts, and a print made
// offline reaches the audit trail once back online.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, DEMO, login, signIn, startServer, waitSaved } from "./harness.mjs";

const SHOTS = process.env.LIAISON_SCREENSHOTS || "/tmp/liaison-screenshots";
const count = (page, id) => page.getAttribute(`#${id}`, "data-count").then(Number);

test("the figures count the records, and a number opens its list", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN", acceptDownloads: true });
    const page = await ctx.newPage();
    page.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(page, server.url, DEMO.federation);

    // Nothing yet: the figures say so.
    await page.click("#stats-link");
    await page.waitForSelector("#stats-empty");

    for (const [code, type] of [["ZX-601", "domestic_violence"], ["ZX-602", "sexual_assault"]]) {
      await page.goto(`${server.url}/#/`);
      await page.click("#new-intake");
      await page.fill("#f-survivor_code", code);
      await page.selectOption("#f-incident_type", type);
      await waitSaved(page);
    }
    await page.goto(`${server.url}/#/`);
    await page.click("#new-mediation");
    await page.fill("#f-case_code", "TJ-601");
    await page.selectOption("#f-dispute_type", "divorce");
    await waitSaved(page);

    // Offline from here: the figures come from the device.
    await ctx.setOffline(true);
    await page.goto(`${server.url}/#/stats`);
    await page.waitForSelector("#stats-total");
    const month = await page.evaluate(() => new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" }).slice(0, 7));
    assert.equal(await count(page, "stats-total"), 3);
    assert.equal(await count(page, `stats-period-${month}`), 3, "all recorded this month, in China");
    assert.equal(await page.getAttribute(`#stats-chart g.bar[data-key="${month}"]`, "data-count"), "3", "the chart says the same");
    assert.equal(await count(page, "stats-kinds-intake"), 2);
    assert.equal(await count(page, "stats-kinds-mediation"), 1);

    // Case clues only: by type and stage.
    await page.selectOption("#stats-kind", "intake");
    await page.waitForFunction(() => document.querySelector("#stats-total")?.dataset.count === "2");
    assert.equal(await count(page, "stats-categories-domestic_violence"), 1);
    assert.equal(await count(page, "stats-categories-sexual_assault"), 1);
    assert.equal(await count(page, "stats-stages-case-recorded"), 2);
    assert.match(await page.innerText("#stats-categories"), /家庭暴力/);
    await page.screenshot({ path: `${SHOTS}/stats-phone.png`, fullPage: true }).catch(() => {});
    // The table exports as it stands.
    const [table] = await Promise.all([page.waitForEvent("download"), page.click("#stats-export")]);
    const csv = await (await table.createReadStream()).toArray().then((parts) => Buffer.concat(parts).toString());
    assert.ok(csv.startsWith("\ufeff分组,项目,数量"), csv.slice(0, 40));
    assert.match(csv, /按类型,家庭暴力,1/);

    // A number opens exactly its records, and the list says what it shows.
    await page.click("#stats-categories-domestic_violence");
    await page.waitForSelector("#list-selection");
    await page.waitForFunction(() => document.querySelectorAll("#records li.record").length === 1);
    assert.match(await page.innerText("#records"), /ZX-601/);
    assert.match(await page.innerText("#list-selection"), /家庭暴力/);
    await page.click("#list-selection-clear");
    await page.waitForFunction(() => document.querySelectorAll("#records li.record").length === 3);

    // Printed offline: the print reaches the audit trail once the device is back online.
    await page.goto(`${server.url}/#/stats`);
    await page.waitForSelector("#stats-total");
    await page.click("#stats-print");
    await ctx.setOffline(false);
    const token = await login(server.url, DEMO.federation);
    let printed = [];
    for (let i = 0; i < 60 && printed.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 500));
      const r = await fetch(`${server.url}/api/audit?user=${DEMO.federation.username}`, { headers: { authorization: `Bearer ${token}` } });
      printed = (await r.json()).rows.filter((row) => row.action === "print");
    }
    assert.equal(printed.length, 1, "one print row");
    assert.match(printed[0].detail, /^print 3 records/);

    // A period with nothing in it.
    await page.goto(`${server.url}/#/stats`);
    await page.fill("#stats-from", "2020-01-01");
    await page.fill("#stats-to", "2020-12-31");
    await page.waitForSelector("#stats-empty");
  } finally {
    await browser.close();
    await server.stop();
  }
});

// Mediation and training figures: disputes resolved, hours of training, attendees by
// organisation — each opening the records that make it — and summaries stored by an older
// version of the app (without figures) are made again from the records when the app starts.
test("the figures a form declares add up, open their records, and survive an older app's summaries", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
    const page = await ctx.newPage();
    page.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(page, server.url, DEMO.federation);

    for (const [code, outcome] of [["TJ-801", "agreement"], ["TJ-802", "no_agreement"], ["TJ-803", "agreement"]]) {
      await page.goto(`${server.url}/#/`);
      await page.click("#new-mediation");
      await page.fill("#f-case_code", code);
      await page.selectOption("#f-dispute_type", "divorce");
      await page.selectOption("#f-outcome", outcome);
      await waitSaved(page);
    }
    for (const [topic, hours, orgs] of [["反家暴法培训", "2.5", ["县妇联", "县检察院", "县妇联"]], ["强制报告培训", "1", ["县妇联"]]]) {
      await page.goto(`${server.url}/#/`);
      await page.click("#new-training");
      await page.fill("#f-topic", topic);
      await page.fill("#f-hours", hours);
      for (const [i, org] of orgs.entries()) {
        await page.click("#add-attendees");
        const item = page.locator('[data-field="attendees"] li.item').nth(i);
        await item.locator('[data-field="name"] input').fill(`王学员${i}`);
        await item.locator('[data-field="organisation"] input').fill(org);
      }
      await waitSaved(page);
    }

    const check = async () => {
      await page.goto(`${server.url}/#/stats`);
      await page.waitForSelector("#stats-total");
      await page.waitForSelector("#stats-choose-kind");
      await page.selectOption("#stats-kind", "mediation");
      // (Summaries made again after an older app's come in as they are made.)
      const shows = (sel, text) => page.waitForFunction(([s, t]) => document.querySelector(s)?.innerText === t, [sel, text]);
      await shows("#stats-figure-resolved", "2");
      assert.equal(await count(page, "stats-total"), 3);
      assert.equal(await page.innerText("#stats-figure-received"), "3", "disputes received");
      assert.equal(await count(page, "stats-figure-resolved"), 2);
      assert.match(await page.innerText("#stats-scope"), /纠纷调解/);
      await page.selectOption("#stats-kind", "training");
      await shows("#stats-figure-hours", "3.5"); // 2.5 + 1 hours
      assert.equal(await page.innerText("#stats-figure-sessions"), "2", "sessions held");
      assert.equal(await page.locator("#stats-categories").count(), 0, "a training session has no type to count by");
      assert.equal(await count(page, "stats-figure-hours"), 2, "in two sessions");
      assert.equal(await page.innerText("#stats-figure-attendees"), "4");
      const fed = page.locator('#stats-figures tr[data-part="县妇联"] a.count-link');
      assert.equal(await fed.innerText(), "3", "three attendees from the federation");
      assert.equal(await fed.getAttribute("data-count"), "2", "in two sessions");
      assert.equal(await page.locator('#stats-figures tr[data-part="县检察院"] a.count-link').innerText(), "1");
      const text = await page.innerText("#stats-figures");
      assert.doesNotMatch(text, /王学员/, "no attendee's name among the figures");
    };
    await check();

    // A figure opens the records that make it.
    await page.click('#stats-figures tr[data-part="县检察院"] a.count-link');
    await page.waitForSelector("#list-selection");
    await page.waitForFunction(() => document.querySelectorAll("#records li.record").length === 1);
    assert.match(await page.innerText("#records"), /反家暴法培训/);
    await page.goto(`${server.url}/#/stats`);
    await page.selectOption("#stats-kind", "mediation");
    await page.click("#stats-figure-resolved");
    await page.waitForFunction(() => document.querySelectorAll("#records li.record").length === 2);
    assert.doesNotMatch(await page.innerText("#records"), /TJ-802/);

    // A reversed date range says so instead of counting nothing.
    await page.goto(`${server.url}/#/stats`);
    await page.fill("#stats-from", "2026-12-31");
    await page.fill("#stats-to", "2026-01-01");
    await page.waitForSelector("#stats-reversed");

    // Summaries as an older version of the app stored them: no figures, no format.
    const stripped = await page.evaluate(async () => {
      const db = await new Promise((ok, fail) => { const r = indexedDB.open("liaison"); r.onsuccess = () => ok(r.result); r.onerror = fail; });
      const all = await new Promise((ok) => { const q = db.transaction("records").objectStore("records").getAll(); q.onsuccess = () => ok(q.result); });
      const keys = await new Promise((ok) => { const q = db.transaction("records").objectStore("records").getAllKeys(); q.onsuccess = () => ok(q.result); });
      const tx = db.transaction("records", "readwrite");
      all.forEach((s, i) => {
        const plain = s instanceof Map ? Object.fromEntries(s) : s;
        delete plain.figures;
        delete plain.format;
        tx.objectStore("records").put(s instanceof Map ? new Map(Object.entries(plain)) : plain, keys[i]);
      });
      await new Promise((ok) => { tx.oncomplete = ok; });
      return all.length;
    });
    assert.equal(stripped, 5);
    await page.reload();
    await check();
    const renewed = await page.evaluate(async () => {
      const db = await new Promise((ok, fail) => { const r = indexedDB.open("liaison"); r.onsuccess = () => ok(r.result); r.onerror = fail; });
      const all = await new Promise((ok) => { const q = db.transaction("records").objectStore("records").getAll(); q.onsuccess = () => ok(q.result); });
      return all.map((s) => (s instanceof Map ? s.get("format") : s.format) ?? 0);
    });
    assert.deepEqual(renewed, [1, 1, 1, 1, 1], "and stored again, made by this version");
  } finally {
    await browser.close();
    await server.stop();
  }
});

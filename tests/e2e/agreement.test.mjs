// The federation (on a phone, in Chinese) and the court (on a laptop, in English) draft a
// work-mechanism agreement together, partly offline; both sign, it is in force; the court
// edits a clause and both see the signatures outdated with the change marked; both sign
// again, the federation offline (its signature is sent once it is back). The federation signs with WebCrypto Ed25519, the court on a browser made to lack it
// (the ed25519-dalek fallback): the server accepts both. The print view is screenshotted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, DEMO, signIn, startServer, waitValue } from "./harness.mjs";

// A browser without WebCrypto Ed25519 (as before Chromium 137): generateKey refuses it.
const NO_ED25519 = `{
  const original = SubtleCrypto.prototype.generateKey;
  SubtleCrypto.prototype.generateKey = function (algorithm, ...rest) {
    const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
    if (name === "Ed25519") return Promise.reject(new DOMException("Unrecognized name.", "NotSupportedError"));
    return original.call(this, algorithm, ...rest);
  };
}`;

const clause = (page, n) => page.locator("#ag-clauses li.clause").nth(n);
const state = (page) => page.getAttribute("#agreement-status", "data-state");
async function waitState(page, expected, timeout = 30000) {
  await page.waitForSelector(`#agreement-status[data-state="${expected}"]`, { timeout }).catch(async (e) => {
    throw new Error(`the agreement is ${await state(page)}, expected ${expected}: ${e.message}`);
  });
}
async function sign(page, kind) {
  await page.click("#ag-sign");
  await page
    .waitForFunction(() => /\((webcrypto|dalek|sent again)\)/.test(document.querySelector("#ag-message.ok")?.innerText ?? "") || document.querySelector("#ag-message.error"), null, {
      timeout: 20000,
    })
    .catch(() => {});
  const said = await page.locator("#ag-message").innerText().catch(() => "");
  assert.match(said, new RegExp(`\\(${kind}\\)`), `signing said: ${said}`);
}

test("two organisations co-draft offline, sign, break and renew an agreement", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const fedCtx = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "zh-CN" });
    const courtCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
    await courtCtx.addInitScript(NO_ED25519);
    const fed = await fedCtx.newPage();
    const court = await courtCtx.newPage();
    for (const p of [fed, court]) p.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(fed, server.url, DEMO.federation);
    await signIn(court, server.url, DEMO.court);
    // The court's interface in English.
    if ((await court.innerText("#lang-switch")) === "English") await court.click("#lang-switch");

    // The federation starts the agreement and makes the court a party (which shares it).
    await fed.click("#new-agreement");
    await fed.waitForSelector("#agreement");
    await waitState(fed, "drafting");
    await fed.fill("#ag-title", "关于建立家事纠纷联合化解机制的协议");
    await fed.fill("#ag-preamble", "为加强协作，双方制定本机制。");
    await fed.click("#ag-add-clause");
    await clause(fed, 0).locator(".clause-heading").fill("联络");
    await clause(fed, 0).locator(".clause-body").fill("双方各确定一名联络员。");
    await fed.selectOption("#ag-add-party", DEMO.court.org);
    await fed.click("#ag-add-party-button");
    await fed.waitForSelector(`#ag-parties li[data-org="${DEMO.court.org}"]`);
    await fed.waitForSelector('#record-sync[data-state="on-server"]', { timeout: 20000 });
    const id = fed.url().split("#/r/")[1];

    // The court finds it through the feed and opens it.
    await court.reload();
    const row = court.locator(`li.record[data-id="${id}"]`);
    await row.waitFor({ timeout: 30000 });
    assert.match(await row.innerText(), /关于建立家事纠纷联合化解机制的协议/, "the list names an agreement by its title");
    await row.locator("a").click();
    await waitValue(court, "#ag-title", "关于建立家事纠纷联合化解机制的协议");
    assert.equal(await clause(court, 0).locator(".clause-number").innerText(), "Article 1");

    // Each sees the other has it open, and which clause the federation is in.
    await clause(fed, 0).locator(".clause-body").focus();
    await court.waitForFunction(() => /李敏 Li Min.*is editing Article 1/.test(document.querySelector("#ag-presence")?.innerText ?? ""), null, {
      timeout: 20000,
    });
    await fed.waitForFunction(() => /赵静 Zhao Jing/.test(document.querySelector("#ag-presence")?.innerText ?? ""), null, { timeout: 20000 });

    // Both offline: the federation rewrites clause 1, the court adds clause 2.
    await fedCtx.setOffline(true);
    await courtCtx.setOffline(true);
    await clause(fed, 0).locator(".clause-body").fill("双方各确定一名联络员，负责日常联络。");
    await court.click("#ag-add-clause");
    await clause(court, 1).locator(".clause-heading").fill("Referral");
    await clause(court, 1).locator(".clause-body").fill("The federation refers family disputes to the court's mediation office.");
    await fedCtx.setOffline(false);
    await courtCtx.setOffline(false);
    for (const page of [fed, court]) {
      await page.waitForFunction(() => document.querySelectorAll("#ag-clauses li.clause").length === 2, null, { timeout: 30000 });
      await page.waitForFunction(
        () => document.querySelector("#ag-clauses li.clause .clause-body")?.value === "双方各确定一名联络员，负责日常联络。",
        null,
        { timeout: 30000 },
      );
    }
    assert.equal(await clause(fed, 1).locator(".clause-number").innerText(), "第二条");
    assert.equal(await clause(fed, 1).locator(".clause-heading").inputValue(), "Referral");

    // The federation proposes; both sign; in force on both sides.
    await fed.click("#ag-propose");
    await waitState(fed, "awaiting");
    await court.waitForSelector("#ag-sign", { timeout: 30000 });
    await sign(fed, "webcrypto");
    await sign(court, "dalek");
    await waitState(fed, "in-force");
    await waitState(court, "in-force");
    assert.equal(await fed.locator('#ag-parties li[data-signed="current"]').count(), 2);

    // The court edits clause 2: the signatures are outdated on both sides, the change marked.
    await clause(court, 1).locator(".clause-body").fill("The federation refers family disputes to the court's mediation office within 3 days.");
    await waitState(court, "outdated");
    await waitState(fed, "outdated");
    for (const page of [fed, court]) {
      await page.waitForSelector("#ag-diff ins", { timeout: 30000 });
      assert.match(await page.locator("#ag-diff ins").allInnerTexts().then((t) => t.join("")), /within 3 days/);
      assert.equal(await page.locator('#ag-parties li[data-signed="earlier"]').count(), 2);
    }

    // The history names both authors as the server bound them, and compares any version
    // with now.
    await fed.click("#ag-history-toggle");
    await fed.waitForFunction(
      () => [...document.querySelectorAll('#ag-history li.version[data-verified="true"]')].some((li) => li.innerText.includes("赵静 Zhao Jing")),
      null,
      { timeout: 20000 },
    );
    const authors = await fed.locator("#ag-history li.version .version-author").allInnerTexts();
    assert.ok(authors.some((a) => a.startsWith("李敏 Li Min（县妇女联合会")), authors.join(" | "));
    await fed.locator("#ag-history li.version button.compare").last().click();
    await fed.waitForSelector("#ag-compare ins");
    assert.match(await fed.locator("#ag-compare ins").allInnerTexts().then((t) => t.join("")), /Referral/);

    // Proposed again and signed again by both: in force again.
    await court.click("#ag-propose");
    await fed.waitForSelector("#ag-sign", { timeout: 30000 });
    await sign(court, "dalek");
    // The federation signs offline: kept on the device and in the document, not counted
    // until the server accepts it; back online, it is sent by itself, as it was.
    await fedCtx.setOffline(true);
    await fed.click("#ag-sign");
    await fed.waitForFunction(() => /联网后会自动发送/.test(document.querySelector("#ag-message")?.innerText ?? ""), null, { timeout: 20000 });
    assert.equal(await state(fed), "outdated", "a signature the server has not accepted does not count");
    assert.equal(await fed.locator(`#ag-parties li[data-org="${DEMO.federation.org}"]`).getAttribute("data-signed"), "earlier");
    await fedCtx.setOffline(false);
    await waitState(fed, "in-force");
    await waitState(court, "in-force");
    await fed.waitForSelector("#ag-diff", { state: "detached" });

    // The server keeps four signatures, two per party.
    const token = await fed.evaluate(() => JSON.parse(localStorage.getItem("liaison.session")).token);
    const kept = await (await fetch(`${server.url}/api/docs/${id}/signatures`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.equal(kept.length, 4);

    // The print view: title, 第一条/第二条, a signature block per party.
    await fed.emulateMedia({ media: "print" });
    const print = fed.locator("#ag-print-view");
    assert.equal(await print.getAttribute("data-in-force"), "true");
    const printed = await print.innerText();
    assert.match(printed, /关于建立家事纠纷联合化解机制的协议/);
    assert.match(printed, /第一条 联络/);
    assert.match(printed, /第二条 Referral/);
    assert.equal(await print.locator(".print-signature").count(), 2);
    assert.match(printed, /签署人：李敏 Li Min（fed-li）/, "the signatory by name");
    assert.doesNotMatch(printed, /county-(court|federation)/, "parties by name, not by id");
    // Only the agreement takes room on paper: two parties' short agreement is one A4 page.
    const pdf = (await fed.pdf({ format: "A4" })).toString("latin1");
    assert.equal((pdf.match(/\/Type\s*\/Page[^s]/g) || []).length, 1, "one page, no blank ones after it");
    assert.match(printed, /签署人：赵静 Zhao Jing（court-zhao）/);
    const shots = process.env.LIAISON_SCREENSHOTS || "/tmp/liaison-screenshots";
    mkdirSync(shots, { recursive: true });
    await fed.setViewportSize({ width: 794, height: 1123 });
    await fed.screenshot({ path: `${shots}/agreement-print.png`, fullPage: true });
    await fed.emulateMedia({ media: "screen" });
    await court.screenshot({ path: `${shots}/agreement-court.png`, fullPage: true });
  } finally {
    await browser.close();
    await server.stop();
  }
});

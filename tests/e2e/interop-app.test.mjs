// Our app and automerge-repo's JS client share documents through our server: a record made
// in the browser app opens in a JS client, and a record made by a JS client opens in the app.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { Repo } from "@automerge/automerge-repo";
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { CHROMIUM_ARGS, cleanup, DEMO, login, startServer, waitSaved } from "./harness.mjs";

test("records cross between the browser app and automerge-repo clients", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const token = await login(server.url, DEMO.federation);
  const repo = new Repo({
    network: [new BrowserWebSocketClientAdapter(`${server.url.replace("http", "ws")}/sync?token=${token}`, 200)],
    peerId: "js-desk",
    sharePolicy: async () => true,
  });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/#/login`);
    await page.fill("#login-username", DEMO.federation.username);
    await page.fill("#login-password", DEMO.federation.password);
    await page.click("#login-submit");
    await page.waitForSelector('#sync-status[data-state="up-to-date"]', { timeout: 20000 });

    // App → JS.
    await page.click("#new-intake");
    await page.fill("#f-survivor_code", "APP-001");
    await page.fill("#f-description", "在应用中登记。");
    await waitSaved(page);
    await page.waitForSelector('#record-sync[data-synced="true"]', { timeout: 20000 });
    const id = page.url().split("#/r/")[1];
    const found = await repo.find(`automerge:${id}`);
    await found.whenReady();
    const doc = found.doc();
    assert.equal(String(doc.meta.kind), "intake");
    assert.equal(String(doc.fields.survivor_code), "APP-001");
    assert.equal(String(doc.fields.description), "在应用中登记。");

    // JS → app: a record written with automerge's defaults (strings as text).
    const made = repo.create({
      meta: { kind: "intake", form_id: "intake", form_version: 1, created_by: "js-desk", created_at: new Date(), updated_at: new Date(), status: "draft" },
      fields: { survivor_code: "JS-002", survivor_age: 16 },
    });
    const feedHas = async () => {
      const feed = await (await fetch(`${server.url}/api/docs?since=0`, { headers: { authorization: `Bearer ${token}` } })).json();
      return feed.docs.some((d) => d.id === made.documentId && d.heads.length > 0);
    };
    for (let i = 0; !(await feedHas()); i++) {
      assert.ok(i < 200, "the JS record reached the server");
      await new Promise((r) => setTimeout(r, 50));
    }
    await page.goto(`${server.url}/#/`);
    await page.reload();
    const row = page.locator(`li.record[data-id="${made.documentId}"]`);
    await row.waitFor({ timeout: 20000 });
    assert.match(await row.innerText(), /JS-002/);
    await row.locator("a").click();
    await page.waitForFunction(() => document.querySelector("#f-survivor_age")?.value === "16", null, { timeout: 20000 });
    assert.equal(await page.inputValue("#f-survivor_code"), "JS-002");
  } finally {
    await repo.shutdown().catch(() => {});
    await browser.close();
    await server.stop();
    cleanup(server.dataDir);
  }
});

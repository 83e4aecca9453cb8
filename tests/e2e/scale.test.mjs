// A fresh device signing in to an organisation with more records than one screen: the first
// sync counts truthfully and ends up to date, the list draws one page at a time, search finds
// records beyond the first page, and a record released from memory after the sync still takes
// someone else's change live (the engine loads it again from IndexedDB).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Repo } from "@automerge/automerge-repo";
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { cleanup, DEMO, launchProfile, login, startServer, tempDir } from "./harness.mjs";

const COUNT = 130;
const PAGE = 50;

test("a fresh device syncs more records than a page, pages them, and takes live changes to released ones", async () => {
  const server = await startServer();
  const token = await login(server.url, DEMO.federation);
  const repo = new Repo({
    network: [new BrowserWebSocketClientAdapter(`${server.url.replace("http", "ws")}/sync?token=${token}`, 200)],
    peerId: "js-seeder",
    sharePolicy: async () => true,
  });
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    const handles = [];
    for (let i = 0; i < COUNT; i++) {
      const at = new Date(Date.UTC(2026, 0, 1, 0, i));
      handles.push(repo.create({
        meta: { kind: "intake", form_id: "intake", form_version: 1, created_by: "js-seeder", created_at: at, updated_at: at, status: "draft" },
        fields: { survivor_code: `SC-${String(i).padStart(4, "0")}` },
      }));
    }
    const onServer = async () => {
      const feed = await (await fetch(`${server.url}/api/docs?since=0`, { headers: { authorization: `Bearer ${token}` } })).json();
      return feed.docs.filter((d) => d.heads.length > 0).length;
    };
    for (let i = 0; (await onServer()) < COUNT; i++) {
      assert.ok(i < 600, "the seeded records reached the server");
      await new Promise((r) => setTimeout(r, 50));
    }

    // Watch the status from the first frame: it must count up to the total, never past it.
    await page.addInitScript(() => {
      window.__progress = [];
      new MutationObserver(() => {
        const s = document.querySelector("#sync-status");
        if (s?.dataset.total) window.__progress.push([Number(s.dataset.done), Number(s.dataset.total)]);
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-done", "data-total"] });
    });
    await page.goto(`${server.url}/#/login`);
    await page.fill("#login-username", DEMO.federation.username);
    await page.fill("#login-password", DEMO.federation.password);
    await page.click("#login-submit");
    await page.waitForSelector('#sync-status[data-state="up-to-date"]', { timeout: 60000 });
    await page.waitForFunction((n) => /^\d+/.exec(document.querySelector("#record-count")?.textContent || "")?.[0] === String(n), COUNT, { timeout: 10000 });
    const progress = await page.evaluate(() => window.__progress);
    assert.ok(progress.length > 0, "the status showed progress");
    assert.ok(progress.every(([done, total]) => done <= total && total <= COUNT), `progress stays within the total: ${JSON.stringify(progress.slice(-5))}`);
    assert.equal(Math.max(...progress.map(([, total]) => total)), COUNT, "the total named every record");

    // One page in the DOM, newest first; more on request.
    assert.equal(await page.locator("#records li.record").count(), PAGE);
    assert.match(await page.locator("#records li.record .title").first().innerText(), new RegExp(`SC-${String(COUNT - 1).padStart(4, "0")}`));
    assert.match(await page.innerText("#show-more"), new RegExp(`\\(${COUNT - PAGE}\\)`));
    await page.click("#show-more");
    assert.equal(await page.locator("#records li.record").count(), 2 * PAGE);
    assert.equal(await page.locator('#records li.record[data-sync="on-server"]').count(), 2 * PAGE, "every synced record shows on the server");

    // Search reaches past the first page (the oldest record).
    await page.fill("#filter-text", "SC-0003");
    await page.waitForFunction(() => document.querySelectorAll("#records li.record").length === 1);
    await page.fill("#filter-text", "");
    await page.waitForFunction((n) => document.querySelectorAll("#records li.record").length === n, PAGE);

    // Someone else changes a record this device synced and no longer holds in memory.
    const changed = handles[COUNT - 2];
    changed.change((d) => { d.fields.survivor_code = "SC-CHANGED"; });
    await page.waitForFunction((id) => /SC-CHANGED/.test(document.querySelector(`li.record[data-id="${id}"]`)?.textContent || ""), changed.documentId, { timeout: 20000 });
    await page.waitForSelector(`li.record[data-id="${changed.documentId}"][data-sync="on-server"]`, { timeout: 20000 });

    // Reopening with nothing changed is up to date again, with every record listed.
    await page.reload();
    await page.waitForSelector('#sync-status[data-state="up-to-date"]', { timeout: 20000 });
    assert.match(await page.innerText("#record-count"), new RegExp(`^${COUNT}`));
  } finally {
    await repo.shutdown().catch(() => {});
    await context.close();
    await server.stop();
    cleanup(server.dataDir, profile);
  }
});

// One phone, two organisations: a record the federation stored offline is neither shown to
// nor uploaded by the procuratorate when it signs in on the same device afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanup, DEMO, launchProfile, login, startServer, tempDir, waitSaved, signIn, signOut } from "./harness.mjs";


async function feedIds(url, account) {
  const token = await login(url, account);
  const feed = await (await fetch(`${url}/api/docs?since=0`, { headers: { authorization: `Bearer ${token}` } })).json();
  return feed.docs.map((d) => d.id);
}

test("a shared device keeps each organisation's records to itself", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await signIn(page, server.url, DEMO.federation);
    await context.setOffline(true);
    await page.click("#new-intake");
    await page.fill("#f-survivor_code", "FED-ONLY-1");
    await waitSaved(page);
    const id = page.url().split("#/r/")[1];
    await page.goto(`${server.url}/#/`);
    await signOut(page);

    await context.setOffline(false);
    await signIn(page, server.url, DEMO.procuratorate);
    await page.waitForSelector("#empty-list");
    assert.equal(await page.locator(`li.record[data-id="${id}"]`).count(), 0, "not listed for the procuratorate");
    await page.goto(`${server.url}/#/r/${id}`);
    await page.waitForSelector("#record-error");
    assert.deepEqual(await feedIds(server.url, DEMO.procuratorate), [], "not uploaded under the procuratorate");

    await page.goto(`${server.url}/#/`);
    await signOut(page);
    await signIn(page, server.url, DEMO.federation);
    await page.locator(`li.record[data-id="${id}"][data-synced="true"]`).waitFor({ timeout: 20000 });
    assert.deepEqual(await feedIds(server.url, DEMO.federation), [id], "synced under the federation");
  } finally {
    await context.close();
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

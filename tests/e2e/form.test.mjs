// The intake form as a person meets it: both languages, messages next to bad input, honest
// storage status, and the list's empty state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanup, launchProfile, openStatusDetails, startServer, tempDir, waitSaved } from "./harness.mjs";

test("bad input gets a message in the chosen language and is not saved", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await page.goto(server.url);
    await page.waitForSelector("#empty-list");
    assert.match(await page.innerText("#empty-list"), /本机还没有记录/);

    // The app asked for persistent storage and shows the browser's answer (headless says no)
    // in the status line's details.
    await openStatusDetails(page);
    const storage = page.locator('#storage-status:not([data-persisted="pending"])');
    await storage.waitFor();
    assert.ok(["yes", "no"].includes(await storage.getAttribute("data-persisted")));
    await page.waitForFunction(() => /已用/.test(document.querySelector("#storage-status").textContent));

    await page.click("#new-intake");
    await page.fill("#f-survivor_age", "14");
    await waitSaved(page);
    await page.fill("#f-survivor_age", "十四");
    assert.match(await page.innerText("#m-survivor_age"), /请输入整数/);
    await page.fill("#f-survivor_age", "200");
    assert.match(await page.innerText("#m-survivor_age"), /0 到 120/);

    await page.click("#lang-switch");
    assert.match(await page.innerText("#m-survivor_age"), /Enter a number from 0 to 120/);
    assert.equal(await page.innerText('label[for="f-survivor_age"]'), "Survivor's age");
    assert.equal(await page.getAttribute("html", "lang"), "en");

    // The rejected input never reached the record: a reload shows the last valid value.
    await page.reload();
    await page.waitForSelector("#f-survivor_age");
    assert.equal(await page.inputValue("#f-survivor_age"), "14");
    assert.equal(await page.innerText('label[for="f-survivor_age"]'), "Survivor's age", "the language choice is remembered");
  } finally {
    await context.close();
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

// Signing in: a wrong password is said in the person's language, not in the server's English.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanup, DEMO, launchProfile, startServer, tempDir } from "./harness.mjs";

test("a wrong password is explained in Chinese and in English", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await page.goto(`${server.url}/#/login`);
    await page.fill("#login-username", DEMO.federation.username);
    await page.fill("#login-password", "not-the-password");
    await page.click("#login-submit");
    await page.waitForSelector("#login-error");
    const zh = await page.innerText("#login-error");
    assert.match(zh, /用户名或密码不对/);
    assert.doesNotMatch(zh, /[a-z]{3,}/, "no English in the Chinese message");
    await page.click("#lang-switch");
    await page.click("#login-submit");
    await page.waitForFunction(() => /wrong username or password/.test(document.querySelector("#login-error")?.textContent || ""));
  } finally {
    await context.close();
    await server.stop();
    cleanup(server.dataDir, profile);
  }
});

test("after five wrong passwords sign-in says how long to wait, then lets the right one in", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await page.goto(`${server.url}/#/login`);
    await page.fill("#login-username", DEMO.federation.username);
    for (let i = 0; i < 5; i++) {
      await page.fill("#login-password", `guess-${i}`);
      const answered = page.waitForResponse((r) => r.url().endsWith("/api/login"));
      await page.click("#login-submit");
      assert.equal((await answered).status(), 401);
      await page.waitForFunction(() => /用户名或密码不对/.test(document.querySelector("#login-error")?.textContent || ""));
    }
    await page.fill("#login-password", DEMO.federation.password);
    await page.click("#login-submit");
    await page.waitForFunction(() => /密码错误次数过多，请 1 秒后再试/.test(document.querySelector("#login-error")?.textContent || ""));
    await new Promise((r) => setTimeout(r, 1_100));
    await page.click("#login-submit");
    await page.waitForSelector("li.record, #empty-list", { timeout: 15_000 });
  } finally {
    await context.close();
    await server.stop();
    cleanup(server.dataDir, profile);
  }
});

// A new build replaces the offline copy cleanly: the new service worker caches exactly the new
// build's files and deletes the old cache, so the page never mixes files of two builds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, launchProfile, startServer, tempDir, waitOfflineReady } from "./harness.mjs";

/** Turns the copy of a build in `dist` into a "next build" whose stylesheet changed. */
function makeNextBuild(dist) {
  const css = readdirSync(dist).find((f) => /^style-[0-9a-f]{16}\.css$/.test(f));
  const nextCss = "style-00000000000000b2.css";
  writeFileSync(join(dist, nextCss), readFileSync(join(dist, css), "utf8") + "\nbody { --build: 2; }\n");
  rmSync(join(dist, css));
  const page = readFileSync(join(dist, "index.html"), "utf8").replace(css, nextCss);
  writeFileSync(join(dist, "index.html"), page);
  const sw = readFileSync(join(dist, "sw.js"), "utf8");
  const oldVersion = sw.match(/const VERSION = "([0-9a-f]+)"/)[1];
  writeFileSync(join(dist, "sw.js"), sw.replace(oldVersion, "00000000000000b2").replace(`/${css}`, `/${nextCss}`));
  return { oldVersion, nextCss };
}

test("a new build's service worker replaces the old cache with exactly the new files", async () => {
  const dist = tempDir("dist");
  cpSync(process.env.LIAISON_DIST, dist, { recursive: true });
  // Serve plain files only, so editing them below is all it takes.
  for (const f of readdirSync(dist).filter((f) => f.endsWith(".br"))) rmSync(join(dist, f));
  const server = await startServer({ dist });
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await page.goto(server.url);
    await waitOfflineReady(page);
    const before = await page.evaluate(() => caches.keys());
    assert.equal(before.length, 1);

    const { oldVersion, nextCss } = makeNextBuild(dist);
    assert.deepEqual(before, [`liaison-${oldVersion}`]);

    // The browser revalidates sw.js on navigation, installs the new worker, which activates
    // at once and deletes the old build's cache.
    await page.reload();
    const deadline = Date.now() + 30000;
    let keys;
    while ((keys = await page.evaluate(() => caches.keys())).join() !== "liaison-00000000000000b2") {
      assert.ok(Date.now() < deadline, `caches are still ${keys}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.reload();
    await page.waitForSelector("#new-intake");
    const stylesheet = await page.getAttribute('link[rel="stylesheet"]', "href");
    assert.equal(stylesheet, `/${nextCss}`, "the page is the new build's");
    const cached = await page.evaluate(async () => {
      const cache = await caches.open("liaison-00000000000000b2");
      return (await cache.keys()).map((r) => new URL(r.url).pathname).sort();
    });
    assert.ok(cached.includes(`/${nextCss}`));
    assert.equal(cached.filter((p) => p.startsWith("/style-")).length, 1, "no stylesheet of the old build is cached");
  } finally {
    await context.close();
    await server.stop();
    cleanup(profile, dist, server.dataDir);
  }
});

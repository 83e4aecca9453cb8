// Attachments: a photo is scaled down before it is stored, kept in IndexedDB, uploaded once
// the record is on the server, and still there after a reload; files that are too large or
// of the wrong kind are refused with a message next to the field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cleanup, DEMO, launchProfile, login, startServer, tempDir, waitSaved, signIn } from "./harness.mjs";
import { png } from "./fields-helpers.mjs";

async function imageSize(page, img) {
  const handle = await img.elementHandle();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, handle);
  return handle.evaluate((el) => [el.naturalWidth, el.naturalHeight]);
}

test("a small PNG is stored as it is and survives a reload", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await page.goto(server.url);
    await page.click("#new-intake");
    await page.click("#add-evidence");
    const item = page.locator('[data-field="evidence"] li.item').first();
    const bytes = png(64, 48);
    await item.locator('input[type="file"]').setInputFiles({ name: "伤情照片.png", mimeType: "image/png", buffer: bytes });
    const view = item.locator(".file-view");
    await view.waitFor();
    await item.locator('[data-field="note"] input').fill("左臂淤青");
    await waitSaved(page);

    await page.reload();
    await view.waitFor();
    assert.equal(await view.getAttribute("data-sha256"), createHash("sha256").update(bytes).digest("hex"), "the same bytes");
    assert.equal(await view.locator(".file-name").innerText(), "伤情照片.png");
    assert.equal(await view.locator(".file-size").innerText(), `${bytes.length} B`);
    assert.deepEqual(await imageSize(page, view.locator("img.thumb")), [64, 48]);
    assert.equal(await item.locator('[data-field="note"] input').inputValue(), "左臂淤青");
  } finally {
    await context.close();
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

test("a small photo loses the place it was taken (EXIF) but keeps its size", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await page.goto(server.url);
    // A 320×240 JPEG from the browser's own encoder, with an EXIF segment put in after SOI as a
    // phone's camera would.
    const jpeg = Buffer.from(await page.evaluate(async () => {
      const c = document.createElement("canvas");
      c.width = 320;
      c.height = 240;
      const g = c.getContext("2d");
      g.fillStyle = "#c33";
      g.fillRect(0, 0, 320, 240);
      const blob = await new Promise((r) => c.toBlob(r, "image/jpeg", 0.9));
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    }));
    const payload = Buffer.concat([Buffer.from("Exif\0\0", "binary"), Buffer.from("GPS 31.2304N 121.4737E township shelter")]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload]);
    const tagged = Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]);
    assert.ok(tagged.includes("GPS 31.2304N"));

    await page.click("#new-intake");
    await page.click("#add-evidence");
    const item = page.locator('[data-field="evidence"] li.item').first();
    await item.locator('input[type="file"]').setInputFiles({ name: "现场.jpg", mimeType: "image/jpeg", buffer: tagged });
    const view = item.locator(".file-view");
    await view.waitFor();
    await waitSaved(page);
    const src = await view.locator("img.thumb").getAttribute("src");
    const stored = Buffer.from(await page.evaluate(async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer())), src));
    assert.equal(stored.subarray(0, 2).toString("hex"), "ffd8", "still a JPEG");
    assert.ok(!stored.includes("GPS 31.2304N"), "the EXIF segment is gone");
    assert.ok(!stored.includes(Buffer.from("Exif\0\0", "binary")), "no EXIF at all");
    assert.equal(await view.getAttribute("data-sha256"), createHash("sha256").update(stored).digest("hex"));
    assert.deepEqual(await imageSize(page, view.locator("img.thumb")), [320, 240], "not scaled");
    assert.equal(await item.locator(".shrunk").count(), 0, "not reported as made smaller");
  } finally {
    await context.close();
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

test("a large photo is scaled to 1600 px, uploaded, and refused files say why", async () => {
  const server = await startServer();
  const profile = tempDir("profile");
  const { context, page } = await launchProfile(profile);
  try {
    await signIn(page, server.url, DEMO.federation);
    await page.click("#new-mediation");
    await page.fill("#f-case_code", "TJ-2026-11");
    assert.equal(await page.locator("#w-agreement_file").isVisible(), false, "shown only when there is an agreement");
    await page.selectOption("#f-outcome", "agreement");
    await page.locator("#w-agreement_file").waitFor({ state: "visible" });
    assert.equal(await page.getAttribute("#f-agreement_file", "accept"), "image/*,application/pdf");

    await page.setInputFiles("#f-agreement_file", { name: "调解协议.png", mimeType: "image/png", buffer: png(2400, 1200) });
    const view = page.locator("#w-agreement_file .file-view");
    await view.waitFor();
    assert.equal(await view.locator(".file-name").innerText(), "调解协议.jpg");
    assert.deepEqual(await imageSize(page, view.locator("img.thumb")), [1600, 800]);
    assert.match(await page.innerText("#w-agreement_file .shrunk"), /照片已压缩/);
    await waitSaved(page);

    // Uploaded once the record is on the server.
    const state = view.locator(".upload-state");
    await page.waitForSelector('#w-agreement_file .upload-state[data-upload="on-server"]', { timeout: 60000 });
    assert.match(await state.innerText(), /已上传到服务器/);
    const id = page.url().split("#/r/")[1];
    const hash = await view.getAttribute("data-sha256");
    const token = await login(server.url, DEMO.federation);
    const response = await fetch(`${server.url}/api/docs/${id}/blobs/${hash}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    const served = Buffer.from(await response.arrayBuffer());
    assert.equal(createHash("sha256").update(served).digest("hex"), hash);
    assert.equal(served.subarray(0, 2).toString("hex"), "ffd8", "a JPEG");

    // Too large for the server: refused at once, with the limit.
    await page.setInputFiles("#f-agreement_file", {
      name: "扫描件.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(21 * 1024 * 1024, 1),
    });
    await page.waitForFunction(() => /文件太大/.test(document.querySelector("#m-agreement_file").textContent));
    assert.match(await page.innerText("#m-agreement_file"), /20\.0 MB/);
    // Not a kind this field takes.
    await page.setInputFiles("#f-agreement_file", { name: "说明.txt", mimeType: "text/plain", buffer: Buffer.from("x") });
    await page.waitForFunction(() => /不接收此类文件/.test(document.querySelector("#m-agreement_file").textContent));
    assert.match(await page.innerText("#m-agreement_file"), /图片、PDF/);
    await page.click("#lang-switch");
    assert.match(await page.innerText("#m-agreement_file"), /not accepted here\. Accepted: images, PDF/);
    assert.equal(await view.locator(".file-name").innerText(), "调解协议.jpg", "the stored file stays");

    await page.reload();
    await view.waitFor();
    assert.equal(await view.locator(".file-name").innerText(), "调解协议.jpg");
    assert.deepEqual(await imageSize(page, view.locator("img.thumb")), [1600, 800]);
    await page.waitForSelector('#w-agreement_file .upload-state[data-upload="on-server"]');
  } finally {
    await context.close();
    await server.stop();
    cleanup(profile, server.dataDir);
  }
});

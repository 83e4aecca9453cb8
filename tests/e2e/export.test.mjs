// Export as a federation administrator meets it: the mediation records, filtered in the list,
// to XLSX without names — the file downloads, and is a workbook that opens (read here with
// Python's zipfile) with the records and no names — then to CSV with names, which needs a
// reason and a confirmation; both leave an audit row, the second with that reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, DEMO, login, signIn, startServer, tempDir, waitSaved } from "./harness.mjs";

const NAME = "赵某某";

/** The workbook's sheet names and every string in it, read as a zip of XML parts. */
function readXlsx(path) {
  const script = `
import json, re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
book = z.read("xl/workbook.xml").decode()
strings = z.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in z.namelist() else ""
print(json.dumps({"sheets": re.findall(r'<sheet name="([^"]+)"', book), "strings": re.findall(r"<t[^>]*>([^<]*)</t>", strings)}))
`;
  return JSON.parse(execFileSync("python3", ["-c", script, path]).toString());
}

test("the mediation records go to XLSX without names, and with names only for a stated reason", async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const downloads = tempDir("downloads");
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "zh-CN", acceptDownloads: true });
    const page = await ctx.newPage();
    page.on("pageerror", (e) => console.error("page error:", e.message));
    await signIn(page, server.url, DEMO.federation);

    for (const code of ["TJ-701", "TJ-702"]) {
      await page.goto(`${server.url}/#/`);
      await page.click("#new-mediation");
      await page.fill("#f-case_code", code);
      await page.selectOption("#f-dispute_type", "divorce");
      await page.click("#add-parties");
      await page.locator('[data-field="parties"] li.item [data-field="name"] input').first().fill(NAME);
      await waitSaved(page);
    }
    await page.goto(`${server.url}/#/`);
    await page.click("#new-minutes");
    await page.fill("#f-title", "ZX-703 会议");
    await waitSaved(page);

    // The list narrowed to mediation records, then exported.
    await page.goto(`${server.url}/#/`);
    await page.click("#filters-toggle");
    await page.selectOption("#filter-kind", "mediation");
    await page.waitForFunction(() => document.querySelectorAll("#records li.record").length === 2);
    await page.click("#export-open");
    await page.waitForSelector("#export-panel");
    assert.match(await page.innerText("#export-title"), /2/);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-go")]);
    assert.match(download.suggestedFilename(), /\.xlsx$/);
    const plain = `${downloads}/plain.xlsx`;
    await download.saveAs(plain);
    await page.waitForSelector("#export-done");
    const book = readXlsx(plain);
    assert.deepEqual(book.sheets, ["mediation v1"]);
    assert.ok(book.strings.includes("编号") && book.strings.includes("TJ-701") && book.strings.includes("TJ-702"), JSON.stringify(book.strings));
    assert.ok(book.strings.includes("离婚") || book.strings.some((s) => s.includes("离婚")), "the choice as its label");
    assert.ok(!book.strings.some((s) => s.includes(NAME)), "no names");
    assert.ok(!book.strings.includes("ZX-703"), "only what the list showed");

    // With names: not before a reason and the confirmation.
    await page.check("#export-personal");
    assert.ok(await page.isDisabled("#export-go"));
    await page.selectOption("#export-reason", "court_or_procuratorate_request");
    assert.ok(await page.isDisabled("#export-go"), "the confirmation too");
    await page.check("#export-confirm");
    await page.selectOption("#export-format", "csv");
    const [csv] = await Promise.all([page.waitForEvent("download"), page.click("#export-go")]);
    const csvPath = `${downloads}/named.csv`;
    await csv.saveAs(csvPath);
    const text = execFileSync("cat", [csvPath]).toString();
    assert.ok(text.startsWith("\ufeff"), "a byte order mark");
    assert.match(text, /TJ-701/);
    assert.ok(text.includes(NAME), "the names, as chosen");
    assert.equal(await page.isChecked("#export-personal"), false, "the next export asks again");

    // Both exports are in the audit trail, the second with its reason.
    const token = await login(server.url, DEMO.federation);
    let rows = [];
    for (let i = 0; i < 20 && rows.length < 2; i++) {
      const r = await fetch(`${server.url}/api/audit?user=${DEMO.federation.username}`, { headers: { authorization: `Bearer ${token}` } });
      rows = (await r.json()).rows.filter((row) => row.action === "export");
      if (rows.length < 2) await new Promise((res) => setTimeout(res, 250));
    }
    assert.equal(rows.length, 2, JSON.stringify(rows));
    assert.match(rows[0].detail, /^csv 2 records.*personal fields included: court_or_procuratorate_request/);
    assert.match(rows[1].detail, /^xlsx 2 records/);
    assert.doesNotMatch(rows[1].detail, /personal/);
  } finally {
    await browser.close();
    await server.stop();
  }
});

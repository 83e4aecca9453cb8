// The browser half of `cargo xtask bench app`: the release app in headless Chromium against a
// server the Rust seeder has filled with N intake records.
//
//   node tests/bench/app.mjs --url http://127.0.0.1:PORT --count N [--timeout-s S]
//        [--seed-report seed.json] [--json out.json]
//   node tests/bench/app.mjs --summary out-100.json out-1000.json …
//
// With a fresh profile (360×780, zh-CN) it signs in as fed-li and measures, from the click:
// the first record row in the DOM, and "up to date" with all N records listed (progress sampled
// once a second); then the DOM and memory, a search and its clearing, a reload online (with the
// bytes on the wire), a reload offline, and keystroke → IndexedDB commit latency on a record.
// A step that fails or times out is reported as such and the others still run; only a
// failure to start at all makes the script fail. Needs LIAISON_SERVER_BIN and LIAISON_DIST
// (harness.mjs checks them; xtask sets them).
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, DEMO } from "../e2e/harness.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// ---------- arguments ----------

function parseArgs(argv) {
  const out = { summary: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--summary") { out.summary = argv.slice(i + 1); break; }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === "--url") out.url = v.replace(/\/$/, "");
    else if (a === "--count") out.count = Number(v);
    else if (a === "--timeout-s") out.timeoutS = Number(v);
    else if (a === "--seed-report") out.seedReport = v;
    else if (a === "--json") out.json = v;
    else if (a === "--trace") out.trace = v;
    else if (a === "--cpuprofile") out.cpuprofile = v;
    else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

// ---------- what runs in the page, before the app ----------

// Marks are wall-clock milliseconds (Date.now) so they compare across the reload that signing
// in does and with the Node side's clock; latencies within one document use performance.now.
function instrument(expected) {
  const B = (window.__bench = {
    expected,
    marks: {},
    inputs: [],
    commits: [],
    begins: [],
    wasmMemory: null,
  });

  // Every commit of a read-write IndexedDB transaction that writes record chunks (the edit's
  // own write; acknowledgements and attachments commit in transactions of their own).
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (...args) {
    const tx = transaction.apply(this, args);
    const stores = [].concat(args[0] instanceof DOMStringList ? Array.from(args[0]) : args[0]);
    if (args[1] === "readwrite" && stores.includes("chunks")) {
      // When the transaction began too: input → begin is the app's share, begin → complete
      // IndexedDB's (its writes and the disk flush).
      const begun = performance.now();
      tx.addEventListener("complete", () => { B.commits.push(performance.now()); B.begins.push(begun); });
    }
    return tx;
  };
  document.addEventListener("beforeinput", () => B.inputs.push(performance.now()), true);

  // The wasm instance's memory, for as long as the app does not expose it itself.
  for (const name of ["instantiate", "instantiateStreaming"]) {
    const orig = WebAssembly[name];
    if (typeof orig !== "function") continue;
    WebAssembly[name] = function (...args) {
      return orig.apply(this, args).then((r) => {
        const instance = r instanceof WebAssembly.Instance ? r : r.instance;
        if (instance?.exports?.memory instanceof WebAssembly.Memory) B.wasmMemory = instance.exports.memory;
        return r;
      });
    };
  }

  // How many records the list says it shows: "#record-count" ("10000 条记录", "1,234 records"),
  // else the rows in the DOM. null: no list on the page.
  B.shown = () => {
    const count = document.getElementById("record-count");
    if (count) {
      const m = count.textContent.match(/^\s*(\d{1,3}(?:[,\u00a0\u202f']\d{3})+|\d+)/);
      if (m) return Number(m[1].replace(/\D/g, ""));
    }
    const list = document.getElementById("records");
    return list ? list.querySelectorAll("li.record").length : null;
  };
  B.rows = () => document.querySelectorAll("#records li.record").length;
  B.state = () => {
    const s = document.getElementById("sync-status");
    return s ? { state: s.dataset.state ?? null, text: s.textContent.trim(), done: s.dataset.done ?? null, total: s.dataset.total ?? null } : null;
  };
  B.upToDate = () => document.querySelector('#sync-status[data-state="up-to-date"]') !== null && (B.shown() ?? 0) >= B.expected;

  // Resolves with performance.now() once cond() holds, checking after every DOM change.
  B.when = (cond) => new Promise((resolve) => {
    if (cond()) return resolve(performance.now());
    const obs = new MutationObserver(() => {
      if (cond()) { obs.disconnect(); resolve(performance.now()); }
    });
    obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });

  const watch = () => {
    const check = () => {
      if (B.marks.firstRow === undefined && document.querySelector("#records li.record")) B.marks.firstRow = Date.now();
      if (B.marks.done === undefined && B.upToDate()) B.marks.done = Date.now();
      return B.marks.firstRow !== undefined && B.marks.done !== undefined;
    };
    if (check()) return;
    const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
    obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  };
  if (document.documentElement) watch();
  else document.addEventListener("DOMContentLoaded", watch);
}

// ---------- small tools ----------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `promise`, or a rejection after `ms`. */
function within(ms, promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms); }),
  ]);
}

/** page.evaluate that survives navigations and a busy page: null when it cannot answer. */
async function peek(page, fn, arg, ms = 5000) {
  try { return await within(ms, page.evaluate(fn, arg), "page"); } catch { return null; }
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function base64Bytes(s) {
  if (!s) return 0;
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  return (s.length * 3) / 4 - pad;
}

/** Resident memory of this profile's renderer processes (pages, workers), from /proc (Linux). */
function rendererRss(profileDir) {
  const sizes = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Chromium rewrites its command line as one string with spaces, so match words in it.
      const cmd = ` ${readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ")} `;
      if (!cmd.includes(` --user-data-dir=${profileDir} `) || !cmd.includes(" --type=renderer ")) continue;
      // The browser's own UI and extensions are not the app.
      if (cmd.includes(" --top-chrome-webui ") || cmd.includes(" --extension-process ")) continue;
      const m = readFileSync(`/proc/${name}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
      if (m) sizes.push(Number(m[1]) / 1024);
    } catch { /* gone */ }
  }
  return sizes.length ? { mib: sizes.reduce((a, b) => a + b, 0), largestMib: Math.max(...sizes), processes: sizes.length } : null;
}

/** The machine's 1-minute load average: other work on it makes every figure slower. */
function loadAverage() {
  try { return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]); } catch { return null; }
}

const MiB = (b) => (b == null ? null : b / (1 << 20));

// ---------- the measurement ----------

async function measure({ url, count: n, timeoutS }) {
  const timeoutMs = timeoutS * 1000;
  const profileDir = mkdtempSync(join(tmpdir(), "liaison-bench-profile-"));
  const r = { n, timeoutS, steps: {}, errors: [], load: [loadAverage()] };
  const consoleErrors = [];
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 360, height: 780 },
    locale: "zh-CN",
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(`console.error: ${m.text()}`); });
  await context.addInitScript(instrument, n);
  const cdp = await context.newCDPSession(page);

  // A step that may fail or hang without ending the run.
  const step = async (name, ms, fn) => {
    try {
      r.steps[name] = await within(ms, fn(), name);
    } catch (e) {
      r.steps[name] = { error: e.message.split("\n")[0] };
      r.errors.push(`${name}: ${e.message.split("\n")[0]}`);
    }
    return r.steps[name];
  };
  const marks = () => peek(page, () => window.__bench?.marks ?? {});
  const rows = () => peek(page, () => window.__bench.rows());

  /** Waits for the current document's marks (newer than since) or the deadline; samples progress. */
  const follow = async (since, { wantDone = true, samples = null } = {}) => {
    const deadline = Date.now() + timeoutMs;
    let last = 0;
    let m = {};
    while (Date.now() < deadline) {
      // A busy or navigating page answers null: keep what it said last.
      m = (await marks()) ?? m;
      const firstRow = m.firstRow >= since ? m.firstRow - since : undefined;
      const done = m.done >= since ? m.done - since : undefined;
      if (samples && Date.now() - last >= 1000) {
        last = Date.now();
        const s = await peek(page, () => ({ ...window.__bench.state(), shown: window.__bench.shown(), rows: window.__bench.rows() }));
        samples.push({ t: (Date.now() - since) / 1000, ...(s ?? { state: "(page busy or loading)" }) });
      }
      if (firstRow !== undefined && (!wantDone || done !== undefined)) return { firstRow, done, finished: true };
      await sleep(100);
    }
    return {
      firstRow: m.firstRow >= since ? m.firstRow - since : undefined,
      done: undefined,
      finished: false,
    };
  };

  try {
    await page.goto(`${url}/#/login`);
    await page.waitForSelector("#login-submit", { timeout: 60000 });
    await page.fill("#login-username", DEMO.federation.username);
    await page.fill("#login-password", DEMO.federation.password);

    // 1. First sync, from the click.
    const samples = [];
    const clicked = Date.now();
    await page.click("#login-submit");
    const first = await follow(clicked, { samples });
    // How far it got: the page now, else the last sample the page answered.
    const answered = samples.filter((x) => x.shown != null || x.rows != null).at(-1) ?? null;
    r.first = { ...first, samples, reached: answered };
    if (!first.finished) {
      const seen = await peek(page, () => ({ shown: window.__bench.shown(), rows: window.__bench.rows(), ...window.__bench.state() }), undefined, 30000);
      if (seen) r.first.reached = { t: (Date.now() - clicked) / 1000, ...seen };
    }

    // 2. DOM and memory after the sync (or where it stopped).
    await step("dom", 60000, async () => page.evaluate(() => ({
      rows: window.__bench.rows(),
      shown: window.__bench.shown(),
      elements: document.getElementsByTagName("*").length,
    })));
    await step("memory", 60000, async () => {
      await cdp.send("HeapProfiler.collectGarbage").catch(() => {});
      const heap = await cdp.send("Runtime.getHeapUsage");
      const wasm = await page.evaluate(() => {
        const exposed = globalThis.__liaisonWasm?.memory?.buffer?.byteLength;
        if (typeof exposed === "number") return { bytes: exposed, source: "__liaisonWasm" };
        const caught = window.__bench.wasmMemory?.buffer?.byteLength;
        return typeof caught === "number" ? { bytes: caught, source: "instantiate hook" } : null;
      });
      await cdp.send("Performance.enable").catch(() => {});
      const metrics = await cdp.send("Performance.getMetrics").then((x) => Object.fromEntries(x.metrics.map((m) => [m.name, m.value]))).catch(() => ({}));
      return {
        jsHeapUsedMiB: MiB(heap.usedSize),
        jsHeapTotalMiB: MiB(heap.totalSize),
        wasmMiB: wasm ? MiB(wasm.bytes) : null,
        wasmSource: wasm?.source ?? null,
        domNodes: metrics.Nodes ?? null,
        jsEventListeners: metrics.JSEventListeners ?? null,
        renderer: rendererRss(profileDir),
      };
    });

    if (!first.finished) {
      r.skipped = "the first sync did not finish: search, reloads and keystrokes not measured";
      return r;
    }

    // 3. Search for one existing code, then clear it.
    const code = `HZ-2026-${String(Math.floor(n / 2) + 1).padStart(5, "0")}`;
    await step("search", 120000, () => page.evaluate(async (code) => {
      const B = window.__bench;
      const input = document.getElementById("filter-text");
      if (!input) throw new Error("no #filter-text");
      const before = B.shown();
      const t0 = performance.now();
      input.value = code;
      input.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: code }));
      const t1 = await B.when(() => B.shown() !== before && B.shown() !== null);
      const found = B.shown();
      const t2 = await new Promise((r) => requestAnimationFrame(() => r(performance.now())));
      const rows = B.rows();
      input.value = "";
      const c0 = performance.now();
      input.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "deleteContentBackward" }));
      const c1 = await B.when(() => B.shown() === before);
      const c2 = await new Promise((r) => requestAnimationFrame(() => r(performance.now())));
      return { code, found, rows, ms: t1 - t0, frameMs: t2 - t0, clearMs: c1 - c0, clearFrameMs: c2 - c0 };
    }, code));

    // 4. Reload online, with the bytes on the wire.
    await step("reloadOnline", timeoutMs + 30000, async () => {
      const wire = { http: 0, httpRequests: 0, fromCache: 0, wsIn: 0, wsOut: 0, wsFrames: 0 };
      const cached = new Set();
      let counting = true;
      const onResponse = (e) => {
        if (e.response.fromServiceWorker || e.response.fromDiskCache || e.response.fromPrefetchCache) cached.add(e.requestId);
      };
      const onServed = (e) => cached.add(e.requestId);
      const onFinished = (e) => {
        if (!counting) return;
        if (cached.has(e.requestId)) { wire.fromCache++; return; }
        wire.http += e.encodedDataLength; wire.httpRequests++;
      };
      const frame = (dir) => (e) => {
        if (!counting) return;
        const p = e.response.payloadData ?? "";
        const bytes = e.response.opcode === 2 ? base64Bytes(p) : Buffer.byteLength(p);
        if (dir === "in") wire.wsIn += bytes; else wire.wsOut += bytes;
        wire.wsFrames++;
      };
      const onIn = frame("in"), onOut = frame("out");
      cdp.on("Network.responseReceived", onResponse);
      cdp.on("Network.requestServedFromCache", onServed);
      cdp.on("Network.loadingFinished", onFinished);
      cdp.on("Network.webSocketFrameReceived", onIn);
      cdp.on("Network.webSocketFrameSent", onOut);
      await cdp.send("Network.enable");
      try {
        const t0 = Date.now();
        await page.reload({ timeout: timeoutMs });
        const res = await follow(t0);
        counting = false;
        return { ...res, wire };
      } finally {
        counting = false;
        await cdp.send("Network.disable").catch(() => {});
        for (const [ev, f] of [["Network.responseReceived", onResponse], ["Network.requestServedFromCache", onServed], ["Network.loadingFinished", onFinished], ["Network.webSocketFrameReceived", onIn], ["Network.webSocketFrameSent", onOut]]) cdp.off(ev, f);
      }
    });

    // 5. Reload offline: the service worker and IndexedDB only.
    await step("reloadOffline", timeoutMs + 30000, async () => {
      await context.setOffline(true);
      try {
        const t0 = Date.now();
        await page.reload({ timeout: timeoutMs });
        return await follow(t0, { wantDone: false });
      } finally {
        await context.setOffline(false);
      }
    });

    // 6. Keystroke → IndexedDB commit, in a record's description.
    await step("keystrokes", 300000, async () => {
      // Back online first, so the page is as it would be in use.
      await page.reload({ timeout: timeoutMs });
      await follow(Date.now(), { wantDone: false });
      await page.click("#records li.record a", { timeout: 60000 });
      const box = page.locator("#f-description, [data-field] textarea, .record-page input[type=text]").first();
      await box.waitFor({ timeout: 60000 });
      await box.click();
      await page.keyboard.press("End");
      await page.evaluate(() => { window.__bench.inputs = []; window.__bench.commits = []; window.__bench.begins = []; });
      const text = " 当事人再次来电，称对方仍在纠缠。Called again on 3 May, visit planned.";
      // `--trace F`: a Chrome trace of the typing (open it in the browser's performance panel).
      if (args.trace) await cdp.send("Tracing.start", { traceConfig: { includedCategories: TRACE_CATEGORIES }, transferMode: "ReturnAsStream" });
      // `--cpuprofile F`: a sampled CPU profile of the page while typing (wasm names need a
      // dist built with names kept).
      if (args.cpuprofile) {
        await cdp.send("Profiler.enable");
        await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
        await cdp.send("Profiler.start");
      }
      await page.keyboard.type(text, { delay: 120 });
      await sleep(3000);
      if (args.trace) writeFileSync(args.trace, await endTrace(cdp));
      if (args.cpuprofile) writeFileSync(args.cpuprofile, JSON.stringify((await cdp.send("Profiler.stop")).profile));
      const { inputs, commits, begins } = await page.evaluate(() => ({ inputs: window.__bench.inputs, commits: window.__bench.commits, begins: window.__bench.begins }));
      const lat = [], app = [], idb = [], each = [];
      let missed = 0;
      for (const t of inputs) {
        const i = commits.findIndex((x) => x >= t);
        if (i < 0) { missed++; continue; }
        lat.push(commits[i] - t);
        // A keystroke that arrived while an earlier transaction was already open waits for the next one's commit; its app share is then 0.
        app.push(Math.max(0, begins[i] - t));
        idb.push(commits[i] - Math.max(begins[i], t));
        each.push([lat.at(-1), app.at(-1), idb.at(-1)].map((x) => Math.round(x)));
      }
      // The slowest five, as [total, app, IndexedDB] (in the --json report).
      const worst = each.sort((a, b) => b[0] - a[0]).slice(0, 5);
      for (const a of [lat, app, idb]) a.sort((x, y) => x - y);
      return {
        typed: [...text].length, inputs: inputs.length, commits: commits.length, missed,
        p50: percentile(lat, 50), p95: percentile(lat, 95), max: lat.at(-1) ?? null,
        worst, appP50: percentile(app, 50), appP95: percentile(app, 95), idbP50: percentile(idb, 50), idbP95: percentile(idb, 95),
      };
    });
  } catch (e) {
    r.errors.push(e.message.split("\n")[0]);
  } finally {
    r.consoleErrors = consoleErrors;
    r.load.push(loadAverage());
    await within(30000, context.close(), "closing the browser").catch(() => {});
    rmSync(profileDir, { recursive: true, force: true });
  }
  return r;
}

const TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "toplevel", "IndexedDB", "blink", "loading"];

async function endTrace(cdp) {
  const complete = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
  await cdp.send("Tracing.end");
  const { stream } = await complete;
  let out = "";
  for (;;) {
    const { data, eof, base64Encoded } = await cdp.send("IO.read", { handle: stream, size: 1 << 20 });
    out += base64Encoded ? Buffer.from(data, "base64").toString("utf8") : data;
    if (eof) break;
  }
  await cdp.send("IO.close", { handle: stream });
  return out;
}

// ---------- printing ----------

const s = (ms) => (ms == null ? "—" : `${(ms / 1000).toFixed(2)} s`);
const msf = (ms) => (ms == null ? "—" : `${ms.toFixed(0)} ms`);
const mib = (x) => (x == null ? "n/a" : `${x.toFixed(1)} MiB`);
const kib = (b) => (b == null ? "—" : `${(b / 1024).toFixed(1)} KiB`);
const err = (step) => (step && step.error ? `error: ${step.error}` : null);

function firstSyncText(r) {
  const f = r.first;
  if (!f) return "—";
  if (f.finished) return s(f.done);
  const got = f.reached?.shown ?? f.reached?.rows ?? r.steps.dom?.shown ?? "?";
  const when = f.reached?.t != null ? ` at ${f.reached.t.toFixed(0)} s` : "";
  return `not in ${r.timeoutS} s: ${got}/${r.n} listed${when}, status ${f.reached?.state ?? "?"} "${f.reached?.text ?? ""}"`;
}

function table(r) {
  const rows = [];
  const add = (k, v) => rows.push([k, v ?? "—"]);
  if (r.seed) add("seeding (Rust client, acknowledged)", `${r.seed.rate.toFixed(0)} records/s (${r.seed.secs.toFixed(2)} s)`);
  add("sign-in → first row", r.first ? s(r.first.firstRow) : "—");
  add("sign-in → up to date, all listed", firstSyncText(r));
  const d = r.steps.dom;
  add("li.record in DOM / listed / elements", err(d) ?? (d ? `${d.rows} / ${d.shown} / ${d.elements}` : null));
  const m = r.steps.memory;
  if (err(m)) add("memory", err(m));
  else if (m) {
    add("JS heap used (after GC)", mib(m.jsHeapUsedMiB));
    add("wasm memory", m.wasmMiB == null ? "n/a" : `${mib(m.wasmMiB)} (${m.wasmSource})`);
    add("renderer RSS", m.renderer ? `${mib(m.renderer.mib)} in ${m.renderer.processes} process${m.renderer.processes > 1 ? "es" : ""} (largest ${mib(m.renderer.largestMib)})` : "n/a");
  }
  if (r.skipped) add("(skipped)", r.skipped);
  const q = r.steps.search;
  if (q) add(`search "${q.code ?? ""}" → rows`, err(q) ?? `${msf(q.ms)} (${msf(q.frameMs)} to next frame), ${q.found} shown`);
  if (q && !q.error) add("clear search → all rows", `${msf(q.clearMs)} (${msf(q.clearFrameMs)} to next frame)`);
  const on = r.steps.reloadOnline;
  if (on) {
    add("reload online → first row", err(on) ?? s(on.firstRow));
    if (!on.error) {
      add("reload online → up to date", on.finished ? s(on.done) : `not in ${r.timeoutS} s`);
      const w = on.wire;
      add("reload online: bytes on the wire", `HTTP ${kib(w.http)} in ${w.httpRequests} requests (${w.fromCache} from SW/cache), WebSocket ${kib(w.wsIn)} in / ${kib(w.wsOut)} out (${w.wsFrames} frames)`);
    }
  }
  const off = r.steps.reloadOffline;
  if (off) add("reload offline → first row", err(off) ?? (off.firstRow == null ? `none in ${r.timeoutS} s` : s(off.firstRow)));
  const k = r.steps.keystrokes;
  if (k) add("keystroke → IndexedDB commit p50 / p95", err(k) ?? `${msf(k.p50)} / ${msf(k.p95)} (max ${msf(k.max)}; ${k.inputs} inputs, ${k.commits} commits, ${k.missed} without)`);
  if (k && !err(k)) add("  of which: input → transaction begun / begun → committed, p50 / p95", `${msf(k.appP50)} / ${msf(k.appP95)}; ${msf(k.idbP50)} / ${msf(k.idbP95)}`);
  const w = Math.max(...rows.map(([a]) => a.length));
  console.log(`\n== app with ${r.n} records ==`);
  for (const [a, b] of rows) console.log(`${a.padEnd(w)}  ${b}`);
  if (r.first?.samples?.length) {
    const ss = r.first.samples;
    const pick = ss.length <= 10 ? ss : [...Array(10).keys()].map((i) => ss[Math.round((i * (ss.length - 1)) / 9)]);
    console.log("progress (s since sign-in: status [data-done/data-total] listed/rows):");
    for (const p of pick) {
      const dt = p.done != null || p.total != null ? ` [${p.done ?? "?"}/${p.total ?? "?"}]` : "";
      console.log(`  ${p.t.toFixed(1).padStart(6)}  ${p.state ?? ""} "${p.text ?? ""}"${dt} ${p.shown ?? "—"}/${p.rows ?? "—"}`);
    }
  }
  if (r.load?.length) console.log(`machine load (1-min average) at start / end: ${r.load.map((x) => x ?? "?").join(" / ")}`);
  if (r.errors.length) console.log(`errors: ${r.errors.join("; ")}`);
  const unique = [...new Set(r.consoleErrors ?? [])];
  if (unique.length) {
    console.log(`page console: ${(r.consoleErrors ?? []).length} errors, ${unique.length} distinct; first ones:`);
    for (const e of unique.slice(0, 5)) console.log(`  ${e.slice(0, 300)}`);
  }
}

function summary(runs) {
  runs.sort((a, b) => a.n - b.n);
  const cell = (v) => String(v ?? "—");
  const lines = [
    ["records", ...runs.map((r) => r.n)],
    ["load at start", ...runs.map((r) => r.load?.[0] ?? "—")],
    ["seed records/s", ...runs.map((r) => (r.seed ? r.seed.rate.toFixed(0) : "—"))],
    ["first row", ...runs.map((r) => s(r.first?.firstRow))],
    ["first sync (up to date)", ...runs.map((r) => (r.first?.finished ? s(r.first.done) : `> ${r.timeoutS} s (${r.first?.reached?.shown ?? r.first?.reached?.rows ?? r.steps.dom?.shown ?? "?"} listed)`))],
    ["li.record in DOM", ...runs.map((r) => r.steps.dom?.rows)],
    ["JS heap MiB", ...runs.map((r) => r.steps.memory?.jsHeapUsedMiB?.toFixed(1) ?? "n/a")],
    ["wasm MiB", ...runs.map((r) => r.steps.memory?.wasmMiB?.toFixed(1) ?? "n/a")],
    ["renderer RSS MiB", ...runs.map((r) => r.steps.memory?.renderer?.mib?.toFixed(1) ?? "n/a")],
    ["search ms", ...runs.map((r) => (r.steps.search?.ms != null ? r.steps.search.ms.toFixed(0) : "—"))],
    ["clear search ms", ...runs.map((r) => (r.steps.search?.clearMs != null ? r.steps.search.clearMs.toFixed(0) : "—"))],
    ["reload: first row", ...runs.map((r) => s(r.steps.reloadOnline?.firstRow))],
    ["reload: up to date", ...runs.map((r) => s(r.steps.reloadOnline?.done))],
    ["reload: wire KiB", ...runs.map((r) => { const w = r.steps.reloadOnline?.wire; return w ? ((w.http + w.wsIn + w.wsOut) / 1024).toFixed(1) : "—"; })],
    ["offline reload: first row", ...runs.map((r) => s(r.steps.reloadOffline?.firstRow))],
    ["keystroke p50 ms", ...runs.map((r) => (r.steps.keystrokes?.p50 != null ? r.steps.keystrokes.p50.toFixed(0) : "—"))],
    ["keystroke p95 ms", ...runs.map((r) => (r.steps.keystrokes?.p95 != null ? r.steps.keystrokes.p95.toFixed(0) : "—"))],
  ];
  const w0 = Math.max(...lines.map((l) => l[0].length));
  const w = Math.max(10, ...lines.flatMap((l) => l.slice(1).map((c) => cell(c).length)));
  console.log("\n== summary: the app, by number of records ==");
  for (const l of lines) console.log(`${l[0].padEnd(w0)}  ${l.slice(1).map((c) => cell(c).padStart(w)).join("  ")}`);
  console.log("\nfirst sync, growth between sizes (target: linear, ≤ 2.2× per doubling; 10,000 in ≤ 60 s):");
  for (let i = 1; i < runs.length; i++) {
    const [a, b] = [runs[i - 1], runs[i]];
    const f = b.n / a.n;
    if (!a.first?.finished || !b.first?.finished) {
      console.log(`  ${a.n} → ${b.n} (${f.toFixed(1)}× records): not comparable, ${!a.first?.finished ? a.n : b.n} did not finish`);
      continue;
    }
    const ratio = b.first.done / a.first.done;
    const perDoubling = ratio ** (1 / Math.log2(f));
    console.log(`  ${a.n} → ${b.n} (${f.toFixed(1)}× records): ${ratio.toFixed(2)}× time, ${perDoubling.toFixed(2)}× per doubling`);
  }
  const big = runs.find((r) => r.n === 10000);
  if (big) console.log(`  10000 records: ${big.first?.finished ? s(big.first.done) : `not in ${big.timeoutS} s`} (target ≤ 60 s)`);
}

// ---------- main ----------

const args = parseArgs(process.argv.slice(2));
if (args.summary) {
  summary(args.summary.map((f) => JSON.parse(readFileSync(f, "utf8"))));
} else {
  if (!args.url || !args.count) throw new Error("usage: node tests/bench/app.mjs --url http://127.0.0.1:PORT --count N [--timeout-s S] [--seed-report F] [--json F] [--trace F] [--cpuprofile F]");
  if (!args.url.startsWith("http://127.0.0.1:")) throw new Error("--url must be http://127.0.0.1:PORT");
  args.timeoutS ||= 120 + Math.ceil(args.count * 0.048);
  const r = await measure(args);
  if (args.seedReport) { try { r.seed = JSON.parse(readFileSync(args.seedReport, "utf8")); } catch { /* none */ } }
  table(r);
  if (args.json) writeFileSync(args.json, JSON.stringify(r));
}

// Benchmark: our sync server against automerge-repo's JS sync server, same machine, same
// clients (npm automerge-repo 2.5.6). For each size: one client pushes N small documents and
// waits until the server acknowledges all of them (sync info from the server's storage id);
// a fresh client then fetches all N. Prints documents per second, failures (timeouts and
// doc-unavailable), and each server's peak RSS, then the ratios.
//
// Run through `cargo xtask bench` (it builds the release server and sets LIAISON_SERVER_BIN).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Repo } from "@automerge/automerge-repo";
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

// A client socket torn down mid-handshake at shutdown emits an error nobody listens for; it
// says nothing about the servers, so it is reported and the run goes on.
process.on("uncaughtException", (e) => console.error(`client error (ignored): ${e.message}`));

const SIZES = (process.env.BENCH_SIZES || "1000,10000").split(",").map(Number);
const TIMEOUT_MS = 120_000;
const here = new URL(".", import.meta.url).pathname;

function start(cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
    child.stderr.on("data", () => {});
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(ready);
      if (m) resolve({ child, port: Number(m[1]) });
    });
  });
}

function peakRssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmHWM:\s+(\d+) kB/)[1]) / 1024;
}

async function until(check, ms, every = 20) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, every));
  }
  return true;
}

async function client(url, peerId) {
  const repo = new Repo({ network: [new BrowserWebSocketClientAdapter(url, 500)], peerId, sharePolicy: async () => true });
  await until(() => repo.peers.length > 0, 10_000);
  return repo;
}

async function run(name, url, n) {
  const writer = await client(url, `writer-${name}-${n}`);
  const server = writer.peers[0];
  const t0 = performance.now();
  const handles = [];
  for (let i = 0; i < n; i++) handles.push(writer.create({ title: `记录 ${i}`, n: i, tags: ["bench"] }));
  const storageId = writer.getStorageIdOfPeer(server);
  const acked = (h) => {
    const info = storageId && h.getSyncInfo(storageId);
    return info && JSON.stringify([...info.lastHeads].sort()) === JSON.stringify([...h.heads()].sort());
  };
  // Checked from the first unacknowledged handle on, every 100 ms, so that polling does not
  // become the client's own bottleneck at 10,000 documents.
  let next = 0;
  const pushed = await until(() => {
    while (next < handles.length && acked(handles[next])) next++;
    return next === handles.length;
  }, TIMEOUT_MS, 100);
  const pushMs = performance.now() - t0;
  const pushFailures = handles.filter((h) => !acked(h)).length;

  const reader = await client(url, `reader-${name}-${n}`);
  const t1 = performance.now();
  let fetchFailures = 0;
  await Promise.all(
    handles.map(async (h, i) => {
      try {
        const found = await Promise.race([
          reader.find(h.url),
          new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), TIMEOUT_MS)),
        ]);
        if (found.doc()?.n !== i) fetchFailures++;
      } catch {
        fetchFailures++;
      }
    }),
  );
  const fetchMs = performance.now() - t1;
  await writer.shutdown().catch(() => {});
  await reader.shutdown().catch(() => {});
  return { pushPerSec: (n * 1000) / pushMs, fetchPerSec: (n * 1000) / fetchMs, pushFailures: pushed ? 0 : pushFailures, fetchFailures };
}

async function login(base) {
  const r = await fetch(`${base}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "fed-li", password: "demo-federation" }),
  });
  return (await r.json()).token;
}

const rows = [];
for (const n of SIZES) {
  const oursDir = mkdtempSync(join(tmpdir(), "liaison-bench-"));
  const dist = mkdtempSync(join(tmpdir(), "liaison-bench-dist-"));
  (await import("node:fs")).writeFileSync(join(dist, "index.html"), "bench");
  const ours = await start(process.env.LIAISON_SERVER_BIN, ["--addr", "127.0.0.1:0", "--data-dir", oursDir, "--dist", dist, "--demo"], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
  const token = await login(`http://127.0.0.1:${ours.port}`);
  const a = await run("ours", `ws://127.0.0.1:${ours.port}/sync?token=${token}`, n);
  const aRss = peakRssMiB(ours.child.pid);
  ours.child.removeAllListeners("exit");
  ours.child.kill();

  const jsDir = mkdtempSync(join(tmpdir(), "liaison-bench-js-"));
  const js = await start("node", [join(here, "js-server.mjs"), jsDir], /listening (\d+)/);
  const b = await run("js", `ws://127.0.0.1:${js.port}`, n);
  const bRss = peakRssMiB(js.child.pid);
  js.child.removeAllListeners("exit");
  js.child.kill();
  for (const d of [oursDir, dist, jsDir]) rmSync(d, { recursive: true, force: true });
  rows.push({ n, a, b, aRss, bRss });
}

const f = (x) => x.toFixed(0).padStart(8);
console.log("documents  server        push docs/s  fetch docs/s  failures  peak RSS MiB");
for (const { n, a, b, aRss, bRss } of rows) {
  console.log(`${String(n).padStart(9)}  liaison      ${f(a.pushPerSec)}     ${f(a.fetchPerSec)}      ${String(a.pushFailures + a.fetchFailures).padStart(6)}  ${aRss.toFixed(1).padStart(10)}`);
  console.log(`${String(n).padStart(9)}  automerge-js ${f(b.pushPerSec)}     ${f(b.fetchPerSec)}      ${String(b.pushFailures + b.fetchFailures).padStart(6)}  ${bRss.toFixed(1).padStart(10)}`);
  console.log(`${String(n).padStart(9)}  ratio        ${(a.pushPerSec / b.pushPerSec).toFixed(2).padStart(8)}×    ${(a.fetchPerSec / b.fetchPerSec).toFixed(2).padStart(8)}×            ${(aRss / bRss).toFixed(2).padStart(9)}×`);
}
process.exit(0);

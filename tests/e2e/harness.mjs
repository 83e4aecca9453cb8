// Shared pieces of the end-to-end tests: the real server binary on a free loopback port, and
// Debian's Chromium driven by playwright-core (which never downloads a browser).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const SERVER = process.env.LIAISON_SERVER_BIN;
const DIST = process.env.LIAISON_DIST;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
if (!SERVER || !DIST) throw new Error("run through `cargo xtask test` (LIAISON_SERVER_BIN and LIAISON_DIST unset)");

export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
];

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `liaison-${prefix}-`));
}

/** Starts the server on 127.0.0.1 with a free port; resolves once it is listening. */
export function startServer({ dist = DIST, dataDir = tempDir("data") } = {}) {
  const child = spawn(SERVER, ["--addr", "127.0.0.1:0", "--data-dir", dataDir, "--dist", dist, "--demo"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => { log += d; });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 20000);
    child.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve({
          url: m[1],
          dataDir,
          log: () => log,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
        });
      }
    });
  });
}

/** A browser with its own profile on disk, so it can be closed and started again. */
export async function launchProfile(profileDir, options = {}) {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 360, height: 780 },
    locale: "zh-CN",
    ...options,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (e) => console.error("page error:", e.message));
  return { context, page };
}

/** Waits until the service worker has cached this build and controls the page. */
export async function waitOfflineReady(page) {
  await page.waitForSelector('#offline-status[data-ready="true"]', { timeout: 30000 });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
}

/** Empties the browser's HTTP cache, so only the service worker can serve the app. */
export async function clearHttpCache(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.clearBrowserCache");
  await cdp.detach();
}

export async function waitSaved(page) {
  await page.waitForSelector('#save-status[data-state="saved"]', { timeout: 10000 });
}

export function cleanup(...dirs) {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

export const DEMO = {
  federation: { username: "fed-li", password: "demo-federation", org: "county-federation" },
  procuratorate: { username: "proc-wang", password: "demo-procuratorate", org: "county-procuratorate" },
  court: { username: "court-zhao", password: "demo-court", org: "county-court" },
};

/** Signs in through the app's page and waits until the first sync is done. */
export async function signIn(page, url, account) {
  await page.goto(`${url}/#/login`);
  await page.fill("#login-username", account.username);
  await page.fill("#login-password", account.password);
  await page.click("#login-submit");
  await page.waitForSelector("#new-intake");
  await page.waitForSelector('#sync-status[data-state="up-to-date"]', { timeout: 20000 });
}

/** Opens the status line's details (storage, the signed-in user, sign-out). */
export async function openStatusDetails(page) {
  if ((await page.getAttribute("#status-toggle", "aria-expanded")) !== "true") await page.click("#status-toggle");
  await page.waitForSelector("#status-details:not([hidden])");
}

/** Signs out through the status details; resolves once the app offers to sign in again. */
export async function signOut(page) {
  await openStatusDetails(page);
  await page.click("#sign-out");
  await page.waitForSelector("#sign-in");
}

/** Signs in over HTTP; returns the session token. */
export async function login(url, account) {
  const r = await fetch(`${url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: account.username, password: account.password }),
  });
  if (!r.ok) throw new Error(`login failed: ${r.status} ${await r.text()}`);
  return (await r.json()).token;
}

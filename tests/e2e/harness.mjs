// Shared pieces of the end-to-end tests: the real server binary on a free loopback port, and
// Debian's Chromium driven by playwright-core (which never downloads a browser).
import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
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

/** Starts the server on 127.0.0.1 with a free port; resolves once it is listening. `database`
 * names a PostgreSQL database instead of SQLite in the data folder. */
export function startServer({ dist = DIST, dataDir = tempDir("data"), database = null } = {}) {
  const db = database ? ["--database", database] : [];
  const child = spawn(SERVER, ["--addr", "127.0.0.1:0", "--data-dir", dataDir, "--dist", dist, "--demo", ...db], {
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

/** Waits until the field `selector` holds `expected`; says what it held if it never does. */
export async function waitValue(page, selector, expected, timeout = 20000) {
  await page.waitForFunction(([s, v]) => document.querySelector(s)?.value === v, [selector, expected], { timeout }).catch(async (e) => {
    throw new Error(`${selector} is ${JSON.stringify(await page.inputValue(selector))}, expected ${JSON.stringify(expected)}: ${e.message}`);
  });
}

/** Transfers the open case clue to `org` with the survivor's consent, and waits until the
 * server has the step: how a case clue is shared (there is no share box on one). */
export async function transfer(page, org) {
  await page.selectOption("#f-consent", "given");
  await page.click('#case-actions button[data-step="transfer"]');
  await page.waitForSelector('#case-form[data-step="transfer"]');
  await page.selectOption("#case-to-org", org);
  await page.click("#case-confirm");
  await page.waitForSelector('#case-timeline li[data-step="transfer"][data-received="true"]', { timeout: 30000 });
}

/** Shares the open record (of a kind shared by hand, such as meeting minutes) with `org`,
 * confirming, and waits until the server has the share. */
export async function share(page, org) {
  await page.selectOption("#share-org", org);
  await page.click("#share-button");
  await page.click("#share-confirm-button");
  await page.waitForSelector(`#unshare-${org}`, { timeout: 20000 });
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

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A throwaway PostgreSQL cluster of Debian's packages (installed when missing) in a temp folder,
 * on a free loopback port, as the `postgres` user when run as root. Resolves to its URL and a
 * `stop` that shuts it down and deletes the folder.
 */
export async function startPostgres() {
  const root = process.getuid?.() === 0;
  const binDir = () => {
    if (!existsSync("/usr/lib/postgresql")) return null;
    const versions = readdirSync("/usr/lib/postgresql").filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/postgres`));
    versions.sort((a, b) => Number(a) - Number(b));
    return versions.length ? `/usr/lib/postgresql/${versions.at(-1)}/bin` : null;
  };
  if (!binDir() && root) {
    execFileSync("apt-get", ["install", "-y", "-qq", "postgresql"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
  const bin = binDir();
  if (!bin) throw new Error("PostgreSQL is not installed: apt-get install postgresql");
  const dir = tempDir("pg");
  const asPostgres = (program, args) => (root ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", program, ...args]] : [program, args]);
  if (root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const [initdb, initArgs] = asPostgres(`${bin}/initdb`, ["-D", `${dir}/data`, "-A", "trust", "-U", "liaison", "-E", "UTF8", "--no-sync"]);
  execFileSync(initdb, initArgs, { stdio: "ignore" });
  const port = await freePort();
  const [pg, pgArgs] = asPostgres(`${bin}/postgres`, ["-D", `${dir}/data`, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1"]);
  const child = spawn(pg, pgArgs, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => { log += d; });
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      execFileSync(`${bin}/pg_isready`, ["-q", "-h", "127.0.0.1", "-p", String(port)]);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url: `postgres://liaison@127.0.0.1:${port}/postgres`,
    stop: () => new Promise((done) => {
      const finish = () => { rmSync(dir, { recursive: true, force: true }); done(); };
      if (child.exitCode !== null || child.signalCode !== null) return finish();
      child.once("exit", finish);
      child.kill("SIGINT");
    }),
  };
}

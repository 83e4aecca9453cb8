//! Build, run and test automation. Everything a fresh machine needs is installed here when
//! missing, so the README's two commands are all a new developer or CI types:
//!
//! - `cargo xtask run [--addr 127.0.0.1:8080] [--data-dir data]` builds the app and starts the server.
//! - `cargo xtask test` runs every test: unit, server, browser (wasm in Chromium), end to end.
//! - `cargo xtask dist` only builds the app into `dist/` and prints its transfer size.
//! - `cargo xtask bench` compares our sync server with automerge-repo's JS one and prints figures.
//! - `cargo xtask bench live` times live edits seen by 199 other clients on three servers.
//! - `cargo xtask bench app` measures the release app in Chromium against N seeded records.
//! - `cargo xtask bench crash` SIGKILLs the server under load, many times, on SQLite and on
//!   PostgreSQL, and counts acknowledged changes lost (must be none).
//! - `cargo xtask fuzz [--runs N] [--max-seconds S] [TARGET…]` runs the `cargo fuzz` targets.

mod dist;
mod fuzz;
mod toolchain;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => run(&root, &args[1..]),
        Some("test") => test(&root),
        Some("bench") => match args.get(1).map(String::as_str) {
            None => bench(&root),
            Some("app") => bench_app(&root),
            Some("live") => bench_live(&root),
            Some("crash") => bench_crash(&root),
            Some(other) => bail!("unknown bench {other:?}: cargo xtask bench [app | live | crash]"),
        },
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("dist") => {
            toolchain::ensure_wasm(&root)?;
            dist::build(&root)?;
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask run [--addr HOST:PORT] [--data-dir DIR] | test | dist | bench [app | live | crash] | fuzz [--runs N] [--max-seconds S] [TARGET…]"
            );
            std::process::exit(2);
        }
    }
}

/// Builds the app and the server in release mode and runs the server in the foreground.
fn run(root: &Path, args: &[String]) -> Result<()> {
    toolchain::ensure_wasm(root)?;
    dist::build(root)?;
    cmd("cargo", &["build", "--release", "--package", "server"]).run()?;
    let mut server = Command::new(dist::target_dir(root).join("release/liaison-server"));
    server.arg("--dist").arg(root.join("dist")).arg("--demo");
    // Defaults the user can override by passing the same flags.
    if !args.iter().any(|a| a.starts_with("--addr")) {
        server.args(["--addr", "127.0.0.1:8080"]);
    }
    if !args.iter().any(|a| a.starts_with("--data-dir")) {
        server.arg("--data-dir").arg(root.join("data"));
    }
    server.args(args);
    let status = server.status().context("starting the server")?;
    if !status.success() {
        bail!("the server exited with {status}");
    }
    Ok(())
}

/// Every test, in order of how fast each kind fails.
fn test(root: &Path) -> Result<()> {
    toolchain::ensure_wasm(root)?;
    toolchain::ensure_lints()?;
    toolchain::ensure_browser()?;
    toolchain::ensure_postgres()?;
    toolchain::ensure_node_modules(&root.join("tests"))?;

    // Lints first: they fail in seconds, and a warning is a failure here.
    cmd("cargo", &["fmt", "--all", "--check"]).run()?;
    cmd("cargo", &["clippy", "--workspace", "--exclude", "app", "--all-targets", "--", "-D", "warnings"]).run()?;
    // With `split`, as dist builds it; the tests below build without (see app/src/split.rs).
    let wasm_clippy = ["clippy", "--package", "app", "--target", "wasm32-unknown-unknown", "--all-targets", "--features=split"];
    cmd("cargo", &[&wasm_clippy[..], &["--", "-D", "warnings"]].concat()).run()?;

    // The server's tests run on SQLite and on a PostgreSQL cluster they start themselves.
    cmd("cargo", &["test", "--workspace", "--exclude", "app"]).run()?;

    // The IndexedDB store, in headless Chromium through chromedriver.
    cmd("cargo", &["test", "--package", "app", "--target", "wasm32-unknown-unknown"])
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", toolchain::CHROMEDRIVER)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
        .run()?;

    // End to end: the real server serving the release build, driven in headless Chromium.
    dist::build(root)?;
    cmd("cargo", &["build", "--package", "server"]).run()?;
    cmd("node", &["--test", "--test-concurrency=1", "tests/e2e/"])
        .env("LIAISON_SERVER_BIN", dist::target_dir(root).join("debug/liaison-server"))
        .env("LIAISON_DIST", root.join("dist"))
        .env("CHROMIUM", toolchain::CHROMIUM)
        .run()?;
    Ok(())
}

/// Throughput and memory of our sync server against automerge-repo's, side by side, measured
/// by a light Rust client (`server/benches/sync.rs`) so the figures describe the servers.
/// `BENCH_SIZES=1000,10000` (the default) sets the document counts.
fn bench(root: &Path) -> Result<()> {
    // The JS server (`tests/bench/js-server.mjs`) runs on the test suite's npm packages.
    toolchain::ensure_node_modules(&root.join("tests"))?;
    cmd("cargo", &["build", "--release", "--package", "server"]).run()?;
    cmd("cargo", &["bench", "--package", "server", "--bench", "sync"])
        .env("LIAISON_SERVER_BIN", dist::target_dir(root).join("release/liaison-server"))
        .run()
}

/// Live edits with many people connected (`server/benches/live.rs`): one client edits a record
/// that `BENCH_LIVE_CLIENTS` − 1 others hold (default 200 in all); prints the time until each
/// sees each edit on our server, automerge-repo's JS server and samod's. samod's server is a
/// crate of its own (`server/benches/samod-server`, its own workspace and lock file), so its
/// dependencies are built here only, never by `cargo xtask test`.
fn bench_live(root: &Path) -> Result<()> {
    toolchain::ensure_node_modules(&root.join("tests"))?;
    cmd("cargo", &["build", "--release", "--package", "server"]).run()?;
    let target = dist::target_dir(root);
    let samod_target = target.join("samod-server");
    cmd("cargo", &["build", "--release", "--locked", "--manifest-path", "server/benches/samod-server/Cargo.toml"])
        .args(&["--target-dir".as_ref(), samod_target.as_os_str()])
        .run()?;
    cmd("cargo", &["bench", "--package", "server", "--bench", "live"])
        .env("LIAISON_SERVER_BIN", target.join("release/liaison-server"))
        .env("SAMOD_SERVER_BIN", samod_target.join("release/samod-server"))
        .run()
}

/// The crash campaign (`server/benches/crash.rs`): light clients push changes while the release
/// server is SIGKILLed at random moments and started again, `BENCH_CRASH_KILLS` times (default
/// 30) per backend in `BENCH_CRASH_BACKENDS` (default `sqlite,postgres`; PostgreSQL is a
/// throwaway cluster the bench starts, from Debian's package, installed here when missing).
/// Prints kills, changes made, acknowledged and lost, and fails if any acknowledged change is
/// missing after a restart. `BENCH_CRASH_CLIENTS`, `BENCH_CRASH_DOCS`, `BENCH_CRASH_INTERVAL_MS`
/// and `BENCH_CRASH_EDIT_CHARS` shape the load.
fn bench_crash(root: &Path) -> Result<()> {
    let backends = std::env::var("BENCH_CRASH_BACKENDS").unwrap_or_default();
    if backends.is_empty() || backends.contains("postgres") {
        toolchain::ensure_postgres()?;
    }
    cmd("cargo", &["build", "--release", "--package", "server"]).run()?;
    cmd("cargo", &["bench", "--package", "server", "--bench", "crash"])
        .env("LIAISON_SERVER_BIN", dist::target_dir(root).join("release/liaison-server"))
        .run()
}

/// The app as people use it, against N records: for each N in `BENCH_APP_SIZES` (default
/// `100,1000,10000`) a release server with a fresh data folder, N intake records seeded on it
/// by a light Rust client (`server/benches/app.rs`), then the release app in headless
/// Chromium with a fresh profile (`tests/bench/app.mjs`): first sync, DOM, memory, search,
/// reloads, keystroke latency. `BENCH_APP_TIMEOUT_S` caps each wait (default 120 s + 48 ms per
/// record). Prints figures only; it fails only when something cannot be run.
fn bench_app(root: &Path) -> Result<()> {
    let sizes: Vec<usize> = std::env::var("BENCH_APP_SIZES")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().with_context(|| format!("BENCH_APP_SIZES: {s:?} is not a number")))
        .collect::<Result<_>>()?;
    let timeout = match std::env::var("BENCH_APP_TIMEOUT_S") {
        Ok(t) => Some(t.trim().parse::<u64>().with_context(|| format!("BENCH_APP_TIMEOUT_S: {t:?} is not a number of seconds"))?),
        Err(_) => None,
    };
    toolchain::ensure_wasm(root)?;
    toolchain::ensure_browser()?;
    toolchain::ensure_node_modules(&root.join("tests"))?;
    dist::build(root)?;
    cmd("cargo", &["build", "--release", "--package", "server"]).run()?;
    cmd("cargo", &["bench", "--package", "server", "--bench", "app", "--no-run"]).run()?;
    let server_bin = dist::target_dir(root).join("release/liaison-server");
    let dist_dir = root.join("dist");

    let work = std::env::temp_dir().join(format!("liaison-bench-app-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut reports = Vec::new();
    for n in sizes {
        let data = work.join(format!("data-{n}"));
        std::fs::create_dir_all(&data)?;
        let log = work.join(format!("server-{n}.log"));
        let (mut server, url) = start_server(&server_bin, &data, &dist_dir, &log)?;
        let seed = work.join(format!("seed-{n}.json"));
        let report = work.join(format!("app-{n}.json"));
        let result = (|| {
            let count = n.to_string();
            cmd("cargo", &["bench", "--package", "server", "--bench", "app", "--", "seed", "--url", &url, "--count", &count])
                .args(&["--report".as_ref(), seed.as_os_str()])
                .run()?;
            let mut node = cmd("node", &["tests/bench/app.mjs", "--url", &url, "--count", &count])
                .args(&["--seed-report".as_ref(), seed.as_os_str(), "--json".as_ref(), report.as_os_str()])
                .env("LIAISON_SERVER_BIN", &server_bin)
                .env("LIAISON_DIST", &dist_dir)
                .env("CHROMIUM", toolchain::CHROMIUM);
            if let Some(t) = timeout {
                node = node.args(&["--timeout-s".as_ref(), t.to_string().as_ref()]);
            }
            node.run()
        })();
        let _ = server.kill();
        let _ = server.wait();
        let _ = std::fs::remove_dir_all(&data);
        result.with_context(|| format!("bench app with {n} records (server log: {})", log.display()))?;
        reports.push(report);
    }
    let mut summary = cmd("node", &["tests/bench/app.mjs", "--summary"]);
    for r in &reports {
        summary = summary.args(&[r.as_os_str()]);
    }
    summary.env("LIAISON_SERVER_BIN", &server_bin).env("LIAISON_DIST", &dist_dir).run()?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Starts the release server on a free loopback port with the demo accounts; returns it and
/// its address once it says it is listening. Its log goes to `log`.
fn start_server(bin: &Path, data: &Path, dist: &Path, log: &Path) -> Result<(std::process::Child, String)> {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(bin)
        .args(["--addr", "127.0.0.1:0", "--demo", "--data-dir"])
        .arg(data)
        .arg("--dist")
        .arg(dist)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the address, then keeps draining stdout so the server never blocks on it.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("listening on http://127.0.0.1:") {
                let _ = tx.send(line[at + "listening on ".len()..].trim().to_owned());
            }
        }
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(url) => Ok((child, url)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the server did not say where it listens (log: {})", log.display())
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// A command that echoes itself and fails loudly.
pub struct Cmd(Command);

pub fn cmd(program: &str, args: &[&str]) -> Cmd {
    let mut c = Command::new(program);
    c.args(args);
    Cmd(c)
}

impl Cmd {
    pub fn args(mut self, args: &[&std::ffi::OsStr]) -> Cmd {
        self.0.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.0.env(key, value);
        self
    }

    pub fn run(mut self) -> Result<()> {
        eprintln!("xtask: {}", describe(&self.0));
        let status = self.0.status().with_context(|| format!("could not start {}", describe(&self.0)))?;
        if !status.success() {
            bail!("{} failed: {status}", describe(&self.0));
        }
        Ok(())
    }

    pub fn output(mut self) -> Result<String> {
        let out = self.0.output().with_context(|| format!("could not start {}", describe(&self.0)))?;
        if !out.status.success() {
            bail!("{} failed: {}\n{}", describe(&self.0), out.status, String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn describe(c: &Command) -> String {
    std::iter::once(c.get_program().to_string_lossy().into_owned())
        .chain(c.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

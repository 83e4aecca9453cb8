//! Build, run and test automation. Everything a fresh machine needs is installed here when
//! missing, so the README's two commands are all a new developer or CI types:
//!
//! - `cargo xtask run [--addr 127.0.0.1:8080] [--data-dir data]` builds the app and starts the server.
//! - `cargo xtask test` runs every test: unit, server, browser (wasm in Chromium), end to end.
//! - `cargo xtask dist` only builds the app into `dist/` and prints its transfer size.
//! - `cargo xtask bench` compares our sync server with automerge-repo's JS one and prints figures.

mod dist;
mod toolchain;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => run(&root, &args[1..]),
        Some("test") => test(&root),
        Some("bench") => bench(&root),
        Some("dist") => {
            toolchain::ensure_wasm(&root)?;
            dist::build(&root)?;
            Ok(())
        }
        _ => {
            eprintln!("usage: cargo xtask run [--addr HOST:PORT] [--data-dir DIR] | test | dist | bench");
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
    toolchain::ensure_browser()?;
    toolchain::ensure_node_modules(&root.join("tests"))?;

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

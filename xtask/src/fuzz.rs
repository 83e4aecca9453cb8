//! `cargo xtask fuzz [--runs N] [--max-seconds S] [TARGET…]`: runs each `cargo fuzz` target in
//! `fuzz/` until it has executed N inputs (default 10 million) or S seconds passed (default an
//! hour), and prints executions, speed and crashes per target. Installs the nightly toolchain
//! and cargo-fuzz when missing. Corpora live in `target/fuzz-corpus/<target>` (the form target
//! is seeded with the real definitions); crashing inputs land in `fuzz/artifacts/<target>/`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd;

const TARGETS: &[&str] = &["wire_decode", "form_definition", "server_node"];

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut runs: u64 = 10_000_000;
    let mut max_seconds: u64 = 3_600;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = it.next().context("--runs N")?.parse().context("--runs: a number")?,
            "--max-seconds" => max_seconds = it.next().context("--max-seconds S")?.parse().context("--max-seconds: a number")?,
            t if TARGETS.contains(&t) => targets.push(t.to_owned()),
            other => bail!("unknown fuzz argument {other:?}; targets: {}", TARGETS.join(", ")),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    ensure_cargo_fuzz()?;

    let mut rows = Vec::new();
    for target in &targets {
        let corpus = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        if target == "form_definition" {
            for entry in std::fs::read_dir(root.join("shared/forms"))? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "json") {
                    std::fs::copy(&path, corpus.join(path.file_name().expect("a file")))?;
                }
            }
        }
        let artifacts = root.join("fuzz/artifacts").join(target);
        let before = count_files(&artifacts);
        let started = Instant::now();
        eprintln!("xtask: fuzzing {target} for up to {runs} runs or {max_seconds} s");
        // `Form::from_json` builds the `&'static` data the build embeds by leaking it, on
        // purpose (it runs in the build script and tests only): LeakSanitizer would report it
        // for every input and again at exit, where libFuzzer records it as a crash.
        let leaks = if target == "form_definition" { "detect_leaks=0" } else { "" };
        // The node is safe Rust over safe Automerge: AddressSanitizer has nothing to find there
        // and, with compare tracing through all of Automerge, made it ~5× slower (500 → 2,600
        // executions/s). Its harness asserts what matters: no panic, no send to a closed
        // connection, no head announced before it is stored.
        let build: &[&str] = if target == "server_node" { &["--sanitizer", "none", "--no-trace-compares"] } else { &[] };
        let out = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", target])
            .args(build)
            .arg(&corpus)
            .args(["--", &format!("-runs={runs}"), &format!("-max_total_time={max_seconds}"), "-print_final_stats=1"])
            .env("ASAN_OPTIONS", leaks)
            .current_dir(root)
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("running cargo fuzz {target}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let execs = stat(&stderr, "stat::number_of_executed_units:").unwrap_or(0);
        let crashes = count_files(&artifacts) - before;
        let seconds = started.elapsed().as_secs_f64();
        if crashes > 0 {
            // What libFuzzer said about it: the sanitizer's report and the input's name.
            let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim_start().starts_with("at ")).collect();
            eprintln!("{}", tail[tail.len().saturating_sub(40)..].join("\n"));
        }
        if !out.status.success() && crashes == 0 {
            eprintln!("{stderr}");
            bail!("cargo fuzz {target} failed without a crash artifact: {}", out.status);
        }
        rows.push((target.clone(), execs, seconds, crashes, out.status.success()));
    }

    println!("\n| target | executions | time | executions/s | crashes |");
    println!("| --- | --- | --- | --- | --- |");
    for (target, execs, seconds, crashes, _) in &rows {
        println!("| {target} | {execs} | {seconds:.0} s | {:.0} | {crashes} |", *execs as f64 / seconds.max(0.001));
    }
    if rows.iter().any(|(_, _, _, crashes, ok)| *crashes > 0 || !ok) {
        bail!("a fuzz target crashed: see fuzz/artifacts/");
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let toolchains = cmd("rustup", &["toolchain", "list"]).output()?;
    if !toolchains.lines().any(|t| t.starts_with("nightly")) {
        cmd("rustup", &["toolchain", "install", "nightly", "--profile", "minimal"]).run()?;
    }
    let installed = Command::new("cargo").args(["fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !installed.is_ok_and(|s| s.success()) {
        // Without --locked: its lock file can name versions the registry mirror lacks.
        cmd("cargo", &["install", "cargo-fuzz"]).run()?;
    }
    Ok(())
}

/// The last value libFuzzer printed for `key` (its final stats).
fn stat(stderr: &str, key: &str) -> Option<u64> {
    stderr.lines().rev().find_map(|l| l.trim().strip_prefix(key)?.trim().parse().ok())
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.flatten().filter(|e| e.path().is_file()).count()).unwrap_or(0)
}

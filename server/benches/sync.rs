//! Benchmark: our sync server against automerge-repo's JS sync server (Repo + NodeFS storage +
//! WebSocket server adapter, `tests/bench/js-server.mjs`), same machine, same client.
//!
//! The client is light on purpose, so the figures describe the servers: our own `Node` in the
//! client role on one thread, with no storage (every `Persist` is reported done at once). For
//! each size in `BENCH_SIZES` (default `1000,10000`) and each server, started alone with a fresh
//! data folder: one client pushes N small documents, keeping at most `WINDOW` of them
//! unacknowledged, until the server has acknowledged every document's heads; a fresh client
//! (new peer id) then requests all N, with the same window, until it has each one's heads.
//! Timeouts, `doc-unavailable` answers and documents left when the server closes the
//! connection are failures. Printed: documents per second, failures, the server's peak RSS,
//! CPU use of server and client, and the ratios.
//!
//! The servers do not promise the same thing: ours acknowledges a change once SQLite has it on
//! disk (fsync); automerge-repo acknowledges from memory and writes files later (throttled per
//! document, no fsync).
//!
//! Run through `cargo xtask bench`, which builds the release server and sets
//! `LIAISON_SERVER_BIN`.

mod common;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ROOT};
use common::client::{CONN, Client, Failures, sorted};
use common::servers::{Kind, Programs, Server};
use common::stats::{cpu_secs, peak_rss_mib};
use shared::DocumentId;
use shared::sync::Event;

/// Documents a client keeps unacknowledged at once, for both servers alike: enough to keep a
/// server busy, few enough that neither is judged on how it copes with a flood.
const WINDOW: usize = 256;
/// Each phase (push, fetch) must finish within this; what is left then counts as timeouts.
const PHASE_DEADLINE: Duration = Duration::from_secs(300);

fn main() -> Result<()> {
    let sizes = sizes()?;
    let programs = Programs::from_env()?;
    // One thread: the other core is the server's, and the client's CPU time stays readable.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut runs = Vec::new();
    for n in sizes {
        for kind in [Kind::Ours, Kind::Js] {
            let server = Server::start(kind, &programs)?;
            let run = rt.block_on(measure(&server, n));
            server.stop();
            runs.push(run?);
        }
    }
    print_table(&runs);
    Ok(())
}

fn sizes() -> Result<Vec<usize>> {
    let text = std::env::var("BENCH_SIZES").unwrap_or_else(|_| "1000,10000".into());
    text.split(',').map(|s| s.trim().parse().with_context(|| format!("BENCH_SIZES: {s:?} is not a number"))).collect()
}

/// One server's figures for one size.
struct Run {
    n: usize,
    kind: Kind,
    push: Phase,
    fetch: Phase,
    server_peak_mib: f64,
}

/// One phase's figures; CPU times are seconds spent during the phase.
struct Phase {
    n: usize,
    secs: f64,
    failures: Failures,
    server_cpu: f64,
    client_cpu: f64,
}

impl Phase {
    /// Documents that made it, per second: failures do not count as throughput.
    fn docs_per_sec(&self) -> f64 {
        (self.n - self.failures.total()) as f64 / self.secs
    }

    /// CPU use as a share of one core.
    fn cpu_share(&self, cpu: f64) -> f64 {
        100.0 * cpu / self.secs
    }
}

async fn measure(server: &Server, n: usize) -> Result<Run> {
    let url = server.sync_url().await?;
    let docs = small_docs(n)?;
    let ids: Vec<DocumentId> = docs.iter().map(|d| d.0).collect();
    let heads: Vec<Vec<ChangeHash>> = docs.iter().map(|d| d.1.clone()).collect();

    let mut contents: Vec<Option<AutoCommit>> = docs.into_iter().map(|d| Some(d.2)).collect();
    let mut writer = Client::connect(&url, &format!("bench-push-{n}")).await?;
    let push = timed(
        server.pid(),
        n,
        writer.drive(
            &ids,
            WINDOW,
            PHASE_DEADLINE,
            |node, i| node.handle(0, Event::Create { doc: ids[i], content: contents[i].take().expect("created once") }),
            |node, i| sorted(node.acknowledged(CONN, ids[i])) == heads[i],
        ),
    )
    .await?;
    writer.close().await;

    let mut reader = Client::connect(&url, &format!("bench-fetch-{n}")).await?;
    let fetch = timed(
        server.pid(),
        n,
        reader.drive(
            &ids,
            WINDOW,
            PHASE_DEADLINE,
            |node, i| node.handle(0, Event::Open { doc: ids[i], chunks: Vec::new() }),
            |node, i| node.doc_mut(ids[i]).is_some_and(|d| sorted(d.get_heads()) == heads[i]),
        ),
    )
    .await?;
    reader.close().await;

    Ok(Run { n, kind: server.kind, push, fetch, server_peak_mib: peak_rss_mib(server.pid())? })
}

/// Runs a phase, measuring wall time and the CPU time server and client spent on it.
async fn timed(pid: u32, n: usize, phase: impl Future<Output = Failures>) -> Result<Phase> {
    let (server0, client0, t0) = (cpu_secs(pid)?, cpu_secs(std::process::id())?, Instant::now());
    let failures = phase.await;
    let secs = t0.elapsed().as_secs_f64();
    Ok(Phase { n, secs, failures, server_cpu: cpu_secs(pid)? - server0, client_cpu: cpu_secs(std::process::id())? - client0 })
}

/// N small records, made before the clock starts: (id, heads, content).
fn small_docs(n: usize) -> Result<Vec<(DocumentId, Vec<ChangeHash>, AutoCommit)>> {
    (0..n)
        .map(|i| {
            let mut b = [0u8; 16];
            getrandom::fill(&mut b)?;
            let mut doc = AutoCommit::new();
            doc.put(ROOT, "title", format!("记录 {i}"))?;
            doc.put(ROOT, "n", i as i64)?;
            Ok((DocumentId::from_random_bytes(b), sorted(doc.get_heads()), doc))
        })
        .collect()
}

fn print_table(runs: &[Run]) {
    println!();
    println!("Client: shared::sync::Node (Rust) on one thread, no storage, at most {WINDOW} documents unacknowledged,");
    println!(
        "{} s per phase; its peak RSS {:.1} MiB. CPU: share of one core during push/fetch.",
        PHASE_DEADLINE.as_secs(),
        peak_rss_mib(std::process::id()).unwrap_or(f64::NAN)
    );
    println!("liaison acknowledges after fsync, automerge-js from memory (its file writes come later).");
    println!("Goal: liaison/automerge-js ≥ 3× in docs/s, ≤ 0.20× in peak RSS, no failures.");
    println!("documents  server        push docs/s  fetch docs/s  failures  peak RSS MiB  server CPU  client CPU");
    for pair in runs.chunks(2) {
        for r in pair {
            println!(
                "{:>9}  {:<12}  {:>11.0}  {:>12.0}  {:>8}  {:>12.1}  {:>4.0}%/{:>3.0}%  {:>3.0}%/{:>3.0}%",
                r.n,
                r.kind.name(),
                r.push.docs_per_sec(),
                r.fetch.docs_per_sec(),
                r.push.failures.total() + r.fetch.failures.total(),
                r.server_peak_mib,
                r.push.cpu_share(r.push.server_cpu),
                r.fetch.cpu_share(r.fetch.server_cpu),
                r.push.cpu_share(r.push.client_cpu),
                r.fetch.cpu_share(r.fetch.client_cpu),
            );
        }
        if let [ours, js] = pair {
            println!(
                "{:>9}  {:<12}  {:>10.2}×  {:>11.2}×  {:>8}  {:>11.2}×",
                ours.n,
                "ratio",
                ours.push.docs_per_sec() / js.push.docs_per_sec(),
                ours.fetch.docs_per_sec() / js.fetch.docs_per_sec(),
                "",
                ours.server_peak_mib / js.server_peak_mib
            );
        }
    }
    for r in runs {
        for (phase, p) in [("push", &r.push), ("fetch", &r.fetch)] {
            if let Some(what) = p.failures.describe() {
                println!("{} {} {phase}: {what}", r.kind.name(), r.n);
            }
        }
    }
}

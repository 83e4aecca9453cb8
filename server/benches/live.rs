//! Benchmark: live edits with many people connected. For each server (ours, automerge-repo's
//! JS server, samod's), started alone with a fresh data folder: one client creates a record
//! and waits until the server has it; `BENCH_LIVE_CLIENTS` − 1 more clients (default 200 in
//! all) connect, each with its own peer id, and fetch it. Then the first client makes
//! `BENCH_LIVE_EDITS` edits (default 100), one every `BENCH_LIVE_INTERVAL_MS` (default 50), each
//! setting `seq` to the edit's number and typing one character into a text field; every other
//! client records when it first sees each edit. Printed per server: the time from an edit's
//! commit to its arrival (p50, p90, p99, max over all receivers and edits), edits never seen
//! within `GRACE` of the last one, the server's peak RSS and CPU, and this process's CPU.
//!
//! All clients are light (`common::client`) and share one thread with the editor, so commit
//! and arrival are read from one monotonic clock. An arrival is the moment the frame carrying
//! the edit is read, before the receiver applies it; a receiver yields between reading and
//! applying, so the others read theirs first and an arrival does not include applying the same
//! edit at 198 other clients (that put some 10 ms on our server's p50). The client CPU is
//! printed to tell whether the clients dominate. A receiver that sees `seq` jump (several edits in one message)
//! counts each of them as arrived then. `BENCH_LIVE_SERVERS` (default
//! `liaison,automerge-js,samod`) picks the servers.
//!
//! Run through `cargo xtask bench live`, which builds the release servers and sets
//! `LIAISON_SERVER_BIN` and `SAMOD_SERVER_BIN`.

mod common;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc};
use common::client::{CONN, Client, Next, sorted};
use common::servers::{Kind, Programs, Server};
use common::stats::{cpu_secs, load_average, peak_rss_mib};
use futures_util::future::join_all;
use shared::DocumentId;
use shared::sync::Event;
use tokio::time::{Instant, MissedTickBehavior};

/// How long receivers wait for edits after the last one was made.
const GRACE: Duration = Duration::from_secs(10);
/// Setting up (creating the record, connecting and fetching it everywhere) must take no longer.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> Result<()> {
    let config = Config::from_env()?;
    let programs = Programs::from_env()?;
    // One thread: commit and arrival on one clock, and the clients' CPU time stays readable.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut runs = Vec::new();
    for &kind in &config.servers {
        let server = Server::start(kind, &programs)?;
        let run = rt.block_on(measure(&server, &config));
        server.stop();
        runs.push(run.with_context(|| format!("measuring {}", kind.name()))?);
    }
    print_table(&config, &runs);
    Ok(())
}

struct Config {
    clients: usize,
    edits: usize,
    interval: Duration,
    servers: Vec<Kind>,
}

impl Config {
    fn from_env() -> Result<Config> {
        let number = |name: &str, default: usize| -> Result<usize> {
            std::env::var(name).map_or(Ok(default), |v| v.trim().parse().with_context(|| format!("{name}: {v:?} is not a number")))
        };
        let servers = std::env::var("BENCH_LIVE_SERVERS").unwrap_or_else(|_| "liaison,automerge-js,samod".into());
        let servers = servers
            .split(',')
            .map(|s| {
                Kind::from_name(s.trim()).with_context(|| format!("BENCH_LIVE_SERVERS: {s:?} is none of liaison, automerge-js, samod"))
            })
            .collect::<Result<_>>()?;
        let config = Config {
            clients: number("BENCH_LIVE_CLIENTS", 200)?,
            edits: number("BENCH_LIVE_EDITS", 100)?,
            interval: Duration::from_millis(number("BENCH_LIVE_INTERVAL_MS", 50)? as u64),
            servers,
        };
        if config.clients < 2 {
            bail!("BENCH_LIVE_CLIENTS: one editor and at least one receiver");
        }
        Ok(config)
    }
}

/// One server's figures.
struct Run {
    kind: Kind,
    /// Milliseconds from commit to arrival, sorted, one per (receiver, edit) that arrived.
    latencies: Vec<f64>,
    /// Per edit, milliseconds until the first receiver had it, sorted: the server's path
    /// before fan-out (receive, store, first send) and the network, without the other 198.
    firsts: Vec<f64>,
    lost: usize,
    expected: usize,
    setup_secs: f64,
    /// CPU seconds from the first edit to the last arrival (or the grace's end), and that time.
    server_cpu: f64,
    client_cpu: f64,
    phase_secs: f64,
    server_peak_mib: f64,
    /// Frames a receiver read per edit: below 1 where a server sends several edits at once.
    frames_per_edit: f64,
    /// The machine's load average once the edits are done.
    load: f64,
}

/// The record being edited: its id, the text typed into, and its content before any edit.
struct Record {
    id: DocumentId,
    notes: ObjId,
    content: AutoCommit,
}

async fn measure(server: &Server, config: &Config) -> Result<Run> {
    let url = server.sync_url().await?;
    let record = new_record()?;
    let (doc, notes) = (record.id, record.notes.clone());
    let heads = sorted(record.content.clone().get_heads());

    let t_setup = Instant::now();
    let deadline = t_setup + SETUP_TIMEOUT;
    let mut editor = Client::connect(&url, "live-editor").await?;
    let created = editor.node.handle(0, Event::Create { doc, content: record.content });
    editor.carry_out(created).await;
    editor.flush().await;
    editor
        .until(deadline, |node| sorted(node.acknowledged(CONN, doc)) == heads)
        .await
        .context("the server did not acknowledge the record")?;

    let mut receivers = Vec::with_capacity(config.clients - 1);
    for i in 1..config.clients {
        let mut client = Client::connect(&url, &format!("live-{i}")).await?;
        let open = client.node.handle(0, Event::Open { doc, chunks: Vec::new() });
        client.carry_out(open).await;
        client.flush().await;
        receivers.push(client);
    }
    let fetched =
        join_all(receivers.iter_mut().map(|c| c.until(deadline, |node| node.doc_mut(doc).is_some_and(|d| sorted(d.get_heads()) == heads))))
            .await;
    if let Some(e) = fetched.into_iter().find_map(Result::err) {
        return Err(e.context("a receiver did not get the record"));
    }
    let setup_secs = t_setup.elapsed().as_secs_f64();

    let (server0, client0) = (cpu_secs(server.pid())?, cpu_secs(std::process::id())?);
    let t0 = Instant::now();
    let end = t0 + config.interval * config.edits as u32 + GRACE;
    let mut commits = vec![None; config.edits + 1];
    let mut frames = vec![0; receivers.len()];
    let (_, arrivals) = tokio::join!(
        edit(&mut editor, doc, &notes, config, &mut commits, end),
        join_all(receivers.iter_mut().zip(&mut frames).map(|(c, f)| listen(c, doc, config.edits, end, f)))
    );
    let frames_per_edit = frames.iter().sum::<usize>() as f64 / (frames.len() * config.edits) as f64;
    let phase_secs = t0.elapsed().as_secs_f64();
    let (server_cpu, client_cpu) = (cpu_secs(server.pid())? - server0, cpu_secs(std::process::id())? - client0);

    let mut latencies = Vec::new();
    let mut firsts = vec![f64::INFINITY; config.edits + 1];
    let mut lost = 0;
    for seen in &arrivals {
        for (i, (commit, arrival)) in commits.iter().zip(seen).enumerate().skip(1) {
            match (commit, arrival) {
                (Some(c), Some(a)) => {
                    let ms = a.saturating_duration_since(*c).as_secs_f64() * 1000.0;
                    latencies.push(ms);
                    firsts[i] = firsts[i].min(ms);
                }
                _ => lost += 1,
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let mut firsts: Vec<f64> = firsts.into_iter().skip(1).filter(|f| f.is_finite()).collect();
    firsts.sort_by(f64::total_cmp);
    let server_peak_mib = peak_rss_mib(server.pid())?;
    for client in receivers.into_iter().chain([editor]) {
        client.close().await;
    }
    Ok(Run {
        kind: server.kind,
        latencies,
        firsts,
        lost,
        expected: (config.clients - 1) * config.edits,
        setup_secs,
        server_cpu,
        client_cpu,
        phase_secs,
        server_peak_mib,
        frames_per_edit,
        load: load_average(),
    })
}

/// A record like a form's: a number field and a text field, made before the clock starts.
fn new_record() -> Result<Record> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    let mut content = AutoCommit::new();
    content.put(ROOT, "seq", 0i64)?;
    let notes = content.put_object(ROOT, "notes", ObjType::Text)?;
    content.splice_text(&notes, 0, 0, "现场记录：")?;
    Ok(Record { id: DocumentId::from_random_bytes(b), notes, content })
}

/// Makes the edits at a steady pace, noting each one's commit time, and keeps reading the
/// server's answers so its socket never backs up.
async fn edit(editor: &mut Client, doc: DocumentId, notes: &ObjId, config: &Config, commits: &mut [Option<Instant>], end: Instant) {
    let mut tick = tokio::time::interval(config.interval);
    // A late tick is not made up with a burst: the pace stays what people type at.
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut next = 1;
    while next <= config.edits {
        tokio::select! {
            _ = tick.tick() => {
                let Some(d) = editor.node.doc_mut(doc) else { return };
                let typed = d.text(notes).map_or(0, |t| t.chars().count());
                if d.put(ROOT, "seq", next as i64).and_then(|_| d.splice_text(notes, typed, 0, "字")).is_err() {
                    return;
                }
                d.commit();
                commits[next] = Some(Instant::now());
                let actions = editor.node.handle(0, Event::Changed { doc });
                editor.carry_out(actions).await;
                editor.flush().await;
                next += 1;
            }
            frame = editor.next_frame(end) => match frame {
                Next::Frame(bytes) => {
                    editor.received(bytes).await;
                    editor.flush().await;
                }
                Next::Timeout | Next::Closed(_) => return,
            },
        }
    }
}

/// Reads the server's frames until every edit has arrived or `end`, counting them in `frames`;
/// returns each edit's arrival time (index 0 is the record as fetched and stays `None`).
async fn listen(client: &mut Client, doc: DocumentId, edits: usize, end: Instant, frames: &mut usize) -> Vec<Option<Instant>> {
    let mut arrivals = vec![None; edits + 1];
    let mut seen = 0;
    while seen < edits {
        let Next::Frame(bytes) = client.next_frame(end).await else { break };
        *frames += 1;
        let at = Instant::now();
        // Applying takes longer than reading: every other receiver whose frame is in reads it
        // first, so an arrival time is not the wait behind 198 other clients applying theirs.
        tokio::task::yield_now().await;
        client.received(bytes).await;
        if client.updated.drain(..).count() > 0 {
            let seq = client.node.doc(doc).and_then(|d| d.get(ROOT, "seq").ok().flatten()).and_then(|(v, _)| v.as_i64()).unwrap_or(0);
            let seq = usize::try_from(seq).unwrap_or(0).min(edits);
            for slot in arrivals.iter_mut().take(seq + 1).skip(seen + 1) {
                *slot = Some(at);
            }
            seen = seen.max(seq);
        }
        client.flush().await;
    }
    arrivals
}

/// The value at quantile `q` of sorted figures (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn print_table(config: &Config, runs: &[Run]) {
    println!();
    println!(
        "{} clients on one record (1 editor, {} receivers), {} edits {} ms apart; all clients are shared::sync::Node",
        config.clients,
        config.clients - 1,
        config.edits,
        config.interval.as_millis()
    );
    println!(
        "(Rust, no storage) on one thread of this process, peak RSS {:.1} MiB. Latency: edit's commit → a receiver reads the frame",
        peak_rss_mib(std::process::id()).unwrap_or(f64::NAN)
    );
    println!("carrying it. CPU: share of one core from the first edit to the last arrival. Goal: liaison p99 < 250 ms.");
    println!("First: per edit, the first receiver's latency (p50, p99): the server's path before fanning out.");
    println!("Frames: frames a receiver read per edit (below 1: the server sent several edits at once).");
    println!("Load: the machine's 1-minute load average after the edits (2 cores: above ~1.5 something else competes).");
    println!(
        "server         p50 ms   p90 ms   p99 ms   max ms  first p50/p99  frames  lost/expected  setup s  peak RSS MiB  server CPU  client CPU  load"
    );
    for r in runs {
        let l = &r.latencies;
        println!(
            "{:<12}  {:>7.1}  {:>7.1}  {:>7.1}  {:>7.1}  {:>13}  {:>6.2}  {:>13}  {:>7.2}  {:>12.1}  {:>9.0}%  {:>9.0}%  {:>4.1}",
            r.kind.name(),
            quantile(l, 0.50),
            quantile(l, 0.90),
            quantile(l, 0.99),
            l.last().copied().unwrap_or(f64::NAN),
            format!("{:.1}/{:.1}", quantile(&r.firsts, 0.50), quantile(&r.firsts, 0.99)),
            r.frames_per_edit,
            format!("{}/{}", r.lost, r.expected),
            r.setup_secs,
            r.server_peak_mib,
            100.0 * r.server_cpu / r.phase_secs,
            100.0 * r.client_cpu / r.phase_secs,
            r.load,
        );
    }
}

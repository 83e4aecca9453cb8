//! Crash campaign: clients keep pushing changes while the server is killed with SIGKILL at
//! random moments and started again on the same data, many times; every change a client was
//! told the server has must be there after each restart. Not a timing: it prints counts, and
//! fails if a single acknowledged change is missing.
//!
//! For each backend in `BENCH_CRASH_BACKENDS` (default `sqlite,postgres`): the release server
//! with the demo accounts on a fresh data folder (SQLite) or a fresh database on a throwaway
//! PostgreSQL cluster (`common::postgres`, the one the server's tests start).
//! `BENCH_CRASH_CLIENTS` light clients (`writer`; default 8, signed in as the three demo
//! accounts in turn) each create `BENCH_CRASH_DOCS` documents (default 4) and change one of
//! them every `BENCH_CRASH_INTERVAL_MS` (default 20), round robin, connected or not (as a
//! browser does) while a server is up; each change types `BENCH_CRASH_EDIT_CHARS` random
//! characters (default 200), so documents pass the size where the server compacts them into
//! snapshots that replace the chunks before. Meanwhile the server is killed `BENCH_CRASH_KILLS` times (default 30), each
//! after a random 50–800 ms up; clients reconnect (same node, same peer id) and offer their
//! documents again.
//!
//! A change counts as acknowledged when the server has said it has it: it is an ancestor of
//! the heads the server last sent for the document (`Node::acknowledged`), or the client's
//! node finds the document in sync (`Node::in_sync`, what `Action::Acknowledged` and so the
//! app's "on the server" rest on). The server sends heads only once what they name is stored
//! (the node's durability rule). After each kill, once every client has read what the dead
//! server sent, the server is started again and, before any client may reconnect (they would
//! push a lost change again and hide it), a fresh client per account requests every document:
//! an acknowledged change missing then is *lost*. At the end the clients reconnect and push what
//! they have, and a last check asks that every change made arrived (*unsynced* otherwise: a
//! document the server can no longer take). Against a server altered to report writes done
//! before making them, changes were missing after every restart: the check does see losses.
//!
//! Only the liaison server is killed. PostgreSQL is the durable store and keeps running;
//! killing it (or the machine) is a different campaign, as is power loss, which SIGKILL does
//! not imitate (the kernel still writes out what the process wrote).
//!
//! Run through `cargo xtask bench crash`, which builds the release server, installs PostgreSQL
//! when missing and sets `LIAISON_SERVER_BIN`.

mod common;
// A bench's root file finds its modules beside it, not in a folder named after it.
#[path = "crash/writer.rs"]
mod writer;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use automerge::ChangeHash;
use common::client::{CONN, Client};
use common::servers::{login_as, read_port, temp_dir};
use shared::DocumentId;
use shared::sync::Event;
use tokio::sync::watch;
use tokio::time::{Instant, sleep};
use writer::{Ledger, Writer, sync_url};

/// The server is killed after a random time up in this range, in milliseconds.
const UP_MS: (u64, u64) = (50, 800);
/// After a kill, every client must have read what the dead server sent within this.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Each check and the final resync must finish within this.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> Result<()> {
    let config = Config::from_env()?;
    let bin = PathBuf::from(
        std::env::var_os("LIAISON_SERVER_BIN")
            .context("LIAISON_SERVER_BIN: the release liaison-server to crash (cargo xtask bench crash sets it)")?,
    );
    let postgres = match config.backends.contains(&Backend::Postgres) {
        true => Some(common::postgres::start(&temp_dir("pg")?).map_err(|e| anyhow::anyhow!("starting PostgreSQL: {e}"))?),
        false => None,
    };
    // One thread for all clients and the killer: the other core is the server's.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut runs = Vec::new();
    for &backend in &config.backends {
        let run = rt.block_on(campaign(backend, &bin, postgres.as_deref(), &config));
        runs.push(run.with_context(|| format!("the crash campaign on {}", backend.name()))?);
    }
    print_table(&config, &runs);
    let wrong: usize = runs.iter().map(|r| r.lost + r.unsynced + r.unknown_heads).sum();
    if wrong > 0 {
        bail!("{wrong} changes lost or unaccounted for (see the table)");
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

struct Config {
    clients: usize,
    docs: usize,
    kills: usize,
    interval: Duration,
    /// Characters each change types.
    edit_chars: usize,
    backends: Vec<Backend>,
}

impl Config {
    fn from_env() -> Result<Config> {
        let number = |name: &str, default: usize| -> Result<usize> {
            std::env::var(name).map_or(Ok(default), |v| v.trim().parse().with_context(|| format!("{name}: {v:?} is not a number")))
        };
        let backends = std::env::var("BENCH_CRASH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        let backends = backends
            .split(',')
            .map(|s| match s.trim() {
                "sqlite" => Ok(Backend::Sqlite),
                "postgres" => Ok(Backend::Postgres),
                other => bail!("BENCH_CRASH_BACKENDS: {other:?} is neither sqlite nor postgres"),
            })
            .collect::<Result<_>>()?;
        let config = Config {
            clients: number("BENCH_CRASH_CLIENTS", 8)?,
            docs: number("BENCH_CRASH_DOCS", 4)?,
            kills: number("BENCH_CRASH_KILLS", 30)?,
            interval: Duration::from_millis(number("BENCH_CRASH_INTERVAL_MS", 20)? as u64),
            edit_chars: number("BENCH_CRASH_EDIT_CHARS", 200)?,
            backends,
        };
        if config.clients == 0 || config.docs == 0 || config.kills == 0 || config.interval.is_zero() {
            bail!("BENCH_CRASH_CLIENTS, _DOCS, _KILLS and _INTERVAL_MS must be at least 1");
        }
        Ok(config)
    }
}

/// One backend's figures.
struct Run {
    backend: Backend,
    kills: usize,
    /// Kills that found at least one client connected (the others hit a server starting up).
    busy_kills: usize,
    /// Mean time from starting the server to its "listening" line, in milliseconds.
    start_ms: f64,
    docs: usize,
    /// Mean size of a document as the server sent it at the end (a snapshot: `save()`).
    doc_kib: f64,
    /// Documents the server stores as a snapshot at the end: it compacted them at least once.
    compacted: usize,
    made: usize,
    acknowledged: usize,
    /// Acknowledged changes missing after a restart, summed over the restarts.
    lost: usize,
    /// Restarts after which something acknowledged was missing.
    lossy_kills: usize,
    /// Changes made that were still missing after the clients had reconnected and resynced.
    unsynced: usize,
    unknown_heads: usize,
    reconnects: usize,
    refusals: usize,
    secs: f64,
}

/// The release server on one data folder (and database), started again after each kill.
struct Liaison {
    bin: PathBuf,
    data: PathBuf,
    dist: PathBuf,
    database: Option<String>,
    log: PathBuf,
    child: Option<Child>,
    port: u16,
}

impl Liaison {
    /// Starts it and waits until it says where it listens (blocking: run it off the runtime).
    fn start(&mut self) -> Result<()> {
        let log = std::fs::File::options().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(&self.bin);
        command.args(["--addr", "127.0.0.1:0", "--demo", "--data-dir"]).arg(&self.data).arg("--dist").arg(&self.dist);
        if let Some(url) = &self.database {
            command.args(["--database", url]);
        }
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log).spawn().context("starting liaison-server")?;
        match read_port(&mut child, "liaison listening on http://127.0.0.1:") {
            Ok(port) => {
                self.port = port;
                self.child = Some(child);
                Ok(())
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e.context(format!("liaison-server did not say where it listens (log: {})", self.log.display())))
            }
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the server on the blocking pool, so the clients go on meanwhile; returns it and the
/// seconds it took.
async fn start(mut server: Liaison) -> Result<(Liaison, f64)> {
    let t = Instant::now();
    let server = tokio::task::spawn_blocking(move || server.start().map(|()| server)).await??;
    Ok((server, t.elapsed().as_secs_f64()))
}

async fn campaign(backend: Backend, bin: &Path, postgres: Option<&str>, config: &Config) -> Result<Run> {
    let t0 = Instant::now();
    let work = temp_dir("crash")?;
    let dist = work.join("dist");
    std::fs::create_dir_all(&dist)?;
    std::fs::write(dist.join("index.html"), "crash")?;
    let database = match (backend, postgres) {
        (Backend::Sqlite, _) => None,
        (Backend::Postgres, Some(base)) => Some(new_database(base).await?),
        (Backend::Postgres, None) => bail!("no PostgreSQL"),
    };
    let log = work.join("server.log");
    let server = Liaison { bin: bin.to_owned(), data: work.join("data"), dist, database, log: log.clone(), child: None, port: 0 };
    let (mut server, _) = start(server).await?;

    // One sign-in per account: tokens live in the store, so they outlast every kill.
    let mut tokens = Vec::new();
    for server::demo::DemoAccount { user, password, .. } in server::demo::ACCOUNTS {
        tokens.push(login_as(server.port, user, password).await?);
    }
    let (port_tx, port_rx) = watch::channel(Some(server.port));
    let (stop_tx, stop_rx) = watch::channel(false);
    let ledger = Arc::new(Ledger::default());
    let mut handles = Vec::new();
    for i in 0..config.clients {
        let account = i % tokens.len();
        let writer = Writer::start(i, account, tokens[account].clone(), server.port, config.docs, config.edit_chars, &ledger).await?;
        let (port, stop, ledger, interval) = (port_rx.clone(), stop_rx.clone(), ledger.clone(), config.interval);
        handles.push(tokio::spawn(async move { writer.run(port, stop, interval, &ledger).await }));
    }

    let (mut busy_kills, mut start_secs, mut lost, mut lossy_kills) = (0, 0.0, 0, 0);
    for k in 1..=config.kills {
        let up = Duration::from_millis(UP_MS.0 + random_u64()? % (UP_MS.1 - UP_MS.0 + 1));
        sleep(up).await;
        server.kill();
        let _ = port_tx.send(None);
        let connected = ledger.connected.load(Ordering::Relaxed);
        busy_kills += usize::from(connected > 0);
        settle(&ledger).await?;
        let acked = ledger.snapshot();
        let secs;
        (server, secs) = start(server).await?;
        start_secs += secs;
        let t = Instant::now();
        let (missing, _) = check(server.port, &tokens, &acked, "acknowledged").await?;
        let check_ms = t.elapsed().as_millis();
        lost += missing;
        lossy_kills += usize::from(missing > 0);
        eprintln!(
            "{}: kill {k}/{} after {} ms up with {connected} clients connected; {} changes acknowledged so far, {missing} missing (checked in {check_ms} ms)",
            backend.name(),
            config.kills,
            up.as_millis(),
            acked.iter().map(|(_, _, h)| h.len()).sum::<usize>(),
        );
        if k < config.kills {
            let _ = port_tx.send(Some(server.port));
        }
    }
    let _ = stop_tx.send(true);
    let mut writers = Vec::new();
    for handle in handles {
        writers.push(handle.await?.with_context(|| format!("a client failed (server log: {})", log.display()))?);
    }
    let acknowledged = ledger.acknowledged();

    // The clients push what the kills cut off, and every change made must arrive.
    let port = server.port;
    let mut made = Vec::new();
    for w in &mut writers {
        w.resync(port, CHECK_TIMEOUT)
            .await
            .with_context(|| format!("client {} could not resync (server log: {})", w.index, log.display()))?;
        made.extend(w.made()?);
    }
    let (unsynced, bytes) = check(port, &tokens, &made, "made").await?;
    server.kill();
    let compacted = compacted_docs(&server).await?;
    for w in writers {
        w.client.close().await;
    }
    let run = Run {
        backend,
        kills: config.kills,
        busy_kills,
        start_ms: 1000.0 * start_secs / config.kills as f64,
        docs: made.len(),
        doc_kib: bytes as f64 / 1024.0 / made.len().max(1) as f64,
        compacted,
        made: made.iter().map(|(_, _, h)| h.len()).sum(),
        acknowledged,
        lost,
        lossy_kills,
        unsynced,
        unknown_heads: ledger.unknown_heads.load(Ordering::Relaxed),
        reconnects: ledger.reconnects.load(Ordering::Relaxed),
        refusals: ledger.refusals.load(Ordering::Relaxed),
        secs: t0.elapsed().as_secs_f64(),
    };
    if run.lost + run.unsynced + run.unknown_heads == 0 {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        eprintln!("{}: the data and the server's log are kept in {}", backend.name(), work.display());
    }
    Ok(run)
}

/// Waits until no client is connected or connecting: each has read to the end of what the
/// killed server sent, so every acknowledgement it made is in the ledger.
async fn settle(ledger: &Ledger) -> Result<()> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while ledger.connected.load(Ordering::Relaxed) + ledger.connecting.load(Ordering::Relaxed) > 0 {
        if Instant::now() > deadline {
            bail!("clients still connected {} s after the kill", SETTLE_TIMEOUT.as_secs());
        }
        sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Documents stored as a snapshot, read from the store's tables once the server is gone: the
/// proof that the campaign went through compaction (a snapshot replacing older chunks).
async fn compacted_docs(server: &Liaison) -> Result<usize> {
    const QUERY: &str = "SELECT COUNT(DISTINCT doc_id) FROM chunks WHERE kind = 'snapshot'";
    Ok(match server::Database::new(server.database.as_deref(), &server.data)? {
        server::Database::Sqlite(path) => {
            let db = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            db.query_row(QUERY, [], |row| row.get::<_, i64>(0))? as usize
        }
        server::Database::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.query_one(QUERY, &[]).await?.get::<_, i64>(0) as usize
        }
    })
}

/// A fresh database on the throwaway cluster.
async fn new_database(base: &str) -> Result<String> {
    let (client, connection) = tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let name = format!("crash_{:016x}", random_u64()?);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await?;
    Ok(format!("{base}/{name}"))
}

/// Requests every document through a fresh client per account and counts the `expected`
/// changes (per account, document) the server does not have; also returns the documents' size.
async fn check(port: u16, tokens: &[String], expected: &[(usize, DocumentId, HashSet<ChangeHash>)], what: &str) -> Result<(usize, usize)> {
    let (mut missing, mut bytes) = (0, 0);
    for (account, token) in tokens.iter().enumerate() {
        let docs: Vec<&(usize, DocumentId, HashSet<ChangeHash>)> = expected.iter().filter(|(a, _, _)| *a == account).collect();
        if docs.is_empty() {
            continue;
        }
        let ids: Vec<DocumentId> = docs.iter().map(|(_, id, _)| *id).collect();
        let mut client = Client::connect(&sync_url(port, token), &format!("crash-check-{account}")).await?;
        let failures = client
            .drive(
                &ids,
                ids.len(),
                CHECK_TIMEOUT,
                |node, i| node.handle(0, Event::Open { doc: ids[i], chunks: Vec::new() }),
                |node, i| node.in_sync(CONN, ids[i]),
            )
            .await;
        if failures.timeouts > 0 || failures.closed.is_some() {
            bail!("checking the {what} changes: {}", failures.describe().unwrap_or_default());
        }
        // A document the server answered `doc-unavailable` for is empty here: all of it missing.
        for (_, id, hashes) in docs {
            let doc = client.node.doc_mut(*id).context("the checking client lost a document")?;
            let stored: HashSet<ChangeHash> = doc.get_changes_meta(&[]).iter().map(|c| c.hash).collect();
            let absent = hashes.difference(&stored).count();
            if absent > 0 {
                eprintln!("{what}: document {id} lacks {absent} of {} changes", hashes.len());
            }
            missing += absent;
            bytes += doc.save().len();
        }
        client.close().await;
    }
    Ok((missing, bytes))
}

fn random_u64() -> Result<u64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn print_table(config: &Config, runs: &[Run]) {
    println!();
    println!(
        "Crash campaign: {} clients × {} documents, one change ({} characters) every {} ms per client; the server is",
        config.clients,
        config.docs,
        config.edit_chars,
        config.interval.as_millis()
    );
    println!(
        "SIGKILLed after a random {}–{} ms up and started again on the same data, each time checked before clients return.",
        UP_MS.0, UP_MS.1
    );
    println!("Acknowledged: the server sent heads naming the change or a later one. Lost: acknowledged, missing after a restart");
    println!("(summed over restarts; must be 0). Unsynced: made, missing once the clients reconnected at the end (must be 0).");
    println!("Busy: kills that found a client connected. Start: mean time to the server's \"listening\" line. KiB: mean document");
    println!("size at the end. Compacted: documents the store holds as a snapshot at the end (written past 64 KiB, replacing");
    println!("the chunks before). PostgreSQL is never killed.");
    println!(
        "backend    kills  busy  start ms  documents  KiB  compacted  changes made  acknowledged  lost  unsynced  reconnects  refusals  time s"
    );
    for r in runs {
        println!(
            "{:<9}  {:>5}  {:>4}  {:>8.0}  {:>9}  {:>3.0}  {:>9}  {:>12}  {:>12}  {:>4}  {:>8}  {:>10}  {:>8}  {:>6.1}",
            r.backend.name(),
            r.kills,
            r.busy_kills,
            r.start_ms,
            r.docs,
            r.doc_kib,
            r.compacted,
            r.made,
            r.acknowledged,
            r.lost,
            r.unsynced,
            r.reconnects,
            r.refusals,
            r.secs
        );
        if r.lossy_kills > 0 {
            println!("{:<9}  changes were missing after {} of the {} restarts", r.backend.name(), r.lossy_kills, r.kills);
        }
        if r.unknown_heads > 0 {
            println!("{:<9}  the server named {} changes no client made", r.backend.name(), r.unknown_heads);
        }
    }
}

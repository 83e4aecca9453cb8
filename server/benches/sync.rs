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

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ROOT};
use futures_util::{SinkExt, StreamExt};
use shared::DocumentId;
use shared::sync::{Action, ConnId, Event, Message, Node, NodeConfig, PeerId, PeerMetadata, Role};
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::Message as Ws;

/// Documents a client keeps unacknowledged at once, for both servers alike: enough to keep a
/// server busy, few enough that neither is judged on how it copes with a flood.
const WINDOW: usize = 256;
/// Each phase (push, fetch) must finish within this; what is left then counts as timeouts.
const PHASE_DEADLINE: Duration = Duration::from_secs(300);
/// A server must print its port within this.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The one connection each client node has.
const CONN: ConnId = ConnId(1);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn main() -> Result<()> {
    let sizes = sizes()?;
    let ours = PathBuf::from(std::env::var_os("LIAISON_SERVER_BIN").context("LIAISON_SERVER_BIN: the release liaison-server to measure (cargo xtask bench sets it)")?);
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bench/js-server.mjs");
    // One thread: the other core is the server's, and the client's CPU time stays readable.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut runs = Vec::new();
    for n in sizes {
        for kind in [Kind::Ours, Kind::Js] {
            let server = Server::start(kind, &ours, &js)?;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ours,
    Js,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ours => "liaison",
            Kind::Js => "automerge-js",
        }
    }
}

/// A server process with its own data folder, removed when it stops.
struct Server {
    kind: Kind,
    child: Child,
    dirs: Vec<PathBuf>,
    port: u16,
}

impl Server {
    fn start(kind: Kind, ours: &Path, js: &Path) -> Result<Server> {
        let data = temp_dir("data")?;
        let mut dirs = vec![data.clone()];
        let mut command = match kind {
            Kind::Ours => {
                let dist = temp_dir("dist")?;
                std::fs::write(dist.join("index.html"), "bench")?;
                dirs.push(dist.clone());
                let mut c = Command::new(ours);
                c.args(["--addr", "127.0.0.1:0", "--demo", "--data-dir"]).arg(&data).arg("--dist").arg(&dist);
                c
            }
            Kind::Js => {
                let mut c = Command::new("node");
                c.arg(js).arg(&data);
                c
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", kind.name()))?;
        let ready = match kind {
            Kind::Ours => "liaison listening on http://127.0.0.1:",
            Kind::Js => "listening ",
        };
        let port = read_port(&mut child, ready);
        let mut server = Server { kind, child, dirs, port: 0 };
        match port {
            Ok(port) => server.port = port,
            Err(e) => {
                server.stop();
                return Err(e.context(format!("{} did not say which port it listens on", kind.name())));
            }
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Waits for the line `ready` + port on the child's stdout, then keeps draining it (on a
/// thread) so the child never blocks on a full pipe.
fn read_port(child: &mut Child, ready: &str) -> Result<u16> {
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    let ready = ready.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix(&ready).and_then(|p| p.trim().parse::<u16>().ok()) {
                let _ = tx.send(port);
            }
        }
    });
    Ok(rx.recv_timeout(START_TIMEOUT)?)
}

fn temp_dir(name: &str) -> Result<PathBuf> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)?;
    let suffix: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("liaison-bench-{name}-{suffix}"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
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

#[derive(Default)]
struct Failures {
    timeouts: usize,
    unavailable: usize,
    /// Documents left unfinished when the server closed the connection, and why it did.
    closed: Option<(usize, String)>,
}

impl Failures {
    fn total(&self) -> usize {
        self.timeouts + self.unavailable + self.closed.as_ref().map_or(0, |(n, _)| *n)
    }
}

async fn measure(server: &Server, n: usize) -> Result<Run> {
    let url = match server.kind {
        Kind::Ours => format!("ws://127.0.0.1:{}/sync?token={}", server.port, login(server.port).await?),
        Kind::Js => format!("ws://127.0.0.1:{}", server.port),
    };
    let docs = small_docs(n)?;
    let ids: Vec<DocumentId> = docs.iter().map(|d| d.0).collect();
    let heads: Vec<Vec<ChangeHash>> = docs.iter().map(|d| d.1.clone()).collect();

    let mut contents: Vec<Option<AutoCommit>> = docs.into_iter().map(|d| Some(d.2)).collect();
    let mut writer = Client::connect(&url, &format!("bench-push-{n}")).await?;
    let push = timed(server.pid(), n, writer.drive(
        &ids,
        |node, i| node.handle(0, Event::Create { doc: ids[i], content: contents[i].take().expect("created once") }),
        |node, i| sorted(node.acknowledged(CONN, ids[i])) == heads[i],
    ))
    .await?;
    writer.close().await;

    let mut reader = Client::connect(&url, &format!("bench-fetch-{n}")).await?;
    let fetch = timed(server.pid(), n, reader.drive(
        &ids,
        |node, i| node.handle(0, Event::Open { doc: ids[i], chunks: Vec::new() }),
        |node, i| node.doc_mut(ids[i]).is_some_and(|d| sorted(d.get_heads()) == heads[i]),
    ))
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

/// Signs in as the demo federation user; our server wants a token on the socket.
async fn login(port: u16) -> Result<String> {
    let body = serde_json::json!({ "username": "fed-li", "password": "demo-federation" });
    let reply: serde_json::Value =
        reqwest::Client::new().post(format!("http://127.0.0.1:{port}/api/login")).json(&body).send().await?.error_for_status()?.json().await?;
    Ok(reply["token"].as_str().context("no token in the login reply")?.to_owned())
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

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

/// A client node over one WebSocket; it stores nothing.
struct Client {
    node: Node,
    socket: Socket,
    /// The server answered `join`.
    joined: bool,
    unavailable: Vec<DocumentId>,
    closed: Option<String>,
}

impl Client {
    async fn connect(url: &str, peer: &str) -> Result<Client> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.with_context(|| format!("connecting to {url}"))?;
        let node = Node::new(NodeConfig {
            peer_id: PeerId(peer.into()),
            // No storage, as automerge-repo says of a peer without a storage adapter.
            metadata: PeerMetadata { storage_id: None, is_ephemeral: true },
            role: Role::Client,
            max_doc_bytes: 1 << 30,
        });
        let mut client = Client { node, socket, joined: false, unavailable: Vec::new(), closed: None };
        let join = client.node.handle(0, Event::Connected { conn: CONN, account: String::new() });
        client.carry_out(join).await;
        client.flush().await;
        // Documents are started only once the server has answered `join`, so the window holds.
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while !client.joined {
            match timeout_at(deadline, client.socket.next()).await {
                Ok(Some(Ok(Ws::Binary(bytes)))) => {
                    let actions = client.node.handle(0, Event::Received { conn: CONN, bytes: bytes.to_vec() });
                    client.carry_out(actions).await;
                }
                Ok(Some(Ok(_))) => {}
                _ => bail!("no answer to join from {url}"),
            }
        }
        Ok(client)
    }

    /// Starts documents `start(node, i)` keeping at most `WINDOW` unfinished, and reads the
    /// server's answers until `done(node, i)` holds for all of them.
    async fn drive(
        &mut self,
        ids: &[DocumentId],
        mut start: impl FnMut(&mut Node, usize) -> Vec<Action>,
        done: impl Fn(&mut Node, usize) -> bool,
    ) -> Failures {
        let index: HashMap<DocumentId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let deadline = tokio::time::Instant::now() + PHASE_DEADLINE;
        let mut failures = Failures::default();
        let mut in_flight = HashSet::new();
        let mut next = 0;
        loop {
            while in_flight.len() < WINDOW && next < ids.len() {
                let actions = start(&mut self.node, next);
                self.carry_out(actions).await;
                in_flight.insert(next);
                next += 1;
            }
            self.flush().await;
            if in_flight.is_empty() {
                return failures;
            }
            let unfinished = in_flight.len() + ids.len() - next;
            let bytes = match timeout_at(deadline, self.socket.next()).await {
                Err(_) => {
                    failures.timeouts = unfinished;
                    return failures;
                }
                Ok(Some(Ok(Ws::Binary(bytes)))) => bytes.to_vec(),
                Ok(Some(Ok(Ws::Close(frame)))) => {
                    let reason = self.closed.take().or(frame.map(|f| f.reason.to_string())).unwrap_or_default();
                    failures.closed = Some((unfinished, reason));
                    return failures;
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => {
                    failures.closed = Some((unfinished, e.to_string()));
                    return failures;
                }
                Ok(None) => {
                    failures.closed = Some((unfinished, self.closed.take().unwrap_or_else(|| "connection ended".into())));
                    return failures;
                }
            };
            let about = doc_of(&bytes).and_then(|id| index.get(&id).copied());
            let actions = self.node.handle(0, Event::Received { conn: CONN, bytes });
            self.carry_out(actions).await;
            for doc in self.unavailable.drain(..) {
                if index.get(&doc).is_some_and(|i| in_flight.remove(i)) {
                    failures.unavailable += 1;
                }
            }
            if let Some(i) = about.filter(|i| in_flight.contains(i) && done(&mut self.node, *i)) {
                in_flight.remove(&i);
            }
        }
    }

    /// Queues the node's frames (sent by the next `flush`) and reports every persist done.
    async fn carry_out(&mut self, actions: Vec<Action>) {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send { bytes, .. } => {
                    let _ = self.socket.feed(Ws::Binary(bytes.into())).await;
                }
                Action::Persist { doc, generation, .. } => queue.extend(self.node.handle(0, Event::Persisted { doc, generation, ok: true })),
                Action::Established { .. } => self.joined = true,
                Action::Unavailable { doc, .. } => self.unavailable.push(doc),
                Action::Close { reason, .. } => self.closed = Some(reason),
                Action::Authorize { .. } | Action::Updated { .. } | Action::Acknowledged { .. } => {}
            }
        }
    }

    async fn flush(&mut self) {
        let _ = self.socket.flush().await;
    }

    async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// The document a server's frame is about, to check only that one for completion.
fn doc_of(bytes: &[u8]) -> Option<DocumentId> {
    match Message::decode(bytes).ok()? {
        Message::Sync { document_id, .. } | Message::Request { document_id, .. } | Message::DocUnavailable { document_id, .. } => Some(document_id),
        _ => None,
    }
}

/// Seconds of CPU (user + system) a process has used, all its threads together.
fn cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): state is the first, so utime and
    // stime (fields 14 and 15 of proc(5)) are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').context("unreadable /proc stat")?.1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // USER_HZ: 100 on every Linux the project runs on.
    Ok(ticks as f64 / 100.0)
}

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM in /proc status")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

fn print_table(runs: &[Run]) {
    println!();
    println!("Client: shared::sync::Node (Rust) on one thread, no storage, at most {WINDOW} documents unacknowledged,");
    println!("{} s per phase; its peak RSS {:.1} MiB. CPU: share of one core during push/fetch.", PHASE_DEADLINE.as_secs(), peak_rss_mib(std::process::id()).unwrap_or(f64::NAN));
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
            let f = &p.failures;
            if f.total() > 0 {
                let closed = f.closed.as_ref().map(|(n, why)| format!(", {n} left when the connection closed ({why})")).unwrap_or_default();
                println!("{} {} {phase}: {} timeouts, {} doc-unavailable{closed}", r.kind.name(), r.n, f.timeouts, f.unavailable);
            }
        }
    }
}

//! The light client: our own `Node` in the client role over one WebSocket, storing nothing
//! (every `Persist` is reported done at once, as automerge-repo says of a peer without a
//! storage adapter). It costs the benches little CPU, so their figures describe the servers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use automerge::ChangeHash;
use futures_util::{SinkExt, StreamExt};
use shared::DocumentId;
use shared::sync::{Action, ConnId, Event, Message, Node, NodeConfig, PeerId, PeerMetadata, Role};
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite::Message as Ws;

/// The one connection each client node has.
pub const CONN: ConnId = ConnId(1);
/// The server must answer `join` within this.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client node over one WebSocket.
pub struct Client {
    pub node: Node,
    socket: Socket,
    /// The server answered `join`.
    joined: bool,
    /// Documents the server answered `doc-unavailable` for, since the caller last looked.
    pub unavailable: Vec<DocumentId>,
    /// Documents a remote change reached, since the caller last looked.
    pub updated: Vec<DocumentId>,
    /// Why the node closed the connection, if it did.
    closed: Option<String>,
}

/// What the server sent next.
pub enum Next {
    Frame(Vec<u8>),
    /// The deadline passed first.
    Timeout,
    /// The connection ended, and why.
    Closed(String),
}

/// What a `drive` left unfinished.
#[derive(Default)]
pub struct Failures {
    pub timeouts: usize,
    pub unavailable: usize,
    /// Documents left unfinished when the server closed the connection, and why it did.
    pub closed: Option<(usize, String)>,
}

impl Client {
    /// Connects, sends `join` and waits for the server's `peer`.
    pub async fn connect(url: &str, peer: &str) -> Result<Client> {
        let socket = open(url).await?;
        let node = Node::new(NodeConfig {
            peer_id: PeerId(peer.into()),
            metadata: PeerMetadata { storage_id: None, is_ephemeral: true },
            role: Role::Client,
            max_doc_bytes: 1 << 30,
        });
        let mut client = Client { node, socket, joined: false, unavailable: Vec::new(), updated: Vec::new(), closed: None };
        client.join(url).await?;
        Ok(client)
    }

    /// A new socket to `url` for the same node, as a browser reconnects after the server went
    /// away: the node hears the old connection end and a new one start, and once the server
    /// answers `join` it offers every document it holds again.
    pub async fn reconnect(&mut self, url: &str) -> Result<()> {
        let socket = open(url).await?;
        self.node.handle(0, Event::Disconnected { conn: CONN });
        self.socket = socket;
        self.joined = false;
        self.closed = None;
        self.join(url).await
    }

    /// Sends `join` and waits for the server's `peer`.
    async fn join(&mut self, url: &str) -> Result<()> {
        let join = self.node.handle(0, Event::Connected { conn: CONN, account: String::new(), org: String::new() });
        self.carry_out(join).await;
        self.flush().await;
        // Documents are started only once the server has answered `join`, so windows hold.
        let deadline = Instant::now() + JOIN_TIMEOUT;
        while !self.joined {
            match self.next_frame(deadline).await {
                Next::Frame(bytes) => self.received(bytes).await,
                Next::Timeout => bail!("no answer to join from {url}"),
                Next::Closed(why) => bail!("{url} closed the connection before answering join: {why}"),
            }
        }
        self.flush().await;
        Ok(())
    }

    /// The server's next binary frame; other frames are skipped.
    pub async fn next_frame(&mut self, deadline: Instant) -> Next {
        loop {
            return match timeout_at(deadline, self.socket.next()).await {
                Err(_) => Next::Timeout,
                Ok(Some(Ok(Ws::Binary(bytes)))) => Next::Frame(bytes.to_vec()),
                Ok(Some(Ok(Ws::Close(frame)))) => {
                    Next::Closed(self.closed.take().or(frame.map(|f| f.reason.to_string())).unwrap_or_default())
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => Next::Closed(e.to_string()),
                Ok(None) => Next::Closed(self.closed.take().unwrap_or_else(|| "connection ended".into())),
            };
        }
    }

    /// Hands a frame from the server to the node and queues its answers (sent by `flush`).
    pub async fn received(&mut self, bytes: Vec<u8>) {
        let actions = self.node.handle(0, Event::Received { conn: CONN, bytes });
        self.carry_out(actions).await;
    }

    /// Reads and handles frames until `done(node)` holds; `Err` if the deadline passes or the
    /// connection ends first.
    pub async fn until(&mut self, deadline: Instant, done: impl Fn(&mut Node) -> bool) -> Result<()> {
        while !done(&mut self.node) {
            match self.next_frame(deadline).await {
                Next::Frame(bytes) => self.received(bytes).await,
                Next::Timeout => bail!("timed out"),
                Next::Closed(why) => bail!("the server closed the connection: {why}"),
            }
            self.flush().await;
        }
        Ok(())
    }

    /// Starts documents `start(node, i)` keeping at most `window` unfinished, and reads the
    /// server's answers until `done(node, i)` holds for all of them or `limit` has passed.
    pub async fn drive(
        &mut self,
        ids: &[DocumentId],
        window: usize,
        limit: Duration,
        mut start: impl FnMut(&mut Node, usize) -> Vec<Action>,
        done: impl Fn(&mut Node, usize) -> bool,
    ) -> Failures {
        let index: HashMap<DocumentId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let deadline = Instant::now() + limit;
        let mut failures = Failures::default();
        let mut in_flight = HashSet::new();
        let mut next = 0;
        loop {
            while in_flight.len() < window && next < ids.len() {
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
            let bytes = match self.next_frame(deadline).await {
                Next::Frame(bytes) => bytes,
                Next::Timeout => {
                    failures.timeouts = unfinished;
                    return failures;
                }
                Next::Closed(why) => {
                    failures.closed = Some((unfinished, why));
                    return failures;
                }
            };
            let about = doc_of(&bytes).and_then(|id| index.get(&id).copied());
            self.received(bytes).await;
            self.updated.clear();
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

    /// Carries out the node's actions: frames are queued (sent by the next `flush`), every
    /// persist is reported done at once.
    pub async fn carry_out(&mut self, actions: Vec<Action>) {
        let mut queue = VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send { bytes, .. } => {
                    let _ = self.socket.feed(Ws::Binary(bytes.into())).await;
                }
                Action::Persist { doc, generation, .. } => {
                    queue.extend(self.node.handle(0, Event::Persisted { doc, generation, ok: true }))
                }
                Action::Established { .. } => self.joined = true,
                Action::Unavailable { doc, .. } => self.unavailable.push(doc),
                Action::Updated { doc } => self.updated.push(doc),
                Action::Close { reason, .. } => self.closed = Some(reason),
                Action::Authorize { .. }
                | Action::Acknowledged { .. }
                | Action::Refused { .. }
                | Action::Applied { .. }
                | Action::Ephemeral { .. } => {}
            }
        }
    }

    pub async fn flush(&mut self) {
        let _ = self.socket.flush().await;
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

impl Failures {
    pub fn total(&self) -> usize {
        self.timeouts + self.unavailable + self.closed.as_ref().map_or(0, |(n, _)| *n)
    }

    /// What went wrong, in one line; `None` if nothing did.
    pub fn describe(&self) -> Option<String> {
        if self.total() == 0 {
            return None;
        }
        let closed = self.closed.as_ref().map(|(n, why)| format!(", {n} left when the connection closed ({why})")).unwrap_or_default();
        Some(format!("{} timeouts, {} doc-unavailable{closed}", self.timeouts, self.unavailable))
    }
}

async fn open(url: &str) -> Result<Socket> {
    // No Nagle, as browsers open their sockets: a small frame goes out at once.
    let (socket, _) =
        tokio_tungstenite::connect_async_with_config(url, None, true).await.with_context(|| format!("connecting to {url}"))?;
    Ok(socket)
}

/// The document a server's frame is about, to check only that one for completion.
pub fn doc_of(bytes: &[u8]) -> Option<DocumentId> {
    match Message::decode(bytes).ok()? {
        Message::Sync { document_id, .. } | Message::Request { document_id, .. } | Message::DocUnavailable { document_id, .. } => {
            Some(document_id)
        }
        _ => None,
    }
}

pub fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

//! The hub: one task that owns the sync node and carries out its actions.
//!
//! Sockets send it what they receive; it sends them frames to write. Access checks run as
//! their own tasks and come back as events. Persists go, in order, to one storage task that
//! commits everything waiting in a single transaction (group commit) and only then reports
//! them durable, so the node never acknowledges a change that is not on disk.
//!
//! With several instances on one database the store's [`Notice`]s come in too: another
//! instance's change to a document loaded here is read from the database and handed to the
//! node as if it were a local edit (stored again here, which finds its chunk already there,
//! then synced to this instance's peers); access changes and sign-outs act as local ones do.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use automerge::{ChangeHash, ReadDoc};
use shared::DocumentId;
use shared::case::admit::OrgKinds;
use shared::sync::{Action, ConnId, Event, Node, NodeConfig, PeerId, PeerMetadata, Role, Verdict};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};

use crate::accounts::User;
use crate::store::{ChunkWrite, Notice, Opened, Store};

/// Frames to a socket are buffered up to this; a peer that reads slower is disconnected.
const OUTGOING_BUFFER: usize = 1024;
/// Access checks running against the store at once; the rest wait their turn (their messages
/// wait in the node, which caps them in bytes per connection).
const CONCURRENT_CHECKS: usize = 16;
/// How often the register of organisations' kinds is read again besides at each connection:
/// the longest an `org set-kind` takes to reach open sessions.
const REGISTER_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);
/// Changes one connection makes to one record are audited as a `write` row at the first, then
/// one per this long (and when the connection ends): a row per sync message would be one per
/// keystroke.
const WRITE_ROW_EVERY_MS: u64 = 60_000;
/// Bytes of changes waiting for the storage task. Past it a change is refused as a failed
/// write (its peer offers it again later) rather than held in memory without bound.
pub const MAX_PERSIST_QUEUE_BYTES: usize = 128 * 1024 * 1024;

#[derive(Clone)]
pub struct Hub {
    tx: mpsc::Sender<HubEvent>,
    next_conn: Arc<AtomicU64>,
    store: Arc<dyn Store>,
    /// The organisation whose access to a record just changed, for feed waiters
    /// ([`Hub::access_changes`]).
    access_changes: broadcast::Sender<String>,
    /// Numbers reads of the register of organisations, so one that started earlier but
    /// finished later never replaces a newer one.
    register_reads: Arc<AtomicU64>,
}

/// What the hub tells a socket task.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Vec<u8>),
    Close(String),
}

// Large because `Event` is (see there); these go through one channel, moved, never copied.
#[allow(clippy::large_enum_variant)]
enum HubEvent {
    Connected {
        conn: ConnId,
        user: User,
        token_hash: String,
        out: mpsc::Sender<Outgoing>,
        /// The register of organisations as read for this connection, numbered (`None`: the
        /// read failed, the last one stands).
        org_kinds: Option<(u64, OrgKinds)>,
    },
    /// The register of organisations, read again (see [`REGISTER_REFRESH`]).
    OrgKinds {
        read: u64,
        kinds: OrgKinds,
    },
    Node(Event),
    /// `org` was given or lost access to `doc`.
    AccessChanged {
        doc: DocumentId,
        org: String,
        done: oneshot::Sender<()>,
    },
    /// A token was revoked (sign-out): its sockets close.
    Logout {
        token_hash: String,
        done: oneshot::Sender<()>,
    },
    /// Another instance stored changes to `doc`: what the database holds of it now.
    Stored {
        doc: DocumentId,
        chunks: Vec<Vec<u8>>,
    },
    /// Whether `doc` is loaded here and lacks one of `heads`.
    Lacks {
        doc: DocumentId,
        heads: Vec<ChangeHash>,
        answer: oneshot::Sender<bool>,
    },
    /// Notices may have been lost: tokens of open sockets are checked again, and loaded
    /// documents read again.
    Resync,
    /// These sockets' tokens are no longer valid.
    Expired {
        token_hashes: Vec<String>,
    },
}

struct Conn {
    user: User,
    token_hash: String,
    out: mpsc::Sender<Outgoing>,
}

#[derive(Debug, Clone)]
pub struct HubConfig {
    pub storage_id: String,
    pub max_doc_bytes: usize,
    /// Records one organisation may own; a new one past it is refused alone, with the reason.
    pub max_docs_per_org: u64,
}

impl Hub {
    /// Starts the hub on `store`; `notices` are what other instances on the same database do.
    pub fn start(store: Arc<dyn Store>, notices: Option<mpsc::UnboundedReceiver<Notice>>, config: HubConfig) -> Hub {
        let (tx, rx) = mpsc::channel(4096);
        let (persist_tx, persist_rx) = mpsc::unbounded_channel();
        let persist_queued = Arc::new(AtomicUsize::new(0));
        tokio::spawn(persist_task(store.clone(), persist_rx, tx.clone(), persist_queued.clone()));
        if let Some(notices) = notices {
            tokio::spawn(notice_task(store.clone(), notices, tx.clone()));
        }
        let node = Node::new(NodeConfig {
            peer_id: PeerId(format!("liaison-server-{}", &config.storage_id[..8])),
            metadata: PeerMetadata { storage_id: Some(config.storage_id.clone()), is_ephemeral: false },
            role: Role::Server,
            max_doc_bytes: config.max_doc_bytes,
        });
        let quota = Arc::new(DocQuota { limit: config.max_docs_per_org, owned: tokio::sync::Mutex::new(HashMap::new()) });
        let (access_changes, _) = broadcast::channel(256);
        let hub = Hub { tx, next_conn: Arc::new(AtomicU64::new(1)), store, access_changes, register_reads: Arc::default() };
        tokio::spawn(hub_task(node, hub.clone(), rx, persist_tx, persist_queued, quota));
        let refresher = hub.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REGISTER_REFRESH).await;
                if let Some((read, kinds)) = refresher.read_register().await
                    && refresher.tx.send(HubEvent::OrgKinds { read, kinds }).await.is_err()
                {
                    return;
                }
            }
        });
        hub
    }

    /// Registers a socket; returns its id and the channel of frames to write to it.
    pub async fn connect(&self, user: User, token: &str) -> (ConnId, mpsc::Receiver<Outgoing>) {
        let conn = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        let (out, rx) = mpsc::channel(OUTGOING_BUFFER);
        let token_hash = shared::storage_key::chunk_hash(token.as_bytes());
        // Read again for every connection (and every few seconds): `org add` and `org set-kind`
        // run as another process, and a new connection's first step comes after this read.
        let org_kinds = self.read_register().await;
        let _ = self.tx.send(HubEvent::Connected { conn, user, token_hash, out, org_kinds }).await;
        (conn, rx)
    }

    pub async fn received(&self, conn: ConnId, bytes: Vec<u8>) {
        let _ = self.tx.send(HubEvent::Node(Event::Received { conn, bytes })).await;
    }

    pub async fn disconnected(&self, conn: ConnId) {
        let _ = self.tx.send(HubEvent::Node(Event::Disconnected { conn })).await;
    }

    /// Closes the sockets opened with `token`, which was just revoked.
    pub async fn logout(&self, token: &str) {
        self.logout_hash(crate::accounts::token_hash(token)).await
    }

    async fn logout_hash(&self, token_hash: String) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(HubEvent::Logout { token_hash, done }).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Reads the register of organisations' kinds, numbered; `None` if the read failed (the
    /// last one stands).
    async fn read_register(&self) -> Option<(u64, OrgKinds)> {
        let read = self.register_reads.fetch_add(1, Ordering::Relaxed) + 1;
        match self.store.orgs().await {
            Ok(orgs) => Some((read, orgs.into_iter().map(|o| (o.id, o.kind)).collect())),
            Err(e) => {
                tracing::warn!(error = %e, "the register of organisations could not be read; the last one read stands");
                None
            }
        }
    }

    /// Hears each organisation whose access to a record changes from now on (a transfer, a
    /// share, a return, on this instance or, through notices, another): what a device waiting
    /// on the feed wakes for. Lagging behind counts as hearing every organisation.
    pub fn access_changes(&self) -> broadcast::Receiver<String> {
        self.access_changes.subscribe()
    }

    /// `org` was given or lost access to `doc`: its open connections check access to it
    /// again on their next message about it (a revoked one gets `doc-unavailable`).
    pub async fn access_changed(&self, doc: DocumentId, org: String) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(HubEvent::AccessChanged { doc, org, done }).await.is_ok() {
            let _ = wait.await;
        }
    }
}

struct Persist {
    write: ChunkWrite,
    generation: u64,
}

/// Changes a connection applied to a record since `since` (ms), for one audit row.
struct PendingWrite {
    user: User,
    changes: usize,
    since: u64,
}

/// The `write` row for `w`, written in the background: the audit trail must not hold up sync.
fn audit_write(store: &Arc<dyn Store>, doc: DocumentId, w: PendingWrite, device: Option<String>) {
    let entry = crate::audit::Entry {
        doc: Some(doc.to_string()),
        device,
        detail: format!("{} changes", w.changes),
        // When the first of them arrived.
        at: w.since as i64,
        ..crate::audit::Entry::by(crate::audit::Action::Write, &w.user)
    };
    let store = store.clone();
    tokio::spawn(async move { crate::audit::record(&*store, entry).await });
}

async fn hub_task(
    mut node: Node,
    hub: Hub,
    mut rx: mpsc::Receiver<HubEvent>,
    persist: mpsc::UnboundedSender<Persist>,
    persist_queued: Arc<AtomicUsize>,
    quota: Arc<DocQuota>,
) {
    let Hub { tx, store, access_changes, .. } = hub;
    let mut conns: HashMap<ConnId, Conn> = HashMap::new();
    let checks = Arc::new(Semaphore::new(CONCURRENT_CHECKS));
    // Documents the node may hold (every one it asked to authorize; pruned at each resync):
    // after lost notices, those still loaded are read again.
    let mut touched: HashSet<DocumentId> = HashSet::new();
    // The newest read of the register applied so far.
    let mut register_read = 0;
    // Changes applied per connection and record, not yet in an audit row; and each
    // connection's peer id (its device), for the rows.
    let mut writes: HashMap<(ConnId, DocumentId), PendingWrite> = HashMap::new();
    // Which connections have written which records: the first change of each gets its row
    // at once, so a server that dies loses at most a minute of counts, never the fact that
    // someone wrote to a record.
    let mut wrote: HashSet<(ConnId, DocumentId)> = HashSet::new();
    let mut peers: HashMap<ConnId, String> = HashMap::new();
    while let Some(event) = rx.recv().await {
        let now = crate::now_ms() as u64;
        // Changes counted a minute ago get their row now, whatever this event is (the
        // register's refresh comes every 10 s, so none waits much longer).
        let due: Vec<(ConnId, DocumentId)> =
            writes.iter().filter(|(_, w)| now.saturating_sub(w.since) >= WRITE_ROW_EVERY_MS).map(|(k, _)| *k).collect();
        for key in due {
            if let Some(w) = writes.remove(&key) {
                audit_write(&store, key.1, w, peers.get(&key.0).cloned());
            }
        }
        let actions = match event {
            HubEvent::OrgKinds { read, kinds } => {
                if read > register_read {
                    register_read = read;
                    node.set_org_kinds(kinds);
                }
                Vec::new()
            }
            HubEvent::Connected { conn, user, token_hash, out, org_kinds } => {
                if let Some((read, kinds)) = org_kinds
                    && read > register_read
                {
                    register_read = read;
                    node.set_org_kinds(kinds);
                }
                let account = user.id.to_string();
                tracing::info!(conn = conn.0, user = user.id, org = %user.org_id, "sync connection opened");
                let org = user.org_id.clone();
                conns.insert(conn, Conn { user, token_hash, out });
                node.handle(now, Event::Connected { conn, account, org })
            }
            HubEvent::Node(Event::Disconnected { conn }) => {
                conns.remove(&conn);
                let device = peers.remove(&conn);
                wrote.retain(|(c, _)| *c != conn);
                let ended: Vec<(ConnId, DocumentId)> = writes.keys().filter(|(c, _)| *c == conn).copied().collect();
                for key in ended {
                    if let Some(w) = writes.remove(&key) {
                        audit_write(&store, key.1, w, device.clone());
                    }
                }
                node.handle(now, Event::Disconnected { conn })
            }
            HubEvent::Node(event) => {
                let conn = match &event {
                    Event::Received { conn, .. } | Event::Authorized { conn, .. } => Some(*conn),
                    _ => None,
                };
                // A panic inside Automerge on crafted input must not end sync for everyone:
                // the connection that caused it is closed and the hub goes on. The document
                // it was about may hold changes applied in memory and never persisted: it is
                // dropped (its sessions refused), so nothing unstored is ever served.
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.handle(now, event))) {
                    Ok(actions) => actions,
                    Err(_) => {
                        let doc = node.interrupted_doc();
                        tracing::error!(conn = conn.map(|c| c.0), doc = ?doc, "the sync node panicked on an event; closing that connection");
                        let mut actions = Vec::new();
                        if let Some(doc) = doc {
                            actions.extend(node.drop_document(doc, "an internal error on the server; try again later"));
                        }
                        if let Some(conn) = conn {
                            if let Some(c) = conns.remove(&conn) {
                                let _ = c.out.try_send(Outgoing::Close("internal error".into()));
                            }
                            actions.extend(node.handle(now, Event::Disconnected { conn }));
                        }
                        actions
                    }
                }
            }
            HubEvent::Logout { token_hash, done } => {
                let affected: Vec<ConnId> = conns.iter().filter(|(_, c)| c.token_hash == token_hash).map(|(id, _)| *id).collect();
                let mut actions = Vec::new();
                for conn in affected {
                    if let Some(c) = conns.remove(&conn) {
                        let _ = c.out.try_send(Outgoing::Close("signed out".into()));
                    }
                    actions.extend(node.handle(now, Event::Disconnected { conn }));
                }
                let _ = done.send(());
                actions
            }
            HubEvent::AccessChanged { doc, org, done } => {
                let _ = access_changes.send(org.clone());
                let mut actions = Vec::new();
                for (conn, _) in conns.iter().filter(|(_, c)| c.user.org_id == org) {
                    actions.extend(node.recheck_access(*conn, doc));
                }
                let _ = done.send(());
                actions
            }
            HubEvent::Lacks { doc, heads, answer } => {
                // No heads named (too many for a notice): read it whenever it is loaded.
                let lacks =
                    node.doc(doc).is_some_and(|d| heads.is_empty() || heads.iter().any(|h| ReadDoc::get_change_by_hash(d, h).is_none()));
                let _ = answer.send(lacks);
                Vec::new()
            }
            HubEvent::Stored { doc, chunks } => stored_elsewhere(&mut node, now, doc, &chunks),
            HubEvent::Resync => {
                let tokens: Vec<String> = conns.values().map(|c| c.token_hash.clone()).collect();
                touched.retain(|doc| node.doc(*doc).is_some());
                let docs: Vec<DocumentId> = touched.iter().copied().collect();
                tracing::info!(
                    sockets = tokens.len(),
                    docs = docs.len(),
                    "notices may have been lost; checking tokens and documents again"
                );
                let (store, tx) = (store.clone(), tx.clone());
                tokio::spawn(async move {
                    let mut token_hashes = Vec::new();
                    for hash in tokens {
                        if let Ok(None) = store.token_user(&hash, crate::now_ms()).await {
                            token_hashes.push(hash);
                        }
                    }
                    let _ = tx.send(HubEvent::Expired { token_hashes }).await;
                    for doc in docs {
                        match store.chunks_load(doc).await {
                            Ok(chunks) => {
                                let _ = tx.send(HubEvent::Stored { doc, chunks }).await;
                            }
                            Err(e) => tracing::error!(doc = %doc, error = %e, "reading a document again failed"),
                        }
                    }
                });
                Vec::new()
            }
            HubEvent::Expired { token_hashes } => {
                let affected: Vec<ConnId> = conns.iter().filter(|(_, c)| token_hashes.contains(&c.token_hash)).map(|(id, _)| *id).collect();
                let mut actions = Vec::new();
                for conn in affected {
                    if let Some(c) = conns.remove(&conn) {
                        let _ = c.out.try_send(Outgoing::Close("signed out".into()));
                    }
                    actions.extend(node.handle(now, Event::Disconnected { conn }));
                }
                actions
            }
        };
        // What handling an action makes the node say next is carried out in the same turn:
        // sending it back through the hub's own channel could be dropped when that is full.
        let mut actions = VecDeque::from(actions);
        while let Some(action) = actions.pop_front() {
            match action {
                Action::Send { conn, bytes } => {
                    let full = conns.get(&conn).is_some_and(|c| c.out.try_send(Outgoing::Frame(bytes)).is_err());
                    if full {
                        tracing::warn!(conn = conn.0, "peer reads too slowly; disconnecting");
                        conns.remove(&conn);
                        // The socket task sees its channel close and ends; the node forgets it.
                        actions.extend(node.handle(now, Event::Disconnected { conn }));
                    }
                }
                Action::Close { conn, reason } => {
                    tracing::info!(conn = conn.0, %reason, "closing sync connection");
                    if let Some(c) = conns.remove(&conn) {
                        let _ = c.out.try_send(Outgoing::Close(reason));
                    }
                }
                Action::Authorize { conn, doc, create, load } => {
                    let Some(user) = conns.get(&conn).map(|c| c.user.clone()) else { continue };
                    touched.insert(doc);
                    let (store, tx, checks, quota) = (store.clone(), tx.clone(), checks.clone(), quota.clone());
                    let device = peers.get(&conn).cloned();
                    tokio::spawn(async move {
                        let Ok(_turn) = checks.acquire().await else { return };
                        let may_create = create && quota.may_create(&*store, &user.org_id).await;
                        let audited = |action| crate::audit::Entry {
                            doc: Some(doc.to_string()),
                            device: device.clone(),
                            ..crate::audit::Entry::by(action, &user)
                        };
                        let verdict = match store.doc_open(doc, &user, may_create, load).await {
                            Ok(Opened::Allowed { chunks, actors, owner }) => {
                                // Written before the record goes out: no read without its row. A
                                // trail that cannot be written refuses the read (the device asks
                                // again on its next round).
                                match store.audit_append(&audited(crate::audit::Action::Read)).await {
                                    Ok(()) => Verdict::Allowed { chunks, actors: node_actors(actors), owner },
                                    Err(e) => {
                                        tracing::error!(error = %e, doc = %doc, "the audit row of a read could not be written; refusing it");
                                        Verdict::Failed("the audit trail could not be written".into())
                                    }
                                }
                            }
                            Ok(Opened::Created) => {
                                quota.created(&user.org_id).await;
                                tracing::info!(doc = %doc, user = user.id, org = %user.org_id, "document created");
                                crate::audit::record(&*store, audited(crate::audit::Action::Created)).await;
                                Verdict::Created
                            }
                            // Missing (or another's) and not to be created: the same answer for both.
                            Ok(Opened::Unavailable) if create && !may_create => Verdict::Refused(format!(
                                "this organisation has reached its quota of {} records; ask the server's administrator",
                                quota.limit
                            )),
                            Ok(Opened::Unavailable) => Verdict::Unavailable,
                            Err(e) => {
                                tracing::error!(error = %e, doc = %doc, "access check failed");
                                Verdict::Failed("the server's storage failed".into())
                            }
                        };
                        let _ = tx.send(HubEvent::Node(Event::Authorized { conn, doc, verdict })).await;
                    });
                }
                Action::Persist { doc, chunk, heads, generation, actors, access } => {
                    let bytes = chunk.bytes.len();
                    if persist_queued.fetch_add(bytes, Ordering::Relaxed) + bytes > MAX_PERSIST_QUEUE_BYTES {
                        persist_queued.fetch_sub(bytes, Ordering::Relaxed);
                        tracing::warn!(doc = %doc, bytes, "storage is behind; refusing a change for now");
                        actions.extend(node.handle(now, Event::Persisted { doc, generation, ok: false }));
                        continue;
                    }
                    let heads = heads.iter().map(ToString::to_string).collect();
                    let actors = stored_actors(actors);
                    let write = ChunkWrite { doc, chunk, heads, actors, at: now as i64, access };
                    let _ = persist.send(Persist { write, generation });
                }
                Action::Established { conn, peer, .. } => {
                    tracing::info!(conn = conn.0, peer = ?peer, "peer joined");
                    peers.insert(conn, peer.0.chars().take(64).collect());
                }
                Action::Applied { conn, doc, changes, steps } => {
                    let Some(user) = conns.get(&conn).map(|c| c.user.clone()) else { continue };
                    // A case step is a row of its own, at once: who moved the case, and how.
                    for step in steps {
                        let entry = crate::audit::Entry {
                            doc: Some(doc.to_string()),
                            device: peers.get(&conn).cloned(),
                            detail: step,
                            ..crate::audit::Entry::by(crate::audit::Action::Step, &user)
                        };
                        let store = store.clone();
                        tokio::spawn(async move { crate::audit::record(&*store, entry).await });
                    }
                    let first = wrote.insert((conn, doc));
                    let w = writes.entry((conn, doc)).or_insert(PendingWrite { user, changes: 0, since: now });
                    w.changes += changes;
                    if (first || now.saturating_sub(w.since) >= WRITE_ROW_EVERY_MS)
                        && let Some(w) = writes.remove(&(conn, doc))
                    {
                        audit_write(&store, doc, w, peers.get(&conn).cloned());
                    }
                }
                Action::Refused { conn, doc, reason } => {
                    tracing::warn!(conn = conn.0, doc = %doc, %reason, "refused one document; the connection stays");
                }
                Action::Updated { .. } | Action::Unavailable { .. } | Action::Acknowledged { .. } | Action::Ephemeral { .. } => {}
            }
        }
    }
}

/// How many records each organisation owns, read from the store at first use and counted up
/// with each creation here, against [`HubConfig::max_docs_per_org`].
struct DocQuota {
    limit: u64,
    owned: tokio::sync::Mutex<HashMap<String, u64>>,
}

impl DocQuota {
    /// Whether `org` may create one more record. A store error allows it: the quota is a guard
    /// against filling the server, not a reason to refuse work when the count cannot be read.
    async fn may_create(&self, store: &dyn Store, org: &str) -> bool {
        let mut owned = self.owned.lock().await;
        if !owned.contains_key(org) {
            match store.org_usage(org).await {
                Ok(usage) => {
                    owned.insert(org.to_owned(), usage.docs);
                }
                Err(e) => {
                    tracing::error!(error = %e, org, "could not count the organisation's records");
                    return true;
                }
            }
        }
        owned[org] < self.limit
    }

    async fn created(&self, org: &str) {
        *self.owned.lock().await.entry(org.to_owned()).or_default() += 1;
    }
}

/// Another instance stored changes to `doc`. If it is loaded here and the database holds
/// changes it lacks, they are applied and handed on as a local edit: the node persists them
/// (their chunk is usually there already, byte for byte) and, once that commits, syncs them to
/// every connection here that uses the document. A document not loaded needs nothing: its next
/// use loads it from the database.
fn stored_elsewhere(node: &mut Node, now: u64, doc: DocumentId, chunks: &[Vec<u8>]) -> Vec<Action> {
    let Some(d) = node.doc_mut(doc) else { return Vec::new() };
    let before = d.get_heads();
    for chunk in chunks {
        if let Err(e) = d.load_incremental(chunk) {
            tracing::warn!(doc = %doc, error = %e, "a chunk another instance stored does not load here");
        }
    }
    if d.get_heads() == before {
        return Vec::new();
    }
    node.handle(now, Event::Changed { doc })
}

/// Turns the store's notices into hub events. A document's notice names its heads; only when
/// this instance lacks one of them (and has the document loaded) are its chunks read.
async fn notice_task(store: Arc<dyn Store>, mut notices: mpsc::UnboundedReceiver<Notice>, hub: mpsc::Sender<HubEvent>) {
    let (access_changes, _) = broadcast::channel(1);
    let handle = Hub {
        tx: hub.clone(),
        next_conn: Arc::new(AtomicU64::new(0)),
        store: store.clone(),
        access_changes,
        register_reads: Arc::default(),
    };
    while let Some(notice) = notices.recv().await {
        match notice {
            Notice::DocChanged { doc, heads } => {
                let heads: Vec<ChangeHash> = heads.iter().filter_map(|h| h.parse().ok()).collect();
                let (ask, answer) = oneshot::channel();
                if hub.send(HubEvent::Lacks { doc, heads, answer: ask }).await.is_err() {
                    return;
                }
                if answer.await.unwrap_or(false) {
                    match store.chunks_load(doc).await {
                        Ok(chunks) => {
                            let _ = hub.send(HubEvent::Stored { doc, chunks }).await;
                        }
                        Err(e) => tracing::error!(doc = %doc, error = %e, "reading another instance's change failed"),
                    }
                }
            }
            Notice::AccessChanged { doc, org } => handle.access_changed(doc, org).await,
            Notice::TokenRevoked { token_hash } => handle.logout_hash(token_hash).await,
            Notice::Resync => {
                let _ = hub.send(HubEvent::Resync).await;
            }
        }
    }
}

/// Writes persists in arrival order; whatever is waiting when a write starts shares its
/// transaction, and all of them are reported durable once it commits.
async fn persist_task(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Persist>,
    hub: mpsc::Sender<HubEvent>,
    queued: Arc<AtomicUsize>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let done: Vec<(DocumentId, u64)> = batch.iter().map(|p| (p.write.doc, p.generation)).collect();
        let access: Vec<(DocumentId, String)> = batch
            .iter()
            .flat_map(|p| p.write.access.grant.iter().chain(&p.write.access.revoke).map(|org| (p.write.doc, org.clone())))
            .collect();
        let bytes: usize = batch.iter().map(|p| p.write.chunk.bytes.len()).sum();
        let result = store.chunks_write(batch.into_iter().map(|p| p.write).collect()).await;
        queued.fetch_sub(bytes, Ordering::Relaxed);
        let ok = match result {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, changes = done.len(), "storing changes failed");
                false
            }
        };
        for (doc, generation) in done {
            let _ = hub.send(HubEvent::Node(Event::Persisted { doc, generation, ok })).await;
        }
        // A case step that gave or took access: that organisation's open sessions are checked
        // again now it is stored (one that lost it is told `doc-unavailable` at once).
        for (doc, org) in access.into_iter().filter(|_| ok) {
            tracing::info!(doc = %doc, org = %org, "access changed by a case step");
            let (done, _) = oneshot::channel();
            let _ = hub.send(HubEvent::AccessChanged { doc, org, done }).await;
        }
    }
}

/// Stored bindings (hex actor, user id) as the node keys them (the node's account is the
/// user id as text, see `HubEvent::Connected`). A malformed stored actor id is skipped: its
/// changes then bind anew, and storage refuses that binding, so nothing passes as another's.
fn node_actors(stored: Vec<(String, i64)>) -> Vec<(automerge::ActorId, String)> {
    stored.into_iter().filter_map(|(actor, user)| Some((automerge::ActorId::try_from(actor.as_str()).ok()?, user.to_string()))).collect()
}

/// The node's new bindings as storage keeps them. Every connection's account is a user id
/// (`HubEvent::Connected`), so the parse cannot fail for a binding the node made.
fn stored_actors(bound: Vec<(automerge::ActorId, String)>) -> Vec<(String, i64)> {
    bound.into_iter().filter_map(|(actor, account)| Some((actor.to_hex_string(), account.parse().ok()?))).collect()
}

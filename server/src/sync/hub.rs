//! The hub: one task that owns the sync node and carries out its actions.
//!
//! Sockets send it what they receive; it sends them frames to write. Access checks run on the
//! database pool and come back as events. Persists go, in order, to one storage task that
//! commits everything waiting in a single transaction (group commit) and only then reports
//! them durable, so the node never acknowledges a change that is not on disk.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use shared::DocumentId;
use shared::sync::node::Chunk;
use shared::sync::{Action, ConnId, Event, Node, NodeConfig, PeerId, PeerMetadata, Role, Verdict};
use tokio::sync::{mpsc, oneshot};

use crate::accounts::User;
use crate::db::{Db, DbError};
use crate::docs::{self, Access};

/// Frames to a socket are buffered up to this; a peer that reads slower is disconnected.
const OUTGOING_BUFFER: usize = 1024;

#[derive(Clone)]
pub struct Hub {
    tx: mpsc::Sender<HubEvent>,
    next_conn: Arc<AtomicU64>,
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
}

impl Hub {
    pub fn start(db: Db, config: HubConfig) -> Hub {
        let (tx, rx) = mpsc::channel(4096);
        let (persist_tx, persist_rx) = mpsc::unbounded_channel();
        tokio::spawn(persist_task(db.clone(), persist_rx, tx.clone()));
        let node = Node::new(NodeConfig {
            peer_id: PeerId(format!("liaison-server-{}", &config.storage_id[..8])),
            metadata: PeerMetadata { storage_id: Some(config.storage_id.clone()), is_ephemeral: false },
            role: Role::Server,
            max_doc_bytes: config.max_doc_bytes,
        });
        tokio::spawn(hub_task(node, db, rx, tx.clone(), persist_tx));
        Hub { tx, next_conn: Arc::new(AtomicU64::new(1)) }
    }

    /// Registers a socket; returns its id and the channel of frames to write to it.
    pub async fn connect(&self, user: User, token: &str) -> (ConnId, mpsc::Receiver<Outgoing>) {
        let conn = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        let (out, rx) = mpsc::channel(OUTGOING_BUFFER);
        let token_hash = shared::storage_key::chunk_hash(token.as_bytes());
        let _ = self.tx.send(HubEvent::Connected { conn, user, token_hash, out }).await;
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
        let (done, wait) = oneshot::channel();
        let token_hash = shared::storage_key::chunk_hash(token.as_bytes());
        if self.tx.send(HubEvent::Logout { token_hash, done }).await.is_ok() {
            let _ = wait.await;
        }
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
    doc: DocumentId,
    chunk: Chunk,
    heads: Vec<String>,
    generation: u64,
}

async fn hub_task(
    mut node: Node,
    db: Db,
    mut rx: mpsc::Receiver<HubEvent>,
    tx: mpsc::Sender<HubEvent>,
    persist: mpsc::UnboundedSender<Persist>,
) {
    let mut conns: HashMap<ConnId, Conn> = HashMap::new();
    while let Some(event) = rx.recv().await {
        let now = crate::now_ms() as u64;
        let actions = match event {
            HubEvent::Connected { conn, user, token_hash, out } => {
                let account = user.id.to_string();
                tracing::info!(conn = conn.0, user = user.id, org = %user.org_id, "sync connection opened");
                conns.insert(conn, Conn { user, token_hash, out });
                node.handle(now, Event::Connected { conn, account })
            }
            HubEvent::Node(Event::Disconnected { conn }) => {
                conns.remove(&conn);
                node.handle(now, Event::Disconnected { conn })
            }
            HubEvent::Node(event) => {
                let conn = match &event {
                    Event::Received { conn, .. } | Event::Authorized { conn, .. } => Some(*conn),
                    _ => None,
                };
                // A panic inside Automerge on crafted input must not end sync for everyone:
                // the connection that caused it is closed and the hub goes on.
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.handle(now, event))) {
                    Ok(actions) => actions,
                    Err(_) => {
                        tracing::error!(conn = conn.map(|c| c.0), "the sync node panicked on an event; closing that connection");
                        let mut actions = Vec::new();
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
                for (conn, _) in conns.iter().filter(|(_, c)| c.user.org_id == org) {
                    node.recheck_access(*conn, doc);
                }
                let _ = done.send(());
                Vec::new()
            }
        };
        for action in actions {
            match action {
                Action::Send { conn, bytes } => {
                    let full = conns.get(&conn).is_some_and(|c| c.out.try_send(Outgoing::Frame(bytes)).is_err());
                    if full {
                        tracing::warn!(conn = conn.0, "peer reads too slowly; disconnecting");
                        conns.remove(&conn);
                        // The socket task sees its channel close and ends; the node forgets it.
                        let _ = tx.try_send(HubEvent::Node(Event::Disconnected { conn }));
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
                    let (db, tx) = (db.clone(), tx.clone());
                    tokio::spawn(async move {
                        let verdict = db.call(move |c| authorize(c, doc, &user, create, load)).await.unwrap_or_else(|e| {
                            tracing::error!(error = %e, doc = %doc, "access check failed");
                            Verdict::Failed("the server's storage failed".into())
                        });
                        let _ = tx.send(HubEvent::Node(Event::Authorized { conn, doc, verdict })).await;
                    });
                }
                Action::Persist { doc, chunk, heads, generation } => {
                    let heads = heads.iter().map(ToString::to_string).collect();
                    let _ = persist.send(Persist { doc, chunk, heads, generation });
                }
                Action::Established { conn, peer, .. } => {
                    tracing::info!(conn = conn.0, peer = ?peer, "peer joined");
                }
                Action::Refused { conn, doc, reason } => {
                    tracing::warn!(conn = conn.0, doc = %doc, %reason, "refused one document; the connection stays");
                }
                Action::Updated { .. } | Action::Unavailable { .. } | Action::Acknowledged { .. } => {}
            }
        }
    }
}

/// Decides what `user` may do with `doc`, creating it for their organisation if asked.
fn authorize(c: &mut Connection, doc: DocumentId, user: &User, create: bool, load: bool) -> Result<Verdict, DbError> {
    let mut access = docs::access(c, doc, &user.org_id)?;
    if access == Access::Missing && create {
        // No fsync of its own (it cost one per new document, the push benchmark's limit):
        // nothing about the document is acknowledged before its first change commits with
        // `synchronous = FULL`, whose fsync of the write-ahead log takes this row along.
        c.pragma_update(None, "synchronous", "NORMAL")?;
        let created = (|| -> Result<(), DbError> {
            let tx = c.transaction()?;
            docs::create(&tx, doc, &user.org_id, user.id)?;
            Ok(tx.commit()?)
        })();
        c.pragma_update(None, "synchronous", "FULL")?;
        created?;
        tracing::info!(doc = %doc, user = user.id, org = %user.org_id, "document created");
        // Another organisation may have created the same id a moment before.
        access = match docs::access(c, doc, &user.org_id)? {
            Access::Allowed => return Ok(Verdict::Created),
            other => other,
        };
    }
    Ok(match access {
        Access::Allowed => Verdict::Allowed { chunks: if load { docs::load_chunks(c, doc)? } else { Vec::new() } },
        Access::Missing | Access::Denied => Verdict::Unavailable,
    })
}

/// Writes persists in arrival order; whatever is waiting when a write starts shares its
/// transaction, and all of them are reported durable once it commits.
async fn persist_task(db: Db, mut rx: mpsc::UnboundedReceiver<Persist>, hub: mpsc::Sender<HubEvent>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let done: Vec<(DocumentId, u64)> = batch.iter().map(|p| (p.doc, p.generation)).collect();
        let result = db
            .call(move |c| {
                // Whatever happened before, this commit is on disk before it returns.
                c.pragma_update(None, "synchronous", "FULL")?;
                let tx = c.transaction()?;
                for p in &batch {
                    docs::write_chunk(&tx, p.doc, &p.chunk, &p.heads)?;
                }
                tx.commit()?;
                Ok(())
            })
            .await;
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
    }
}

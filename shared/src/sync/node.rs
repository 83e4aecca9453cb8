//! The sync protocol as a state machine with no I/O, run by the server and by the browser.
//!
//! The caller owns the sockets, the storage and the clock. It calls [`Node::handle`] with each
//! event and carries out the returned [`Action`]s in order. The node owns the documents in
//! memory, one Automerge sync state per document and connection, and the rules that matter
//! most:
//!
//! - **Durable before visible.** A change (received or local) is handed to storage as an
//!   [`Action::Persist`]; no sync message about that document goes to any peer until the
//!   caller reports [`Event::Persisted`]. A peer that sees the node's new heads can therefore
//!   rely on the change having been stored.
//! - **Unauthorised reads as missing.** On the server, the first message about a document on a
//!   connection triggers [`Action::Authorize`]; until the answer comes the messages wait, and an
//!   [`Verdict::Unavailable`] answer gets them `doc-unavailable` without being applied — the
//!   same answer a document that does not exist gets. Refusals are not remembered (the next
//!   message asks again), and [`Node::recheck_access`] withdraws an allowance, so sharing and
//!   revoking take effect on open connections.
//! - **Nothing unasked.** A peer only hears about documents it has sent a message about (or,
//!   for a client, documents it opened).
//! - **Storage deletes only what it folded.** A [`ChunkKind::Snapshot`] names the stored chunks
//!   it replaces: those the node loaded successfully or wrote itself. A chunk that failed to
//!   load stays in storage for recovery instead of being compacted away.
//! - **Bounded memory.** Messages waiting for an access check, documents per connection and
//!   changes waiting for missing dependencies are capped. A server forgets a document once no
//!   connection uses it and its writes are done, and keeps at most a set number in memory,
//!   forgetting the least recently used idle ones: their sync states stay, and the next
//!   message about one loads it again (through [`Action::Authorize`], which checks access
//!   anew too).

use std::collections::{BTreeMap, HashMap};

use automerge::sync::{self, SyncDoc};
use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit, Automerge, AutomergeError, ChangeHash, LoadOptions, OnPartialLoad, VerificationMode};

use super::wire::{Message, PROTOCOL_VERSION, PeerId, PeerMetadata};
use crate::case::{self, admit::AccessChanges};
use crate::doc_id::DocumentId;
use crate::storage_key::chunk_hash;

/// Incremental chunks are folded into a snapshot once they outgrow it and this floor.
pub const COMPACTION_FLOOR: usize = 64 * 1024;
/// Longest ephemeral session id relayed (JS peers use about a dozen characters).
const MAX_SESSION_ID: usize = 64;
/// Messages about one document that may wait for its access check; a peer sends one or two.
const MAX_WAITING_MESSAGES: usize = 64;
/// Bytes of messages waiting for access checks on one connection, all documents together: two
/// of the largest frames the server reads (16 MiB), so one always fits when nothing else waits.
pub const MAX_WAITING_BYTES: usize = 32 * 1024 * 1024;
/// Ephemeral sessions remembered per connection for de-duplication (a peer has one per tab or
/// document view); messages of further sessions are dropped, not relayed.
const MAX_EPHEMERAL_SESSIONS: usize = 64;
/// Documents one connection may sync (a first sync of a large organisation fits).
pub const MAX_DOCS_PER_CONN: usize = 100_000;
/// `doc-unavailable` answers on one connection before it is closed: a peer probing for ids.
const MAX_REFUSALS_PER_CONN: u32 = 10_000;
/// Documents a server keeps in memory by default (see [`Node::set_max_loaded_docs`]).
pub const DEFAULT_MAX_LOADED_DOCS: usize = 256;

/// The caller's handle for one connection (one socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Waits for `join`, answers `peer`, checks access to every document.
    Server,
    /// Sends `join`, syncs the documents it opened with whoever answers.
    Client,
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub peer_id: PeerId,
    pub metadata: PeerMetadata,
    pub role: Role,
    /// A sync message that would take a document's stored size past this is refused.
    pub max_doc_bytes: usize,
}

// `Create` carries a whole document; an event is moved into `handle` once, so boxing it would
// be an allocation per event for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Event {
    /// A socket opened. `account` names who opened it (the server learns it at the upgrade);
    /// only the same account may take over a peer id that is already connected.
    Connected {
        conn: ConnId,
        account: String,
        /// (Server.) The account's organisation: who a case step must be by.
        org: String,
    },
    Received {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Disconnected {
        conn: ConnId,
    },
    /// The answer to [`Action::Authorize`].
    Authorized {
        conn: ConnId,
        doc: DocumentId,
        verdict: Verdict,
    },
    /// The write asked for by [`Action::Persist`] is durable (`ok`) or failed. `generation` is
    /// the one the `Persist` carried: an answer for a document the node has since dropped and
    /// reloaded must not count for the new one.
    Persisted {
        doc: DocumentId,
        generation: u64,
        ok: bool,
    },
    /// A client opens a document it holds (`chunks`: what it has stored, possibly nothing).
    /// For a document already in memory the chunks are merged in (another tab stored them),
    /// with [`Action::Updated`] if that changed it.
    Open {
        doc: DocumentId,
        chunks: Vec<Vec<u8>>,
    },
    /// A client creates a document: nothing of it is stored yet, so it is persisted first and
    /// then offered to peers with `sync` (a `request` would tell the server it does not exist).
    Create {
        doc: DocumentId,
        content: AutoCommit,
    },
    /// The caller changed a document through [`Node::doc_mut`].
    Changed {
        doc: DocumentId,
    },
}

#[derive(Debug)]
pub enum Verdict {
    /// The connection's account may use the document; `chunks` is what storage holds of it
    /// and `actors` the accounts its Automerge actors are bound to (both ignored if the node
    /// has it in memory already).
    /// `owner`: the organisation that owns it (only it opens a case).
    Allowed { chunks: Vec<Vec<u8>>, actors: Vec<(ActorId, String)>, owner: String },
    /// It did not exist and has been created for the connection's account.
    Created,
    /// Missing, or not this account's to read: both get the same answer.
    Unavailable,
    /// The check itself failed (storage error): the document is refused with this reason (to
    /// try again later), so the peer does not take it for missing.
    Failed(String),
    /// Not allowed for a reason the peer should see (a quota reached): refused alone, saying so.
    Refused(String),
}

/// What to store of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub kind: ChunkKind,
    pub bytes: Vec<u8>,
    /// [`chunk_hash`] of `bytes`: the chunk's key in storage.
    pub hash: String,
    /// Hashes of stored chunks this one holds everything of (only for a snapshot): storage
    /// deletes them in the same transaction that writes it. Missing ones are no error.
    pub replaces: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// Changes since the last chunk.
    Incremental,
    /// The whole document.
    Snapshot,
}

impl Chunk {
    pub fn incremental(bytes: Vec<u8>) -> Chunk {
        Chunk { kind: ChunkKind::Incremental, hash: chunk_hash(&bytes), bytes, replaces: Vec::new() }
    }

    pub fn snapshot(bytes: Vec<u8>, replaces: Vec<String>) -> Chunk {
        Chunk { kind: ChunkKind::Snapshot, hash: chunk_hash(&bytes), bytes, replaces }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// Close the socket (an `error` message, if any, is already in a `Send` before this).
    Close {
        conn: ConnId,
        reason: String,
    },
    /// Check whether `conn`'s account may use `doc`; if it does not exist and `create`, create
    /// it for that account. `load`: also return what storage holds of it.
    Authorize {
        conn: ConnId,
        doc: DocumentId,
        create: bool,
        load: bool,
    },
    /// Store this, in order, then report [`Event::Persisted`] with the same `generation`.
    /// (Server.) `actors`: actors first seen in this chunk, bound to the account whose
    /// connection sent their changes; stored with the chunk, refusing it if storage has one
    /// of them bound to another account (another instance bound it first).
    Persist {
        doc: DocumentId,
        chunk: Chunk,
        heads: Vec<ChangeHash>,
        generation: u64,
        actors: Vec<(ActorId, String)>,
        /// (Server.) Organisations case steps in this chunk give or take access to the
        /// document: stored in the same transaction.
        access: AccessChanges,
    },
    /// The handshake completed.
    Established {
        conn: ConnId,
        peer: PeerId,
        metadata: Option<PeerMetadata>,
    },
    /// Changes from a peer were applied and stored: the document can be shown anew.
    Updated {
        doc: DocumentId,
    },
    /// A peer said it cannot give us this document (a client's server: missing or not ours,
    /// or, with a `reason`, refused for this document alone: too large, bad data, storage).
    Unavailable {
        conn: ConnId,
        doc: DocumentId,
        reason: Option<String>,
    },
    /// (Server.) A message on `conn` brought `changes` new changes to `doc`, admitted and on
    /// their way to storage: for the audit trail's writes.
    Applied {
        conn: ConnId,
        doc: DocumentId,
        changes: usize,
        /// Case steps it brought, admitted: `step id`, ` void` after one that did not count.
        steps: Vec<String>,
    },
    /// (Server.) `doc` was refused on `conn` for `reason`, the connection kept: for the log.
    Refused {
        conn: ConnId,
        doc: DocumentId,
        reason: String,
    },
    /// (Client.) Another peer's ephemeral message about `doc` (presence), relayed by the server
    /// under the sender's peer id. Never stored.
    Ephemeral {
        doc: DocumentId,
        from: PeerId,
        data: Vec<u8>,
    },
    /// (Client.) The peer on `conn` has said it holds every change of `doc` this node has:
    /// `heads`, sorted. Checked only for the document a message was about, so a caller
    /// learns of acknowledgements without scanning what it is waiting for.
    Acknowledged {
        conn: ConnId,
        doc: DocumentId,
        heads: Vec<ChangeHash>,
    },
}

pub struct Node {
    config: NodeConfig,
    conns: BTreeMap<ConnId, Conn>,
    docs: HashMap<DocumentId, Doc>,
    /// Highest ephemeral `count` relayed per (connection, session), to drop repeats. Keyed by
    /// connection so one peer cannot silence another, and forgotten when the connection ends.
    ephemeral_seen: HashMap<(ConnId, String), u64>,
    /// Numbers each document loaded into memory; see [`Event::Persisted`].
    generations: u64,
    /// Ticks at every message, to find the least recently used documents.
    clock: u64,
    /// The document the event being handled is about, once known: if handling it panics,
    /// the caller drops that document ([`Node::interrupted_doc`]).
    handling: Option<DocumentId>,
    max_loaded_docs: usize,
    /// (Server.) What each organisation is, for the receiver a case step may name.
    org_kinds: case::admit::OrgKinds,
    /// Ephemeral messages this node sent (their `count`, which peers de-duplicate by).
    ephemeral_count: u64,
    /// The time `handle` was called with: when the server received a case step.
    now_ms: u64,
}

struct Conn {
    account: String,
    org: String,
    /// `doc-unavailable` answers so far.
    refusals: u32,
    remote: Option<(PeerId, Option<PeerMetadata>)>,
    docs: BTreeMap<DocumentId, ConnDoc>,
    /// Bytes of the messages in `Pending` queues (see [`MAX_WAITING_BYTES`]).
    waiting_bytes: usize,
    /// Entries of this connection in `Node::ephemeral_seen`.
    ephemeral_sessions: usize,
}

enum ConnDoc {
    /// Waiting for [`Event::Authorized`]; messages about the document wait with it.
    Pending {
        queue: Vec<Message>,
        /// The check also loads the document from storage.
        loading: bool,
        /// Access changed while the check ran: its answer may be out of date; ask again.
        stale: bool,
        /// The sync session, kept while a forgotten document is loaded again.
        state: Option<Box<sync::State>>,
    },
    Allowed(Box<sync::State>),
}

struct Doc {
    doc: AutoCommit,
    generation: u64,
    last_used: u64,
    stored_incremental: usize,
    stored_snapshot: usize,
    /// Hashes of the stored chunks the document holds: what the next snapshot replaces.
    folded: Vec<String>,
    /// Bytes of received changes that did not apply (waiting for missing dependencies):
    /// Automerge keeps them in memory, so they count towards the document's size limit.
    queued_bytes: usize,
    /// (Server.) The account whose changes wait for missing dependencies: when they apply,
    /// they are that account's, so another account's message may not be the one to apply them.
    queued_by: Option<String>,
    /// (Server.) Actor → account that first sent a change by it, as stored plus `unbound`.
    actors: HashMap<ActorId, String>,
    /// (Server.) Bindings made since the last persist, for the next one to store.
    unbound: Vec<(ActorId, String)>,
    /// (Server.) The owning organisation, from the access check.
    owner: String,
    /// (Server.) The organisation its case is with, as derived when last loaded or persisted.
    receiver: Option<String>,
    /// (Server.) Access changes since the last persist.
    access: AccessChanges,
    /// Persists handed out and not yet reported back.
    persisting: u32,
    /// A peer's change is waiting for its persist before the caller may show it.
    remote_change: bool,
    /// A write failed (client): the next persist is a full snapshot, which holds it.
    unsaved: bool,
    /// (Client.) The caller no longer needs it in memory: forgotten once its writes are done.
    released: bool,
}

impl Node {
    pub fn new(config: NodeConfig) -> Node {
        Node {
            config,
            conns: BTreeMap::new(),
            docs: HashMap::new(),
            ephemeral_seen: HashMap::new(),
            ephemeral_count: 0,
            now_ms: 0,
            generations: 0,
            clock: 0,
            handling: None,
            max_loaded_docs: DEFAULT_MAX_LOADED_DOCS,
            org_kinds: Default::default(),
        }
    }

    /// How many documents a server keeps in memory (at least one). A client keeps what it
    /// opened: its memory may hold changes its storage failed to take.
    pub fn set_max_loaded_docs(&mut self, max: usize) {
        self.max_loaded_docs = max.max(1);
    }

    /// (Server.) The register of organisations and their kinds, as storage holds it now: a
    /// case step naming a receiver is admitted only if the receiver is of the step's kind.
    /// Until it is set, no step naming a receiver is admitted.
    pub fn set_org_kinds(&mut self, kinds: case::admit::OrgKinds) {
        self.org_kinds = kinds;
    }

    /// Access to `doc` may have changed for the account on `conn` (it was shared or revoked):
    /// an answer still on its way is not trusted, and a session in use is checked again now
    /// (messages about it wait meanwhile). If access ended, the peer is told at once with
    /// `doc-unavailable` — a device then learns from its feed that it must drop its copy —
    /// rather than at its next message; if not, the session goes on where it was.
    pub fn recheck_access(&mut self, conn: ConnId, doc: DocumentId) -> Vec<Action> {
        let mut out = Vec::new();
        let loaded = self.docs.contains_key(&doc);
        let Some(c) = self.conns.get_mut(&conn) else { return out };
        match c.docs.get_mut(&doc) {
            Some(ConnDoc::Pending { stale, .. }) => *stale = true,
            Some(ConnDoc::Allowed(_)) => {
                let Some(ConnDoc::Allowed(state)) = c.docs.remove(&doc) else { unreachable!("matched above") };
                c.docs.insert(doc, ConnDoc::Pending { queue: Vec::new(), loading: !loaded, stale: false, state: Some(state) });
                out.push(Action::Authorize { conn, doc, create: false, load: !loaded });
            }
            None => {}
        }
        out
    }

    /// The document the last [`Node::handle`] was working on, if it was about one. After a
    /// panic inside `handle`, memory may hold changes of it that were never persisted: drop it
    /// with [`Node::drop_document`].
    pub fn interrupted_doc(&self) -> Option<DocumentId> {
        self.handling
    }

    /// Forgets a document and refuses it, with `reason`, on every connection that uses it:
    /// what peers see of it next comes from storage again.
    pub fn drop_document(&mut self, doc: DocumentId, reason: &str) -> Vec<Action> {
        let mut out = Vec::new();
        self.docs.remove(&doc);
        let affected: Vec<ConnId> = self.conns.iter().filter(|(_, c)| c.docs.contains_key(&doc)).map(|(id, _)| *id).collect();
        for conn in affected {
            self.refuse(conn, doc, reason, &mut out);
        }
        out
    }

    /// (Client.) Sends an ephemeral message about `doc` (presence: who has it open, where) to
    /// every connected peer syncing it; the server relays it to the others. Nothing is stored.
    pub fn broadcast(&mut self, doc: DocumentId, data: Vec<u8>) -> Vec<Action> {
        self.ephemeral_count += 1;
        let me = self.config.peer_id.clone();
        let session_id: String = me.0.chars().take(MAX_SESSION_ID).collect();
        let targets: Vec<(ConnId, PeerId)> = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.docs.get(&doc), Some(ConnDoc::Allowed(_))))
            .filter_map(|(id, c)| c.remote.as_ref().map(|(p, _)| (*id, p.clone())))
            .collect();
        targets
            .into_iter()
            .map(|(conn, peer)| {
                let message = Message::Ephemeral {
                    sender_id: me.clone(),
                    target_id: peer,
                    count: self.ephemeral_count,
                    session_id: session_id.clone(),
                    document_id: doc,
                    data: data.clone(),
                };
                Action::Send { conn, bytes: message.encode() }
            })
            .collect()
    }

    /// Documents held in memory (the server forgets those no connection uses).
    pub fn loaded_docs(&self) -> usize {
        self.docs.len()
    }

    /// (Client.) The caller no longer needs `doc` in memory: it is forgotten now, or once its
    /// writes are done and nothing of it exists only in memory (a failed write, changes waiting
    /// for missing dependencies). Its sync sessions stay: a later message about it asks the
    /// caller to load it again with [`Action::Authorize`] (answer with [`Event::Authorized`]
    /// and the stored chunks), and [`Event::Open`] loads it for editing. This is what keeps a
    /// device with ten thousand records from holding them all in memory.
    pub fn release(&mut self, doc: DocumentId) {
        if let Some(d) = self.docs.get_mut(&doc) {
            d.released = true;
        }
        self.forget_if_released(doc);
    }

    /// (Client.) Drops `doc` at once — memory, unsaved changes, sync sessions, messages
    /// waiting for it — because the server says this organisation may no longer read it:
    /// nothing about it is persisted or sent after this, and late answers about it are ignored.
    pub fn forget(&mut self, doc: DocumentId) {
        self.docs.remove(&doc);
        for c in self.conns.values_mut() {
            if let Some(ConnDoc::Pending { queue, .. }) = c.docs.remove(&doc) {
                c.waiting_bytes -= queue.iter().map(waiting_size).sum::<usize>();
            }
        }
    }

    fn forget_if_released(&mut self, doc: DocumentId) {
        let idle = self.docs.get(&doc).is_some_and(|d| d.released && d.persisting == 0 && !d.unsaved && d.queued_bytes == 0);
        let checking = self.conns.values().any(|c| matches!(c.docs.get(&doc), Some(ConnDoc::Pending { .. })));
        if idle && !checking {
            self.docs.remove(&doc);
        }
    }

    pub fn doc(&self, id: DocumentId) -> Option<&AutoCommit> {
        self.docs.get(&id).map(|d| &d.doc)
    }

    /// For local edits; follow them with [`Event::Changed`].
    pub fn doc_mut(&mut self, id: DocumentId) -> Option<&mut AutoCommit> {
        self.docs.get_mut(&id).map(|d| &mut d.doc)
    }

    /// Whether the peer on `conn` has acknowledged every change of `doc` this node has.
    pub fn in_sync(&mut self, conn: ConnId, doc: DocumentId) -> bool {
        let Some(d) = self.docs.get_mut(&doc) else { return false };
        let heads = d.doc.get_heads();
        match self.conns.get(&conn).and_then(|c| c.docs.get(&doc)) {
            Some(ConnDoc::Allowed(state)) => {
                // Until the peer has said anything about the document, nothing is acknowledged.
                let Some(mut theirs) = state.their_heads.clone() else { return false };
                theirs.sort();
                let mut ours = heads;
                ours.sort();
                theirs == ours || (!ours.is_empty() && ours.iter().all(|h| state.shared_heads.contains(h)))
            }
            _ => false,
        }
    }

    /// The heads the peer on `conn` last said it has of `doc`: changes it has stored, if it
    /// is a server (see the module's durability rule).
    pub fn acknowledged(&self, conn: ConnId, doc: DocumentId) -> Vec<ChangeHash> {
        match self.conns.get(&conn).and_then(|c| c.docs.get(&doc)) {
            Some(ConnDoc::Allowed(state)) => state.their_heads.clone().unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns.keys().copied()
    }

    pub fn handle(&mut self, now_ms: u64, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        self.now_ms = now_ms;
        self.handling = match &event {
            Event::Authorized { doc, .. } | Event::Persisted { doc, .. } | Event::Open { doc, .. } | Event::Changed { doc } => Some(*doc),
            Event::Create { doc, .. } => Some(*doc),
            // Set once the message is decoded (see `doc_message`).
            Event::Received { .. } | Event::Connected { .. } | Event::Disconnected { .. } => None,
        };
        match event {
            Event::Connected { conn, account, org } => {
                self.conns.insert(
                    conn,
                    Conn { account, org, refusals: 0, remote: None, docs: BTreeMap::new(), waiting_bytes: 0, ephemeral_sessions: 0 },
                );
                if self.config.role == Role::Client {
                    let join = Message::Join {
                        sender_id: self.config.peer_id.clone(),
                        supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
                        peer_metadata: Some(self.config.metadata.clone()),
                    };
                    out.push(Action::Send { conn, bytes: join.encode() });
                }
            }
            Event::Received { conn, bytes } => match Message::decode(&bytes) {
                Ok(msg) => self.receive(conn, msg, &mut out),
                Err(e) => self.fail(conn, &format!("malformed message: {e}"), &mut out),
            },
            Event::Disconnected { conn } => self.forget_conn(conn),
            Event::Authorized { conn, doc, verdict } => self.authorized(conn, doc, verdict, &mut out),
            Event::Persisted { doc, generation, ok } => self.persisted(doc, generation, ok, &mut out),
            Event::Open { doc, chunks } => {
                match self.docs.get_mut(&doc) {
                    Some(d) => {
                        d.released = false;
                        // Chunks for a document in memory are what another tab of this device
                        // stored meanwhile: they are in storage already, only memory lacks them.
                        let before = d.doc.get_heads();
                        for chunk in &chunks {
                            let _ = d.doc.load_incremental(chunk);
                        }
                        if d.doc.get_heads() != before {
                            out.push(Action::Updated { doc });
                        }
                    }
                    None => {
                        let d = self.load(&chunks, Vec::new(), String::new());
                        self.docs.insert(doc, d);
                    }
                }
                let conns: Vec<(ConnId, bool)> =
                    self.conns.iter().filter(|(_, c)| c.remote.is_some()).map(|(id, c)| (*id, c.docs.contains_key(&doc))).collect();
                for (conn, syncing) in conns {
                    if !syncing {
                        // New here, or again after a `doc-unavailable`.
                        self.start_client_doc(conn, doc, &mut out);
                    } else if self.in_sync(conn, doc) {
                        // Opened again on a session that already agrees (say, it was released).
                        self.acknowledge(conn, doc, &mut out);
                    } else {
                        self.send_sync(conn, doc, &mut out);
                    }
                }
            }
            Event::Create { doc, content } => {
                let mut d = self.load(&[], Vec::new(), String::new());
                d.doc = content;
                self.docs.insert(doc, d);
                self.persist_changes(doc, false, &mut out);
                let conns: Vec<ConnId> = self.conns.iter().filter(|(_, c)| c.remote.is_some()).map(|(id, _)| *id).collect();
                for conn in conns {
                    self.start_client_doc(conn, doc, &mut out);
                }
            }
            Event::Changed { doc } => self.persist_changes(doc, false, &mut out),
        }
        self.enforce_memory_limit();
        out
    }

    fn receive(&mut self, conn: ConnId, msg: Message, out: &mut Vec<Action>) {
        let Some(c) = self.conns.get(&conn) else { return };
        let established = c.remote.is_some();
        match msg {
            Message::Join { sender_id, supported_protocol_versions, peer_metadata } => {
                if self.config.role != Role::Server || established {
                    return self.fail(conn, "unexpected join", out);
                }
                if !supported_protocol_versions.iter().any(|v| v == PROTOCOL_VERSION) {
                    return self.fail(conn, "unsupported protocol version", out);
                }
                let account = c.account.clone();
                // A peer id already connected: the same account reconnecting takes over (its old
                // socket is closed and its sync state starts afresh); anyone else is refused.
                let holder = self
                    .conns
                    .iter()
                    .find(|(id, other)| **id != conn && other.remote.as_ref().is_some_and(|(p, _)| *p == sender_id))
                    .map(|(id, other)| (*id, other.account.clone()));
                if let Some((old, owner)) = holder {
                    if owner != account {
                        return self.fail(conn, "peer id in use by another account", out);
                    }
                    self.forget_conn(old);
                    out.push(Action::Close { conn: old, reason: "replaced by a new connection with the same peer id".into() });
                }
                let reply = Message::Peer {
                    sender_id: self.config.peer_id.clone(),
                    target_id: sender_id.clone(),
                    selected_protocol_version: PROTOCOL_VERSION.into(),
                    peer_metadata: Some(self.config.metadata.clone()),
                };
                out.push(Action::Send { conn, bytes: reply.encode() });
                self.conns.get_mut(&conn).expect("checked").remote = Some((sender_id.clone(), peer_metadata.clone()));
                out.push(Action::Established { conn, peer: sender_id, metadata: peer_metadata });
            }
            Message::Peer { sender_id, selected_protocol_version, peer_metadata, .. } => {
                if self.config.role != Role::Client || established {
                    return self.fail(conn, "unexpected peer message", out);
                }
                if selected_protocol_version != PROTOCOL_VERSION {
                    return self.fail(conn, "unsupported protocol version", out);
                }
                self.conns.get_mut(&conn).expect("checked").remote = Some((sender_id.clone(), peer_metadata.clone()));
                out.push(Action::Established { conn, peer: sender_id, metadata: peer_metadata });
                let docs: Vec<DocumentId> = self.docs.keys().copied().collect();
                for doc in docs {
                    self.start_client_doc(conn, doc, out);
                }
            }
            Message::Error { message } => {
                self.forget_conn(conn);
                out.push(Action::Close { conn, reason: format!("the peer reported an error: {}", peer_text(&message)) });
            }
            Message::Leave { .. } => {
                self.forget_conn(conn);
                out.push(Action::Close { conn, reason: "the peer left".into() });
            }
            _ if !established => self.fail(conn, "a message before the handshake", out),
            Message::Gossip { .. } => {}
            Message::Request { ref document_id, .. }
            | Message::Sync { ref document_id, .. }
            | Message::Ephemeral { ref document_id, .. } => {
                let doc = *document_id;
                self.doc_message(conn, doc, msg, out);
            }
            Message::DocUnavailable { document_id, reason, .. } => {
                if self.config.role == Role::Client {
                    // Forget the session, so opening the document again (say, once it has been
                    // shared with us) asks afresh. The document itself stays: it may hold
                    // changes only this device has.
                    if let Some(c) = self.conns.get_mut(&conn)
                        && let Some(ConnDoc::Pending { queue, .. }) = c.docs.remove(&document_id)
                    {
                        c.waiting_bytes -= queue.iter().map(waiting_size).sum::<usize>();
                    }
                    out.push(Action::Unavailable { conn, doc: document_id, reason: reason.map(|r| peer_text(&r)) });
                }
            }
        }
    }

    /// Routes a message about one document through its access check.
    fn doc_message(&mut self, conn: ConnId, doc: DocumentId, msg: Message, out: &mut Vec<Action>) {
        self.handling = Some(doc);
        let role = self.config.role;
        self.clock += 1;
        let loaded = match self.docs.get_mut(&doc) {
            Some(d) => {
                d.last_used = self.clock;
                true
            }
            None => false,
        };
        let c = self.conns.get_mut(&conn).expect("caller checked");
        let tracked = c.docs.len();
        match c.docs.get_mut(&doc) {
            // Presence and the like is best effort: not kept while access is being checked.
            Some(ConnDoc::Pending { .. }) if matches!(msg, Message::Ephemeral { .. }) => {}
            Some(ConnDoc::Pending { queue, .. }) if queue.len() >= MAX_WAITING_MESSAGES => {
                self.refuse(conn, doc, &format!("too many messages about {doc} before its access check"), out)
            }
            Some(ConnDoc::Pending { .. }) if c.waiting_bytes + waiting_size(&msg) > MAX_WAITING_BYTES => {
                self.refuse(conn, doc, &format!("too much data waiting for access checks; {doc} is refused for now"), out)
            }
            Some(ConnDoc::Pending { queue, .. }) => {
                c.waiting_bytes += waiting_size(&msg);
                queue.push(msg);
            }
            Some(ConnDoc::Allowed(_)) if !loaded => {
                // Forgotten to save memory: load it again, keeping the session.
                let Some(ConnDoc::Allowed(state)) = c.docs.remove(&doc) else { unreachable!("matched above") };
                c.waiting_bytes += waiting_size(&msg);
                c.docs.insert(doc, ConnDoc::Pending { queue: vec![msg], loading: true, stale: false, state: Some(state) });
                out.push(Action::Authorize { conn, doc, create: false, load: true });
            }
            Some(ConnDoc::Allowed(_)) => self.apply(conn, doc, msg, out),
            None if tracked >= MAX_DOCS_PER_CONN => {
                self.fail(conn, &format!("more than {MAX_DOCS_PER_CONN} documents on one connection"), out)
            }
            None if role == Role::Client => {
                // A client only syncs what it opened; anything else is not announced to it.
                if loaded {
                    c.docs.insert(doc, ConnDoc::Allowed(Box::default()));
                    self.apply(conn, doc, msg, out);
                } else {
                    self.unavailable(conn, doc, &msg, out);
                }
            }
            None if c.waiting_bytes + waiting_size(&msg) > MAX_WAITING_BYTES => {
                self.refuse(conn, doc, &format!("too much data waiting for access checks; {doc} is refused for now"), out)
            }
            None => {
                let create = matches!(msg, Message::Sync { .. });
                c.waiting_bytes += waiting_size(&msg);
                c.docs.insert(doc, ConnDoc::Pending { queue: vec![msg], loading: !loaded, stale: false, state: None });
                out.push(Action::Authorize { conn, doc, create, load: !loaded });
            }
        }
    }

    fn authorized(&mut self, conn: ConnId, doc: DocumentId, verdict: Verdict, out: &mut Vec<Action>) {
        let loaded = self.docs.contains_key(&doc);
        let Some(c) = self.conns.get_mut(&conn) else { return };
        // An answer for a check no longer waited for (the document was refused meanwhile, or
        // is allowed already) changes nothing.
        if !matches!(c.docs.get(&doc), Some(ConnDoc::Pending { .. })) {
            return;
        }
        let Some(ConnDoc::Pending { queue, loading, stale, state }) = c.docs.remove(&doc) else { unreachable!("checked above") };
        c.waiting_bytes -= queue.iter().map(waiting_size).sum::<usize>();
        // Ask again if access changed meanwhile, or if the document was forgotten after the
        // check was asked for without loading it (its answer carries no content to use).
        let unloaded = matches!(verdict, Verdict::Allowed { .. }) && !loaded && !loading;
        if stale || unloaded {
            let create = queue.iter().any(|m| matches!(m, Message::Sync { .. }));
            c.waiting_bytes += queue.iter().map(waiting_size).sum::<usize>();
            c.docs.insert(doc, ConnDoc::Pending { queue, loading: !loaded, stale: false, state });
            out.push(Action::Authorize { conn, doc, create, load: !loaded });
            return;
        }
        let state = state.unwrap_or_default();
        match verdict {
            Verdict::Failed(reason) => self.refuse(conn, doc, &format!("could not check access to {doc}: {reason}; try again later"), out),
            Verdict::Refused(reason) => self.refuse(conn, doc, &reason, out),
            Verdict::Unavailable => {
                // Nothing waiting: the check was a recheck of a session in use (access ended).
                if queue.is_empty() {
                    self.tell_unavailable(conn, doc, out);
                }
                for msg in queue {
                    self.unavailable(conn, doc, &msg, out);
                }
                self.evict_if_unused(doc);
            }
            Verdict::Allowed { chunks, actors, owner } => {
                if !loaded {
                    let d = self.load(&chunks, actors, owner);
                    self.docs.insert(doc, d);
                }
                self.allow(conn, doc, queue, state, out);
            }
            Verdict::Created => {
                if !loaded {
                    let owner = self.conns.get(&conn).map(|c| c.org.clone()).unwrap_or_default();
                    let d = self.load(&[], Vec::new(), owner);
                    self.docs.insert(doc, d);
                }
                self.allow(conn, doc, queue, state, out);
            }
        }
    }

    fn allow(&mut self, conn: ConnId, doc: DocumentId, queue: Vec<Message>, state: Box<sync::State>, out: &mut Vec<Action>) {
        self.conns.get_mut(&conn).expect("checked").docs.insert(doc, ConnDoc::Allowed(state));
        for msg in queue {
            self.apply(conn, doc, msg, out);
        }
    }

    /// `doc-unavailable` for `doc`, unasked: the session ended on the server's side.
    fn tell_unavailable(&mut self, conn: ConnId, doc: DocumentId, out: &mut Vec<Action>) {
        if let Some(target) = self.remote(conn) {
            let reply =
                Message::DocUnavailable { sender_id: self.config.peer_id.clone(), target_id: target, document_id: doc, reason: None };
            out.push(Action::Send { conn, bytes: reply.encode() });
        }
    }

    /// The account on `conn` loses `doc` through the other side's step, before that step is
    /// stored: its session ends now (nothing of the step reaches it) and it is told so. Not
    /// [`Node::recheck_access`]: storage still says it may read until the step is stored.
    fn cut_off(&mut self, conn: ConnId, doc: DocumentId, out: &mut Vec<Action>) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        match c.docs.get_mut(&doc) {
            Some(ConnDoc::Pending { stale, .. }) => *stale = true,
            Some(ConnDoc::Allowed(_)) => {
                c.docs.remove(&doc);
                self.tell_unavailable(conn, doc, out);
            }
            None => {}
        }
    }

    /// Answers a message about a document this connection may not have.
    fn unavailable(&mut self, conn: ConnId, doc: DocumentId, msg: &Message, out: &mut Vec<Action>) {
        if matches!(msg, Message::Request { .. } | Message::Sync { .. }) {
            let Some(target) = self.remote(conn) else { return };
            let c = self.conns.get_mut(&conn).expect("remote() found it");
            c.refusals += 1;
            if c.refusals > MAX_REFUSALS_PER_CONN {
                return self.fail(conn, "too many requests for unavailable documents", out);
            }
            let reply =
                Message::DocUnavailable { sender_id: self.config.peer_id.clone(), target_id: target, document_id: doc, reason: None };
            out.push(Action::Send { conn, bytes: reply.encode() });
        }
    }

    /// Refuses one document on a connection, saying why, and keeps the connection and every
    /// other document's session: too large, bad sync data, too many waiting messages, or a
    /// storage failure concern that document alone. Its session on `conn` ends, so the next
    /// message about it is checked afresh (and the peer, told why, may offer it again later).
    fn refuse(&mut self, conn: ConnId, doc: DocumentId, reason: &str, out: &mut Vec<Action>) {
        let Some(target) = self.remote(conn) else { return self.fail(conn, reason, out) };
        let c = self.conns.get_mut(&conn).expect("remote() found it");
        if let Some(ConnDoc::Pending { queue, .. }) = c.docs.remove(&doc) {
            c.waiting_bytes -= queue.iter().map(waiting_size).sum::<usize>();
        }
        c.refusals += 1;
        if c.refusals > MAX_REFUSALS_PER_CONN {
            return self.fail(conn, "too many refused documents", out);
        }
        let reply = Message::DocUnavailable {
            sender_id: self.config.peer_id.clone(),
            target_id: target,
            document_id: doc,
            reason: Some(reason.into()),
        };
        out.push(Action::Send { conn, bytes: reply.encode() });
        out.push(Action::Refused { conn, doc, reason: reason.into() });
        self.evict_if_unused(doc);
    }

    /// Applies a message about a document this connection may use.
    fn apply(&mut self, conn: ConnId, doc: DocumentId, msg: Message, out: &mut Vec<Action>) {
        match msg {
            Message::Request { data, .. } | Message::Sync { data, .. } => {
                let max = self.config.max_doc_bytes;
                let server = self.config.role == Role::Server;
                let now = i64::try_from(self.now_ms).unwrap_or(i64::MAX);
                let Some(d) = self.docs.get_mut(&doc) else { return };
                let Some(c) = self.conns.get_mut(&conn) else { return };
                let (account, org) = (c.account.clone(), c.org.clone());
                let Some(ConnDoc::Allowed(state)) = c.docs.get_mut(&doc) else { return };
                let before = d.doc.get_heads();
                // (Server.) The step log before, to check the steps the message brings.
                let steps_before = (server && case::log::present(&d.doc)).then(|| case::admit::before(&d.doc));
                let mut carried_changes = false;
                let mut mixed_queue = false;
                let result = if d.stored_incremental + d.stored_snapshot + d.queued_bytes + data.len() > max {
                    Err(format!("document {doc} would exceed {max} bytes"))
                } else {
                    match sync::Message::decode(&data) {
                        Err(e) => Err(format!("bad sync data for {doc}: {e}")),
                        // Another account's changes wait for dependencies this message may
                        // bring: applied now, they would pass as this account's. Dropping the
                        // document (below) clears them; their sender offers them again.
                        Ok(parsed) if server && !parsed.changes.is_empty() && d.queued_by.as_ref().is_some_and(|by| *by != account) => {
                            mixed_queue = true;
                            Err(format!("{doc} is waiting for another device's missing changes; try again"))
                        }
                        Ok(parsed) => {
                            carried_changes = !parsed.changes.is_empty();
                            d.doc
                                .sync()
                                .receive_sync_message(state, parsed)
                                .map_err(|e| format!("sync data for {doc} could not be applied: {e}"))
                        }
                    }
                };
                let changed = d.doc.get_heads() != before;
                // Changes whose dependencies have not arrived wait in Automerge's memory until
                // they do: counted until the queue is empty, whatever else applied meanwhile.
                if carried_changes {
                    if d.doc.get_missing_deps(&[]).is_empty() {
                        d.queued_bytes = 0;
                        d.queued_by = None;
                    } else {
                        d.queued_bytes += data.len();
                        d.queued_by = Some(account.clone());
                    }
                }
                let result = match result {
                    Ok(()) if server && changed => bind_actors(d, &before, &account, doc),
                    other => other,
                };
                let mut steps = Vec::new();
                let result = match result {
                    Ok(()) if server && changed && (steps_before.is_some() || case::log::present(&d.doc)) => {
                        let by = case::admit::Sender { user: &account, org: &org, owner: &d.owner };
                        case::admit::admit(&mut d.doc, &steps_before.unwrap_or_default(), &before, by, &self.org_kinds, now)
                            .map(|admitted| {
                                steps = admitted;
                                // The receipts are the server's own change, made when it received them.
                                d.doc.commit_with(CommitOptions::default().with_time(now / 1000));
                            })
                            .map_err(|reason| format!("{doc}: {reason}; nothing of this message was applied"))
                    }
                    other => other,
                };
                match result {
                    // A message that failed part way may have applied some changes; memory then
                    // differs from storage, so the document is dropped and reloaded on next use.
                    Err(reason) if changed || mixed_queue => {
                        self.refuse(conn, doc, &reason, out);
                        self.drop_doc(doc, out);
                    }
                    Err(reason) => self.refuse(conn, doc, &reason, out),
                    Ok(()) => {
                        if changed && server {
                            let changes = self.docs.get_mut(&doc).map_or(0, |d| d.doc.get_changes(&before).len());
                            out.push(Action::Applied { conn, doc, changes, steps: std::mem::take(&mut steps) });
                        }
                        if changed {
                            self.persist_changes(doc, true, out);
                        } else {
                            self.send_sync(conn, doc, out);
                        }
                        if self.config.role == Role::Client && self.in_sync(conn, doc) {
                            self.acknowledge(conn, doc, out);
                        }
                    }
                }
            }
            Message::Ephemeral { sender_id: claimed, data, .. } if self.config.role == Role::Client => {
                // The server relays under the sender's joined peer id.
                out.push(Action::Ephemeral { doc, from: claimed, data });
            }
            Message::Ephemeral { count, session_id, document_id, data, .. } => {
                // Relayed under the sender's joined peer id, not whatever the message claims.
                let Some(sender_id) = self.remote(conn) else { return };
                if session_id.len() > MAX_SESSION_ID {
                    return;
                }
                let key = (conn, session_id.clone());
                match self.ephemeral_seen.get_mut(&key) {
                    Some(seen) if *seen >= count => return,
                    Some(seen) => *seen = count,
                    None => {
                        let Some(c) = self.conns.get_mut(&conn) else { return };
                        if c.ephemeral_sessions >= MAX_EPHEMERAL_SESSIONS {
                            return;
                        }
                        c.ephemeral_sessions += 1;
                        self.ephemeral_seen.insert(key, count);
                    }
                }
                let targets: Vec<(ConnId, PeerId)> = self
                    .conns
                    .iter()
                    .filter(|(id, c)| **id != conn && matches!(c.docs.get(&doc), Some(ConnDoc::Allowed(_))))
                    .filter_map(|(id, c)| c.remote.as_ref().map(|(p, _)| (*id, p.clone())))
                    .collect();
                for (target, peer) in targets {
                    let relay = Message::Ephemeral {
                        sender_id: sender_id.clone(),
                        target_id: peer,
                        count,
                        session_id: session_id.clone(),
                        document_id,
                        data: data.clone(),
                    };
                    out.push(Action::Send { conn: target, bytes: relay.encode() });
                }
            }
            _ => {}
        }
    }

    fn acknowledge(&mut self, conn: ConnId, doc: DocumentId, out: &mut Vec<Action>) {
        let Some(d) = self.docs.get_mut(&doc) else { return };
        let mut heads = d.doc.get_heads();
        heads.sort();
        out.push(Action::Acknowledged { conn, doc, heads });
    }

    /// Hands the document's unsaved changes to storage; peers hear of them once stored.
    fn persist_changes(&mut self, doc: DocumentId, remote: bool, out: &mut Vec<Action>) {
        let Some(d) = self.docs.get_mut(&doc) else { return };
        let bytes = d.doc.save_incremental();
        if bytes.is_empty() && !d.unsaved {
            return;
        }
        let chunk = if d.unsaved || d.stored_incremental + bytes.len() > d.stored_snapshot.max(COMPACTION_FLOOR) {
            let snapshot = Chunk::snapshot(d.doc.save(), std::mem::take(&mut d.folded));
            d.stored_snapshot = snapshot.bytes.len();
            d.stored_incremental = 0;
            d.unsaved = false;
            snapshot
        } else {
            d.stored_incremental += bytes.len();
            Chunk::incremental(bytes)
        };
        // Counted as folded even before it is stored: if the write fails, a later snapshot
        // (which holds it) deleting a key that is not there is harmless.
        d.folded.push(chunk.hash.clone());
        d.persisting += 1;
        d.remote_change |= remote;
        let actors = std::mem::take(&mut d.unbound);
        // (Server.) Stored access follows where the case stands now: the receiver it names may
        // read the record, one it no longer names may not. One that lost it through another's
        // step (a withdraw) stops hearing of the record now, before this change reaches it.
        let mut cut_off = None;
        if self.config.role == Role::Server
            && let Some(state) = case::admit::derived(&d.doc)
            && state.receiver != d.receiver
        {
            let was = std::mem::replace(&mut d.receiver, state.receiver.clone());
            let last_by = state.steps.iter().rev().find(|s| s.outcome == case::Outcome::Applied).map(|s| s.event.by_org.clone());
            if let Some(w) = was.filter(|o| *o != d.owner) {
                if last_by.as_ref() != Some(&w) {
                    cut_off = Some(w.clone());
                }
                d.access.revoke.push(w);
            }
            d.access.grant.extend(state.receiver.filter(|o| *o != d.owner));
        }
        let access = std::mem::take(&mut d.access);
        out.push(Action::Persist { doc, chunk, heads: d.doc.get_heads(), generation: d.generation, actors, access });
        if let Some(org) = cut_off {
            let conns: Vec<ConnId> = self.conns.iter().filter(|(_, c)| c.org == org).map(|(id, _)| *id).collect();
            for conn in conns {
                self.cut_off(conn, doc, out);
            }
        }
    }

    fn persisted(&mut self, doc: DocumentId, generation: u64, ok: bool, out: &mut Vec<Action>) {
        let Some(d) = self.docs.get_mut(&doc).filter(|d| d.generation == generation) else { return };
        d.persisting = d.persisting.saturating_sub(1);
        if !ok {
            match self.config.role {
                // The server must not keep acknowledging from memory what it could not store:
                // sessions on the document end and peers resend.
                Role::Server => return self.drop_doc(doc, out),
                // A browser keeps the change in memory (throwing it away would lose it) and
                // still offers it to the server, which may store it when this device cannot.
                // The caller retries with `Changed`, which writes a full snapshot.
                Role::Client => d.unsaved = true,
            }
        }
        if d.persisting > 0 {
            return;
        }
        if std::mem::take(&mut d.remote_change) {
            out.push(Action::Updated { doc });
        }
        let conns: Vec<ConnId> =
            self.conns.iter().filter(|(_, c)| matches!(c.docs.get(&doc), Some(ConnDoc::Allowed(_)))).map(|(id, _)| *id).collect();
        for conn in &conns {
            self.send_sync(*conn, doc, out);
        }
        self.evict_if_unused(doc);
        self.forget_if_released(doc);
    }

    /// Sends `conn` what it lacks of `doc`, unless a change is still on its way to storage.
    fn send_sync(&mut self, conn: ConnId, doc: DocumentId, out: &mut Vec<Action>) {
        let Some(d) = self.docs.get_mut(&doc) else { return };
        if d.persisting > 0 {
            return;
        }
        let Some(target) = self.conns.get(&conn).and_then(|c| c.remote.as_ref().map(|(p, _)| p.clone())) else { return };
        let Some(ConnDoc::Allowed(state)) = self.conns.get_mut(&conn).and_then(|c| c.docs.get_mut(&doc)) else { return };
        if let Some(msg) = d.doc.sync().generate_sync_message(state) {
            let wire = Message::Sync { sender_id: self.config.peer_id.clone(), target_id: target, document_id: doc, data: msg.encode() };
            out.push(Action::Send { conn, bytes: wire.encode() });
        }
    }

    /// A client starts syncing an opened document: `request` if it has nothing of it yet.
    fn start_client_doc(&mut self, conn: ConnId, doc: DocumentId, out: &mut Vec<Action>) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        let Some((target, _)) = c.remote.clone() else { return };
        c.docs.insert(doc, ConnDoc::Allowed(Box::default()));
        let Some(d) = self.docs.get_mut(&doc) else { return };
        if !d.doc.get_heads().is_empty() {
            return self.send_sync(conn, doc, out);
        }
        let Some(ConnDoc::Allowed(state)) = self.conns.get_mut(&conn).and_then(|c| c.docs.get_mut(&doc)) else { return };
        if let Some(msg) = d.doc.sync().generate_sync_message(state) {
            let wire = Message::Request { sender_id: self.config.peer_id.clone(), target_id: target, document_id: doc, data: msg.encode() };
            out.push(Action::Send { conn, bytes: wire.encode() });
        }
    }

    /// Forgets a document whose memory no longer matches storage, and ends every sync session
    /// on it, so peers resend what storage lacks when they reconnect.
    fn drop_doc(&mut self, doc: DocumentId, out: &mut Vec<Action>) {
        out.extend(self.drop_document(doc, &format!("a change to {doc} could not be stored; try again later")));
    }

    fn forget_conn(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else { return };
        self.ephemeral_seen.retain(|(c, _), _| *c != conn);
        for doc in c.docs.into_keys() {
            self.evict_if_unused(doc);
        }
    }

    /// Over the limit, a server forgets the least recently used documents that are idle: no
    /// write open, no changes waiting for missing dependencies (those live only in memory),
    /// and no access check that expects it loaded. Down to three quarters of the limit, so
    /// the sort runs rarely.
    fn enforce_memory_limit(&mut self) {
        if self.config.role != Role::Server || self.docs.len() <= self.max_loaded_docs {
            return;
        }
        let checking: std::collections::HashSet<DocumentId> = self
            .conns
            .values()
            .flat_map(|c| c.docs.iter().filter(|(_, d)| matches!(d, ConnDoc::Pending { .. })).map(|(id, _)| *id))
            .collect();
        let mut idle: Vec<(u64, DocumentId)> = self
            .docs
            .iter()
            .filter(|(id, d)| d.persisting == 0 && d.queued_bytes == 0 && !checking.contains(id))
            .map(|(id, d)| (d.last_used, *id))
            .collect();
        idle.sort_unstable();
        let excess = self.docs.len().saturating_sub(self.max_loaded_docs * 3 / 4);
        for (_, id) in idle.into_iter().take(excess) {
            self.docs.remove(&id);
        }
    }

    /// A server forgets a document no connection uses once its writes are done: memory then
    /// equals storage, and the next use loads it again. A client keeps what it opened.
    fn evict_if_unused(&mut self, doc: DocumentId) {
        if self.config.role != Role::Server {
            return;
        }
        let idle = self.docs.get(&doc).is_some_and(|d| d.persisting == 0);
        if idle && !self.conns.values().any(|c| c.docs.contains_key(&doc)) {
            self.docs.remove(&doc);
        }
    }

    /// A document from its stored chunks. A chunk Automerge cannot load is skipped rather
    /// than taking the document down, and left out of `folded`, so it stays in storage.
    fn load(&mut self, chunks: &[Vec<u8>], actors: Vec<(ActorId, String)>, owner: String) -> Doc {
        self.generations += 1;
        // `load_incremental` skips what it cannot parse without saying so: each chunk is first
        // parsed strictly on its own (`LoadOptions` fail on any partial load by default). Alone,
        // a chunk's changes may lack earlier ones they depend on (chunks come in any order):
        // that is no damage, Automerge queues them until the rest is loaded.
        let strict = || LoadOptions::new().on_partial_load(OnPartialLoad::Error).verification_mode(VerificationMode::DontCheck);
        let parses = |chunk: &[u8]| matches!(Automerge::load_with_options(chunk, strict()), Ok(_) | Err(AutomergeError::MissingDeps));
        let mut doc: Option<AutoCommit> = None;
        let mut size = 0;
        let mut folded = Vec::new();
        for chunk in chunks {
            let loaded = match doc.as_mut() {
                // The usual first chunk, a snapshot, is parsed once and becomes the document.
                None => match AutoCommit::load_with_options(chunk, strict()) {
                    Ok(d) => {
                        doc = Some(d);
                        true
                    }
                    Err(AutomergeError::MissingDeps) => {
                        let mut d = AutoCommit::new();
                        let ok = d.load_incremental(chunk).is_ok();
                        doc = Some(d);
                        ok
                    }
                    Err(_) => false,
                },
                Some(d) => parses(chunk) && d.load_incremental(chunk).is_ok(),
            };
            if loaded {
                size += chunk.len();
                folded.push(chunk_hash(chunk));
            }
        }
        let mut doc = doc.unwrap_or_default();
        let receiver = if self.config.role == Role::Server { case::admit::derived(&doc).and_then(|s| s.receiver) } else { None };
        // What was loaded is stored already: the next incremental save starts from here.
        let _ = doc.save_incremental();
        Doc {
            doc,
            generation: self.generations,
            last_used: self.clock,
            stored_incremental: size,
            stored_snapshot: 0,
            folded,
            queued_bytes: 0,
            queued_by: None,
            actors: actors.into_iter().collect(),
            unbound: Vec::new(),
            receiver,
            owner,
            access: AccessChanges::default(),
            persisting: 0,
            remote_change: false,
            unsaved: false,
            released: false,
        }
    }

    fn remote(&self, conn: ConnId) -> Option<PeerId> {
        self.conns.get(&conn)?.remote.as_ref().map(|(p, _)| p.clone())
    }

    /// Sends an `error` and closes: the answer to anything malformed or not allowed.
    fn fail(&mut self, conn: ConnId, reason: &str, out: &mut Vec<Action>) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        self.forget_conn(conn);
        out.push(Action::Send { conn, bytes: Message::Error { message: reason.into() }.encode() });
        out.push(Action::Close { conn, reason: reason.into() });
    }
}

/// What a message waiting for an access check costs in memory (its data plus a little).
fn waiting_size(msg: &Message) -> usize {
    64 + match msg {
        Message::Request { data, .. } | Message::Sync { data, .. } | Message::Ephemeral { data, .. } => data.len(),
        _ => 0,
    }
}

/// Text a peer sent, fit for a log line or a status: at most [`PEER_TEXT_CHARS`] characters,
/// quoted, with line breaks and control characters escaped, so that a peer cannot forge log
/// lines or flood them.
pub fn peer_text(text: &str) -> String {
    let mut chars = text.chars();
    let kept: String = chars.by_ref().take(PEER_TEXT_CHARS).collect();
    let more = if chars.next().is_some() { "…" } else { "" };
    format!("{kept:?}{more}")
}

/// See [`peer_text`].
pub const PEER_TEXT_CHARS: usize = 200;

/// (Server.) Binds the actors of the changes that arrived since `before` to `account`, the
/// sender's, unless one is bound to another account already: then nothing is bound and the
/// message is refused (the caller drops the document from memory, so nothing of it stays).
/// This is what makes "who wrote this change" a fact the server vouches for.
fn bind_actors(d: &mut Doc, before: &[ChangeHash], account: &str, doc: DocumentId) -> Result<(), String> {
    let mut new = Vec::new();
    for change in d.doc.get_changes_meta(before) {
        let actor = change.actor.into_owned();
        match d.actors.get(&actor) {
            Some(owner) if owner == account => {}
            Some(_) => {
                return Err(format!(
                    "{doc}: a change by Automerge actor {actor} was refused: that actor belongs to another account; nothing of this message was applied"
                ));
            }
            None if new.contains(&actor) => {}
            None => new.push(actor),
        }
    }
    for actor in new {
        d.actors.insert(actor.clone(), account.to_owned());
        d.unbound.push((actor, account.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_is_quoted_escaped_and_bounded() {
        assert_eq!(peer_text("bad doc"), r#""bad doc""#);
        // A forged log line stays on one line.
        assert_eq!(peer_text("x\nINFO signed in\u{1b}[0m"), r#""x\nINFO signed in\u{1b}[0m""#);
        let long = "长".repeat(5_000);
        let shown = peer_text(&long);
        assert_eq!(shown.chars().filter(|c| *c == '长').count(), PEER_TEXT_CHARS);
        assert!(shown.ends_with('…'));
    }
}

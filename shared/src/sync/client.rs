//! The browser's sync session with no I/O: every decision the app makes about syncing, in one
//! state machine that a test drives on a simulated network.
//!
//! The app's engine owns the socket, IndexedDB, timers, the clock and the HTTP calls; it hands
//! each happening to [`Client::handle`] (or a record call: [`Client::create`],
//! [`Client::update`], …) and carries out the returned [`Effect`]s in order. The client owns
//! the sync [`Node`] with the open records, and decides:
//!
//! - **what to push**: records whose heads the server has not acknowledged, plus those the
//!   change feed names, worked through with at most [`WINDOW`] in flight;
//! - **what is acknowledged or refused**, from the node's [`Action::Acknowledged`] and
//!   [`Action::Unavailable`] and from the feed's heads;
//! - **the feed checkpoint**: saved only when a whole round settled and no record of it failed
//!   to load, so a record is never skipped by the next round;
//! - **when to connect**: after a token check, with exponential backoff and jitter;
//! - **what stays in memory**: records no page holds are released once stored;
//! - **when the app may reload** (sign-in, sign-out): only once every write handed out has
//!   been answered, so nothing typed is lost to a reload.
//!
//! It never scans every record per event: per-record bookkeeping only, so a device with ten
//! thousand records stays linear.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::{AutoCommit, ChangeHash};

use super::node::{Action, Chunk, ConnId, Event, Node, NodeConfig, Role, Verdict};
use super::wire::{PeerId, PeerMetadata};
use crate::api::Feed;
use crate::record::{Author, sorted_heads};
use crate::{DocumentId, Record, RecordMeta, RecordSummary};

/// Records a sync round has handed to the node and not yet seen acknowledged or refused.
/// Enough to keep the socket busy; few enough that memory stays small.
pub const WINDOW: usize = 64;
/// A failed write is tried again after this long (storage may be full for a moment).
pub const WRITE_RETRY_MS: u32 = 3_000;
/// The largest document a client accepts from the server.
const MAX_DOC_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStatus {
    SignedOut,
    SessionExpired,
    Offline,
    Connecting,
    /// A round is under way: `done` of `total` records settled.
    Syncing {
        done: usize,
        total: usize,
    },
    UpToDate {
        at: i64,
    },
    Error(String),
}

/// What the client starts from: the signed-in session (if any) and what this device holds.
pub struct ClientConfig {
    pub peer_id: PeerId,
    /// The signed-in organisation; `None` when signed out (nothing connects).
    pub org: Option<String>,
    /// Written into every change made through [`Client::update`].
    pub author: Option<Author>,
    /// The feed position the last complete round reached.
    pub checkpoint: i64,
    /// Every record's stored summary on this device.
    pub records: Vec<RecordSummary>,
    /// Heads the server acknowledged, per record, as stored.
    pub acked: HashMap<DocumentId, Vec<String>>,
    pub online: bool,
    /// Seeds the reconnect jitter (random bytes from the caller: this crate has no randomness).
    pub seed: u64,
}

/// Something that happened, for [`Client::handle`].
#[derive(Debug)]
pub enum Input {
    Online,
    Offline,
    /// The tab became visible: a socket that died while it slept is noticed at once.
    Visible,
    /// The reconnect timer set by [`Effect::ConnectIn`] fired.
    RetryConnect,
    /// The token check or the socket for [`Effect::Connect`] failed before it opened.
    ConnectFailed {
        conn: ConnId,
        unauthorized: bool,
        reason: String,
    },
    SocketOpened {
        conn: ConnId,
    },
    Frame {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    SocketClosed {
        conn: ConnId,
    },
    /// The answer to [`Effect::Persist`]: `heads` are those of the summary written with it.
    Stored {
        doc: DocumentId,
        generation: u64,
        ok: bool,
        heads: Option<Vec<String>>,
    },
    /// The answer to [`Effect::Load`]: the stored chunks (empty if none), or why not.
    Loaded {
        doc: DocumentId,
        result: Result<Vec<Vec<u8>>, String>,
    },
    /// The answer to [`Effect::LoadForPeer`].
    LoadedForPeer {
        conn: ConnId,
        doc: DocumentId,
        result: Result<Vec<Vec<u8>>, String>,
    },
    /// The answer to [`Effect::FetchFeed`].
    Feed {
        result: Result<Feed, FeedError>,
    },
    /// The timer set by [`Effect::RetryWriteIn`] fired.
    RetryWrite {
        doc: DocumentId,
    },
    /// Every few seconds: a round that made no progress asks the feed, whose heads settle
    /// records the sync protocol left looking unacknowledged.
    StallCheck,
    /// Every half minute while connected: records shared with us meanwhile.
    Poll,
    /// Another tab of this device stored a change of `summary.id`.
    StoredElsewhere {
        summary: RecordSummary,
    },
    /// The answer to [`Effect::LoadForMerge`].
    LoadedForMerge {
        doc: DocumentId,
        chunks: Vec<Vec<u8>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError {
    Unauthorized,
    Other(String),
}

/// What the caller does, in order.
// `Persist` carries a summary; effects are moved once into the caller, so boxing it would be
// an allocation per write for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Check the token, then open a socket; report [`Input::SocketOpened`] or
    /// [`Input::ConnectFailed`] with this `conn`.
    Connect {
        conn: ConnId,
    },
    /// Send on the socket of `conn` (only that one: a frame for a replaced connection would
    /// confuse the server's session).
    Send {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    CloseSocket {
        conn: ConnId,
    },
    /// Report [`Input::RetryConnect`] after this long (replacing any timer set before).
    ConnectIn {
        ms: u32,
    },
    /// Write this chunk (deleting what it replaces) with the record's new summary, if it is a
    /// liaison record, in one transaction; then report [`Input::Stored`].
    Persist {
        doc: DocumentId,
        chunk: Chunk,
        summary: Option<RecordSummary>,
        generation: u64,
    },
    /// The server holds these heads of `doc`: store them (relaxed; the feed says it again).
    Acked {
        doc: DocumentId,
        heads: Vec<String>,
    },
    /// The server refused `doc` on this connection: missing there or not ours (`reason` none),
    /// or refused for this record alone with a reason to show on it (too large, bad data, the
    /// server's storage failed). Every other record goes on syncing.
    Refused {
        doc: DocumentId,
        reason: Option<String>,
    },
    /// The server says this organisation may no longer read `doc` (a share withdrawn, a case
    /// returned or withdrawn): delete every trace of it from this device — chunks, summary,
    /// attachments. The session has dropped it already; nothing about it comes after this.
    Forget {
        doc: DocumentId,
    },
    /// Another device's presence on `doc` (ephemeral: shown, never stored).
    Presence {
        doc: DocumentId,
        from: String,
        data: Vec<u8>,
    },
    /// Read what is stored of `doc` for syncing; report [`Input::Loaded`].
    Load {
        doc: DocumentId,
    },
    /// A message about a released record arrived: read it; report [`Input::LoadedForPeer`].
    LoadForPeer {
        conn: ConnId,
        doc: DocumentId,
    },
    /// Read what is stored of a record in memory that another tab changed; report
    /// [`Input::LoadedForMerge`].
    LoadForMerge {
        doc: DocumentId,
    },
    /// A record could not be read from storage; it stays as it is stored, unsynced.
    LoadFailed {
        doc: DocumentId,
        reason: String,
    },
    /// Ask the change feed from `since`; report [`Input::Feed`].
    FetchFeed {
        since: i64,
    },
    /// Every record up to this feed position is settled: keep it for the next start.
    SaveCheckpoint {
        seq: i64,
    },
    /// A record's content or sync state changed; `remote` when someone else changed it.
    Updated {
        doc: DocumentId,
        remote: bool,
    },
    /// Summaries or sync states changed (the caller may batch these).
    ListChanged,
    Status(SyncStatus),
    /// Records are on the server: their attachments may go now.
    Upload,
    /// Report [`Input::RetryWrite`] after this long.
    RetryWriteIn {
        doc: DocumentId,
        ms: u32,
    },
    /// Every write is answered: the reload asked for by [`Client::request_reload`] may happen.
    Reload,
}

/// The client's half of the lazily loaded sync code as an object: the app calls it only
/// through this trait, so none of it (nor Automerge) is in the app's first download.
pub trait SyncCore {
    fn start(&mut self, now: i64) -> Vec<Effect>;
    fn handle(&mut self, now: i64, input: Input) -> Vec<Effect>;
    fn create(&mut self, now: i64, id: DocumentId, meta: &RecordMeta) -> Vec<Effect>;
    fn open(&mut self, now: i64, id: DocumentId, chunks: Vec<Vec<u8>>) -> Vec<Effect>;
    fn close(&mut self, now: i64, id: DocumentId) -> Vec<Effect>;
    fn is_loaded(&self, id: DocumentId) -> bool;
    fn with_record(&mut self, id: DocumentId, f: &mut dyn FnMut(&mut Record)) -> Result<(), String>;
    fn update(
        &mut self,
        now: i64,
        id: DocumentId,
        change: &mut dyn FnMut(&mut Record) -> Result<(), String>,
    ) -> Result<Vec<Effect>, String>;
    fn request_reload(&mut self) -> Vec<Effect>;
    fn broadcast(&mut self, id: DocumentId, data: Vec<u8>) -> Vec<Effect>;
    fn summarise(&mut self, id: DocumentId, chunks: &[Vec<u8>]) -> Option<RecordSummary>;
}

pub struct Client {
    node: Node,
    org: Option<String>,
    author: Option<Author>,
    link: Link,
    next_conn: u64,
    online: bool,
    expired: bool,
    /// Reconnect attempts since the last handshake (sets the backoff).
    attempt: u32,
    retry_pending: bool,
    rng: u64,
    /// Heads and storing organisation of every record on this device.
    known: HashMap<DocumentId, Known>,
    acked: HashMap<DocumentId, Vec<String>>,
    refused: HashSet<DocumentId>,
    /// Records forgotten (see [`Effect::Forget`]) in this session: late answers about them
    /// are ignored. One the feed names again was shared again.
    gone: HashSet<DocumentId>,
    /// Records a page has open (with how many holders): kept in memory.
    held: HashMap<DocumentId, u32>,
    /// Heads at which each document in memory last read as a record (its meta checked): read
    /// again only after they moved under it (a merge), not on every look at an open record.
    checked: HashMap<DocumentId, Vec<ChangeHash>>,
    /// What the node's slot holds while a [`Record`] view has the document: kept, because a
    /// new `AutoCommit` draws a random actor id and allocates, several times per keystroke.
    spare: Option<AutoCommit>,
    round: Round,
    discovery: Discovery,
    checkpoint: i64,
    /// Writes handed out and not yet answered.
    unsaved: usize,
    reload_wanted: bool,
    status: Option<SyncStatus>,
    now: i64,
    out: Vec<Effect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Down,
    /// [`Effect::Connect`] is being carried out.
    Connecting(ConnId),
    Up(ConnId),
}

struct Known {
    heads: Vec<String>,
    org: Option<String>,
}

/// One pass over what needs syncing: the records the server has not acknowledged and those
/// the feed says changed.
#[derive(Default)]
struct Round {
    queue: VecDeque<DocumentId>,
    in_flight: HashSet<DocumentId>,
    /// `queue` ∪ `in_flight`.
    members: HashSet<DocumentId>,
    total: usize,
    done: usize,
    /// `done` when the stall check last looked.
    done_at_check: usize,
    /// A record could not be read from storage: the feed checkpoint must not move past it.
    failed: bool,
    /// The feed position this round's discovery reached, saved once the round is done.
    feed_seq: Option<i64>,
}

#[derive(Default)]
struct Discovery {
    running: bool,
    /// Asked for while running: runs again after.
    again: bool,
}

impl Client {
    pub fn new(config: ClientConfig) -> Client {
        Client {
            node: Node::new(NodeConfig {
                peer_id: config.peer_id,
                metadata: PeerMetadata { storage_id: None, is_ephemeral: false },
                role: Role::Client,
                max_doc_bytes: MAX_DOC_BYTES,
            }),
            org: config.org,
            author: config.author,
            link: Link::Down,
            next_conn: 0,
            online: config.online,
            expired: false,
            attempt: 0,
            retry_pending: false,
            rng: config.seed | 1,
            known: config.records.into_iter().map(|s| (s.id, Known { heads: s.heads, org: s.org })).collect(),
            acked: config.acked,
            refused: HashSet::new(),
            gone: HashSet::new(),
            held: HashMap::new(),
            checked: HashMap::new(),
            spare: None,
            round: Round::default(),
            discovery: Discovery::default(),
            checkpoint: config.checkpoint,
            unsaved: 0,
            reload_wanted: false,
            status: None,
            now: 0,
            out: Vec::new(),
        }
    }

    /// The first effects: connect if signed in and online, or say why not.
    pub fn start(&mut self, now: i64) -> Vec<Effect> {
        self.now = now;
        self.connect();
        self.take()
    }

    pub fn handle(&mut self, now: i64, input: Input) -> Vec<Effect> {
        self.now = now;
        match input {
            Input::Online => {
                self.online = true;
                self.attempt = 0;
                self.connect();
            }
            Input::Offline => {
                self.online = false;
                self.disconnect();
                self.set_status(SyncStatus::Offline);
            }
            Input::Visible => {
                if self.link == Link::Down {
                    self.attempt = 0;
                    self.connect();
                }
            }
            Input::RetryConnect => {
                self.retry_pending = false;
                self.connect();
            }
            Input::ConnectFailed { conn, unauthorized, reason } => {
                if self.link == Link::Connecting(conn) {
                    self.link = Link::Down;
                    if unauthorized {
                        self.expired = true;
                        self.set_status(SyncStatus::SessionExpired);
                    } else {
                        self.set_status(SyncStatus::Error(reason));
                        self.schedule_reconnect();
                    }
                }
            }
            Input::SocketOpened { conn } => {
                if self.link == Link::Connecting(conn) {
                    self.link = Link::Up(conn);
                    let actions = self.node.handle(0, Event::Connected { conn, account: String::new(), org: String::new() });
                    self.run(actions);
                }
            }
            Input::Frame { conn, bytes } => {
                if self.link == Link::Up(conn) {
                    let actions = self.node.handle(0, Event::Received { conn, bytes });
                    self.run(actions);
                }
            }
            Input::SocketClosed { conn } => {
                if matches!(self.link, Link::Up(c) | Link::Connecting(c) if c == conn) {
                    self.lose_link(conn);
                    if !matches!(self.status, Some(SyncStatus::Error(_))) {
                        self.set_status(if self.online { SyncStatus::Connecting } else { SyncStatus::Offline });
                    }
                    self.schedule_reconnect();
                }
            }
            Input::Stored { doc, generation, ok, heads } => self.stored(doc, generation, ok, heads),
            Input::Loaded { doc, result } => self.loaded(doc, result),
            Input::LoadedForPeer { conn, doc, result } => {
                let verdict = match result {
                    Ok(chunks) => Verdict::Allowed { chunks, actors: Vec::new(), owner: String::new() },
                    Err(e) => Verdict::Failed(e),
                };
                let actions = self.node.handle(0, Event::Authorized { conn, doc, verdict });
                self.run(actions);
                self.release_if_idle(doc);
            }
            Input::Feed { result } => self.feed(result),
            Input::RetryWrite { doc } => {
                let actions = self.node.handle(0, Event::Changed { doc });
                self.run(actions);
            }
            Input::StallCheck => self.check_stalled(),
            Input::Poll => {
                if matches!(self.link, Link::Up(_)) {
                    self.discover();
                }
            }
            Input::StoredElsewhere { summary } => {
                let doc = summary.id;
                self.known.insert(doc, Known { heads: summary.heads, org: summary.org });
                if self.node.doc(doc).is_some() {
                    self.out.push(Effect::LoadForMerge { doc });
                }
                self.out.push(Effect::ListChanged);
            }
            Input::LoadedForMerge { doc, chunks } => {
                // Merged only into a copy still in memory; a released one reloads from storage.
                if self.node.doc(doc).is_some() {
                    let actions = self.node.handle(0, Event::Open { doc, chunks });
                    self.run(actions);
                    self.release_if_idle(doc);
                }
            }
        }
        self.take()
    }

    // ----- records -----

    /// Creates a record (stored first, then offered to the server).
    pub fn create(&mut self, now: i64, id: DocumentId, meta: &RecordMeta) -> Vec<Effect> {
        self.now = now;
        let record = Record::create(id, meta);
        let actions = self.node.handle(0, Event::Create { doc: id, content: record.into_doc() });
        self.run(actions);
        self.enqueue(id);
        self.pump();
        self.take()
    }

    /// A page shows record `id` (`chunks`: what is stored of it, if it is not in memory): it
    /// stays in memory until the page calls [`Client::close`]. Whether it reads as a record
    /// is for [`Client::with_record`] to say.
    pub fn open(&mut self, now: i64, id: DocumentId, chunks: Vec<Vec<u8>>) -> Vec<Effect> {
        self.now = now;
        *self.held.entry(id).or_default() += 1;
        // Also when it is in memory already: a release asked for meanwhile is called off.
        let actions = self.node.handle(0, Event::Open { doc: id, chunks });
        self.run(actions);
        self.take()
    }

    /// A page no longer shows the record: it may leave memory once stored.
    pub fn close(&mut self, now: i64, id: DocumentId) -> Vec<Effect> {
        self.now = now;
        self.unhold(id);
        self.take()
    }

    fn unhold(&mut self, id: DocumentId) {
        if let Some(n) = self.held.get_mut(&id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.held.remove(&id);
                self.release_if_idle(id);
            }
        }
    }

    pub fn is_loaded(&self, id: DocumentId) -> bool {
        self.node.doc(id).is_some()
    }

    /// A stored record's summary made again by this version (see `RecordSummary::outdated`):
    /// from the copy in memory if there is one, else from `chunks` read apart from the node, so
    /// reading it neither syncs it nor keeps it (a record stored under another organisation's
    /// session must not reach the server under this one's). `org` is left unset: the caller
    /// keeps the one it stored the record under.
    pub fn summarise(&mut self, id: DocumentId, chunks: &[Vec<u8>]) -> Option<RecordSummary> {
        if self.is_loaded(id) {
            let mut summary = None;
            let _ = self.with_record(id, &mut |r| summary = r.summary().ok());
            return summary;
        }
        let mut doc = automerge::AutoCommit::new();
        for chunk in chunks {
            // A damaged chunk is left out, as when the record is opened.
            let _ = doc.load_incremental(chunk);
        }
        Record::from_doc(id, doc).ok()?.summary().ok()
    }

    /// Runs `f` on a record in memory.
    pub fn with_record(&mut self, id: DocumentId, f: &mut dyn FnMut(&mut Record)) -> Result<(), String> {
        let slot = self.node.doc_mut(id).ok_or_else(|| "not open".to_owned())?;
        let heads = slot.get_heads();
        let checked = self.checked.get(&id) == Some(&heads);
        // The node owns the document; lend it to a `Record` view and put it back.
        let doc = std::mem::replace(slot, self.spare.take().unwrap_or_default());
        let wrapped = if checked { Ok(Record::wrap_checked(id, doc)) } else { Record::try_wrap(id, doc) };
        match wrapped {
            Ok(mut record) => {
                f(&mut record);
                self.spare = Some(std::mem::replace(slot, record.into_doc()));
                // Changes made through a `Record` keep it a record: the heads after them
                // count as checked.
                self.checked.insert(id, slot.get_heads());
                Ok(())
            }
            Err((e, doc)) => {
                self.spare = Some(std::mem::replace(slot, doc));
                self.checked.remove(&id);
                Err(e.to_string())
            }
        }
    }

    /// Any change to a record, signed with the signed-in person, stored like an edit. A change
    /// that fails is rolled back and nothing is stored.
    pub fn update(
        &mut self,
        now: i64,
        id: DocumentId,
        change: &mut dyn FnMut(&mut Record) -> Result<(), String>,
    ) -> Result<Vec<Effect>, String> {
        self.now = now;
        let author = self.author.clone();
        let mut result = Ok(());
        self.with_record(id, &mut |r| {
            if let Some(author) = author.clone() {
                r.set_author(author);
            }
            result = change(r);
            if result.is_err() {
                // Records commit only on success: whatever a failed change did is undone.
                r.doc_mut().rollback();
            }
        })?;
        result?;
        let actions = self.node.handle(0, Event::Changed { doc: id });
        self.run(actions);
        if !self.round.members.contains(&id) {
            self.enqueue(id);
            self.pump();
        }
        Ok(self.take())
    }

    /// The app wants to reload (a new sign-in, a sign-out): [`Effect::Reload`] comes once no
    /// write is outstanding — now, or when the last one is answered.
    pub fn request_reload(&mut self) -> Vec<Effect> {
        self.reload_wanted = true;
        self.disconnect();
        self.maybe_reload();
        self.take()
    }

    /// Tells the other devices that have `doc` open that this one does, and where (presence);
    /// nothing while offline.
    pub fn broadcast(&mut self, id: DocumentId, data: Vec<u8>) -> Vec<Effect> {
        let actions = self.node.broadcast(id, data);
        self.run(actions);
        self.take()
    }

    /// Writes handed out with [`Effect::Persist`] and not yet answered.
    pub fn unsaved(&self) -> usize {
        self.unsaved
    }

    /// Records in the node's memory (those open on a page, or syncing now).
    pub fn loaded_docs(&self) -> usize {
        self.node.loaded_docs()
    }

    // ----- the node -----

    fn run(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { conn, bytes } => {
                    if self.link == Link::Up(conn) {
                        self.out.push(Effect::Send { conn, bytes });
                    }
                }
                Action::Close { conn, reason } => {
                    if self.link == Link::Up(conn) {
                        self.out.push(Effect::CloseSocket { conn });
                        self.lose_link(conn);
                        self.set_status(SyncStatus::Error(reason));
                        self.schedule_reconnect();
                    }
                }
                Action::Persist { doc, chunk, generation, .. } => {
                    let org = self.org.clone();
                    let mut summary = None;
                    // A document that is not a liaison record is stored but not listed.
                    let _ = self.with_record(doc, &mut |r| {
                        summary = r.summary().ok().map(|s| RecordSummary { org: org.clone(), ..s });
                    });
                    self.unsaved += 1;
                    self.out.push(Effect::Persist { doc, chunk, summary, generation });
                }
                Action::Updated { doc } => self.out.push(Effect::Updated { doc, remote: true }),
                Action::Acknowledged { doc, heads, .. } => {
                    self.acked_now(doc, sorted_heads(&heads));
                    self.settled(doc);
                }
                Action::Unavailable { doc, reason, .. } => {
                    // Not in sync and not waiting either: asked again when the feed names it
                    // (say, once it is shared again) or on the next round. The record stays as
                    // it is stored here, unsaved changes and all.
                    // Refused outside a round (the server withdrew it from an open session):
                    // the feed says at once whether access ended, so the record leaves this
                    // device now rather than at the next poll.
                    let live = reason.is_none() && !self.round.members.contains(&doc);
                    self.refused.insert(doc);
                    self.out.push(Effect::Refused { doc, reason });
                    self.settled(doc);
                    if live {
                        self.discover();
                    }
                }
                Action::Refused { .. } | Action::Applied { .. } => {}
                Action::Ephemeral { doc, from, data } => self.out.push(Effect::Presence { doc, from: from.0, data }),
                Action::Established { .. } => {
                    self.attempt = 0;
                    self.discover();
                }
                // A message about a record released from memory: load it again.
                Action::Authorize { conn, doc, .. } => self.out.push(Effect::LoadForPeer { conn, doc }),
            }
        }
    }

    fn stored(&mut self, doc: DocumentId, generation: u64, ok: bool, heads: Option<Vec<String>>) {
        self.unsaved = self.unsaved.saturating_sub(1);
        if self.gone.contains(&doc) {
            return self.maybe_reload();
        }
        if ok && let Some(heads) = heads {
            let org = self.org.clone();
            self.known.insert(doc, Known { heads, org });
        }
        let actions = self.node.handle(0, Event::Persisted { doc, generation, ok });
        self.run(actions);
        if !ok {
            // The node keeps the change and writes a full snapshot on the next `Changed`.
            self.out.push(Effect::RetryWriteIn { doc, ms: WRITE_RETRY_MS });
        }
        self.out.push(Effect::Updated { doc, remote: false });
        self.out.push(Effect::ListChanged);
        self.release_if_idle(doc);
        self.maybe_reload();
    }

    fn acked_now(&mut self, doc: DocumentId, heads: Vec<String>) {
        self.refused.remove(&doc);
        if self.acked.get(&doc) != Some(&heads) {
            self.acked.insert(doc, heads.clone());
            self.out.push(Effect::Acked { doc, heads });
        }
    }

    // ----- connection -----

    fn connect(&mut self) {
        if self.link != Link::Down || self.reload_wanted {
            return;
        }
        if self.org.is_none() {
            return self.set_status(SyncStatus::SignedOut);
        }
        if self.expired {
            return self.set_status(SyncStatus::SessionExpired);
        }
        if !self.online {
            return self.set_status(SyncStatus::Offline);
        }
        self.retry_pending = false;
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        self.link = Link::Connecting(conn);
        self.set_status(SyncStatus::Connecting);
        self.out.push(Effect::Connect { conn });
    }

    fn disconnect(&mut self) {
        match self.link {
            Link::Up(conn) | Link::Connecting(conn) => {
                self.out.push(Effect::CloseSocket { conn });
                self.lose_link(conn);
            }
            Link::Down => {}
        }
    }

    /// The connection is gone: what was in flight waits for the next one.
    fn lose_link(&mut self, conn: ConnId) {
        if matches!(self.link, Link::Up(_)) {
            let actions = self.node.handle(0, Event::Disconnected { conn });
            self.run(actions);
        }
        self.link = Link::Down;
        self.discovery = Discovery::default();
        let in_flight: Vec<DocumentId> = std::mem::take(&mut self.round).in_flight.into_iter().collect();
        for doc in in_flight {
            self.release_if_idle(doc);
        }
    }

    /// Tries again after 1 s, 2 s, 4 s … up to a minute, each with ±50 % jitter so that a
    /// township's phones do not all reconnect at the same moment.
    fn schedule_reconnect(&mut self) {
        if self.org.is_none() || self.expired || self.retry_pending || self.reload_wanted {
            return;
        }
        self.attempt = (self.attempt + 1).min(6);
        let base = (1000u64 << (self.attempt - 1)).min(60_000);
        let ms = (base as f64 * (0.5 + self.jitter())) as u32;
        self.retry_pending = true;
        self.out.push(Effect::ConnectIn { ms });
    }

    /// In [0, 1): xorshift64 over the caller's seed.
    fn jitter(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    fn maybe_reload(&mut self) {
        if self.reload_wanted && self.unsaved == 0 {
            self.reload_wanted = false;
            self.out.push(Effect::Reload);
        }
    }

    // ----- discovery and rounds -----

    /// After connecting (and every so often): push what the server has not acknowledged, pull
    /// what the feed says changed. One discovery at a time; asking during one runs another
    /// after it.
    fn discover(&mut self) {
        if self.discovery.running {
            self.discovery.again = true;
            return;
        }
        self.discovery.running = true;
        let unacked: Vec<DocumentId> =
            self.known.iter().filter(|(id, k)| self.visible(k) && self.acked.get(id) != Some(&k.heads)).map(|(id, _)| *id).collect();
        for id in unacked {
            self.enqueue(id);
        }
        self.pump();
        self.out.push(Effect::FetchFeed { since: self.checkpoint });
    }

    fn feed(&mut self, result: Result<Feed, FeedError>) {
        if !self.discovery.running || !matches!(self.link, Link::Up(_)) {
            return;
        }
        let feed = match result {
            Ok(feed) => feed,
            Err(FeedError::Unauthorized) => {
                self.expired = true;
                self.disconnect();
                return self.set_status(SyncStatus::SessionExpired);
            }
            // The round goes on without it; the checkpoint stays, and the stall check or the
            // next poll asks again.
            Err(FeedError::Other(_)) => return self.discovery_done(),
        };
        for id in feed.gone.iter().filter_map(|g| g.parse::<DocumentId>().ok()) {
            self.forget(id);
        }
        for entry in &feed.docs {
            let Ok(id) = entry.id.parse::<DocumentId>() else { continue };
            self.gone.remove(&id);
            let ours = match self.node.doc_mut(id) {
                Some(d) => Some(sorted_heads(&d.get_heads())),
                None => self.known.get(&id).map(|k| k.heads.clone()),
            };
            if ours.as_ref() == Some(&entry.heads) {
                // The server has exactly what we have: acknowledged, whatever the sync session
                // last said.
                self.acked_now(id, entry.heads.clone());
                if self.round.members.contains(&id) {
                    self.settled(id);
                }
            } else if self.round.in_flight.contains(&id) {
                // In flight and still different: ask the node to offer it again (once it is
                // loaded; until then its start is still on its way).
                if self.node.doc(id).is_some() {
                    let actions = self.node.handle(0, Event::Open { doc: id, chunks: Vec::new() });
                    self.run(actions);
                }
            } else {
                self.enqueue(id);
            }
        }
        self.pump();
        self.out.push(Effect::ListChanged);
        if feed.more {
            self.out.push(Effect::FetchFeed { since: feed.last_seq });
            return;
        }
        self.round.feed_seq = Some(feed.last_seq);
        self.discovery_done();
    }

    /// Drops a record this organisation may no longer read, and asks the caller to delete it.
    fn forget(&mut self, doc: DocumentId) {
        if self.known.remove(&doc).is_none() && self.node.doc(doc).is_none() {
            return;
        }
        self.node.forget(doc);
        self.acked.remove(&doc);
        self.refused.remove(&doc);
        self.checked.remove(&doc);
        if self.round.members.remove(&doc) {
            self.round.queue.retain(|d| *d != doc);
            self.round.in_flight.remove(&doc);
            self.round.done += 1;
        }
        self.gone.insert(doc);
        self.out.push(Effect::Forget { doc });
        self.out.push(Effect::Updated { doc, remote: true });
        self.out.push(Effect::ListChanged);
    }

    fn discovery_done(&mut self) {
        self.discovery.running = false;
        if std::mem::take(&mut self.discovery.again) {
            return self.discover();
        }
        self.refresh_status();
        // Attachments go once their records are on the server; the rest wait.
        self.out.push(Effect::Upload);
    }

    fn enqueue(&mut self, id: DocumentId) {
        if !matches!(self.link, Link::Up(_)) {
            return;
        }
        if self.round.members.insert(id) {
            self.round.queue.push_back(id);
            self.round.total += 1;
        }
    }

    /// Hands queued records to the node while fewer than [`WINDOW`] are in flight.
    fn pump(&mut self) {
        while self.round.in_flight.len() < WINDOW {
            let Some(id) = self.round.queue.pop_front() else { break };
            // Entries settled while they waited (by the feed) are skipped here.
            if !self.round.members.contains(&id) || !self.round.in_flight.insert(id) {
                continue;
            }
            if self.node.doc(id).is_some() {
                self.start_sync(id, Vec::new());
            } else {
                self.out.push(Effect::Load { doc: id });
            }
        }
        self.refresh_status();
    }

    fn loaded(&mut self, doc: DocumentId, result: Result<Vec<Vec<u8>>, String>) {
        if !self.round.in_flight.contains(&doc) {
            // The round ended meanwhile (disconnected).
            return;
        }
        match result {
            Ok(chunks) => self.start_sync(doc, chunks),
            // Syncing from an empty copy would hide what is stored here: leave it, and do not
            // let the feed checkpoint move past it.
            Err(reason) => {
                self.round.failed = true;
                self.out.push(Effect::LoadFailed { doc, reason });
                self.settled(doc);
            }
        }
    }

    fn start_sync(&mut self, doc: DocumentId, chunks: Vec<Vec<u8>>) {
        self.refused.remove(&doc);
        let actions = self.node.handle(0, Event::Open { doc, chunks });
        self.run(actions);
    }

    /// The server acknowledged or refused `doc`: one more of the round is done.
    fn settled(&mut self, doc: DocumentId) {
        let member = self.round.members.remove(&doc);
        if member {
            self.round.in_flight.remove(&doc);
            self.round.done += 1;
        }
        self.release_if_idle(doc);
        self.out.push(Effect::ListChanged);
        self.out.push(Effect::Updated { doc, remote: false });
        if member {
            self.pump();
        }
    }

    /// Releases a record from the node's memory unless a page has it open or a round is still
    /// syncing it (the node keeps it until its writes are done).
    fn release_if_idle(&mut self, doc: DocumentId) {
        if !self.held.contains_key(&doc) && !self.round.in_flight.contains(&doc) {
            self.node.release(doc);
            self.checked.remove(&doc);
        }
    }

    fn refresh_status(&mut self) {
        if !matches!(self.link, Link::Up(_)) {
            return;
        }
        if self.round.members.is_empty() && !self.discovery.running {
            if let (Some(seq), false) = (self.round.feed_seq.take(), self.round.failed) {
                self.checkpoint = seq;
                self.out.push(Effect::SaveCheckpoint { seq });
            }
            self.round = Round::default();
            self.set_status(SyncStatus::UpToDate { at: self.now });
        } else {
            let (done, total) = (self.round.done, self.round.total.max(self.round.done));
            self.set_status(SyncStatus::Syncing { done, total });
        }
    }

    /// A round that stopped moving asks the feed again.
    fn check_stalled(&mut self) {
        let round = &mut self.round;
        let stalled = !round.in_flight.is_empty() && round.in_flight.len() == round.members.len() && round.done == round.done_at_check;
        round.done_at_check = round.done;
        if stalled && matches!(self.link, Link::Up(_)) {
            self.discover();
        }
    }

    fn visible(&self, known: &Known) -> bool {
        known.org.is_none() || known.org == self.org
    }

    fn set_status(&mut self, status: SyncStatus) {
        if self.status.as_ref() != Some(&status) {
            self.status = Some(status.clone());
            self.out.push(Effect::Status(status));
        }
    }

    fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }
}

impl SyncCore for Client {
    fn start(&mut self, now: i64) -> Vec<Effect> {
        Client::start(self, now)
    }
    fn handle(&mut self, now: i64, input: Input) -> Vec<Effect> {
        Client::handle(self, now, input)
    }
    fn create(&mut self, now: i64, id: DocumentId, meta: &RecordMeta) -> Vec<Effect> {
        Client::create(self, now, id, meta)
    }
    fn open(&mut self, now: i64, id: DocumentId, chunks: Vec<Vec<u8>>) -> Vec<Effect> {
        Client::open(self, now, id, chunks)
    }
    fn close(&mut self, now: i64, id: DocumentId) -> Vec<Effect> {
        Client::close(self, now, id)
    }
    fn is_loaded(&self, id: DocumentId) -> bool {
        Client::is_loaded(self, id)
    }
    fn with_record(&mut self, id: DocumentId, f: &mut dyn FnMut(&mut Record)) -> Result<(), String> {
        Client::with_record(self, id, f)
    }
    fn update(
        &mut self,
        now: i64,
        id: DocumentId,
        change: &mut dyn FnMut(&mut Record) -> Result<(), String>,
    ) -> Result<Vec<Effect>, String> {
        Client::update(self, now, id, change)
    }
    fn request_reload(&mut self) -> Vec<Effect> {
        Client::request_reload(self)
    }
    fn broadcast(&mut self, id: DocumentId, data: Vec<u8>) -> Vec<Effect> {
        Client::broadcast(self, id, data)
    }
    fn summarise(&mut self, id: DocumentId, chunks: &[Vec<u8>]) -> Option<RecordSummary> {
        Client::summarise(self, id, chunks)
    }
}

/// The peer id of one tab: each tab (each page load) has its own, so two tabs of one browser
/// profile are two peers to the server instead of one that keeps replacing itself.
pub fn tab_peer_id(device: &str, tab_random: u64) -> PeerId {
    PeerId(format!("liaison-app-{device}-{tab_random:016x}"))
}

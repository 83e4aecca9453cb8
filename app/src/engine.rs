//! The record engine: every open record lives in one shared sync node, every change goes to
//! IndexedDB first, and a sync connection runs whenever the app is open and signed in.
//!
//! Pages ask the engine for records and hand it edits. The engine feeds the node events (an
//! edit, a frame from the socket, a finished write) and carries out the node's actions: write
//! a chunk to IndexedDB and report it done, send a frame, tell pages a record changed. Remote
//! changes are written to IndexedDB before any page is told about them.
//!
//! Reconnecting is cheap: the server's change feed (`/api/docs?since=`) names the documents
//! that changed since the last checkpoint, and only those whose heads differ from the local
//! ones are synced; local records whose heads the server has not acknowledged are pushed.
//!
//! What keeps a device with ten thousand records linear (each step is per record, never per
//! record *times* records):
//! - Summaries are read from IndexedDB once, at start, and then kept up to date from the
//!   writes this engine makes; the list reads them from memory.
//! - A sync round works through its records with at most [`WINDOW`] in flight; the node says
//!   when the server acknowledged one ([`Action::Acknowledged`]), so nothing scans the others.
//! - Writes that arrive while the previous transaction commits go together into the next one
//!   (group commit), acknowledgements included.
//! - Records not on screen are released from the node once stored; a later message about one
//!   loads it again from IndexedDB ([`Action::Authorize`]).
//! - Pages hear of list changes at most every [`LIST_REFRESH_MS`].

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use automerge::AutoCommit;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::Field;
use shared::record::{Author, sorted_heads};
use shared::sync::{Action, ConnId, Event, Node, NodeConfig, PeerId, PeerMetadata, Role, Verdict};
use shared::{DocumentId, FieldValue, Record, RecordMeta, RecordSummary};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::api::{self, ApiError, Session};
use crate::attachments::{self, AttachmentError, Uploader};
use crate::platform;
use crate::storage::{ChunkWrite, DamagedChunk, Store, StoreError};

const SESSION_KEY: &str = "liaison.session";
const FEED_POLL_MS: i32 = 30_000;
/// A round that made no progress for this long asks the feed, whose heads settle records the
/// sync protocol left looking unacknowledged (it does not always send a last message naming
/// heads both sides share).
const RECHECK_MS: i32 = 2_000;
const WRITE_RETRY_MS: i32 = 3_000;
/// Records a sync round has handed to the node and not yet seen acknowledged or refused.
/// Enough to keep the socket busy; few enough that memory stays small.
pub const WINDOW: usize = 64;
/// How often, at most, pages hear that summaries or sync states changed.
pub const LIST_REFRESH_MS: i32 = 150;

#[derive(Debug, Clone, PartialEq)]
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

pub struct Engine {
    store: Store,
    node: RefCell<Node>,
    session: RefCell<Option<Session>>,
    socket: RefCell<Option<(web_sys::WebSocket, ConnId)>>,
    next_conn: Cell<u64>,
    attempt: Cell<u32>,
    timer: Cell<Option<i32>>,
    /// A connection attempt is under way (between the token check and the socket opening).
    connecting: Cell<bool>,
    /// Every record's summary on this device, read once at start and then kept from the
    /// writes made here. `Rc` so that a list of ten thousand is cheap to copy.
    summaries: RefCell<HashMap<DocumentId, Arc<RecordSummary>>>,
    /// Summaries that could not be read at start.
    pub list_problems: Vec<String>,
    /// Documents with chunks on this device, read once when first needed.
    stored: RefCell<Option<HashSet<DocumentId>>>,
    /// Heads the server acknowledged, per document (mirrors the `acked` store).
    acked: RefCell<HashMap<DocumentId, Vec<String>>>,
    damaged: RefCell<HashMap<DocumentId, Vec<DamagedChunk>>>,
    /// Records the server answered `doc-unavailable` for: not ours to sync (any more).
    refused: RefCell<HashSet<DocumentId>>,
    /// Records a page has open (with how many holders): kept in the node's memory.
    held: RefCell<HashMap<DocumentId, u32>>,
    round: RefCell<Round>,
    /// Writes waiting for the next transaction, and whether one is committing.
    writes: RefCell<Vec<(ChunkWrite, u64)>>,
    flushing: Cell<bool>,
    /// Acknowledged heads waiting for their (separate, relaxed) transaction.
    acks: RefCell<Vec<(DocumentId, Vec<String>)>>,
    acks_flushing: Cell<bool>,
    discovering: Cell<bool>,
    discover_again: Cell<bool>,
    list_dirty: Cell<bool>,
    pub status: RwSignal<SyncStatus>,
    /// Bumps whenever a record's stored content or sync state changes (for the open record).
    pub revision: RwSignal<u64>,
    /// Bumps, at most every [`LIST_REFRESH_MS`], when summaries or sync states changed.
    pub list_changed: RwSignal<u64>,
    /// The last record changed by someone else, with a counter so repeats are seen.
    pub remote_update: RwSignal<(Option<DocumentId>, u64)>,
    pub writes_pending: RwSignal<u32>,
    pub write_error: RwSignal<Option<String>>,
    pub user: RwSignal<Option<api::User>>,
    pub uploader: Rc<Uploader>,
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
    /// The feed sequence this round's discovery reached, saved once it is done.
    feed_seq: Option<i64>,
}

impl Engine {
    pub async fn start(db_name: &str) -> Result<Rc<Engine>, StoreError> {
        let store = Store::open(db_name).await?;
        let acked = store.acked().await?.into_iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect();
        let (list, errors) = store.list().await?;
        let session = load_session();
        let engine = Rc::new(Engine {
            store,
            node: RefCell::new(Node::new(NodeConfig {
                peer_id: PeerId(format!("liaison-app-{}", platform::device_id())),
                metadata: PeerMetadata { storage_id: None, is_ephemeral: false },
                role: Role::Client,
                max_doc_bytes: 64 * 1024 * 1024,
            })),
            user: RwSignal::new(session.as_ref().map(|s| s.user.clone())),
            session: RefCell::new(session),
            socket: RefCell::new(None),
            next_conn: Cell::new(0),
            attempt: Cell::new(0),
            timer: Cell::new(None),
            connecting: Cell::new(false),
            summaries: RefCell::new(list.into_iter().map(|s| (s.id, Arc::new(s))).collect()),
            list_problems: errors.iter().map(ToString::to_string).collect(),
            stored: RefCell::new(None),
            acked: RefCell::new(acked),
            damaged: RefCell::new(HashMap::new()),
            refused: RefCell::new(HashSet::new()),
            held: RefCell::new(HashMap::new()),
            round: RefCell::new(Round::default()),
            writes: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            acks: RefCell::new(Vec::new()),
            acks_flushing: Cell::new(false),
            discovering: Cell::new(false),
            discover_again: Cell::new(false),
            list_dirty: Cell::new(false),
            status: RwSignal::new(SyncStatus::SignedOut),
            revision: RwSignal::new(0),
            list_changed: RwSignal::new(0),
            remote_update: RwSignal::new((None, 0)),
            writes_pending: RwSignal::new(0),
            write_error: RwSignal::new(None),
            uploader: Rc::new(Uploader::new()),
        });
        engine.watch_connectivity();
        engine.connect();
        Ok(engine)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn session(&self) -> Option<Session> {
        self.session.borrow().clone()
    }

    // ----- records -----

    /// The records this device shows (the signed-in organisation's, or those stored while
    /// signed out), newest first, from memory. Track [`Engine::list_changed`] to hear of changes.
    pub fn records(&self) -> Vec<Arc<RecordSummary>> {
        let org = self.org();
        let mut list: Vec<Arc<RecordSummary>> =
            self.summaries.borrow().values().filter(|s| s.org.is_none() || s.org == org).cloned().collect();
        list.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// Creates a record and stores it; returns its id.
    pub fn create(self: &Rc<Self>, meta: &RecordMeta) -> DocumentId {
        let record = Record::create(platform::new_document_id(), meta);
        let id = record.id();
        let actions = self.node.borrow_mut().handle(0, Event::Create { doc: id, content: record.into_doc() });
        self.run(actions);
        self.enqueue(id);
        self.pump();
        id
    }

    /// Loads a record into memory (if it is not already) for a page, which calls
    /// [`Engine::close`] when it goes; reports damaged chunks.
    pub async fn open(self: &Rc<Self>, id: DocumentId) -> Result<Vec<DamagedChunk>, StoreError> {
        if let Some(summary) = self.summaries.borrow().get(&id)
            && !self.visible(summary)
        {
            return Err(StoreError::NotFound(id));
        }
        *self.held.borrow_mut().entry(id).or_default() += 1;
        let mut chunks = Vec::new();
        if self.node.borrow().doc(id).is_none() {
            let loaded = match self.store.load(id).await {
                Ok(l) => l,
                Err(e) => {
                    self.close(id);
                    return Err(e);
                }
            };
            self.damaged.borrow_mut().insert(id, loaded.damaged);
            chunks = loaded.chunks;
        }
        // Also when it is in memory already: a release asked for meanwhile (the page before
        // this one closed it) is called off.
        let actions = self.node.borrow_mut().handle(0, Event::Open { doc: id, chunks });
        self.run(actions);
        self.with_record(id, |_| ()).map_err(|reason| StoreError::Corrupt { id: id.to_string(), reason })?;
        Ok(self.damaged.borrow().get(&id).cloned().unwrap_or_default())
    }

    /// A page no longer shows the record: it may leave memory once stored.
    pub fn close(self: &Rc<Self>, id: DocumentId) {
        let left = {
            let mut held = self.held.borrow_mut();
            let n = held.entry(id).or_default();
            *n = n.saturating_sub(1);
            let left = *n;
            if left == 0 {
                held.remove(&id);
            }
            left
        };
        if left == 0 {
            self.release_if_idle(id);
        }
    }

    /// Runs `f` on an open record.
    pub fn with_record<T>(&self, id: DocumentId, f: impl FnOnce(&mut Record) -> T) -> Result<T, String> {
        let mut node = self.node.borrow_mut();
        let slot = node.doc_mut(id).ok_or_else(|| "not open".to_owned())?;
        // The node owns the document; lend it to a `Record` view and put it back.
        let doc = std::mem::replace(slot, AutoCommit::new());
        match Record::try_wrap(id, doc) {
            Ok(mut record) => {
                let out = f(&mut record);
                *slot = record.into_doc();
                Ok(out)
            }
            Err((e, doc)) => {
                *slot = doc;
                Err(e.to_string())
            }
        }
    }

    pub fn value(&self, id: DocumentId, field: &Field) -> Option<FieldValue> {
        self.with_record(id, |r| r.get(field)).ok().flatten()
    }

    /// Sets one field and hands the change to storage (and, once stored, to the server).
    pub fn edit(self: &Rc<Self>, id: DocumentId, field: &'static Field, value: Option<FieldValue>) -> Result<(), String> {
        self.update(id, |r| r.set(field, value, platform::now_ms()).map_err(|e| e.to_string()))
    }

    /// Any change to a record — a field, a group item, resolving a conflict, marking it
    /// complete — signed with the signed-in person and stored like an edit. A change that
    /// fails is rolled back and nothing is stored.
    pub fn update(self: &Rc<Self>, id: DocumentId, change: impl FnOnce(&mut Record) -> Result<(), String>) -> Result<(), String> {
        // Who wrote it, so a concurrent value can be shown as "13 (Wang, procuratorate)".
        let author = self.session().map(|s| Author { user: s.user.display_name.clone(), org: Some(s.user.org_id.clone()) });
        self.with_record(id, |r| {
            if let Some(author) = author {
                r.set_author(author);
            }
            let result = change(r);
            if result.is_err() {
                // Records commit only on success: whatever a failed change did is undone.
                r.doc_mut().rollback();
            }
            result
        })??;
        let actions = self.node.borrow_mut().handle(0, Event::Changed { doc: id });
        self.run(actions);
        if !self.round.borrow().members.contains(&id) {
            self.enqueue(id);
            self.pump();
        }
        Ok(())
    }

    /// Keeps an attachment of record `id` on this device (its reference goes into the record
    /// by the caller) and uploads it when the record is on the server.
    pub async fn add_attachment(self: &Rc<Self>, id: DocumentId, blob: &crate::storage::StoredBlob) -> Result<String, AttachmentError> {
        let hash = attachments::add(&self.store, id, blob).await?;
        self.upload_soon();
        Ok(hash)
    }

    /// An attachment's bytes, from this device or the server.
    pub async fn attachment(
        &self,
        id: DocumentId,
        hash: &str,
        name: &str,
        mime: &str,
    ) -> Result<crate::storage::StoredBlob, AttachmentError> {
        let token = self.session().map(|s| s.token);
        attachments::fetch(&self.store, token.as_deref(), id, hash, name, mime).await
    }

    /// Sends queued attachments if connected.
    fn upload_soon(self: &Rc<Self>) {
        let Some(session) = self.session() else { return };
        if self.socket.borrow().is_none() {
            return;
        }
        let this = self.clone();
        spawn_local(async move { this.uploader.run(&this.store, &session.token).await });
    }

    /// Whether the server has acknowledged this record's latest changes.
    pub fn on_server(&self, summary: &RecordSummary) -> bool {
        self.acked.borrow().get(&summary.id).is_some_and(|h| *h == summary.heads)
    }

    /// Whether the server refused this record on the current connection: it does not exist
    /// there under this organisation, or access to it was revoked.
    pub fn refused(&self, id: DocumentId) -> bool {
        self.refused.borrow().contains(&id)
    }

    // ----- actions -----

    fn run(self: &Rc<Self>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { conn, bytes } => {
                    // Only on the socket the node meant: a frame for a connection that has
                    // since been replaced would confuse the server's session.
                    if let Some((ws, _)) = self.socket.borrow().as_ref().filter(|(_, c)| *c == conn) {
                        let _ = ws.send_with_u8_array(&bytes);
                    }
                }
                Action::Close { reason, .. } => {
                    let socket = self.socket.borrow_mut().take();
                    if let Some((ws, _)) = socket {
                        ws.set_onclose(None);
                        let _ = ws.close();
                    }
                    self.end_round();
                    self.status.set(SyncStatus::Error(reason));
                    self.schedule_reconnect();
                }
                Action::Persist { doc, chunk, generation, .. } => {
                    let org = self.org();
                    let summary = self.with_record(doc, |r| r.summary().ok()).ok().flatten().map(|mut s| {
                        s.org = org;
                        s
                    });
                    // A document that is not a liaison record is stored but not listed.
                    self.writes.borrow_mut().push((ChunkWrite { doc, chunk, summary }, generation));
                    self.writes_pending.update(|n| *n += 1);
                    self.flush_writes();
                }
                Action::Updated { doc } => {
                    self.remote_update.update(|(d, n)| {
                        *d = Some(doc);
                        *n += 1;
                    });
                    self.revision.update(|r| *r += 1);
                }
                Action::Acknowledged { doc, heads, .. } => {
                    let heads = sorted_heads(&heads);
                    self.refused.borrow_mut().remove(&doc);
                    self.acked.borrow_mut().insert(doc, heads.clone());
                    self.acks.borrow_mut().push((doc, heads));
                    self.flush_acks();
                    self.settled(doc);
                }
                Action::Unavailable { doc, .. } => {
                    // Not in sync, and not waiting either: asked again when the feed names it
                    // (say, once it is shared again) or on the next connection.
                    self.refused.borrow_mut().insert(doc);
                    self.settled(doc);
                }
                Action::Established { .. } => {
                    self.attempt.set(0);
                    self.discover();
                }
                // A message about a record released from memory: load it again.
                Action::Authorize { conn, doc, .. } => self.reload_for_sync(conn, doc),
            }
        }
    }

    /// Carries out queued writes: everything queued while the previous transaction committed
    /// goes into the next one. Each chunk's `Persisted` is reported once its transaction is
    /// done; a failed batch is tried again record by record, so one bad write fails alone.
    fn flush_writes(self: &Rc<Self>) {
        if self.flushing.replace(true) {
            return;
        }
        let this = self.clone();
        spawn_local(async move {
            loop {
                let batch = std::mem::take(&mut *this.writes.borrow_mut());
                if batch.is_empty() {
                    break;
                }
                let writes: Vec<ChunkWrite> = batch.iter().map(|(w, _)| w.clone()).collect();
                let results: Vec<Result<(), StoreError>> = match this.store.write_batch(&writes).await {
                    Ok(()) => vec![Ok(()); batch.len()],
                    Err(e) if batch.len() == 1 => vec![Err(e)],
                    Err(_) => {
                        let mut each = Vec::with_capacity(batch.len());
                        for w in &writes {
                            each.push(this.store.write_batch(std::slice::from_ref(w)).await);
                        }
                        each
                    }
                };
                let chunks = batch.len() as u32;
                for ((ChunkWrite { doc, summary, .. }, generation), result) in batch.into_iter().zip(results) {
                    let ok = result.is_ok();
                    match result {
                        Ok(()) => {
                            this.write_error.set(None);
                            if let Some(stored) = this.stored.borrow_mut().as_mut() {
                                stored.insert(doc);
                            }
                            if let Some(s) = summary {
                                this.summaries.borrow_mut().insert(doc, Arc::new(s));
                            }
                        }
                        Err(e) => {
                            this.write_error.set(Some(e.to_string()));
                            this.retry_write(doc);
                        }
                    }
                    let next = this.node.borrow_mut().handle(0, Event::Persisted { doc, generation, ok });
                    this.run(next);
                }
                this.writes_pending.update(|n| *n -= chunks);
                this.revision.update(|r| *r += 1);
                this.list_changed_soon();
            }
            this.flushing.set(false);
        });
    }

    /// Stores acknowledged heads, many at a time, apart from the record writes.
    fn flush_acks(self: &Rc<Self>) {
        if self.acks_flushing.replace(true) {
            return;
        }
        let this = self.clone();
        spawn_local(async move {
            loop {
                let batch = std::mem::take(&mut *this.acks.borrow_mut());
                if batch.is_empty() {
                    break;
                }
                // Not stored is not lost: the server still has them, and the feed says so.
                let _ = this.store.set_acked(&batch).await;
            }
            this.acks_flushing.set(false);
        });
    }

    /// After a failed write the node holds the change and asks for a full snapshot on the
    /// next `Changed`; this asks again in a few seconds (storage may be full for a moment).
    fn retry_write(self: &Rc<Self>, doc: DocumentId) {
        let this = self.clone();
        let retry = Closure::once_into_js(move || {
            let actions = this.node.borrow_mut().handle(0, Event::Changed { doc });
            this.run(actions);
        });
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(retry.unchecked_ref(), WRITE_RETRY_MS);
        }
    }

    /// Tells pages, soon and once for many changes, that the list changed.
    fn list_changed_soon(self: &Rc<Self>) {
        if self.list_dirty.replace(true) {
            return;
        }
        let this = self.clone();
        let later = Closure::once_into_js(move || {
            this.list_dirty.set(false);
            this.list_changed.update(|n| *n += 1);
        });
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(later.unchecked_ref(), LIST_REFRESH_MS);
        }
    }

    /// The signed-in organisation.
    pub fn org(&self) -> Option<String> {
        self.session.borrow().as_ref().map(|s| s.user.org_id.clone())
    }

    /// Whether this device may show and sync a record now: records stored under another
    /// organisation's session stay hidden (and unsynced) on a shared device.
    pub fn visible(&self, summary: &RecordSummary) -> bool {
        summary.org.is_none() || summary.org == self.org()
    }

    // ----- sync rounds -----

    fn enqueue(&self, id: DocumentId) {
        if self.socket.borrow().is_none() {
            return;
        }
        let mut round = self.round.borrow_mut();
        if round.members.insert(id) {
            round.queue.push_back(id);
            round.total += 1;
        }
    }

    /// Hands queued records to the node while fewer than [`WINDOW`] are in flight.
    fn pump(self: &Rc<Self>) {
        loop {
            let next = {
                let mut round = self.round.borrow_mut();
                if round.in_flight.len() >= WINDOW {
                    None
                } else {
                    // Entries settled while they waited (by the feed) are skipped here.
                    let mut next = None;
                    while let Some(id) = round.queue.pop_front() {
                        if round.members.contains(&id) && !round.in_flight.contains(&id) {
                            round.in_flight.insert(id);
                            next = Some(id);
                            break;
                        }
                    }
                    next
                }
            };
            let Some(id) = next else { break };
            let this = self.clone();
            spawn_local(async move { this.start_sync(id).await });
        }
        self.refresh_status();
    }

    /// Opens a record in the node for syncing, loading what is stored of it.
    async fn start_sync(self: &Rc<Self>, id: DocumentId) {
        let mut chunks = Vec::new();
        if self.node.borrow().doc(id).is_none() && self.is_stored(id).await {
            match self.store.load(id).await {
                Ok(loaded) => {
                    self.damaged.borrow_mut().insert(id, loaded.damaged);
                    chunks = loaded.chunks;
                }
                Err(StoreError::NotFound(_)) => {}
                // Syncing from an empty copy would hide what is stored here: leave it, and do
                // not let the feed checkpoint move past it.
                Err(e) => {
                    self.write_error.set(Some(e.to_string()));
                    self.round.borrow_mut().failed = true;
                    return self.settled(id);
                }
            }
        }
        if !self.round.borrow().in_flight.contains(&id) {
            // The round ended meanwhile (disconnected).
            return;
        }
        self.refused.borrow_mut().remove(&id);
        let actions = self.node.borrow_mut().handle(0, Event::Open { doc: id, chunks });
        self.run(actions);
    }

    /// Whether this device has chunks of `id`. The first call reads the keys once.
    async fn is_stored(&self, id: DocumentId) -> bool {
        if self.summaries.borrow().contains_key(&id) {
            return true;
        }
        if self.stored.borrow().is_none() {
            // If the scan fails, assume stored: a load then answers for that record.
            let Ok(ids) = self.store.stored_docs().await else { return true };
            self.stored.borrow_mut().get_or_insert(ids);
        }
        self.stored.borrow().as_ref().is_none_or(|s| s.contains(&id))
    }

    /// The server acknowledged or refused `doc`: one more of the round is done.
    fn settled(self: &Rc<Self>, doc: DocumentId) {
        let was_member = {
            let mut round = self.round.borrow_mut();
            let member = round.members.remove(&doc);
            if member {
                round.in_flight.remove(&doc);
                round.done += 1;
            }
            member
        };
        self.release_if_idle(doc);
        self.list_changed_soon();
        self.revision.update(|r| *r += 1);
        if was_member {
            self.pump();
        }
    }

    /// Releases a record from the node's memory unless a page has it open or a round is
    /// still syncing it (the node keeps it until its writes are done).
    fn release_if_idle(&self, doc: DocumentId) {
        if !self.held.borrow().contains_key(&doc) && !self.round.borrow().in_flight.contains(&doc) {
            self.node.borrow_mut().release(doc);
        }
    }

    /// The node asks for a record it released: read it from IndexedDB.
    fn reload_for_sync(self: &Rc<Self>, conn: ConnId, doc: DocumentId) {
        let this = self.clone();
        spawn_local(async move {
            let verdict = match this.store.load(doc).await {
                Ok(loaded) => Verdict::Allowed { chunks: loaded.chunks },
                Err(StoreError::NotFound(_)) => Verdict::Allowed { chunks: Vec::new() },
                Err(e) => Verdict::Failed(e.to_string()),
            };
            let actions = this.node.borrow_mut().handle(0, Event::Authorized { conn, doc, verdict });
            this.run(actions);
            this.release_if_idle(doc);
        });
    }

    /// The connection is gone: what was in flight waits for the next one.
    fn end_round(self: &Rc<Self>) {
        let in_flight: Vec<DocumentId> = std::mem::take(&mut *self.round.borrow_mut()).in_flight.into_iter().collect();
        for doc in in_flight {
            self.release_if_idle(doc);
        }
    }

    fn refresh_status(&self) {
        if self.socket.borrow().is_none() {
            return;
        }
        let mut round = self.round.borrow_mut();
        if round.members.is_empty() && !self.discovering.get() {
            if let (Some(seq), false, Some(s)) = (round.feed_seq.take(), round.failed, self.session.borrow().as_ref()) {
                save_checkpoint(&s.user, seq);
            }
            *round = Round::default();
            self.status.set(SyncStatus::UpToDate { at: platform::now_ms() });
        } else {
            self.status.set(SyncStatus::Syncing { done: round.done, total: round.total.max(round.done) });
        }
    }

    /// A round that stopped moving asks the feed again (see [`RECHECK_MS`]).
    fn check_stalled(self: &Rc<Self>) {
        let stalled = {
            let mut round = self.round.borrow_mut();
            let stalled = !round.in_flight.is_empty() && round.in_flight.len() == round.members.len() && round.done == round.done_at_check;
            round.done_at_check = round.done;
            stalled
        };
        if stalled && self.socket.borrow().is_some() {
            self.discover();
        }
    }

    // ----- sign-in -----

    pub async fn login(self: &Rc<Self>, username: &str, password: &str) -> Result<(), ApiError> {
        let session = api::login(username, password).await?;
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(SESSION_KEY, &serde_json::to_string(&session).unwrap_or_default());
        }
        // Start afresh under the new account: nothing another organisation's session had in
        // memory carries over.
        reload();
        Ok(())
    }

    /// Signs out on this device. Records stay on the device; the token is revoked.
    pub async fn logout(self: &Rc<Self>) {
        let session = self.session.borrow_mut().take();
        if let Some(s) = session {
            let _ = api::logout(&s.token).await;
        }
        if let Some(storage) = local_storage() {
            let _ = storage.remove_item(SESSION_KEY);
        }
        self.disconnect();
        reload();
    }

    // ----- connection -----

    fn watch_connectivity(self: &Rc<Self>) {
        let window = web_sys::window().expect("a window");
        let this = self.clone();
        let online = Closure::<dyn FnMut()>::new(move || {
            this.attempt.set(0);
            this.connect();
        });
        let _ = window.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
        online.forget();
        let this = self.clone();
        let offline = Closure::<dyn FnMut()>::new(move || {
            this.disconnect();
            this.status.set(SyncStatus::Offline);
        });
        let _ = window.add_event_listener_with_callback("offline", offline.as_ref().unchecked_ref());
        offline.forget();
        // A tab coming back from sleep may hold a dead socket: check at once.
        let this = self.clone();
        let visible = Closure::<dyn FnMut()>::new(move || {
            let shown =
                web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
            if shown && this.socket.borrow().is_none() {
                this.attempt.set(0);
                this.connect();
            }
        });
        if let Some(doc) = window.document() {
            let _ = doc.add_event_listener_with_callback("visibilitychange", visible.as_ref().unchecked_ref());
        }
        visible.forget();
        // The feed is polled while connected, for records shared with us meanwhile.
        let this = self.clone();
        let poll = Closure::<dyn FnMut()>::new(move || {
            if this.socket.borrow().is_some() {
                this.discover();
            }
        });
        let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(poll.as_ref().unchecked_ref(), FEED_POLL_MS);
        poll.forget();
        let this = self.clone();
        let stall = Closure::<dyn FnMut()>::new(move || this.check_stalled());
        let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(stall.as_ref().unchecked_ref(), RECHECK_MS);
        stall.forget();
    }

    fn disconnect(self: &Rc<Self>) {
        // Taken into a local first: `run` below borrows the socket again.
        let socket = self.socket.borrow_mut().take();
        if let Some((ws, conn)) = socket {
            ws.set_onclose(None);
            let _ = ws.close();
            let actions = self.node.borrow_mut().handle(0, Event::Disconnected { conn });
            self.run(actions);
            self.end_round();
        }
    }

    /// Connects if signed in and online; otherwise says why not.
    pub fn connect(self: &Rc<Self>) {
        if let Some(t) = self.timer.take()
            && let Some(w) = web_sys::window()
        {
            w.clear_timeout_with_handle(t);
        }
        if self.socket.borrow().is_some() || self.connecting.get() {
            return;
        }
        let Some(session) = self.session() else { return self.status.set(SyncStatus::SignedOut) };
        if !platform::is_online() {
            return self.status.set(SyncStatus::Offline);
        }
        self.status.set(SyncStatus::Connecting);
        self.connecting.set(true);
        let this = self.clone();
        spawn_local(async move {
            // Check the token first: a WebSocket refused at the upgrade does not say why.
            let checked = api::me(&session.token).await;
            this.connecting.set(false);
            match checked {
                Err(ApiError::Unauthorized) => this.status.set(SyncStatus::SessionExpired),
                Err(e) => {
                    this.status.set(SyncStatus::Error(e.to_string()));
                    this.schedule_reconnect();
                }
                Ok(_) => this.open_socket(&session.token),
            }
        });
    }

    fn open_socket(self: &Rc<Self>, token: &str) {
        let Some(location) = web_sys::window().map(|w| w.location()) else { return };
        let scheme = if location.protocol().ok().as_deref() == Some("https:") { "wss" } else { "ws" };
        let host = location.host().unwrap_or_default();
        let Ok(ws) = web_sys::WebSocket::new(&format!("{scheme}://{host}/sync?token={token}")) else {
            return self.schedule_reconnect();
        };
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let conn = ConnId(self.next_conn.get() + 1);
        self.next_conn.set(conn.0);
        let this = self.clone();
        let onopen = Closure::<dyn FnMut()>::new(move || {
            let actions = this.node.borrow_mut().handle(0, Event::Connected { conn, account: String::new() });
            this.run(actions);
        });
        let this = self.clone();
        let onmessage = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                let actions = this.node.borrow_mut().handle(0, Event::Received { conn, bytes });
                this.run(actions);
            }
        });
        let this = self.clone();
        let onclose = Closure::<dyn FnMut()>::new(move || {
            let current = this.socket.borrow().as_ref().is_some_and(|(_, c)| *c == conn);
            if current {
                this.socket.borrow_mut().take();
                let actions = this.node.borrow_mut().handle(0, Event::Disconnected { conn });
                this.run(actions);
                this.end_round();
                if !matches!(this.status.get_untracked(), SyncStatus::Error(_)) {
                    this.status.set(if platform::is_online() { SyncStatus::Connecting } else { SyncStatus::Offline });
                }
                this.schedule_reconnect();
            }
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        // The socket holds the handlers for as long as it lives.
        onopen.forget();
        onmessage.forget();
        onclose.forget();
        *self.socket.borrow_mut() = Some((ws, conn));
    }

    /// Tries again after 1 s, 2 s, 4 s … up to a minute, each with ±50 % jitter so that a
    /// township's phones do not all reconnect at the same moment.
    fn schedule_reconnect(self: &Rc<Self>) {
        if self.session.borrow().is_none() {
            return;
        }
        let pending = self.timer.take();
        if pending.is_some() {
            return self.timer.set(pending);
        }
        let attempt = (self.attempt.get() + 1).min(6);
        self.attempt.set(attempt);
        let mut jitter = [0u8; 1];
        let _ = getrandom::fill(&mut jitter);
        let delay = (1000.0 * 2f64.powi(attempt as i32 - 1)).min(60_000.0) * (0.5 + jitter[0] as f64 / 255.0);
        let this = self.clone();
        let retry = Closure::once_into_js(move || {
            this.timer.set(None);
            this.connect();
        });
        if let Some(w) = web_sys::window()
            && let Ok(t) = w.set_timeout_with_callback_and_timeout_and_arguments_0(retry.unchecked_ref(), delay as i32)
        {
            self.timer.set(Some(t));
        }
    }

    /// After connecting (and every so often): push what the server has not acknowledged, pull
    /// what the feed says changed. One discovery at a time; asking during one runs another
    /// after it.
    fn discover(self: &Rc<Self>) {
        if self.discovering.replace(true) {
            return self.discover_again.set(true);
        }
        let this = self.clone();
        spawn_local(async move {
            loop {
                this.discover_once().await;
                if !this.discover_again.replace(false) {
                    break;
                }
            }
            this.discovering.set(false);
            this.refresh_status();
            if let Some(session) = this.session() {
                // Attachments go once their records are on the server; the rest wait.
                this.uploader.run(&this.store, &session.token).await;
            }
        });
    }

    async fn discover_once(self: &Rc<Self>) {
        let Some(session) = self.session() else { return };
        if self.socket.borrow().is_none() {
            return;
        }
        let unacked: Vec<DocumentId> =
            self.summaries.borrow().values().filter(|s| self.visible(s) && !self.on_server(s)).map(|s| s.id).collect();
        for id in unacked {
            self.enqueue(id);
        }
        self.pump();
        let mut since = load_checkpoint(&session.user);
        loop {
            let feed = match api::feed(&session.token, since).await {
                Ok(f) => f,
                Err(ApiError::Unauthorized) => return self.status.set(SyncStatus::SessionExpired),
                Err(_) => return,
            };
            for entry in &feed.docs {
                let Ok(id) = entry.id.parse::<DocumentId>() else { continue };
                let ours = match self.node.borrow_mut().doc_mut(id) {
                    Some(d) => Some(sorted_heads(&d.get_heads())),
                    None => self.summaries.borrow().get(&id).map(|s| s.heads.clone()),
                };
                if ours.as_ref() == Some(&entry.heads) {
                    // The server has exactly what we have: acknowledged, whatever the sync
                    // session last said.
                    if self.acked.borrow().get(&id) != Some(&entry.heads) {
                        self.acked.borrow_mut().insert(id, entry.heads.clone());
                        self.acks.borrow_mut().push((id, entry.heads.clone()));
                    }
                    self.refused.borrow_mut().remove(&id);
                    if self.round.borrow().members.contains(&id) {
                        self.settled(id);
                    }
                } else if self.round.borrow().in_flight.contains(&id) {
                    // In flight and still different: ask the node to offer it again (once it
                    // is loaded; until then its start is still on its way).
                    if self.node.borrow().doc(id).is_none() {
                        continue;
                    }
                    let actions = self.node.borrow_mut().handle(0, Event::Open { doc: id, chunks: Vec::new() });
                    self.run(actions);
                } else {
                    self.enqueue(id);
                }
            }
            self.flush_acks();
            self.pump();
            since = feed.last_seq;
            if !feed.more {
                break;
            }
        }
        self.round.borrow_mut().feed_seq = Some(since);
        self.list_changed_soon();
    }
}

fn reload() {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_hash("#/");
        let _ = w.location().reload();
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn load_session() -> Option<Session> {
    serde_json::from_str(&local_storage()?.get_item(SESSION_KEY).ok()??).ok()
}

fn checkpoint_key(user: &api::User) -> String {
    format!("liaison.feed.{}", user.id)
}

fn load_checkpoint(user: &api::User) -> i64 {
    local_storage().and_then(|s| s.get_item(&checkpoint_key(user)).ok()?).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn save_checkpoint(user: &api::User, seq: i64) {
    if let Some(s) = local_storage() {
        let _ = s.set_item(&checkpoint_key(user), &seq.to_string());
    }
}

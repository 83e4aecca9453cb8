//! The record engine: the web glue around the sync session (`shared::sync::client`).
//!
//! Every decision about syncing — what to push, what is acknowledged or refused, the feed
//! checkpoint, backoff, what stays in memory, when a reload may happen — is the session's,
//! tested without a browser in `shared/tests/client_sim.rs`. This module carries out what it
//! asks ([`Effect`]) with the browser's means: the WebSocket, IndexedDB, timers, the HTTP
//! API, other tabs; and reports back what happened ([`Input`]).
//!
//! The session, and with it Automerge, is **loaded after the first screen**: it sits in a
//! wasm chunk of its own (`sync_core`), so the list, the status line and sign-in show from
//! the first download alone. Until it is loaded the list reads the summaries kept here and
//! record calls wait for it ([`Engine::core_ready`]); the service worker precaches the chunk,
//! so it loads offline as fast as the main module.
//!
//! What stays here, besides the glue: the summaries every list reads (read once at start and
//! kept from this engine's writes and other tabs' announcements), the heads the server
//! acknowledged and the refusals (both for display), group-committed IndexedDB writes, and the
//! signals pages track.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use crate::split::split_point;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::Field;
use shared::record::Author;
use shared::sync::ConnId;
use shared::sync::client::{ClientConfig, Effect, FeedError, Input, SyncCore, tab_peer_id};
use shared::{DocumentId, FieldValue, Record, RecordMeta, RecordSummary};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_split_helpers::SplitLoaderError;

pub use shared::sync::client::SyncStatus;

use crate::api::{self, ApiError, Session};
use crate::attachments::{self, AttachmentError, Uploader};
use crate::platform;
use crate::storage::{ChunkWrite, DamagedChunk, Store, StoreError};

const SESSION_KEY: &str = "liaison.session";
const FEED_POLL_MS: i32 = 30_000;
/// How long the access wait rests while the tab is hidden, offline or signed out, or after
/// an error.
const ACCESS_WAIT_IDLE_MS: i32 = 5_000;
/// How often the session checks whether a round stopped moving.
const STALL_CHECK_MS: i32 = 2_000;
/// A sync chunk that failed to load is fetched again after this long.
const CORE_RETRY_MS: i32 = 5_000;
/// How often, at most, pages hear that summaries or sync states changed.
pub const LIST_REFRESH_MS: i32 = 150;
/// Tabs of this browser profile tell each other which records they stored.
const TABS_CHANNEL: &str = "liaison.records";

pub struct Engine {
    store: Store,
    /// The sync session, once its chunk has loaded.
    core: RefCell<Option<Box<dyn SyncCore>>>,
    session: RefCell<Option<Session>>,
    socket: RefCell<Option<(web_sys::WebSocket, ConnId)>>,
    /// The reconnect timer.
    timer: Cell<Option<i32>>,
    /// Every record's summary on this device, read once at start and then kept from the
    /// writes made here and by other tabs. `Arc` so that a list of ten thousand is cheap to copy.
    summaries: RefCell<HashMap<DocumentId, Arc<RecordSummary>>>,
    /// Summaries that could not be read at start.
    pub list_problems: Vec<String>,
    /// Documents with chunks on this device, read once when first needed.
    stored: RefCell<Option<HashSet<DocumentId>>>,
    /// Heads the server acknowledged, per document (mirrors the `acked` store), for display.
    acked: RefCell<HashMap<DocumentId, Vec<String>>>,
    damaged: RefCell<HashMap<DocumentId, Vec<DamagedChunk>>>,
    /// Records the server answered `doc-unavailable` for, with its reason when it refused that
    /// record alone (too large, bad data, its storage failed), for display.
    refused: RefCell<HashMap<DocumentId, Option<String>>>,
    /// Writes waiting for the next transaction, and whether one is committing.
    writes: RefCell<Vec<(ChunkWrite, u64)>>,
    flushing: Cell<bool>,
    /// Records forgotten while a write batch was committing: that batch's summaries of them
    /// are not listed.
    forgetting: RefCell<HashSet<DocumentId>>,
    /// Acknowledged heads waiting for their (separate, relaxed) transaction.
    acks: RefCell<Vec<(DocumentId, Vec<String>)>>,
    acks_flushing: Cell<bool>,
    list_dirty: Cell<bool>,
    tabs: Option<web_sys::BroadcastChannel>,
    pub status: RwSignal<SyncStatus>,
    /// Bumps whenever a record's stored content or sync state changes (for the open record).
    pub revision: RwSignal<u64>,
    /// Bumps, at most every [`LIST_REFRESH_MS`], when summaries or sync states changed.
    pub list_changed: RwSignal<u64>,
    /// The last record changed by someone else, with a counter so repeats are seen.
    pub remote_update: RwSignal<(Option<DocumentId>, u64)>,
    pub writes_pending: RwSignal<u32>,
    pub write_error: RwSignal<Option<String>>,
    /// The latest presence message from each other device: (record, peer) → (what it said,
    /// when it arrived). Kept in memory only.
    pub presence: RwSignal<PresenceSeen>,
    pub user: RwSignal<Option<api::User>>,
    pub uploader: Rc<Uploader>,
    /// Records deleted from this device in this session because the server said the
    /// organisation may no longer read them (shown once on the list, and on an open page).
    pub forgotten: RwSignal<Vec<DocumentId>>,
}

/// Other devices' latest presence message per (record, peer): what it said, when it arrived.
pub type PresenceSeen = HashMap<(DocumentId, String), (Vec<u8>, i64)>;

// The split point: `cargo xtask dist` moves what only this reaches — the sync session, the
// sync node, Automerge — into its own wasm chunk. `fallible`: a chunk that cannot load must
// not stop the app; the list still shows, and loading is tried again.
split_point!(
    sync_core,
    fn make_core(config: ClientConfig) -> Result<Box<dyn SyncCore>, SplitLoaderError> {
        Ok(Box::new(shared::sync::client::Client::new(config)))
    }
);

impl Engine {
    pub async fn start(db_name: &str) -> Result<Rc<Engine>, StoreError> {
        let store = Store::open(db_name).await?;
        let acked = store.acked().await?.into_iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect();
        let (list, errors) = store.list().await?;
        let session = load_session();
        let status = match &session {
            None => SyncStatus::SignedOut,
            Some(_) if !platform::is_online() => SyncStatus::Offline,
            Some(_) => SyncStatus::Connecting,
        };
        let tabs = web_sys::BroadcastChannel::new(TABS_CHANNEL).ok();
        let engine = Rc::new(Engine {
            store,
            core: RefCell::new(None),
            user: RwSignal::new(session.as_ref().map(|s| s.user.clone())),
            session: RefCell::new(session),
            socket: RefCell::new(None),
            timer: Cell::new(None),
            summaries: RefCell::new(list.into_iter().map(|s| (s.id, Arc::new(s))).collect()),
            list_problems: errors.iter().map(ToString::to_string).collect(),
            stored: RefCell::new(None),
            acked: RefCell::new(acked),
            damaged: RefCell::new(HashMap::new()),
            refused: RefCell::new(HashMap::new()),
            writes: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            forgetting: RefCell::new(HashSet::new()),
            acks: RefCell::new(Vec::new()),
            acks_flushing: Cell::new(false),
            list_dirty: Cell::new(false),
            tabs,
            status: RwSignal::new(status),
            revision: RwSignal::new(0),
            list_changed: RwSignal::new(0),
            remote_update: RwSignal::new((None, 0)),
            writes_pending: RwSignal::new(0),
            write_error: RwSignal::new(None),
            presence: RwSignal::new(HashMap::new()),
            uploader: Rc::new(Uploader::new()),
            forgotten: RwSignal::new(Vec::new()),
        });
        engine.watch_browser();
        engine.watch_access();
        engine.load_core();
        engine.renew_outdated_summaries();
        Ok(engine)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn session(&self) -> Option<Session> {
        self.session.borrow().clone()
    }

    // ----- the sync session -----

    /// Fetches the session's chunk and starts it with what this device holds now.
    fn load_core(self: &Rc<Self>) {
        let this = self.clone();
        spawn_local(async move {
            let session = this.session();
            let config = ClientConfig {
                peer_id: tab_peer_id(&platform::device_id(), random_u64()),
                org: session.as_ref().map(|s| s.user.org_id.clone()),
                author: session.as_ref().map(|s| Author { user: s.user.display_name.clone(), org: Some(s.user.org_id.clone()) }),
                checkpoint: session.as_ref().map_or(0, |s| load_checkpoint(&s.user)),
                records: this.summaries.borrow().values().map(|s| RecordSummary::clone(s)).collect(),
                acked: this.acked.borrow().clone(),
                online: platform::is_online(),
                seed: random_u64(),
            };
            match make_core(config).await {
                Ok(mut core) => {
                    let effects = core.start(platform::now_ms());
                    *this.core.borrow_mut() = Some(core);
                    this.carry_out(effects);
                }
                Err(_) => {
                    this.status.set(SyncStatus::Error(crate::text::SYNC_UNAVAILABLE.to_owned()));
                    let again = this.clone();
                    later(CORE_RETRY_MS, move || again.load_core());
                }
            }
        });
    }

    /// Resolves once the sync session is loaded (at once, after the first moments).
    pub async fn core_ready(&self) {
        while self.core.borrow().is_none() {
            platform::sleep(50).await;
        }
    }

    /// Hands the session something that happened and carries out what it asks.
    fn handle(self: &Rc<Self>, input: Input) {
        let effects = match self.core.borrow_mut().as_mut() {
            Some(core) => core.handle(platform::now_ms(), input),
            None => return,
        };
        self.carry_out(effects);
    }

    /// Runs `f` on the session, if loaded, and carries out the effects it returns.
    fn with_core(self: &Rc<Self>, f: impl FnOnce(&mut dyn SyncCore) -> Vec<Effect>) {
        let effects = match self.core.borrow_mut().as_mut() {
            Some(core) => f(core.as_mut()),
            None => return,
        };
        self.carry_out(effects);
    }

    fn carry_out(self: &Rc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Connect { conn } => self.connect(conn),
                Effect::Send { conn, bytes } => {
                    if let Some((ws, _)) = self.socket.borrow().as_ref().filter(|(_, c)| *c == conn) {
                        let _ = ws.send_with_u8_array(&bytes);
                    }
                }
                Effect::CloseSocket { conn } => {
                    let socket = self.socket.borrow_mut().take_if(|(_, c)| *c == conn);
                    if let Some((ws, _)) = socket {
                        ws.set_onclose(None);
                        let _ = ws.close();
                    }
                }
                Effect::ConnectIn { ms } => {
                    self.clear_timer();
                    let this = self.clone();
                    self.timer.set(later(ms as i32, move || {
                        this.timer.set(None);
                        this.handle(Input::RetryConnect);
                    }));
                }
                Effect::Persist { doc, chunk, summary, generation } => {
                    self.writes.borrow_mut().push((ChunkWrite { doc, chunk, summary }, generation));
                    self.writes_pending.update(|n| *n += 1);
                    self.flush_writes();
                }
                Effect::Acked { doc, heads } => {
                    self.refused.borrow_mut().remove(&doc);
                    self.acked.borrow_mut().insert(doc, heads.clone());
                    self.acks.borrow_mut().push((doc, heads));
                    self.flush_acks();
                }
                Effect::Refused { doc, reason } => {
                    self.refused.borrow_mut().insert(doc, reason);
                }
                Effect::Load { doc } => {
                    let this = self.clone();
                    spawn_local(async move {
                        let result = this.load_for_sync(doc).await;
                        this.handle(Input::Loaded { doc, result });
                    });
                }
                Effect::LoadForPeer { conn, doc } => {
                    let this = self.clone();
                    spawn_local(async move {
                        let result = this.load_for_sync(doc).await;
                        this.handle(Input::LoadedForPeer { conn, doc, result });
                    });
                }
                Effect::LoadForMerge { doc } => {
                    let this = self.clone();
                    spawn_local(async move {
                        if let Ok(loaded) = this.store.load(doc).await {
                            this.handle(Input::LoadedForMerge { doc, chunks: loaded.chunks });
                        }
                    });
                }
                Effect::LoadFailed { reason, .. } => self.write_error.set(Some(reason)),
                Effect::FetchFeed { since } => {
                    let Some(session) = self.session() else { continue };
                    let this = self.clone();
                    spawn_local(async move {
                        let result = match api::feed(&session.token, since).await {
                            Ok(feed) => Ok(feed),
                            Err(ApiError::Unauthorized) => Err(FeedError::Unauthorized),
                            Err(e) => Err(FeedError::Other(e.to_string())),
                        };
                        this.handle(Input::Feed { result });
                    });
                }
                Effect::SaveCheckpoint { seq } => {
                    if let Some(s) = self.session.borrow().as_ref() {
                        save_checkpoint(&s.user, seq);
                    }
                }
                Effect::Updated { doc, remote } => {
                    if remote {
                        self.remote_update.update(|(d, n)| {
                            *d = Some(doc);
                            *n += 1;
                        });
                    }
                    self.revision.update(|r| *r += 1);
                }
                Effect::ListChanged => self.list_changed_soon(),
                Effect::Status(status) => self.status.set(status),
                Effect::Upload => self.upload_soon(),
                Effect::RetryWriteIn { doc, ms } => {
                    let this = self.clone();
                    later(ms as i32, move || this.handle(Input::RetryWrite { doc }));
                }
                Effect::Reload => reload(),
                Effect::Forget { doc } => self.forget(doc),
                Effect::Presence { doc, from, data } => {
                    let now = platform::now_ms();
                    self.presence.update(|p| {
                        p.insert((doc, from), (data, now));
                    });
                }
            }
        }
    }

    /// What is stored of `doc`, for syncing: nothing, if this device never stored it (a fresh
    /// device does not ask storage about each record of a first sync).
    async fn load_for_sync(&self, doc: DocumentId) -> Result<Vec<Vec<u8>>, String> {
        if !self.is_stored(doc).await {
            return Ok(Vec::new());
        }
        match self.store.load(doc).await {
            Ok(loaded) => {
                self.damaged.borrow_mut().insert(doc, loaded.damaged);
                Ok(loaded.chunks)
            }
            Err(StoreError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
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
    pub async fn create(self: &Rc<Self>, meta: &RecordMeta) -> DocumentId {
        self.core_ready().await;
        let id = platform::new_document_id();
        self.with_core(|core| core.create(platform::now_ms(), id, meta));
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
        self.core_ready().await;
        let loaded = self.core.borrow().as_ref().is_some_and(|c| c.is_loaded(id));
        let mut chunks = Vec::new();
        if !loaded {
            let stored = self.store.load(id).await?;
            self.damaged.borrow_mut().insert(id, stored.damaged);
            chunks = stored.chunks;
        }
        self.with_core(|core| core.open(platform::now_ms(), id, chunks));
        if let Err(reason) = self.with_record(id, |_| ()) {
            self.close(id);
            return Err(StoreError::Corrupt { id: id.to_string(), reason });
        }
        Ok(self.damaged.borrow().get(&id).cloned().unwrap_or_default())
    }

    /// A page no longer shows the record: it may leave memory once stored.
    pub fn close(self: &Rc<Self>, id: DocumentId) {
        self.with_core(|core| core.close(platform::now_ms(), id));
    }

    /// Runs `f` on an open record.
    pub fn with_record<T>(&self, id: DocumentId, f: impl FnOnce(&mut Record) -> T) -> Result<T, String> {
        let mut core = self.core.borrow_mut();
        let core = core.as_mut().ok_or_else(|| "not open".to_owned())?;
        let mut f = Some(f);
        let mut out = None;
        core.with_record(id, &mut |r| out = f.take().map(|f| f(r)))?;
        out.ok_or_else(|| "not open".to_owned())
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
        let effects = {
            let mut core = self.core.borrow_mut();
            let core = core.as_mut().ok_or_else(|| "not open".to_owned())?;
            let mut change = Some(change);
            core.update(platform::now_ms(), id, &mut |r| change.take().map_or(Ok(()), |c| c(r)))?
        };
        self.carry_out(effects);
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
    /// Tells the other devices with `id` open that this one has it open (presence).
    pub fn broadcast(self: &Rc<Self>, id: DocumentId, data: Vec<u8>) {
        self.with_core(|core| core.broadcast(id, data));
    }

    pub fn on_server(&self, id: DocumentId, heads: &[String]) -> bool {
        self.acked.borrow().get(&id).is_some_and(|h| *h == heads)
    }

    /// Whether the server refused this record in the last round: `Some(None)` when it does not
    /// exist there under this organisation (or access was revoked), `Some(Some(reason))` when
    /// the server refused this record alone and said why.
    pub fn refusal(&self, id: DocumentId) -> Option<Option<String>> {
        self.refused.borrow().get(&id).cloned()
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

    // ----- storage -----

    /// Carries out queued writes: everything queued while the previous transaction committed
    /// goes into the next one. Each chunk's `Stored` is reported once its transaction is done;
    /// a failed batch is tried again record by record, so one bad write fails alone.
    /// Deletes a record this organisation may no longer read. Writes of it still queued are
    /// dropped (answered as failed, which the session ignores for a forgotten record), so no
    /// transaction after the deletion brings a chunk of it back.
    fn forget(self: &Rc<Self>, doc: DocumentId) {
        let dropped: Vec<u64> = {
            let mut writes = self.writes.borrow_mut();
            let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut *writes).into_iter().partition(|(w, _)| w.doc == doc);
            *writes = keep;
            gone.into_iter().map(|(_, generation)| generation).collect()
        };
        self.summaries.borrow_mut().remove(&doc);
        self.acked.borrow_mut().remove(&doc);
        self.damaged.borrow_mut().remove(&doc);
        self.refused.borrow_mut().remove(&doc);
        if let Some(stored) = self.stored.borrow_mut().as_mut() {
            stored.remove(&doc);
        }
        self.forgotten.update(|f| f.push(doc));
        if self.flushing.get() {
            self.forgetting.borrow_mut().insert(doc);
        }
        let this = self.clone();
        spawn_local(async move {
            if let Err(e) = this.store.forget(doc).await {
                this.write_error.set(Some(e.to_string()));
            }
        });
        if !dropped.is_empty() {
            self.writes_pending.update(|n| *n -= dropped.len() as u32);
            for generation in dropped {
                self.handle(Input::Stored { doc, generation, ok: false, heads: None });
            }
        }
        self.list_changed_soon();
    }

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
                    let heads = summary.as_ref().map(|s| s.heads.clone());
                    match result {
                        Ok(()) => {
                            this.write_error.set(None);
                            if let Some(stored) = this.stored.borrow_mut().as_mut() {
                                stored.insert(doc);
                            }
                            // Not if it was forgotten while this write was on its way; one written
                            // afterwards is back (shared again).
                            if let Some(s) = summary.filter(|_| !this.forgetting.borrow().contains(&doc)) {
                                this.summaries.borrow_mut().insert(doc, Arc::new(s));
                                if this.forgotten.with_untracked(|f| f.contains(&doc)) {
                                    this.forgotten.update(|f| f.retain(|d| *d != doc));
                                }
                            }
                            this.announce(doc);
                        }
                        Err(e) => this.write_error.set(Some(e.to_string())),
                    }
                    this.handle(Input::Stored { doc, generation, ok, heads });
                }
                this.writes_pending.update(|n| *n -= chunks);
                this.forgetting.borrow_mut().clear();
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

    /// Tells other tabs of this browser profile that `doc` was stored anew.
    fn announce(&self, doc: DocumentId) {
        if let Some(tabs) = &self.tabs {
            let _ = tabs.post_message(&JsValue::from_str(&doc.to_string()));
        }
    }

    /// Makes again, one record at a time, the summaries an older version of the app made
    /// without what this one's carry (figures): the dashboard reads summaries only. Only the
    /// signed-in organisation's (another's wait for its own session), and each written only
    /// if the stored summary is still the one it replaces (a newer one stands).
    fn renew_outdated_summaries(self: &Rc<Self>) {
        let outdated: Vec<DocumentId> =
            self.summaries.borrow().values().filter(|s| s.outdated() && self.visible(s)).map(|s| s.id).collect();
        if outdated.is_empty() {
            return;
        }
        let this = self.clone();
        spawn_local(async move {
            this.core_ready().await;
            for id in outdated {
                let Some(old) = this.summaries.borrow().get(&id).cloned() else { continue };
                let chunks = match this.store.load(id).await {
                    Ok(stored) => stored.chunks,
                    // Left as it is: the record page reports what is wrong with it.
                    Err(_) => continue,
                };
                // Made by the sync session's chunk: reading a whole record is its code.
                let fresh = match this.core.borrow_mut().as_mut() {
                    Some(core) => core.summarise(id, &chunks),
                    None => continue,
                };
                let Some(fresh) = fresh.filter(|f| f.heads == old.heads) else { continue };
                let summary = RecordSummary { org: old.org.clone(), ..fresh };
                // Stored only over the summary it was made for (another tab, or a sync here,
                // may have stored a newer one meanwhile), and kept in memory only if nothing
                // replaced or forgot it there during the write.
                if this.store.put_summary_over(&summary, &old.heads).await == Ok(true) {
                    let current = this.summaries.borrow().get(&id).is_some_and(|now| Arc::ptr_eq(now, &old));
                    if current {
                        this.summaries.borrow_mut().insert(id, Arc::new(summary));
                        this.list_changed_soon();
                    }
                }
                // Let the page breathe between records.
                platform::sleep(0).await;
            }
        });
    }

    /// Another tab stored `doc`: read its summary, and let the session merge it into the copy
    /// in memory, if any.
    fn stored_elsewhere(self: &Rc<Self>, doc: DocumentId) {
        let this = self.clone();
        spawn_local(async move {
            let Ok(Some(summary)) = this.store.summary(doc).await else { return };
            if let Some(stored) = this.stored.borrow_mut().as_mut() {
                stored.insert(doc);
            }
            this.summaries.borrow_mut().insert(doc, Arc::new(summary.clone()));
            this.list_changed_soon();
            this.handle(Input::StoredElsewhere { summary });
        });
    }

    /// Tells pages, soon and once for many changes, that the list changed.
    fn list_changed_soon(self: &Rc<Self>) {
        if self.list_dirty.replace(true) {
            return;
        }
        let this = self.clone();
        later(LIST_REFRESH_MS, move || {
            this.list_dirty.set(false);
            this.list_changed.update(|n| *n += 1);
        });
    }

    // ----- sign-in -----

    pub async fn login(self: &Rc<Self>, username: &str, password: &str) -> Result<(), ApiError> {
        let session = api::login(username, password).await?;
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(SESSION_KEY, &serde_json::to_string(&session).unwrap_or_default());
        }
        // Start afresh under the new account (nothing another organisation's session had in
        // memory carries over), once every write in flight is stored.
        self.reload_when_saved();
        Ok(())
    }

    /// Signs out on this device. Records stay on the device; the token is revoked.
    pub async fn logout(self: &Rc<Self>) {
        let session = self.session.borrow_mut().take();
        if let Some(s) = session {
            let _ = api::logout(&s.token).await;
        }
        // The server revoked this session's signing key; the secret goes from the device too.
        let _ = self.store.clear_signing_keys().await;
        if let Some(storage) = local_storage() {
            let _ = storage.remove_item(SESSION_KEY);
        }
        self.reload_when_saved();
    }

    fn reload_when_saved(self: &Rc<Self>) {
        if self.core.borrow().is_none() {
            // No session, no records changed: nothing can be in flight.
            return reload();
        }
        self.with_core(|core| core.request_reload());
    }

    // ----- the browser -----

    /// Waits on the server for this organisation's access to change (a case clue transferred
    /// to it, a record shared) and runs a discovery the moment it does, so the record is in
    /// the list and the inbox within moments instead of at the next poll. Only a visible tab
    /// waits: each wait holds one of the few connections a browser keeps to one server. Ends
    /// with the engine.
    fn watch_access(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            loop {
                let Some(this) = weak.upgrade() else { return };
                let visible =
                    web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
                let session = this.session().filter(|_| visible && platform::is_online());
                drop(this);
                let Some(session) = session else {
                    platform::sleep(ACCESS_WAIT_IDLE_MS).await;
                    continue;
                };
                match api::feed_wait(&session.token).await {
                    Ok(true) => {
                        if let Some(this) = weak.upgrade() {
                            this.handle(Input::Poll);
                        }
                    }
                    Ok(false) => {}
                    Err(_) => platform::sleep(ACCESS_WAIT_IDLE_MS).await,
                }
            }
        });
    }

    fn watch_browser(self: &Rc<Self>) {
        let window = web_sys::window().expect("a window");
        let this = self.clone();
        listen(&window, "online", move || this.handle(Input::Online));
        let this = self.clone();
        listen(&window, "offline", move || this.handle(Input::Offline));
        // A tab coming back from sleep may hold a dead socket: check at once.
        let this = self.clone();
        if let Some(doc) = window.document() {
            listen(&doc, "visibilitychange", move || {
                let shown =
                    web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
                if shown {
                    this.handle(Input::Visible);
                }
            });
        }
        let this = self.clone();
        every(&window, FEED_POLL_MS, move || this.handle(Input::Poll));
        let this = self.clone();
        every(&window, STALL_CHECK_MS, move || this.handle(Input::StallCheck));
        if let Some(tabs) = &self.tabs {
            let this = self.clone();
            let onmessage = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                if let Some(doc) = e.data().as_string().and_then(|s| s.parse().ok()) {
                    this.stored_elsewhere(doc);
                }
            });
            tabs.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
            onmessage.forget();
        }
    }

    fn clear_timer(&self) {
        if let Some(t) = self.timer.take()
            && let Some(w) = web_sys::window()
        {
            w.clear_timeout_with_handle(t);
        }
    }

    /// Checks the token (a WebSocket refused at the upgrade does not say why), then opens the
    /// socket for `conn`.
    fn connect(self: &Rc<Self>, conn: ConnId) {
        self.clear_timer();
        let Some(session) = self.session() else {
            return self.handle(Input::ConnectFailed { conn, unauthorized: true, reason: String::new() });
        };
        let this = self.clone();
        spawn_local(async move {
            match api::me(&session.token).await {
                Err(ApiError::Unauthorized) => this.handle(Input::ConnectFailed { conn, unauthorized: true, reason: String::new() }),
                Err(e) => this.handle(Input::ConnectFailed { conn, unauthorized: false, reason: e.to_string() }),
                Ok(_) => this.open_socket(conn, &session.token),
            }
        });
    }

    fn open_socket(self: &Rc<Self>, conn: ConnId, token: &str) {
        let Some(location) = web_sys::window().map(|w| w.location()) else { return };
        let scheme = if location.protocol().ok().as_deref() == Some("https:") { "wss" } else { "ws" };
        let host = location.host().unwrap_or_default();
        let ws = match web_sys::WebSocket::new(&format!("{scheme}://{host}/sync?token={token}")) {
            Ok(ws) => ws,
            Err(e) => {
                let reason = e.as_string().unwrap_or_else(|| "the socket could not be opened".into());
                return self.handle(Input::ConnectFailed { conn, unauthorized: false, reason });
            }
        };
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let this = self.clone();
        let onopen = Closure::<dyn FnMut()>::new(move || this.handle(Input::SocketOpened { conn }));
        let this = self.clone();
        let onmessage = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                this.handle(Input::Frame { conn, bytes });
            }
        });
        let this = self.clone();
        let onclose = Closure::<dyn FnMut()>::new(move || {
            let current = this.socket.borrow_mut().take_if(|(_, c)| *c == conn).is_some();
            if current {
                this.handle(Input::SocketClosed { conn });
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
}

/// Runs `f` once after `ms`; returns the timer's handle.
fn later(ms: i32, f: impl FnOnce() + 'static) -> Option<i32> {
    let f = Closure::once_into_js(f);
    web_sys::window()?.set_timeout_with_callback_and_timeout_and_arguments_0(f.unchecked_ref(), ms).ok()
}

/// Runs `f` every `ms` for as long as the page lives.
fn every(window: &web_sys::Window, ms: i32, f: impl FnMut() + 'static) {
    let f = Closure::<dyn FnMut()>::new(f);
    let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(f.as_ref().unchecked_ref(), ms);
    f.forget();
}

/// Calls `f` on every `event` of `target` for as long as the page lives.
fn listen(target: &web_sys::EventTarget, event: &str, f: impl FnMut() + 'static) {
    let f = Closure::<dyn FnMut()>::new(f);
    let _ = target.add_event_listener_with_callback(event, f.as_ref().unchecked_ref());
    f.forget();
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
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

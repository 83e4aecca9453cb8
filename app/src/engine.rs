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

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use automerge::AutoCommit;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::Field;
use shared::record::{sorted_heads, Author};
use shared::sync::{Action, ConnId, Event, Node, NodeConfig, PeerId, PeerMetadata, Role};
use shared::{DocumentId, FieldValue, Record, RecordMeta, RecordSummary};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{self, ApiError, Session};
use crate::attachments::{self, AttachmentError, Uploader};
use crate::platform;
use crate::storage::{DamagedChunk, Store, StoreError};

const SESSION_KEY: &str = "liaison.session";
const FEED_POLL_MS: i32 = 30_000;
const RECHECK_MS: i32 = 2_000;
const WRITE_RETRY_MS: i32 = 3_000;

#[derive(Debug, Clone, PartialEq)]
pub enum SyncStatus {
    SignedOut,
    SessionExpired,
    Offline,
    Connecting,
    Syncing { left: usize },
    UpToDate { at: i64 },
    Error(String),
}

pub struct Engine {
    store: Store,
    node: RefCell<Node>,
    session: RefCell<Option<Session>>,
    socket: RefCell<Option<(web_sys::WebSocket, ConnId)>>,
    next_conn: RefCell<u64>,
    attempt: RefCell<u32>,
    timer: RefCell<Option<i32>>,
    recheck: std::cell::Cell<bool>,
    /// A connection attempt is under way (between the token check and the socket opening).
    connecting: std::cell::Cell<bool>,
    /// Documents handed to the node for syncing that are not yet in sync.
    pending: RefCell<HashSet<DocumentId>>,
    /// Heads the server acknowledged, per document (mirrors the `acked` store).
    acked: RefCell<HashMap<DocumentId, Vec<String>>>,
    damaged: RefCell<HashMap<DocumentId, Vec<DamagedChunk>>>,
    /// Records the server answered `doc-unavailable` for: not ours to sync (any more).
    refused: RefCell<HashSet<DocumentId>>,
    /// The feed sequence reached by the sync in progress, saved once it is up to date.
    feed_seq: RefCell<Option<i64>>,
    pub status: RwSignal<SyncStatus>,
    /// Bumps whenever a record's stored content or sync state changes.
    pub revision: RwSignal<u64>,
    /// The last record changed by someone else, with a counter so repeats are seen.
    pub remote_update: RwSignal<(Option<DocumentId>, u64)>,
    pub writes_pending: RwSignal<u32>,
    pub write_error: RwSignal<Option<String>>,
    pub user: RwSignal<Option<api::User>>,
    pub uploader: Rc<Uploader>,
}

impl Engine {
    pub async fn start(db_name: &str) -> Result<Rc<Engine>, StoreError> {
        let store = Store::open(db_name).await?;
        let acked = store.acked().await?.into_iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect();
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
            next_conn: RefCell::new(0),
            attempt: RefCell::new(0),
            timer: RefCell::new(None),
            recheck: std::cell::Cell::new(false),
            connecting: std::cell::Cell::new(false),
            pending: RefCell::new(HashSet::new()),
            acked: RefCell::new(acked),
            damaged: RefCell::new(HashMap::new()),
            refused: RefCell::new(HashSet::new()),
            feed_seq: RefCell::new(None),
            status: RwSignal::new(SyncStatus::SignedOut),
            revision: RwSignal::new(0),
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

    /// Creates a record and stores it; returns its id.
    pub fn create(self: &Rc<Self>, meta: &RecordMeta) -> DocumentId {
        let record = Record::create(platform::new_document_id(), meta);
        let id = record.id();
        let actions = self.node.borrow_mut().handle(0, Event::Create { doc: id, content: record.into_doc() });
        self.pending.borrow_mut().insert(id);
        self.run(actions);
        id
    }

    /// Loads a record into memory (if it is not already) and reports damaged chunks.
    pub async fn open(self: &Rc<Self>, id: DocumentId) -> Result<Vec<DamagedChunk>, StoreError> {
        if let Some(summary) = self.store.summary(id).await? {
            if !self.visible(&summary) {
                return Err(StoreError::NotFound(id));
            }
        }
        if self.node.borrow().doc(id).is_none() {
            let loaded = self.store.load(id).await?;
            self.damaged.borrow_mut().insert(id, loaded.damaged);
            if self.node.borrow().doc(id).is_none() {
                let actions = self.node.borrow_mut().handle(0, Event::Open { doc: id, chunks: loaded.chunks });
                self.run(actions);
            }
        }
        self.with_record(id, |_| ()).map_err(|reason| StoreError::Corrupt { id: id.to_string(), reason })?;
        Ok(self.damaged.borrow().get(&id).cloned().unwrap_or_default())
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
        self.pending.borrow_mut().insert(id);
        self.run(actions);
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
    pub async fn attachment(&self, id: DocumentId, hash: &str, name: &str, mime: &str) -> Result<crate::storage::StoredBlob, AttachmentError> {
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
                    self.status.set(SyncStatus::Error(reason));
                    self.schedule_reconnect();
                }
                Action::Persist { doc, chunk, generation, .. } => {
                    let org = self.org();
                    let summary = self.with_record(doc, |r| r.summary().ok()).ok().flatten().map(|mut s| {
                        s.org = org;
                        s
                    });
                    let this = self.clone();
                    self.writes_pending.update(|n| *n += 1);
                    spawn_local(async move {
                        // A document that is not a liaison record is stored but not listed.
                        let result = this.store.write(doc, &chunk, summary.as_ref()).await;
                        let ok = result.is_ok();
                        match result {
                            Ok(()) => this.write_error.set(None),
                            Err(e) => {
                                this.write_error.set(Some(e.to_string()));
                                this.retry_write(doc);
                            }
                        }
                        this.writes_pending.update(|n| *n -= 1);
                        let next = this.node.borrow_mut().handle(0, Event::Persisted { doc, generation, ok });
                        this.run(next);
                        this.revision.update(|r| *r += 1);
                    });
                }
                Action::Updated { doc } => {
                    // New heads: wait for the server's acknowledgement of them too.
                    self.pending.borrow_mut().insert(doc);
                    self.remote_update.update(|(d, n)| {
                        *d = Some(doc);
                        *n += 1;
                    });
                    self.revision.update(|r| *r += 1);
                }
                Action::Unavailable { doc, .. } => {
                    // Not in sync, and not waiting either: asked again when the feed names it
                    // (say, once it is shared again) or on the next connection.
                    self.pending.borrow_mut().remove(&doc);
                    self.refused.borrow_mut().insert(doc);
                    self.revision.update(|r| *r += 1);
                    self.refresh_status();
                }
                Action::Established { .. } => {
                    *self.attempt.borrow_mut() = 0;
                    self.discover();
                }
                Action::Authorize { .. } => {}
            }
        }
        self.check_acked();
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

    /// The signed-in organisation.
    pub fn org(&self) -> Option<String> {
        self.session.borrow().as_ref().map(|s| s.user.org_id.clone())
    }

    /// Whether this device may show and sync a record now: records stored under another
    /// organisation's session stay hidden (and unsynced) on a shared device.
    pub fn visible(&self, summary: &RecordSummary) -> bool {
        summary.org.is_none() || summary.org == self.org()
    }

    /// Moves documents the server now has in full from `pending` to `acked`.
    fn check_acked(self: &Rc<Self>) {
        let Some(conn) = self.socket.borrow().as_ref().map(|(_, c)| *c) else { return };
        let pending: Vec<DocumentId> = self.pending.borrow().iter().copied().collect();
        let mut done = Vec::new();
        for doc in pending {
            let mut node = self.node.borrow_mut();
            if node.in_sync(conn, doc) {
                let heads = node.doc_mut(doc).map(|d| sorted_heads(&d.get_heads())).unwrap_or_default();
                done.push((doc, heads));
            }
        }
        if done.len() < self.pending.borrow().len() {
            self.recheck_soon();
        }
        if done.is_empty() {
            return;
        }
        for (doc, heads) in done {
            self.pending.borrow_mut().remove(&doc);
            self.refused.borrow_mut().remove(&doc);
            self.acked.borrow_mut().insert(doc, heads.clone());
            let this = self.clone();
            spawn_local(async move {
                let _ = this.store.set_acked(doc, &heads).await;
            });
        }
        self.revision.update(|r| *r += 1);
        self.refresh_status();
    }

    /// Asks the feed again shortly. The sync protocol does not always send a last message
    /// naming heads both sides already share, so a record can look unacknowledged after the
    /// server has stored it; the feed's heads settle that.
    fn recheck_soon(self: &Rc<Self>) {
        if self.recheck.replace(true) {
            return;
        }
        let this = self.clone();
        let later = Closure::once_into_js(move || {
            this.recheck.set(false);
            if this.socket.borrow().is_some() && !this.pending.borrow().is_empty() {
                this.discover();
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(later.unchecked_ref(), RECHECK_MS);
        }
    }

    fn refresh_status(&self) {
        if self.socket.borrow().is_none() {
            return;
        }
        let left = self.pending.borrow().len();
        if left == 0 {
            if let (Some(seq), Some(s)) = (self.feed_seq.borrow_mut().take(), self.session.borrow().as_ref()) {
                save_checkpoint(&s.user, seq);
            }
            self.status.set(SyncStatus::UpToDate { at: platform::now_ms() });
        } else {
            self.status.set(SyncStatus::Syncing { left });
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
            *this.attempt.borrow_mut() = 0;
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
            let shown = web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
            if shown && this.socket.borrow().is_none() {
                *this.attempt.borrow_mut() = 0;
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
    }

    fn disconnect(self: &Rc<Self>) {
        // Taken into a local first: `run` below borrows the socket again.
        let socket = self.socket.borrow_mut().take();
        if let Some((ws, conn)) = socket {
            ws.set_onclose(None);
            let _ = ws.close();
            let actions = self.node.borrow_mut().handle(0, Event::Disconnected { conn });
            self.run(actions);
        }
    }

    /// Connects if signed in and online; otherwise says why not.
    pub fn connect(self: &Rc<Self>) {
        if let Some(t) = self.timer.borrow_mut().take() {
            if let Some(w) = web_sys::window() {
                w.clear_timeout_with_handle(t);
            }
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
        let conn = {
            let mut n = self.next_conn.borrow_mut();
            *n += 1;
            ConnId(*n)
        };
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
        if self.session.borrow().is_none() || self.timer.borrow().is_some() {
            return;
        }
        let attempt = {
            let mut a = self.attempt.borrow_mut();
            *a = (*a + 1).min(6);
            *a
        };
        let mut jitter = [0u8; 1];
        let _ = getrandom::fill(&mut jitter);
        let delay = (1000.0 * 2f64.powi(attempt as i32 - 1)).min(60_000.0) * (0.5 + jitter[0] as f64 / 255.0);
        let this = self.clone();
        let retry = Closure::once_into_js(move || {
            this.timer.borrow_mut().take();
            this.connect();
        });
        if let Some(w) = web_sys::window() {
            if let Ok(t) = w.set_timeout_with_callback_and_timeout_and_arguments_0(retry.unchecked_ref(), delay as i32) {
                *self.timer.borrow_mut() = Some(t);
            }
        }
    }

    /// After connecting (and every so often): push what the server has not acknowledged, pull
    /// what the feed says changed.
    fn discover(self: &Rc<Self>) {
        let Some(session) = self.session() else { return };
        let this = self.clone();
        spawn_local(async move {
            let Ok((summaries, _)) = this.store.list().await else { return };
            let local: HashMap<String, RecordSummary> = summaries.into_iter().map(|s| (s.id.to_string(), s)).collect();
            for s in local.values() {
                if this.visible(s) && !this.on_server(s) {
                    this.sync_doc(s.id).await;
                }
            }
            let mut since = load_checkpoint(&session.user);
            loop {
                let feed = match api::feed(&session.token, since).await {
                    Ok(f) => f,
                    Err(ApiError::Unauthorized) => return this.status.set(SyncStatus::SessionExpired),
                    Err(_) => return,
                };
                for entry in &feed.docs {
                    let Ok(id) = entry.id.parse::<DocumentId>() else { continue };
                    let ours = match this.node.borrow_mut().doc_mut(id) {
                        Some(d) => Some(sorted_heads(&d.get_heads())),
                        None => local.get(&entry.id).map(|s| s.heads.clone()),
                    };
                    if ours.as_ref() == Some(&entry.heads) {
                        // The server has exactly what we have: acknowledged, whatever the sync
                        // session last said.
                        this.pending.borrow_mut().remove(&id);
                        this.acked.borrow_mut().insert(id, entry.heads.clone());
                        let _ = this.store.set_acked(id, &entry.heads).await;
                        this.revision.update(|r| *r += 1);
                    } else {
                        this.sync_doc(id).await;
                    }
                }
                since = feed.last_seq;
                if !feed.more {
                    break;
                }
            }
            *this.feed_seq.borrow_mut() = Some(since);
            this.refresh_status();
            // Attachments go once their records are on the server; the rest wait for the next.
            this.uploader.run(&this.store, &session.token).await;
        });
    }

    /// Hands a document to the node for syncing, loading what is stored of it. One already in
    /// memory is opened again too: the node then asks anew where it was refused before.
    async fn sync_doc(self: &Rc<Self>, id: DocumentId) {
        self.pending.borrow_mut().insert(id);
        self.refused.borrow_mut().remove(&id);
        let mut chunks = Vec::new();
        if self.node.borrow().doc(id).is_none() {
            match self.store.load(id).await {
                Ok(loaded) => {
                    self.damaged.borrow_mut().insert(id, loaded.damaged);
                    chunks = loaded.chunks;
                }
                // Shared with us and not on this device yet: it comes from the server.
                Err(StoreError::NotFound(_)) => {}
                // Syncing from an empty copy would hide what is stored here: leave it for now.
                Err(e) => {
                    self.pending.borrow_mut().remove(&id);
                    self.write_error.set(Some(e.to_string()));
                    return self.refresh_status();
                }
            }
        }
        let actions = self.node.borrow_mut().handle(0, Event::Open { doc: id, chunks });
        self.run(actions);
        self.refresh_status();
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

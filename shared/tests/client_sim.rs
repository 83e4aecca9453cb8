//! The browser's sync session (`shared::sync::client::Client`) against a real server node on
//! a simulated network, with the app's storage, feed and timers played by this harness. Every
//! decision the app makes about syncing is tested here without a browser.

use std::collections::{HashMap, HashSet, VecDeque};

mod common;

use common::Chunks;
use proptest::prelude::*;
use shared::api::{Feed, FeedEntry};
use shared::form::RecordKind;
use shared::sync::client::{Client, ClientConfig, Effect, FeedError, Input, SyncStatus, WINDOW, tab_peer_id};
use shared::sync::node::Chunk;
use shared::sync::{Action, ConnId, Event, Node, NodeConfig, PeerId, PeerMetadata, Role, Verdict};
use shared::{DocumentId, FieldValue, Record, RecordMeta, RecordSummary};

const FEED_PAGE: usize = 100;

fn doc_id(i: u32) -> DocumentId {
    let mut bytes = [7u8; 16];
    bytes[..4].copy_from_slice(&i.to_be_bytes());
    DocumentId::from_random_bytes(bytes)
}

fn meta() -> RecordMeta {
    RecordMeta {
        kind: RecordKind::new("intake"),
        form_id: "intake".into(),
        form_version: 1,
        created_by: "li".into(),
        created_at: 1_700_000_000_000,
    }
}

fn set_code(r: &mut Record, code: &str) -> Result<(), String> {
    let field = r.form().map_err(|e| e.to_string())?.field("survivor_code").expect("intake has survivor_code");
    r.set(field, Some(FieldValue::Text(code.into())), 1_700_000_001_000).map_err(|e| e.to_string())
}

fn code_of(r: &Record) -> Option<String> {
    let field = r.form().ok()?.field("survivor_code")?;
    match r.get(field)? {
        FieldValue::Text(s) => Some(s),
        _ => None,
    }
}

/// The server: a real server node, its storage and its change feed.
struct Server {
    node: Node,
    store: Chunks,
    /// Per document, the feed sequence of its last change.
    seq_of: HashMap<DocumentId, i64>,
    seq: i64,
    /// Documents this account may not read.
    forbidden: HashSet<DocumentId>,
    /// Documents whose access this account lost, with the feed sequence of the loss.
    gone: HashMap<DocumentId, i64>,
    up: bool,
    next_conn: u64,
}

impl Server {
    fn new() -> Server {
        Server::with_limit(1 << 24)
    }

    fn with_limit(max_doc_bytes: usize) -> Server {
        Server {
            node: Node::new(NodeConfig {
                peer_id: PeerId("server".into()),
                metadata: PeerMetadata { storage_id: Some("server".into()), is_ephemeral: false },
                role: Role::Server,
                max_doc_bytes,
            }),
            store: Chunks::default(),
            seq_of: HashMap::new(),
            seq: 0,
            forbidden: HashSet::new(),
            gone: HashMap::new(),
            up: true,
            next_conn: 100,
        }
    }

    /// A record stored on the server as another device made it.
    fn seed(&mut self, id: DocumentId, code: &str) {
        let mut r = Record::create(id, &meta());
        set_code(&mut r, code).unwrap();
        let bytes = r.save();
        self.store.write(id, Chunk::snapshot(bytes, Vec::new()));
        self.bump(id);
    }

    /// The account's access to `id` ends (a share withdrawn, a case returned).
    fn revoke(&mut self, id: DocumentId) {
        self.forbidden.insert(id);
        self.seq += 1;
        self.gone.insert(id, self.seq);
    }

    fn bump(&mut self, id: DocumentId) {
        self.seq += 1;
        self.seq_of.insert(id, self.seq);
    }

    fn feed(&self, since: i64) -> Feed {
        let mut entries: Vec<(i64, DocumentId)> =
            self.seq_of.iter().filter(|(d, s)| **s > since && !self.forbidden.contains(d)).map(|(d, s)| (*s, *d)).collect();
        entries.sort();
        let more = entries.len() > FEED_PAGE;
        entries.truncate(FEED_PAGE);
        let last_seq = entries.last().map_or(since, |(s, _)| *s);
        let docs =
            entries.into_iter().map(|(seq, d)| FeedEntry { id: d.to_string(), seq, heads: self.store.heads(d), owned: true }).collect();
        let gone = self.gone.iter().filter(|(d, s)| **s > since && self.forbidden.contains(d)).map(|(d, _)| d.to_string()).collect();
        Feed { docs, last_seq, more, gone }
    }
}

/// One device: the client session, its storage, and what the app would have done.
struct Device {
    client: Client,
    store: Chunks,
    summaries: HashMap<DocumentId, RecordSummary>,
    acked: HashMap<DocumentId, Vec<String>>,
    checkpoint: i64,
    statuses: Vec<SyncStatus>,
    /// Device connection → server connection.
    links: HashMap<ConnId, ConnId>,
    /// Records whose load fails (a storage error).
    unreadable: HashSet<DocumentId>,
    /// Writes are held here instead of answered (slow storage), when set.
    hold_writes: bool,
    held_writes: Vec<Input>,
    /// Writes fail, when set.
    fail_writes: bool,
    reloaded: bool,
    retry_in: Vec<u32>,
    load_failures: Vec<DocumentId>,
    remote_updates: Vec<DocumentId>,
    max_loaded: usize,
    /// Writes the client asked to try again ([`Effect::RetryWriteIn`]), as the app's timer would.
    retries: Vec<DocumentId>,
    refusals: Vec<(DocumentId, Option<String>)>,
    /// Other devices' presence messages (record, sender peer, data).
    presence: Vec<(DocumentId, String, Vec<u8>)>,
    connects: usize,
    /// Records deleted from this device because their access ended.
    forgotten: Vec<DocumentId>,
}

// `Event::Create` holds a whole document; the queue is small, so unboxed is fine.
#[allow(clippy::large_enum_variant)]
enum Ev {
    Client(usize, Input),
    Server(Event),
}

struct Sim {
    server: Server,
    devices: Vec<Device>,
    /// Server connection → (device, device connection).
    routes: HashMap<ConnId, (usize, ConnId)>,
    queue: VecDeque<Ev>,
    now: i64,
}

impl Sim {
    fn new() -> Sim {
        Sim { server: Server::new(), devices: Vec::new(), routes: HashMap::new(), queue: VecDeque::new(), now: 1_000 }
    }

    /// A device signed in as the federation, with what it already stores.
    fn add_device(&mut self, online: bool, store: Chunks, acked: HashMap<DocumentId, Vec<String>>) -> usize {
        let mut summaries = HashMap::new();
        for id in store.0.keys() {
            let mut doc = automerge::AutoCommit::new();
            for c in store.chunks(*id) {
                doc.load_incremental(&c).unwrap();
            }
            let mut r = Record::from_doc(*id, doc).unwrap();
            summaries.insert(*id, RecordSummary { org: Some("fed".into()), ..r.summary().unwrap() });
        }
        let client = Client::new(ClientConfig {
            peer_id: tab_peer_id("device", self.devices.len() as u64),
            org: Some("fed".into()),
            author: None,
            checkpoint: 0,
            records: summaries.values().cloned().collect(),
            acked: acked.clone(),
            online,
            seed: 42 + self.devices.len() as u64,
        });
        self.devices.push(Device {
            client,
            store,
            summaries,
            acked,
            checkpoint: 0,
            statuses: Vec::new(),
            links: HashMap::new(),
            unreadable: HashSet::new(),
            hold_writes: false,
            held_writes: Vec::new(),
            fail_writes: false,
            reloaded: false,
            retry_in: Vec::new(),
            load_failures: Vec::new(),
            remote_updates: Vec::new(),
            max_loaded: 0,
            retries: Vec::new(),
            refusals: Vec::new(),
            presence: Vec::new(),
            connects: 0,
            forgotten: Vec::new(),
        });
        let i = self.devices.len() - 1;
        let effects = self.devices[i].client.start(self.now);
        self.carry_out(i, effects);
        self.settle();
        i
    }

    fn input(&mut self, i: usize, input: Input) {
        self.queue.push_back(Ev::Client(i, input));
        self.settle();
    }

    fn settle(&mut self) {
        let mut steps = 0;
        while let Some(ev) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 5_000_000, "the simulation does not settle");
            self.now += 1;
            match ev {
                Ev::Client(i, input) => {
                    let effects = self.devices[i].client.handle(self.now, input);
                    self.carry_out(i, effects);
                }
                Ev::Server(event) => {
                    let actions = self.server.node.handle(0, event);
                    self.server_actions(actions);
                }
            }
        }
    }

    fn carry_out(&mut self, i: usize, effects: Vec<Effect>) {
        for effect in effects {
            let d = &mut self.devices[i];
            match effect {
                Effect::Connect { conn } => {
                    d.connects += 1;
                    if self.server.up {
                        self.server.next_conn += 1;
                        let s = ConnId(self.server.next_conn);
                        d.links.insert(conn, s);
                        self.routes.insert(s, (i, conn));
                        self.queue.push_back(Ev::Server(Event::Connected { conn: s, account: "fed".into(), org: String::new() }));
                        self.queue.push_back(Ev::Client(i, Input::SocketOpened { conn }));
                    } else {
                        let failed = Input::ConnectFailed { conn, unauthorized: false, reason: "no server".into() };
                        self.queue.push_back(Ev::Client(i, failed));
                    }
                }
                Effect::Send { conn, bytes } => {
                    if let Some(s) = d.links.get(&conn) {
                        self.queue.push_back(Ev::Server(Event::Received { conn: *s, bytes }));
                    }
                }
                Effect::CloseSocket { conn } => {
                    if let Some(s) = d.links.remove(&conn) {
                        self.routes.remove(&s);
                        self.queue.push_back(Ev::Server(Event::Disconnected { conn: s }));
                    }
                }
                Effect::ConnectIn { ms } => d.retry_in.push(ms),
                Effect::Persist { doc, chunk, summary, generation } => {
                    let ok = !d.fail_writes;
                    if ok {
                        d.store.write(doc, chunk);
                        if let Some(s) = &summary {
                            d.summaries.insert(doc, s.clone());
                        }
                    }
                    let stored = Input::Stored { doc, generation, ok, heads: summary.map(|s| s.heads) };
                    if d.hold_writes {
                        d.held_writes.push(stored);
                    } else {
                        self.queue.push_back(Ev::Client(i, stored));
                    }
                }
                Effect::Acked { doc, heads } => {
                    d.acked.insert(doc, heads);
                }
                Effect::Load { doc } => {
                    let result = if d.unreadable.contains(&doc) { Err("unreadable".to_owned()) } else { Ok(d.store.chunks(doc)) };
                    self.queue.push_back(Ev::Client(i, Input::Loaded { doc, result }));
                }
                Effect::LoadForPeer { conn, doc } => {
                    let result = if d.unreadable.contains(&doc) { Err("unreadable".to_owned()) } else { Ok(d.store.chunks(doc)) };
                    self.queue.push_back(Ev::Client(i, Input::LoadedForPeer { conn, doc, result }));
                }
                Effect::LoadForMerge { doc } => {
                    let chunks = d.store.chunks(doc);
                    self.queue.push_back(Ev::Client(i, Input::LoadedForMerge { doc, chunks }));
                }
                Effect::LoadFailed { doc, .. } => d.load_failures.push(doc),
                Effect::FetchFeed { since } => {
                    let result = if self.server.up { Ok(self.server.feed(since)) } else { Err(FeedError::Other("no server".into())) };
                    self.queue.push_back(Ev::Client(i, Input::Feed { result }));
                }
                Effect::SaveCheckpoint { seq } => d.checkpoint = seq,
                Effect::Updated { doc, remote } => {
                    if remote {
                        d.remote_updates.push(doc);
                    }
                }
                Effect::Status(s) => d.statuses.push(s),
                Effect::Reload => d.reloaded = true,
                Effect::RetryWriteIn { doc, .. } => d.retries.push(doc),
                Effect::Refused { doc, reason } => d.refusals.push((doc, reason)),
                Effect::Presence { doc, from, data } => d.presence.push((doc, from, data)),
                Effect::Forget { doc } => {
                    d.store.0.remove(&doc);
                    d.summaries.remove(&doc);
                    d.acked.remove(&doc);
                    d.forgotten.push(doc);
                }
                Effect::ListChanged | Effect::Upload => {}
            }
            let d = &mut self.devices[i];
            d.max_loaded = d.max_loaded.max(d.client.loaded_docs());
        }
    }

    fn server_actions(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { conn, bytes } => {
                    if let Some((i, c)) = self.routes.get(&conn) {
                        self.queue.push_back(Ev::Client(*i, Input::Frame { conn: *c, bytes }));
                    }
                }
                Action::Close { conn, .. } => {
                    if let Some((i, c)) = self.routes.remove(&conn) {
                        self.devices[i].links.remove(&c);
                        self.queue.push_back(Ev::Client(i, Input::SocketClosed { conn: c }));
                    }
                }
                Action::Authorize { conn, doc, load, .. } => {
                    let verdict = if self.server.forbidden.contains(&doc) {
                        Verdict::Unavailable
                    } else if self.server.store.0.contains_key(&doc) {
                        Verdict::Allowed {
                            chunks: if load { self.server.store.chunks(doc) } else { Vec::new() },
                            actors: Vec::new(),
                            owner: String::new(),
                        }
                    } else {
                        Verdict::Created
                    };
                    self.queue.push_back(Ev::Server(Event::Authorized { conn, doc, verdict }));
                }
                Action::Persist { doc, chunk, generation, .. } => {
                    self.server.store.write(doc, chunk);
                    self.server.bump(doc);
                    self.queue.push_back(Ev::Server(Event::Persisted { doc, generation, ok: true }));
                }
                Action::Established { .. }
                | Action::Updated { .. }
                | Action::Unavailable { .. }
                | Action::Acknowledged { .. }
                | Action::Refused { .. }
                | Action::Applied { .. }
                | Action::Ephemeral { .. } => {}
            }
        }
    }

    /// Drops every connection as a dead network would, both sides hearing of it.
    fn cut(&mut self, i: usize) {
        let links: Vec<(ConnId, ConnId)> = self.devices[i].links.drain().collect();
        for (c, s) in links {
            self.routes.remove(&s);
            self.queue.push_back(Ev::Server(Event::Disconnected { conn: s }));
            self.queue.push_back(Ev::Client(i, Input::SocketClosed { conn: c }));
        }
        self.settle();
    }

    fn retry_writes(&mut self, i: usize) {
        for doc in std::mem::take(&mut self.devices[i].retries) {
            self.input(i, Input::RetryWrite { doc });
        }
    }

    fn up_to_date(&self, i: usize) -> bool {
        matches!(self.devices[i].statuses.last(), Some(SyncStatus::UpToDate { .. }))
    }

    /// The device holds exactly the server's heads of `doc`, and knows the server has them.
    fn in_step(&self, i: usize, doc: DocumentId) -> bool {
        let d = &self.devices[i];
        let server = self.server.store.heads(doc);
        !server.is_empty() && d.store.heads(doc) == server && d.acked.get(&doc) == Some(&server)
    }
}

#[test]
fn a_fresh_device_syncs_every_record_a_window_at_a_time_and_saves_the_feed_checkpoint() {
    let mut sim = Sim::new();
    let n = 300;
    for i in 0..n {
        sim.server.seed(doc_id(i), &format!("C-{i}"));
    }
    let dev = sim.add_device(true, Chunks::default(), HashMap::new());

    assert!(sim.up_to_date(dev), "ends up to date: {:?}", sim.devices[dev].statuses.last());
    for i in 0..n {
        assert!(sim.in_step(dev, doc_id(i)), "record {i} synced");
        assert!(sim.devices[dev].summaries.contains_key(&doc_id(i)), "record {i} listed");
    }
    let d = &sim.devices[dev];
    assert_eq!(d.checkpoint, sim.server.seq, "checkpoint at the end of the feed");
    // The counts are truthful: never more done than the total, the total never beyond n.
    let syncing: Vec<(usize, usize)> =
        d.statuses.iter().filter_map(|s| if let SyncStatus::Syncing { done, total } = s { Some((*done, *total)) } else { None }).collect();
    assert!(syncing.iter().all(|(done, total)| done <= total && *total <= n as usize), "{syncing:?}");
    assert!(syncing.iter().any(|(done, total)| *done > 0 && done < total), "progress was counted: {syncing:?}");
    assert!(d.max_loaded <= WINDOW + 1, "at most a window of records in memory: {}", d.max_loaded);
    assert_eq!(d.client.loaded_docs(), 0, "nothing stays in memory that no page holds");
}

#[test]
fn a_record_that_cannot_be_read_keeps_the_checkpoint_and_is_offered_again() {
    let mut sim = Sim::new();
    let stale = doc_id(1);
    sim.server.seed(stale, "OLD");
    sim.server.seed(doc_id(2), "OTHER");
    // The device holds the old version, acknowledged; the server then gets a newer one.
    let mut store = Chunks::default();
    store.0.insert(stale, sim.server.store.0[&stale].clone());
    let acked = HashMap::from([(stale, sim.server.store.heads(stale))]);
    let mut newer = Record::load(stale, &sim.server.store.chunks(stale)[0]).unwrap();
    set_code(&mut newer, "NEW").unwrap();
    sim.server.store.write(stale, Chunk::incremental(newer.save_incremental()));
    sim.server.bump(stale);

    // Unreadable from the start: the first round must not move the checkpoint past it.
    let dev = sim.add_device(false, store, acked);
    sim.devices[dev].unreadable.insert(stale);
    sim.input(dev, Input::Online);
    let d = &sim.devices[dev];
    assert_eq!(d.load_failures, vec![stale], "the failure is reported");
    assert!(sim.up_to_date(dev));
    assert!(sim.in_step(dev, doc_id(2)), "the other record synced");
    assert_eq!(d.checkpoint, 0, "the checkpoint did not move past the unreadable record");

    // Storage recovers: the next poll reads the feed from the old checkpoint and gets it.
    sim.devices[dev].unreadable.clear();
    sim.input(dev, Input::Poll);
    assert!(sim.in_step(dev, stale), "the record is synced once readable");
    assert_eq!(sim.devices[dev].checkpoint, sim.server.seq);
}

#[test]
fn a_reload_waits_for_every_write_in_flight() {
    let mut sim = Sim::new();
    let dev = sim.add_device(true, Chunks::default(), HashMap::new());
    let id = doc_id(5);
    sim.devices[dev].hold_writes = true;
    let effects = sim.devices[dev].client.create(sim.now, id, &meta());
    sim.carry_out(dev, effects);
    let effects = sim.devices[dev].client.update(sim.now, id, &mut |r| set_code(r, "TYPED")).unwrap();
    sim.carry_out(dev, effects);
    sim.settle();
    assert_eq!(sim.devices[dev].held_writes.len(), 2, "two writes are on their way to storage");

    let effects = sim.devices[dev].client.request_reload();
    sim.carry_out(dev, effects);
    sim.settle();
    assert!(!sim.devices[dev].reloaded, "no reload while writes are outstanding");

    let first = sim.devices[dev].held_writes.remove(0);
    sim.input(dev, first);
    assert!(!sim.devices[dev].reloaded, "one write is still outstanding");
    let second = sim.devices[dev].held_writes.remove(0);
    sim.input(dev, second);
    assert!(sim.devices[dev].reloaded, "reloads once the last write is answered");
    let mut doc = automerge::AutoCommit::new();
    for c in sim.devices[dev].store.chunks(id) {
        doc.load_incremental(&c).unwrap();
    }
    assert_eq!(code_of(&Record::from_doc(id, doc).unwrap()).as_deref(), Some("TYPED"), "what was typed is stored");
    // And with nothing outstanding, at once; nothing reconnects meanwhile.
    let effects = sim.devices[dev].client.request_reload();
    assert!(effects.contains(&Effect::Reload));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Connect { .. })));
}

#[test]
fn reconnecting_backs_off_with_jitter_and_starts_over_after_a_handshake() {
    let mut sim = Sim::new();
    sim.server.up = false;
    let dev = sim.add_device(true, Chunks::default(), HashMap::new());
    for _ in 0..8 {
        sim.input(dev, Input::RetryConnect);
    }
    let delays = sim.devices[dev].retry_in.clone();
    assert_eq!(delays.len(), 9, "one timer per failed attempt: {delays:?}");
    for (attempt, ms) in delays.iter().enumerate() {
        let base = (1000u32 << attempt.min(5)).min(60_000);
        assert!(*ms >= base / 2 && *ms <= base * 3 / 2, "attempt {attempt}: {ms} ms around {base}");
    }
    assert!(delays.windows(2).any(|w| w[0] != w[1] / 2), "jittered, not exact doublings: {delays:?}");
    assert!(matches!(sim.devices[dev].statuses.last(), Some(SyncStatus::Error(_))));

    sim.server.up = true;
    sim.input(dev, Input::RetryConnect);
    assert!(sim.up_to_date(dev));
    sim.cut(dev);
    let last = *sim.devices[dev].retry_in.last().unwrap();
    assert!(last <= 1_500, "after a handshake the backoff starts over: {last} ms");
}

#[test]
fn an_expired_session_stops_reconnecting() {
    let mut sim = Sim::new();
    sim.server.up = false;
    let dev = sim.add_device(false, Chunks::default(), HashMap::new());
    let effects = sim.devices[dev].client.handle(sim.now, Input::Online);
    let Some(Effect::Connect { conn }) = effects.iter().find(|e| matches!(e, Effect::Connect { .. })).cloned() else {
        panic!("connects when online: {effects:?}")
    };
    let effects = sim.devices[dev].client.handle(sim.now, Input::ConnectFailed { conn, unauthorized: true, reason: String::new() });
    assert!(effects.contains(&Effect::Status(SyncStatus::SessionExpired)), "{effects:?}");
    assert!(!effects.iter().any(|e| matches!(e, Effect::ConnectIn { .. })), "no retry with a dead token");
    let effects = sim.devices[dev].client.handle(sim.now, Input::Visible);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Connect { .. })), "not even when the tab shows again");
}

#[test]
fn records_made_offline_are_pushed_when_the_network_returns() {
    let mut sim = Sim::new();
    let dev = sim.add_device(false, Chunks::default(), HashMap::new());
    let ids: Vec<DocumentId> = (10..14).map(doc_id).collect();
    for id in &ids {
        let effects = sim.devices[dev].client.create(sim.now, *id, &meta());
        sim.carry_out(dev, effects);
        let effects = sim.devices[dev].client.update(sim.now, *id, &mut |r| set_code(r, "OFFLINE")).unwrap();
        sim.carry_out(dev, effects);
    }
    sim.settle();
    assert_eq!(sim.devices[dev].statuses.last(), Some(&SyncStatus::Offline));
    assert!(sim.server.store.0.is_empty());

    sim.input(dev, Input::Online);
    assert!(sim.up_to_date(dev));
    for id in &ids {
        assert!(sim.in_step(dev, *id), "pushed and acknowledged");
    }
}

#[test]
fn a_refused_record_is_marked_and_does_not_hold_up_the_round() {
    let mut sim = Sim::new();
    let theirs = doc_id(20);
    sim.server.seed(theirs, "THEIRS");
    sim.server.forbidden.insert(theirs);
    // The device holds it (say, from before access was withdrawn), unacknowledged.
    let mut store = Chunks::default();
    store.0.insert(theirs, sim.server.store.0[&theirs].clone());
    sim.server.seed(doc_id(21), "OURS");
    let dev = sim.add_device(true, store, HashMap::new());
    assert!(sim.up_to_date(dev));
    assert!(sim.in_step(dev, doc_id(21)));
    assert!(!sim.devices[dev].acked.contains_key(&theirs));
}

#[test]
fn a_record_whose_access_ended_leaves_the_device_and_comes_back_when_shared_again() {
    let mut sim = Sim::new();
    let (theirs, ours) = (doc_id(22), doc_id(23));
    sim.server.seed(theirs, "THEIRS");
    sim.server.seed(ours, "OURS");
    let dev = sim.add_device(true, Chunks::default(), HashMap::new());
    assert!(sim.in_step(dev, theirs) && sim.in_step(dev, ours));

    // Its access ends (the case was returned); the next round's feed says so.
    sim.server.revoke(theirs);
    sim.input(dev, Input::Poll);
    let d = &mut sim.devices[dev];
    assert_eq!(d.forgotten, vec![theirs], "deleted from the device");
    assert!(!d.store.0.contains_key(&theirs) && !d.summaries.contains_key(&theirs));
    assert!(d.client.with_record(theirs, &mut |_| {}).is_err(), "and from memory");
    assert!(sim.in_step(dev, ours), "the rest is untouched");
    assert!(sim.up_to_date(dev), "the round ends: {:?}", sim.devices[dev].statuses.last());

    // Named again by the feed at the next poll (shared again): fetched again.
    sim.server.forbidden.remove(&theirs);
    sim.server.bump(theirs);
    sim.input(dev, Input::Poll);
    assert!(sim.in_step(dev, theirs), "back on the device");
    assert_eq!(sim.devices[dev].forgotten, vec![theirs], "and not forgotten twice");
}

/// An offline device that stores record `id` (as the server has it, "FIRST") and has it open.
fn opened_offline(id: DocumentId) -> (Sim, usize, DocumentId) {
    let mut sim = Sim::new();
    sim.server.seed(id, "FIRST");
    let mut store = Chunks::default();
    store.0.insert(id, sim.server.store.0[&id].clone());
    let dev = sim.add_device(false, store, HashMap::new());
    let chunks = sim.devices[dev].store.chunks(id);
    let effects = sim.devices[dev].client.open(sim.now, id, chunks);
    sim.carry_out(dev, effects);
    (sim, dev, id)
}

#[test]
fn another_tabs_change_reaches_an_open_record_without_the_network() {
    let (mut sim, dev, id) = opened_offline(doc_id(30));

    // The other tab writes a change to the shared storage and announces it.
    let mut other = Record::load(id, &sim.devices[dev].store.chunks(id)[0]).unwrap();
    set_code(&mut other, "SECOND").unwrap();
    sim.devices[dev].store.write(id, Chunk::incremental(other.save_incremental()));
    let summary = RecordSummary { org: Some("fed".into()), ..other.summary().unwrap() };
    sim.input(dev, Input::StoredElsewhere { summary });

    assert_eq!(sim.devices[dev].remote_updates, vec![id], "the page hears of it");
    let mut code = None;
    sim.devices[dev].client.with_record(id, &mut |r| code = code_of(r)).unwrap();
    assert_eq!(code.as_deref(), Some("SECOND"));
    assert_ne!(tab_peer_id("device", 1), tab_peer_id("device", 2), "each tab is its own peer");
}

#[test]
fn a_merge_that_breaks_a_record_is_noticed_on_the_next_look_though_looks_are_cached() {
    let (mut sim, dev, id) = opened_offline(doc_id(31));
    // Looked at (and checked) twice at the same heads, edited, looked at again.
    for _ in 0..2 {
        sim.devices[dev].client.with_record(id, &mut |_| {}).unwrap();
    }
    let effects = sim.devices[dev].client.update(sim.now, id, &mut |r| set_code(r, "EDITED")).unwrap();
    sim.carry_out(dev, effects);
    let mut code = None;
    sim.devices[dev].client.with_record(id, &mut |r| code = code_of(r)).unwrap();
    assert_eq!(code.as_deref(), Some("EDITED"));

    // Another tab (or a buggy peer) removes what makes it a record; the change merges in.
    let mut other = Record::load(id, &sim.devices[dev].store.chunks(id).concat()).unwrap();
    automerge::transaction::Transactable::delete(other.doc_mut(), automerge::ROOT, "meta").unwrap();
    other.doc_mut().commit();
    sim.devices[dev].store.write(id, Chunk::incremental(other.save_incremental()));
    let summary = RecordSummary { org: Some("fed".into()), ..sim.devices[dev].summaries[&id].clone() };
    sim.input(dev, Input::StoredElsewhere { summary });

    let err = sim.devices[dev].client.with_record(id, &mut |_| panic!("a broken record must not be lent out")).unwrap_err();
    assert!(err.contains("meta"), "{err}");
}

#[test]
fn a_record_the_server_refuses_alone_says_why_and_the_rest_sync_on_the_same_connection() {
    let mut sim = Sim::new();
    sim.server = Server::with_limit(8 * 1024);
    let dev = sim.add_device(true, Chunks::default(), HashMap::new());
    let (big, small) = (doc_id(40), doc_id(41));
    // Text that does not compress (Automerge deflates large changes).
    let mut x = 1u64;
    let noise: String = (0..20_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            char::from(b'a' + (x >> 59) as u8 % 26)
        })
        .collect();
    for (id, code) in [(big, noise), (small, "SMALL".to_owned())] {
        let effects = sim.devices[dev].client.create(sim.now, id, &meta());
        sim.carry_out(dev, effects);
        let effects = sim.devices[dev].client.update(sim.now, id, &mut |r| set_code(r, &code)).unwrap();
        sim.carry_out(dev, effects);
    }
    sim.settle();
    let d = &sim.devices[dev];
    let reason = d.refusals.iter().find(|(doc, _)| *doc == big).and_then(|(_, r)| r.clone());
    assert!(reason.as_deref().is_some_and(|r| r.contains("exceed")), "refused with the reason: {:?}", d.refusals);
    assert!(sim.in_step(dev, small), "the other record synced");
    assert_eq!(d.connects, 1, "on the same connection");
    assert!(sim.up_to_date(dev), "the round ended: {:?}", d.statuses.last());
    assert!(!d.store.chunks(big).is_empty(), "the refused record stays on the device");
    assert!(!sim.server.store.0.contains_key(&big) || sim.server.store.heads(big) != d.store.heads(big));
}

#[derive(Debug, Clone)]
enum Op {
    Edit {
        device: usize,
        doc: u32,
    },
    Cut {
        device: usize,
    },
    Reconnect {
        device: usize,
    },
    Poll {
        device: usize,
    },
    FailWrites {
        device: usize,
        fail: bool,
    },
    /// The write-retry timers fire.
    Retry {
        device: usize,
    },
    ServerSeed {
        doc: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..4u32).prop_map(|(device, doc)| Op::Edit { device, doc }),
        1 => (0..2usize).prop_map(|device| Op::Cut { device }),
        2 => (0..2usize).prop_map(|device| Op::Reconnect { device }),
        1 => (0..2usize).prop_map(|device| Op::Poll { device }),
        1 => (0..2usize, any::<bool>()).prop_map(|(device, fail)| Op::FailWrites { device, fail }),
        1 => (0..2usize).prop_map(|device| Op::Retry { device }),
        1 => (100..104u32).prop_map(|doc| Op::ServerSeed { doc }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Two devices edit, lose the network, fail writes and come back in any order; once both
    /// are online with working storage, both hold every change and are up to date.
    #[test]
    fn two_devices_converge_whatever_the_schedule(ops in proptest::collection::vec(op(), 1..60)) {
        let mut sim = Sim::new();
        let a = sim.add_device(true, Chunks::default(), HashMap::new());
        let b = sim.add_device(true, Chunks::default(), HashMap::new());
        let mut created: HashSet<(usize, u32)> = HashSet::new();
        let mut seeded = HashSet::new();
        for op in ops {
            match op {
                Op::Edit { device, doc } => {
                    // Each device makes its own records (ids differ by device).
                    let id = doc_id(device as u32 * 1000 + doc);
                    let c = &mut sim.devices[device].client;
                    if created.insert((device, doc)) {
                        let effects = c.create(sim.now, id, &meta());
                        sim.carry_out(device, effects);
                    }
                    let chunks = sim.devices[device].store.chunks(id);
                    let effects = sim.devices[device].client.open(sim.now, id, chunks);
                    sim.carry_out(device, effects);
                    let effects = sim.devices[device].client.update(sim.now, id, &mut |r| set_code(r, &format!("E{}", r.id()))).unwrap();
                    sim.carry_out(device, effects);
                    let effects = sim.devices[device].client.close(sim.now, id);
                    sim.carry_out(device, effects);
                    sim.settle();
                }
                Op::Cut { device } => sim.cut(device),
                Op::Reconnect { device } => sim.input(device, Input::RetryConnect),
                Op::Poll { device } => sim.input(device, Input::Poll),
                Op::FailWrites { device, fail } => sim.devices[device].fail_writes = fail,
                Op::Retry { device } => sim.retry_writes(device),
                Op::ServerSeed { doc } => {
                    if seeded.insert(doc) {
                        sim.server.seed(doc_id(doc), "SEEDED");
                    }
                }
            }
        }
        // Heal: storage works, every record retried, both online, both poll.
        for device in [a, b] {
            sim.devices[device].fail_writes = false;
            sim.retry_writes(device);
            sim.input(device, Input::RetryConnect);
            sim.input(device, Input::Poll);
        }
        for device in [a, b] {
            sim.input(device, Input::Poll);
        }
        let all: Vec<DocumentId> = created.iter().map(|(dv, doc)| doc_id(*dv as u32 * 1000 + doc)).chain(seeded.iter().map(|d| doc_id(*d))).collect();
        for device in [a, b] {
            prop_assert!(sim.up_to_date(device), "device {device}: {:?}", sim.devices[device].statuses.last());
            for id in &all {
                prop_assert!(sim.in_step(device, *id), "device {device} record {id}");
            }
        }
    }
}

/// Presence goes through the server to the other device that has the record open, under
/// the sender's peer id, and never into storage.
#[test]
fn presence_reaches_the_other_device_with_the_record_open_and_is_not_stored() {
    let mut sim = Sim::new();
    let id = doc_id(40);
    let a = sim.add_device(true, Chunks::default(), HashMap::new());
    let b = sim.add_device(true, Chunks::default(), HashMap::new());
    sim.settle();
    let effects = sim.devices[a].client.create(sim.now, id, &meta());
    sim.carry_out(a, effects);
    sim.settle();
    let effects = sim.devices[b].client.open(sim.now, id, Vec::new());
    sim.carry_out(b, effects);
    sim.settle();
    assert!(sim.in_step(b, id), "b has the record");
    let stored = sim.server.store.chunks(id).len();

    let effects = sim.devices[a].client.broadcast(id, b"{\"clause\":\"c2\"}".to_vec());
    sim.carry_out(a, effects);
    sim.settle();
    let got: Vec<_> = sim.devices[b].presence.iter().filter(|(d, _, _)| *d == id).collect();
    assert_eq!(got.len(), 1, "{:?}", sim.devices[b].presence);
    assert_eq!(got[0].2, b"{\"clause\":\"c2\"}".to_vec());
    assert!(got[0].1.starts_with("liaison-app-"), "under a's peer id: {}", got[0].1);
    assert!(sim.devices[a].presence.is_empty(), "not echoed to its sender");
    assert_eq!(sim.server.store.chunks(id).len(), stored, "nothing stored");
}

#[test]
fn a_summary_from_an_older_app_is_made_again_from_the_stored_record_without_loading_it() {
    let id = doc_id(40);
    let form = shared::form::latest("mediation").unwrap();
    let mediation = RecordMeta { kind: RecordKind::new("mediation"), form_id: "mediation".into(), form_version: form.version, ..meta() };
    let mut r = Record::create(id, &mediation);
    r.set(form.field("case_code").unwrap(), Some(FieldValue::Text("TJ-40".into())), 1_700_000_001_000).unwrap();
    r.set(form.field("outcome").unwrap(), Some(FieldValue::Choice("agreement".into())), 1_700_000_002_000).unwrap();
    // What an older version stored: the same record, its summary without figures.
    let old = RecordSummary { org: Some("fed".into()), figures: Default::default(), format: 0, ..r.summary().unwrap() };
    assert!(old.outdated());

    let mut sim = Sim::new();
    let mut store = Chunks::default();
    store.write(id, Chunk::snapshot(r.save(), vec![]));
    let dev = sim.add_device(false, store, HashMap::new());
    let chunks = sim.devices[dev].store.chunks(id);
    // Read apart from the node: it returns no effects to carry out, so nothing is sent.
    let fresh = sim.devices[dev].client.summarise(id, &chunks).expect("a liaison record");
    assert!(!fresh.outdated());
    assert_eq!(fresh.figures["resolved"].n, 1.0);
    assert_eq!((fresh.heads.clone(), fresh.title.clone()), (old.heads.clone(), old.title.clone()), "the same record as stored");
    assert!(!sim.devices[dev].client.is_loaded(id), "not in the node: not synced, not kept");
    // Open on a page, it is read from memory (the chunks are not needed).
    let effects = sim.devices[dev].client.open(sim.now, id, chunks);
    sim.carry_out(dev, effects);
    assert_eq!(sim.devices[dev].client.summarise(id, &[]).map(|s| s.figures), Some(fresh.figures));
}

//! The sync state machine on a simulated network: one server, several clients, random
//! schedules of offline edits, disconnects, slow storage and server crashes.

use std::collections::VecDeque;

use automerge::{AutoCommit, ROOT, ReadDoc, transaction::Transactable};
use proptest::prelude::*;
mod common;

use common::Chunks as Store;
use shared::DocumentId;
use shared::sync::node::{Chunk, ChunkKind};
use shared::sync::{Action, ConnId, Event, Message, Node, NodeConfig, PeerId, PeerMetadata, Role, Verdict};

const DOCS: usize = 3;

fn doc_id(i: usize) -> DocumentId {
    DocumentId::from_random_bytes([i as u8 + 1; 16])
}

/// A server that keeps one document in memory at most, so that every schedule also forgets
/// and reloads documents in the middle of sync sessions.
fn server_node() -> Node {
    let mut node = Node::new(NodeConfig {
        peer_id: PeerId("server".into()),
        metadata: PeerMetadata { storage_id: Some("server-storage".into()), is_ephemeral: false },
        role: Role::Server,
        max_doc_bytes: 1 << 20,
    });
    node.set_max_loaded_docs(1);
    node
}

fn client_node(i: usize) -> Node {
    Node::new(NodeConfig {
        peer_id: PeerId(format!("client-{i}")),
        metadata: PeerMetadata::default(),
        role: Role::Client,
        max_doc_bytes: 1 << 20,
    })
}

struct Link {
    client: ConnId,
    server: ConnId,
    to_server: VecDeque<Vec<u8>>,
    to_client: VecDeque<Vec<u8>>,
}

struct Client {
    node: Node,
    store: Store,
    link: Option<Link>,
    opened: [bool; DOCS],
    edits: Vec<(usize, String)>,
    /// The next local write fails (the phone's storage is full for a moment).
    fail_next_write: bool,
    /// Documents whose write failed: the engine asks the node to write them again later.
    retry: Vec<DocumentId>,
    /// Documents the server refused with a reason (the connection kept).
    refused: Vec<(DocumentId, String)>,
}

struct Sim {
    server: Node,
    server_store: Store,
    /// Persists the server asked for that storage has not finished.
    server_pending: VecDeque<(DocumentId, Chunk, u64)>,
    clients: Vec<Client>,
    next_conn: u64,
}

#[derive(Debug, Clone)]
enum Op {
    Edit {
        client: usize,
        doc: usize,
    },
    Connect {
        client: usize,
    },
    Disconnect {
        client: usize,
    },
    Deliver {
        client: usize,
        to_server: bool,
    },
    StoreServer,
    /// The server's next write fails (disk full, say): nothing of it is stored.
    FailServerStore,
    FailClientStore {
        client: usize,
    },
    RetryClientWrites {
        client: usize,
    },
    CrashServer,
    /// The client no longer needs the document in memory (the app releases what is not on
    /// screen); a message about it loads it again from the client's storage.
    Release {
        client: usize,
        doc: usize,
    },
}

impl Sim {
    fn new(clients: usize) -> Sim {
        Sim {
            server: server_node(),
            server_store: Store::default(),
            server_pending: VecDeque::new(),
            clients: (0..clients)
                .map(|i| Client {
                    node: client_node(i),
                    store: Store::default(),
                    link: None,
                    opened: [false; DOCS],
                    edits: vec![],
                    fail_next_write: false,
                    retry: vec![],
                    refused: vec![],
                })
                .collect(),
            next_conn: 0,
        }
    }

    fn conn(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    fn server_event(&mut self, event: Event) {
        let mut events = VecDeque::from([event]);
        while let Some(e) = events.pop_front() {
            for action in self.server.handle(0, e) {
                match action {
                    Action::Send { conn, bytes } => {
                        if let Some(l) = self.link_by_server(conn) {
                            l.to_client.push_back(bytes);
                        }
                    }
                    Action::Close { conn, .. } => {
                        if let Some(i) = self.clients.iter().position(|c| c.link.as_ref().is_some_and(|l| l.server == conn)) {
                            let link = self.clients[i].link.take().unwrap();
                            self.clients[i].node.handle(0, Event::Disconnected { conn: link.client });
                        }
                    }
                    Action::Authorize { conn, doc, create, load } => {
                        // Everyone in this simulation is one organisation.
                        let exists = self.server_store.0.contains_key(&doc);
                        let verdict = if exists {
                            Verdict::Allowed {
                                chunks: if load { self.server_store.chunks(doc) } else { vec![] },
                                actors: vec![],
                                owner: String::new(),
                            }
                        } else if create {
                            self.server_store.0.insert(doc, vec![]);
                            Verdict::Created
                        } else {
                            Verdict::Unavailable
                        };
                        events.push_back(Event::Authorized { conn, doc, verdict });
                    }
                    Action::Persist { doc, chunk, generation, .. } => self.server_pending.push_back((doc, chunk, generation)),
                    _ => {}
                }
            }
        }
    }

    fn client_event(&mut self, i: usize, event: Event) {
        let mut events = VecDeque::from([event]);
        while let Some(e) = events.pop_front() {
            let actions = self.clients[i].node.handle(0, e);
            for action in actions {
                match action {
                    Action::Send { bytes, .. } => {
                        if let Some(l) = self.clients[i].link.as_mut() {
                            l.to_server.push_back(bytes);
                        }
                    }
                    Action::Close { .. } => {
                        if let Some(link) = self.clients[i].link.take() {
                            self.server_event(Event::Disconnected { conn: link.server });
                        }
                    }
                    // A released document is loaded again from the client's own storage.
                    Action::Authorize { conn, doc, .. } => {
                        let chunks = self.clients[i].store.chunks(doc);
                        events.push_back(Event::Authorized {
                            conn,
                            doc,
                            verdict: Verdict::Allowed { chunks, actors: vec![], owner: String::new() },
                        });
                    }
                    // The server said it holds these heads: they must be in its storage.
                    Action::Acknowledged { doc, heads, .. } => {
                        let stored = self.server_store.load(doc);
                        for h in heads {
                            assert!(
                                stored.get_change_by_hash(&h).is_some(),
                                "client {i} was told the server has change {h}; it is not stored"
                            );
                        }
                    }
                    // The browser writes to IndexedDB at once; here, to the client's store.
                    Action::Persist { doc, chunk, generation, .. } => {
                        let ok = !std::mem::take(&mut self.clients[i].fail_next_write);
                        if ok {
                            self.clients[i].store.write(doc, chunk);
                        } else {
                            self.clients[i].retry.push(doc);
                        }
                        events.push_back(Event::Persisted { doc, generation, ok });
                    }
                    Action::Unavailable { doc, reason: Some(reason), .. } => self.clients[i].refused.push((doc, reason)),
                    _ => {}
                }
            }
        }
    }

    fn link_by_server(&mut self, conn: ConnId) -> Option<&mut Link> {
        self.clients.iter_mut().filter_map(|c| c.link.as_mut()).find(|l| l.server == conn)
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Edit { client, doc } => {
                let id = doc_id(doc);
                if !self.clients[client].opened[doc] || self.clients[client].node.doc(id).is_none() {
                    self.clients[client].opened[doc] = true;
                    let chunks = self.clients[client].store.chunks(id);
                    self.client_event(client, Event::Open { doc: id, chunks });
                }
                let key = format!("c{client}-e{}", self.clients[client].edits.len());
                let d = self.clients[client].node.doc_mut(id).unwrap();
                // Values big enough that every few edits compaction writes a snapshot, which
                // names the chunks it replaces.
                d.put(ROOT, key.as_str(), "x".repeat(20_000)).unwrap();
                self.clients[client].edits.push((doc, key));
                self.client_event(client, Event::Changed { doc: id });
            }
            Op::Connect { client } => {
                if self.clients[client].link.is_some() {
                    return;
                }
                let (c, s) = (self.conn(), self.conn());
                self.clients[client].link = Some(Link { client: c, server: s, to_server: VecDeque::new(), to_client: VecDeque::new() });
                self.server_event(Event::Connected { conn: s, account: "federation".into(), org: String::new() });
                self.client_event(client, Event::Connected { conn: c, account: String::new(), org: String::new() });
            }
            Op::Disconnect { client } => {
                if let Some(link) = self.clients[client].link.take() {
                    self.client_event(client, Event::Disconnected { conn: link.client });
                    self.server_event(Event::Disconnected { conn: link.server });
                }
            }
            Op::Deliver { client, to_server } => {
                // The first queue with something in it, starting from the chosen one, so that
                // most steps move a message.
                let n = self.clients.len();
                let Some((client, to_server)) = (0..2 * n).map(|k| ((client + k / 2) % n, to_server ^ (k % 2 == 1))).find(|(c, dir)| {
                    self.clients[*c].link.as_ref().is_some_and(|l| !(if *dir { &l.to_server } else { &l.to_client }).is_empty())
                }) else {
                    return;
                };
                let Some(link) = self.clients[client].link.as_mut() else { return };
                if to_server {
                    if let Some(bytes) = link.to_server.pop_front() {
                        let conn = link.server;
                        self.server_event(Event::Received { conn, bytes });
                    }
                } else if let Some(bytes) = link.to_client.pop_front() {
                    let conn = link.client;
                    self.client_event(client, Event::Received { conn, bytes });
                }
            }
            Op::StoreServer => {
                if let Some((doc, chunk, generation)) = self.server_pending.pop_front() {
                    self.server_store.write(doc, chunk);
                    self.server_event(Event::Persisted { doc, generation, ok: true });
                }
            }
            Op::FailClientStore { client } => self.clients[client].fail_next_write = true,
            Op::RetryClientWrites { client } => {
                for doc in std::mem::take(&mut self.clients[client].retry) {
                    self.client_event(client, Event::Changed { doc });
                }
            }
            Op::FailServerStore => {
                if let Some((doc, _, generation)) = self.server_pending.pop_front() {
                    self.server_event(Event::Persisted { doc, generation, ok: false });
                }
            }
            Op::CrashServer => self.crash_server(),
            Op::Release { client, doc } => self.clients[client].node.release(doc_id(doc)),
        }
    }

    /// Kills the server: unfinished writes are lost, every socket drops. Anything a client was
    /// told the server has must be in the server's storage.
    fn crash_server(&mut self) {
        for (i, c) in self.clients.iter().enumerate() {
            let Some(link) = c.link.as_ref() else { continue };
            for doc in 0..DOCS {
                let id = doc_id(doc);
                let stored = self.server_store.load(id);
                for h in c.node.acknowledged(link.client, id) {
                    assert!(
                        stored.get_change_by_hash(&h).is_some(),
                        "the server told client {i} it had change {h} of doc {doc}; it is not stored"
                    );
                }
            }
        }
        self.server_pending.clear();
        self.server = server_node();
        for i in 0..self.clients.len() {
            if let Some(link) = self.clients[i].link.take() {
                self.client_event(i, Event::Disconnected { conn: link.client });
            }
        }
    }

    /// Reconnects everyone and delivers everything until nothing moves.
    fn settle(&mut self) {
        for i in 0..self.clients.len() {
            self.clients[i].fail_next_write = false;
            self.run(Op::RetryClientWrites { client: i });
            self.run(Op::Disconnect { client: i });
            self.run(Op::Connect { client: i });
            // What the app's discovery does: every record it has is offered again, loaded from
            // storage where it was released.
            for doc in 0..DOCS {
                if self.clients[i].opened[doc] {
                    let id = doc_id(doc);
                    let chunks = if self.clients[i].node.doc(id).is_some() { vec![] } else { self.clients[i].store.chunks(id) };
                    self.client_event(i, Event::Open { doc: id, chunks });
                }
            }
        }
        for _ in 0..10_000 {
            let mut moved = false;
            for i in 0..self.clients.len() {
                for to_server in [true, false] {
                    let l = self.clients[i].link.as_ref().unwrap();
                    if !(if to_server { &l.to_server } else { &l.to_client }).is_empty() {
                        self.run(Op::Deliver { client: i, to_server });
                        moved = true;
                    }
                }
            }
            if !self.server_pending.is_empty() {
                self.run(Op::StoreServer);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the simulation did not settle");
    }
}

fn op(clients: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..clients, 0..DOCS).prop_map(|(client, doc)| Op::Edit { client, doc }),
        3 => (0..clients).prop_map(|client| Op::Connect { client }),
        1 => (0..clients).prop_map(|client| Op::Disconnect { client }),
        12 => (0..clients, any::<bool>()).prop_map(|(client, to_server)| Op::Deliver { client, to_server }),
        3 => Just(Op::StoreServer),
        1 => Just(Op::FailServerStore),
        1 => (0..clients).prop_map(|client| Op::FailClientStore { client }),
        1 => (0..clients).prop_map(|client| Op::RetryClientWrites { client }),
        1 => Just(Op::CrashServer),
        2 => (0..clients, 0..DOCS).prop_map(|(client, doc)| Op::Release { client, doc }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Whatever the schedule, once everyone reconnects all replicas converge, every edit is in
    /// every replica, and at every crash nothing acknowledged was missing from storage.
    #[test]
    fn random_offline_schedules_converge_without_losing_a_change(ops in proptest::collection::vec(op(3), 1..120)) {
        let mut sim = Sim::new(3);
        for op in ops {
            sim.run(op);
        }
        // Two rounds: a client that was told `doc-unavailable` before a document reached the
        // server asks again on its next connection.
        sim.settle();
        sim.settle();
        let all_edits: Vec<(usize, String)> = sim.clients.iter().flat_map(|c| c.edits.clone()).collect();
        for doc in 0..DOCS {
            let id = doc_id(doc);
            let expected: Vec<&String> = all_edits.iter().filter(|(d, _)| *d == doc).map(|(_, k)| k).collect();
            let stored = sim.server_store.load(id);
            for key in &expected {
                prop_assert!(stored.get(ROOT, key.as_str()).unwrap().is_some(), "server storage lacks {key} of doc {doc}");
            }
            for (i, c) in sim.clients.iter_mut().enumerate() {
                if !c.opened[doc] {
                    continue;
                }
                // Released documents are checked in storage only.
                let replica = c.node.doc(id).cloned().unwrap_or_else(|| c.store.load(id));
                for key in &expected {
                    prop_assert!(replica.get(ROOT, key.as_str()).unwrap().is_some(), "client {i} lacks {key} of doc {doc}");
                }
                // And what the client stored locally holds everything it shows.
                let local = c.store.load(id);
                for key in &expected {
                    prop_assert!(local.get(ROOT, key.as_str()).unwrap().is_some(), "client {i}'s storage lacks {key} of doc {doc}");
                }
            }
        }
    }
}

/// Two organisations on one server: the second gets `doc-unavailable` for the first's
/// document, for `request` and `sync` alike, and its changes are never applied or stored.
#[test]
fn another_accounts_document_reads_as_missing_and_takes_no_writes() {
    let mut server = server_node();
    let owner = doc_id(0);
    let (fed, proc_) = (ConnId(1), ConnId(2));
    let join = |name: &str| {
        Message::Join { sender_id: PeerId(name.into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None }.encode()
    };
    server.handle(0, Event::Connected { conn: fed, account: "federation".into(), org: String::new() });
    server.handle(0, Event::Connected { conn: proc_, account: "procuratorate".into(), org: String::new() });
    server.handle(0, Event::Received { conn: fed, bytes: join("fed") });
    server.handle(0, Event::Received { conn: proc_, bytes: join("proc") });

    // The procuratorate writes into the federation's document.
    let mut theirs = AutoCommit::new();
    theirs.put(ROOT, "forged", true).unwrap();
    let mut state = automerge::sync::State::new();
    let data = automerge::sync::SyncDoc::generate_sync_message(&theirs.document().clone(), &mut state).unwrap().encode();
    for msg in [
        Message::Sync { sender_id: PeerId("proc".into()), target_id: PeerId("server".into()), document_id: owner, data: data.clone() },
        Message::Request { sender_id: PeerId("proc".into()), target_id: PeerId("server".into()), document_id: owner, data: data.clone() },
    ] {
        let kind = msg.kind().to_owned();
        let actions = server.handle(0, Event::Received { conn: proc_, bytes: msg.encode() });
        let authorize = actions.iter().find(|a| matches!(a, Action::Authorize { .. }));
        let actions = match authorize {
            Some(Action::Authorize { conn, doc, .. }) => {
                server.handle(0, Event::Authorized { conn: *conn, doc: *doc, verdict: Verdict::Unavailable })
            }
            _ => actions,
        };
        assert!(!actions.iter().any(|a| matches!(a, Action::Persist { .. })), "{kind}: nothing is stored");
        let replies: Vec<Message> = actions
            .iter()
            .filter_map(|a| if let Action::Send { bytes, .. } = a { Some(Message::decode(bytes).unwrap()) } else { None })
            .collect();
        assert_eq!(
            replies,
            vec![Message::DocUnavailable {
                sender_id: PeerId("server".into()),
                target_id: PeerId("proc".into()),
                document_id: owner,
                reason: None
            }],
            "{kind}: answered as if missing"
        );
    }
    assert!(server.doc(owner).is_none(), "the document was never loaded for them");
}

#[test]
fn a_rejoin_with_the_same_peer_id_replaces_the_old_socket_only_for_the_same_account() {
    let mut server = server_node();
    let join =
        Message::Join { sender_id: PeerId("phone".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None }.encode();
    server.handle(0, Event::Connected { conn: ConnId(1), account: "li".into(), org: String::new() });
    server.handle(0, Event::Received { conn: ConnId(1), bytes: join.clone() });

    server.handle(0, Event::Connected { conn: ConnId(2), account: "wang".into(), org: String::new() });
    let refused = server.handle(0, Event::Received { conn: ConnId(2), bytes: join.clone() });
    assert!(refused.iter().any(|a| matches!(a, Action::Close { conn: ConnId(2), .. })));
    assert!(!refused.iter().any(|a| matches!(a, Action::Close { conn: ConnId(1), .. })));

    server.handle(0, Event::Connected { conn: ConnId(3), account: "li".into(), org: String::new() });
    let replaced = server.handle(0, Event::Received { conn: ConnId(3), bytes: join });
    assert!(replaced.iter().any(|a| matches!(a, Action::Close { conn: ConnId(1), .. })), "old socket closed");
    assert!(replaced.iter().any(|a| matches!(a, Action::Established { conn: ConnId(3), .. })));
}

#[test]
fn malformed_input_gets_an_error_and_a_close_and_bad_data_for_one_document_refuses_it_alone() {
    let mut server = server_node();
    server.handle(0, Event::Connected { conn: ConnId(1), account: "li".into(), org: String::new() });
    let actions = server.handle(0, Event::Received { conn: ConnId(1), bytes: vec![0xff, 0x00] });
    assert!(matches!(&actions[..], [Action::Send { .. }, Action::Close { .. }]));
    let Action::Send { bytes, .. } = &actions[0] else { unreachable!() };
    assert!(matches!(Message::decode(bytes).unwrap(), Message::Error { .. }));

    // Sync before join.
    server.handle(0, Event::Connected { conn: ConnId(2), account: "li".into(), org: String::new() });
    let early = Message::Sync { sender_id: PeerId("x".into()), target_id: PeerId("server".into()), document_id: doc_id(0), data: vec![1] };
    let actions = server.handle(0, Event::Received { conn: ConnId(2), bytes: early.encode() });
    assert!(actions.iter().any(|a| matches!(a, Action::Close { .. })));

    // Bad sync data after a proper join.
    server.handle(0, Event::Connected { conn: ConnId(3), account: "li".into(), org: String::new() });
    let join = Message::Join { sender_id: PeerId("y".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
    server.handle(0, Event::Received { conn: ConnId(3), bytes: join.encode() });
    let bad =
        Message::Sync { sender_id: PeerId("y".into()), target_id: PeerId("server".into()), document_id: doc_id(0), data: vec![9, 9, 9] };
    let asked = server.handle(0, Event::Received { conn: ConnId(3), bytes: bad.encode() });
    assert!(matches!(&asked[..], [Action::Authorize { create: true, .. }]));
    let actions = server.handle(0, Event::Authorized { conn: ConnId(3), doc: doc_id(0), verdict: Verdict::Created });
    // Bad data for one document refuses that document, saying why, and keeps the connection.
    let (doc, reason) = refusal(&actions).expect("refused with a reason");
    assert_eq!(doc, doc_id(0));
    assert!(reason.contains("bad sync data"), "{reason}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Close { .. })), "the connection stays");
    assert!(!actions.iter().any(|a| matches!(a, Action::Persist { .. })));
    let other = Message::Sync {
        sender_id: PeerId("y".into()),
        target_id: PeerId("server".into()),
        document_id: doc_id(1),
        data: empty_sync_message(),
    };
    let asked = server.handle(0, Event::Received { conn: ConnId(3), bytes: other.encode() });
    assert!(matches!(&asked[..], [Action::Authorize { .. }]), "another document goes on syncing: {asked:?}");
}

/// The `doc-unavailable` with a reason in `actions`, if any.
fn refusal(actions: &[Action]) -> Option<(DocumentId, String)> {
    actions.iter().find_map(|a| match a {
        Action::Send { bytes, .. } => match Message::decode(bytes).ok()? {
            Message::DocUnavailable { document_id, reason: Some(reason), .. } => Some((document_id, reason)),
            _ => None,
        },
        _ => None,
    })
}

fn empty_sync_message() -> Vec<u8> {
    let mut empty = automerge::sync::State::new();
    automerge::sync::SyncDoc::generate_sync_message(&AutoCommit::new().document().clone(), &mut empty).unwrap().encode()
}

/// The server's acknowledgement (its heads, in a sync message) of a change reaches the client
/// only after storage reported the change durable.
#[test]
fn a_change_is_acknowledged_only_after_the_server_stored_it() {
    let mut sim = Sim::new(1);
    sim.run(Op::Edit { client: 0, doc: 0 });
    sim.run(Op::Connect { client: 0 });
    let deliver_all = |sim: &mut Sim| {
        while sim.clients[0].link.as_ref().is_some_and(|l| !l.to_server.is_empty() || !l.to_client.is_empty()) {
            sim.run(Op::Deliver { client: 0, to_server: true });
            sim.run(Op::Deliver { client: 0, to_server: false });
        }
    };
    deliver_all(&mut sim);
    let conn = sim.clients[0].link.as_ref().unwrap().client;
    assert!(!sim.server_pending.is_empty(), "the server asked storage to keep the change");
    assert!(!sim.clients[0].node.in_sync(conn, doc_id(0)), "not acknowledged before it is stored");
    while !sim.server_pending.is_empty() {
        sim.run(Op::StoreServer);
    }
    deliver_all(&mut sim);
    assert!(sim.clients[0].node.in_sync(conn, doc_id(0)), "acknowledged once stored");
}

/// A document created while connected is offered with `sync`, never `request`: a request
/// would make the server answer `doc-unavailable` for the rest of the connection.
#[test]
fn a_document_created_while_connected_reaches_the_server() {
    let mut sim = Sim::new(1);
    sim.run(Op::Connect { client: 0 });
    for _ in 0..4 {
        sim.run(Op::Deliver { client: 0, to_server: true });
        sim.run(Op::Deliver { client: 0, to_server: false });
    }
    let id = doc_id(0);
    let mut content = AutoCommit::new();
    content.put(ROOT, "created", true).unwrap();
    sim.clients[0].opened[0] = true;
    sim.client_event(0, Event::Create { doc: id, content });
    for _ in 0..20 {
        sim.run(Op::Deliver { client: 0, to_server: true });
        sim.run(Op::StoreServer);
        sim.run(Op::Deliver { client: 0, to_server: false });
    }
    let conn = sim.clients[0].link.as_ref().unwrap().client;
    assert!(sim.clients[0].node.in_sync(conn, id), "acknowledged on the same connection");
    assert!(sim.server_store.load(id).get(ROOT, "created").unwrap().is_some());
    assert!(sim.clients[0].store.load(id).get(ROOT, "created").unwrap().is_some(), "stored locally first");
}

impl Sim {
    /// Moves every message between the connected clients and the server, one per link in
    /// turn, until all queues are empty, without letting server storage finish anything.
    fn exchange(&mut self) {
        loop {
            let mut moved = false;
            for client in 0..self.clients.len() {
                for to_server in [true, false] {
                    let Some(link) = self.clients[client].link.as_mut() else { continue };
                    let queue = if to_server { &mut link.to_server } else { &mut link.to_client };
                    let Some(bytes) = queue.pop_front() else { continue };
                    moved = true;
                    let (server_conn, client_conn) = (link.server, link.client);
                    if to_server {
                        self.server_event(Event::Received { conn: server_conn, bytes });
                    } else {
                        self.client_event(client, Event::Received { conn: client_conn, bytes });
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }
}

/// A write that fails makes the server forget the document; an answer about an older write of
/// it that arrives after the document was loaded again must not count for the new copy (it
/// would let the server acknowledge a change that is not stored yet).
#[test]
fn a_late_write_answer_does_not_count_for_a_reloaded_document() {
    let mut sim = Sim::new(2);
    for client in 0..2 {
        sim.run(Op::Edit { client, doc: 0 });
        sim.run(Op::Connect { client });
    }
    sim.exchange();
    assert_eq!(sim.server_pending.len(), 2, "each client's change is on its way to storage");
    sim.run(Op::FailServerStore);
    sim.exchange();
    assert!(sim.clients.iter().all(|c| c.link.is_some()), "the connections stay");
    assert!(sim.clients.iter().all(|c| c.refused.iter().any(|(d, _)| *d == doc_id(0))), "the document is refused on each");

    // Client 0 offers its change again (the app's next round); the older write is still queued.
    sim.client_event(0, Event::Open { doc: doc_id(0), chunks: vec![] });
    sim.exchange();
    assert_eq!(sim.server_pending.len(), 2);
    sim.run(Op::StoreServer); // the older write: client 1's change, from before the failure
    sim.exchange();
    // Everything client 0 has been told the server holds must be stored.
    sim.crash_server();
}

/// A chunk Automerge cannot load stays in storage: the next snapshot does not name it.
#[test]
fn a_snapshot_never_replaces_a_chunk_that_did_not_load() {
    let mut server = server_node();
    let id = doc_id(0);
    let mut stored = AutoCommit::new();
    stored.put(ROOT, "kept", true).unwrap();
    let good = stored.save();
    stored.put(ROOT, "later", true).unwrap();
    let increment = stored.save_incremental();
    let bad = b"not an automerge chunk".to_vec();
    let hash = shared::storage_key::chunk_hash;

    let join = Message::Join { sender_id: PeerId("p".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
    server.handle(0, Event::Connected { conn: ConnId(1), account: "li".into(), org: String::new() });
    server.handle(0, Event::Received { conn: ConnId(1), bytes: join.encode() });
    // A change bigger than the compaction floor, so that the server writes a snapshot.
    let mut theirs = stored.fork();
    theirs.put(ROOT, "big", "x".repeat(200_000)).unwrap();
    let mut theirs = theirs.document().clone();
    let mut state = automerge::sync::State::new();
    let sync = |theirs: &automerge::Automerge, state: &mut automerge::sync::State| {
        let data = automerge::sync::SyncDoc::generate_sync_message(theirs, state).unwrap().encode();
        Message::Sync { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: id, data }.encode()
    };
    let asked = server.handle(0, Event::Received { conn: ConnId(1), bytes: sync(&theirs, &mut state) });
    assert!(matches!(&asked[..], [Action::Authorize { load: true, .. }]));
    // The first round only compares heads; the changes come in answer to the server's reply.
    let reply = server.handle(
        0,
        Event::Authorized {
            conn: ConnId(1),
            doc: id,
            verdict: Verdict::Allowed { chunks: vec![good.clone(), bad.clone(), increment.clone()], actors: vec![], owner: String::new() },
        },
    );
    let Some(Action::Send { bytes, .. }) = reply.first() else { panic!("the server answers: {reply:?}") };
    let Message::Sync { data, .. } = Message::decode(bytes).unwrap() else { panic!("a sync message") };
    automerge::sync::SyncDoc::receive_sync_message(&mut theirs, &mut state, automerge::sync::Message::decode(&data).unwrap()).unwrap();
    let actions = server.handle(0, Event::Received { conn: ConnId(1), bytes: sync(&theirs, &mut state) });
    let chunk = actions.iter().find_map(|a| if let Action::Persist { chunk, .. } = a { Some(chunk) } else { None }).expect("a write");
    assert_eq!(chunk.kind, ChunkKind::Snapshot);
    assert!(chunk.replaces.contains(&hash(&good)), "the loaded snapshot is folded into the new one");
    assert!(chunk.replaces.contains(&hash(&increment)), "so is the loaded incremental chunk");
    assert!(!chunk.replaces.contains(&hash(&bad)), "the unloadable chunk is left alone");
    let snapshot = AutoCommit::load(&chunk.bytes).unwrap();
    assert!(snapshot.get(ROOT, "later").unwrap().is_some() && snapshot.get(ROOT, "big").unwrap().is_some());
}

/// Access changes reach open connections: a refusal is not remembered (sharing later works
/// without reconnecting) and `recheck_access` checks a session in use again at once, telling
/// the peer when access ended (revoking works).
#[test]
fn sharing_and_revoking_take_effect_on_an_open_connection() {
    let mut server = server_node();
    let id = doc_id(0);
    let conn = ConnId(1);
    let join = Message::Join { sender_id: PeerId("p".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
    server.handle(0, Event::Connected { conn, account: "wang".into(), org: String::new() });
    server.handle(0, Event::Received { conn, bytes: join.encode() });
    let mut empty = automerge::sync::State::new();
    let data = automerge::sync::SyncDoc::generate_sync_message(&AutoCommit::new().document().clone(), &mut empty).unwrap().encode();
    let request = Message::Request { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: id, data }.encode();

    let asked = server.handle(0, Event::Received { conn, bytes: request.clone() });
    assert!(matches!(&asked[..], [Action::Authorize { .. }]));
    let refused = server.handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Unavailable });
    assert!(matches!(&refused[..], [Action::Send { .. }]), "doc-unavailable");

    // Shared meanwhile: the next request is checked again, and allowed.
    let asked = server.handle(0, Event::Received { conn, bytes: request.clone() });
    assert!(matches!(&asked[..], [Action::Authorize { .. }]), "the refusal was not cached");
    let mut owner = AutoCommit::new();
    owner.put(ROOT, "case", 1).unwrap();
    let allowed = server.handle(
        0,
        Event::Authorized { conn, doc: id, verdict: Verdict::Allowed { chunks: vec![owner.save()], actors: vec![], owner: String::new() } },
    );
    assert!(allowed.iter().any(|a| matches!(a, Action::Send { .. })), "the document is sent");

    // Shared with someone else (access changed, but not ours): checked at once, and the
    // session goes on, nothing said.
    let asked = server.recheck_access(conn, id);
    assert!(matches!(&asked[..], [Action::Authorize { load: false, .. }]), "{asked:?}");
    let kept = server
        .handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Allowed { chunks: vec![], actors: vec![], owner: String::new() } });
    assert!(kept.is_empty(), "{kept:?}");

    // Revoked: checked at once, and the peer is told without asking (its device then learns
    // from its feed to drop its copy); the next message is checked again.
    let asked = server.recheck_access(conn, id);
    assert!(matches!(&asked[..], [Action::Authorize { .. }]));
    let told = server.handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Unavailable });
    let told: Vec<Message> =
        told.iter().filter_map(|a| if let Action::Send { bytes, .. } = a { Message::decode(bytes).ok() } else { None }).collect();
    assert!(matches!(&told[..], [Message::DocUnavailable { reason: None, .. }]), "{told:?}");
    let asked = server.handle(0, Event::Received { conn, bytes: request.clone() });
    assert!(matches!(&asked[..], [Action::Authorize { .. }]));

    // A check under way when access changes is asked again rather than trusted.
    assert!(server.recheck_access(conn, id).is_empty(), "no second check while one runs");
    let again = server
        .handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Allowed { chunks: vec![], actors: vec![], owner: String::new() } });
    assert!(matches!(&again[..], [Action::Authorize { .. }]), "a stale answer is not used");
    let refused = server.handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Unavailable });
    let replies: Vec<Message> =
        refused.iter().filter_map(|a| if let Action::Send { bytes, .. } = a { Message::decode(bytes).ok() } else { None }).collect();
    assert!(matches!(&replies[..], [Message::DocUnavailable { .. }]));
}

/// A server keeps a document in memory only while a connection uses it or a write is open.
#[test]
fn the_server_forgets_documents_no_connection_uses() {
    let mut sim = Sim::new(1);
    sim.run(Op::Edit { client: 0, doc: 0 });
    sim.run(Op::Connect { client: 0 });
    sim.exchange();
    assert_eq!(sim.server.loaded_docs(), 1);
    sim.run(Op::Disconnect { client: 0 });
    assert_eq!(sim.server.loaded_docs(), 1, "kept while its write is open");
    sim.run(Op::StoreServer);
    assert_eq!(sim.server.loaded_docs(), 0, "forgotten once stored");
    // And loaded again, whole, on the next use.
    sim.settle();
    assert!(sim.server_store.load(doc_id(0)).get(ROOT, "c0-e0").unwrap().is_some());
}

/// A peer cannot pile up messages behind an access check.
#[test]
fn messages_waiting_for_an_access_check_are_capped() {
    let mut server = server_node();
    let conn = ConnId(1);
    let join = Message::Join { sender_id: PeerId("p".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
    server.handle(0, Event::Connected { conn, account: "li".into(), org: String::new() });
    server.handle(0, Event::Received { conn, bytes: join.encode() });
    let msg = Message::Sync { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: doc_id(0), data: vec![0x42] }
        .encode();
    let mut refused = None;
    for _ in 0..100 {
        let actions = server.handle(0, Event::Received { conn, bytes: msg.clone() });
        assert!(!actions.iter().any(|a| matches!(a, Action::Close { .. })), "the connection stays");
        refused = refused.or(refusal(&actions));
    }
    let (doc, reason) = refused.expect("the document is refused once too many messages waited");
    assert_eq!(doc, doc_id(0));
    assert!(reason.contains("too many messages"), "{reason}");
}

/// Stored chunks come back in any order (IndexedDB and SQLite sort them by hash): a chunk whose
/// changes depend on a later one still loads, and counts as folded.
#[test]
fn incremental_chunks_load_in_any_order() {
    let mut source = AutoCommit::new();
    let mut chunks = Vec::new();
    for i in 0..5 {
        source.put(ROOT, format!("k{i}"), i).unwrap();
        chunks.push(source.save_incremental());
    }
    chunks.reverse();
    let mut client = client_node(0);
    let id = doc_id(0);
    client.handle(0, Event::Open { doc: id, chunks: chunks.clone() });
    let doc = client.doc_mut(id).unwrap();
    assert_eq!(doc.keys(ROOT).count(), 5, "every change loaded");
    // A big edit makes the next write a snapshot: it replaces all five chunks.
    doc.put(ROOT, "big", "x".repeat(100_000)).unwrap();
    let actions = client.handle(0, Event::Changed { doc: id });
    let Some(Action::Persist { chunk, .. }) = actions.first() else { panic!("a write: {actions:?}") };
    assert_eq!(chunk.kind, ChunkKind::Snapshot);
    for c in &chunks {
        assert!(chunk.replaces.contains(&shared::storage_key::chunk_hash(c)));
    }
}

fn joined_server(max_doc_bytes: usize) -> (Node, ConnId) {
    let mut server =
        Node::new(NodeConfig { peer_id: PeerId("server".into()), metadata: PeerMetadata::default(), role: Role::Server, max_doc_bytes });
    let conn = ConnId(1);
    let join = Message::Join { sender_id: PeerId("p".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
    server.handle(0, Event::Connected { conn, account: "li".into(), org: String::new() });
    server.handle(0, Event::Received { conn, bytes: join.encode() });
    (server, conn)
}

/// A sync message that carries these raw changes and claims nothing else.
fn carrying(changes: Vec<Vec<u8>>) -> automerge::sync::Message {
    automerge::sync::Message {
        heads: vec![],
        need: vec![],
        have: vec![],
        changes: changes.into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
}

fn sync_bytes(doc: DocumentId, message: automerge::sync::Message) -> Vec<u8> {
    Message::Sync { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: doc, data: message.encode() }.encode()
}

/// Changes whose dependencies never arrive wait in memory: they count towards the document's
/// size limit until they apply, even if other changes apply meanwhile.
#[test]
fn changes_waiting_for_missing_dependencies_count_towards_the_size_limit() {
    let (mut server, conn) = joined_server(300_000);
    let id = doc_id(0);
    let hello = carrying(vec![]);
    server.handle(0, Event::Received { conn, bytes: sync_bytes(id, hello) });
    server.handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Created });

    let mut refused = false;
    for round in 0..4 {
        // A change that depends on one the server never gets: it waits.
        let mut author = AutoCommit::new();
        author.put(ROOT, "base", round).unwrap();
        author.commit();
        let mut orphan = author.fork();
        orphan.put(ROOT, "big", "x".repeat(100_000)).unwrap();
        let change = orphan.get_last_local_change().unwrap().raw_bytes().to_vec();
        let waiting = carrying(vec![change]);
        refused |=
            refusal(&server.handle(0, Event::Received { conn, bytes: sync_bytes(id, waiting) })).is_some_and(|(_, r)| r.contains("exceed"));
        // And a small change that applies.
        let mut small = AutoCommit::new();
        small.put(ROOT, format!("small{round}"), round).unwrap();
        let change = small.get_last_local_change().unwrap().raw_bytes().to_vec();
        let applies = carrying(vec![change]);
        refused |=
            refusal(&server.handle(0, Event::Received { conn, bytes: sync_bytes(id, applies) })).is_some_and(|(_, r)| r.contains("exceed"));
    }
    assert!(refused, "the waiting changes reached the limit although others applied in between");
}

/// Presence messages are dropped while access is checked; they do not count towards the cap
/// that closes a connection.
#[test]
fn ephemeral_messages_during_an_access_check_do_not_close_the_connection() {
    let (mut server, conn) = joined_server(1 << 20);
    let id = doc_id(0);
    let mut empty = automerge::sync::State::new();
    let data = automerge::sync::SyncDoc::generate_sync_message(&AutoCommit::new().document().clone(), &mut empty).unwrap().encode();
    let request = Message::Request { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: id, data }.encode();
    assert!(matches!(&server.handle(0, Event::Received { conn, bytes: request })[..], [Action::Authorize { .. }]));
    for count in 0..200 {
        let presence = Message::Ephemeral {
            sender_id: PeerId("p".into()),
            target_id: PeerId("server".into()),
            count,
            session_id: "s".into(),
            document_id: id,
            data: vec![1],
        };
        let actions = server.handle(0, Event::Received { conn, bytes: presence.encode() });
        assert!(!actions.iter().any(|a| matches!(a, Action::Close { .. })));
    }
    let answered = server
        .handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Allowed { chunks: vec![], actors: vec![], owner: String::new() } });
    assert!(answered.iter().any(|a| matches!(a, Action::Send { .. })), "the request is answered");
}

/// A failed access check refuses that document with a reason saying to try again (a plain
/// `doc-unavailable` a client would take as "not yours"), and keeps the connection.
#[test]
fn a_failed_access_check_refuses_that_document_saying_why() {
    let (mut server, conn) = joined_server(1 << 20);
    let id = doc_id(0);
    let mut empty = automerge::sync::State::new();
    let data = automerge::sync::SyncDoc::generate_sync_message(&AutoCommit::new().document().clone(), &mut empty).unwrap().encode();
    let request = Message::Request { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: id, data }.encode();
    server.handle(0, Event::Received { conn, bytes: request });
    let actions = server.handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Failed("disk".into()) });
    let replies: Vec<Message> =
        actions.iter().filter_map(|a| if let Action::Send { bytes, .. } = a { Message::decode(bytes).ok() } else { None }).collect();
    // Not a plain `doc-unavailable` (the peer would take it for missing): the reason says to
    // try again.
    assert!(matches!(&replies[..], [Message::DocUnavailable { reason: Some(r), .. }] if r.contains("try again")), "{replies:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Close { .. })));
}

/// A client forgets a released document only once its writes are done and it was not opened
/// again meanwhile; a document that left memory is loaded again for a message about it.
#[test]
fn a_released_document_leaves_memory_only_when_stored_and_not_reopened() {
    let id = doc_id(0);
    let mut client = client_node(0);
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "code", "A-1").unwrap();
    let actions = client.handle(0, Event::Create { doc: id, content: doc });
    let generation = actions
        .iter()
        .find_map(|a| match a {
            Action::Persist { generation, .. } => Some(*generation),
            _ => None,
        })
        .unwrap();
    client.release(id);
    assert!(client.doc(id).is_some(), "kept while its write is open");
    client.handle(0, Event::Open { doc: id, chunks: vec![] });
    client.handle(0, Event::Persisted { doc: id, generation, ok: true });
    assert!(client.doc(id).is_some(), "opened again before the write finished: kept");
    client.release(id);
    assert!(client.doc(id).is_none(), "released with nothing unsaved: forgotten at once");

    // A failed write keeps the change in memory, released or not.
    client.handle(0, Event::Open { doc: id, chunks: vec![] });
    client.doc_mut(id).unwrap().put(ROOT, "more", true).unwrap();
    let actions = client.handle(0, Event::Changed { doc: id });
    let generation = actions
        .iter()
        .find_map(|a| match a {
            Action::Persist { generation, .. } => Some(*generation),
            _ => None,
        })
        .unwrap();
    client.release(id);
    client.handle(0, Event::Persisted { doc: id, generation, ok: false });
    assert!(client.doc(id).is_some(), "an unsaved change is never dropped");
}

/// Messages waiting for access checks are capped in bytes per connection, over every document
/// together: the document that would pass the budget is refused alone; answered checks free it.
#[test]
fn bytes_waiting_for_access_checks_are_capped_per_connection() {
    let (mut server, conn) = joined_server(1 << 30);
    let big = vec![0x42; 1 << 20];
    let mut refused = None;
    let mut asked = Vec::new();
    for i in 0..40u8 {
        let id = DocumentId::from_random_bytes([i + 100; 16]);
        let msg = Message::Sync { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: id, data: big.clone() };
        let actions = server.handle(0, Event::Received { conn, bytes: msg.encode() });
        assert!(!actions.iter().any(|a| matches!(a, Action::Close { .. })), "the connection stays");
        if let Some(r) = refusal(&actions) {
            refused.get_or_insert(r);
        } else {
            asked.push(id);
        }
    }
    let (_, reason) = refused.expect("past the budget a document is refused");
    assert!(reason.contains("too much data waiting"), "{reason}");
    assert!((28..=32).contains(&asked.len()), "about 32 MiB waited: {} documents", asked.len());

    // One check answered (its data turns out bad: refused, and its bytes freed): room again.
    server.handle(0, Event::Authorized { conn, doc: asked[0], verdict: Verdict::Created });
    let id = DocumentId::from_random_bytes([250; 16]);
    let msg = Message::Sync { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: id, data: big };
    let actions = server.handle(0, Event::Received { conn, bytes: msg.encode() });
    assert!(matches!(&actions[..], [Action::Authorize { .. }]), "{actions:?}");
}

/// A peer cannot grow the server's presence de-duplication table without bound: sessions past
/// the cap per connection are not relayed.
#[test]
fn ephemeral_sessions_per_connection_are_capped() {
    let mut server = server_node();
    let id = doc_id(0);
    for (conn, peer) in [(ConnId(1), "a"), (ConnId(2), "b")] {
        server.handle(0, Event::Connected { conn, account: "li".into(), org: String::new() });
        let join = Message::Join { sender_id: PeerId(peer.into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
        server.handle(0, Event::Received { conn, bytes: join.encode() });
        let request = Message::Request {
            sender_id: PeerId(peer.into()),
            target_id: PeerId("server".into()),
            document_id: id,
            data: empty_sync_message(),
        };
        server.handle(0, Event::Received { conn, bytes: request.encode() });
        server.handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Created });
    }
    let mut relayed = 0;
    for session in 0..200 {
        let presence = Message::Ephemeral {
            sender_id: PeerId("a".into()),
            target_id: PeerId("server".into()),
            count: 1,
            session_id: format!("s{session}"),
            document_id: id,
            data: vec![1],
        };
        let actions = server.handle(0, Event::Received { conn: ConnId(1), bytes: presence.encode() });
        relayed += actions.iter().filter(|a| matches!(a, Action::Send { conn: ConnId(2), .. })).count();
    }
    assert_eq!(relayed, 64, "64 sessions relayed, the rest dropped");
}

/// After a panic inside `handle`, the caller learns which document the event was about and
/// drops it: a change applied in memory but not yet stored is never served afterwards.
#[test]
fn the_interrupted_document_is_dropped_with_its_unstored_changes() {
    let (mut server, conn) = joined_server(1 << 20);
    let id = doc_id(0);
    let mut theirs = AutoCommit::new();
    theirs.put(ROOT, "code", "P-1").unwrap();
    let change = theirs.get_last_local_change().unwrap().raw_bytes().to_vec();
    let carrying = carrying(vec![change]);
    let msg = Message::Sync { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: id, data: carrying.encode() };
    server.handle(0, Event::Received { conn, bytes: msg.encode() });
    let actions = server.handle(0, Event::Authorized { conn, doc: id, verdict: Verdict::Created });
    assert!(actions.iter().any(|a| matches!(a, Action::Persist { .. })), "the change is on its way to storage");
    assert_eq!(server.interrupted_doc(), Some(id), "the node says which document it was working on");

    let dropped = server.drop_document(id, "an internal error");
    assert!(refusal(&dropped).is_some_and(|(d, r)| d == id && r.contains("internal error")));
    assert!(server.doc(id).is_none(), "the unstored change is gone from memory");
    // The next message about it loads it from storage again, after a fresh access check.
    let again =
        Message::Request { sender_id: PeerId("p".into()), target_id: PeerId("server".into()), document_id: id, data: empty_sync_message() };
    let asked = server.handle(0, Event::Received { conn, bytes: again.encode() });
    assert!(matches!(&asked[..], [Action::Authorize { load: true, .. }]), "{asked:?}");
}

/// The account whose connection first sent a change by an actor owns that actor in the
/// document: another account's change by it is refused and not applied, the connection and
/// the owner's writes go on, and the binding comes back with the document from storage.
#[test]
fn a_change_by_an_actor_bound_to_another_account_is_refused_and_not_applied() {
    let (mut server, li) = joined_server(1 << 20);
    let zhao = ConnId(2);
    let join = Message::Join { sender_id: PeerId("q".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
    server.handle(0, Event::Connected { conn: zhao, account: "zhao".into(), org: String::new() });
    server.handle(0, Event::Received { conn: zhao, bytes: join.encode() });
    let from_q = |doc: DocumentId, message: automerge::sync::Message| {
        Message::Sync { sender_id: PeerId("q".into()), target_id: PeerId("server".into()), document_id: doc, data: message.encode() }
            .encode()
    };
    let id = doc_id(0);
    let written = |actions: &[Action]| -> Vec<(automerge::ActorId, String)> {
        actions.iter().flat_map(|a| if let Action::Persist { actors, .. } = a { actors.clone() } else { vec![] }).collect()
    };

    // Li writes with actor X: X is bound to li, and the binding goes to storage with the chunk.
    let mut li_doc = AutoCommit::new().with_actor(automerge::ActorId::from(b"li's device".as_slice()));
    li_doc.put(ROOT, "accepted_by", "procuratorate").unwrap();
    let li_change = li_doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    server.handle(0, Event::Received { conn: li, bytes: sync_bytes(id, carrying(vec![])) });
    server.handle(0, Event::Authorized { conn: li, doc: id, verdict: Verdict::Created });
    let stored = server.handle(0, Event::Received { conn: li, bytes: sync_bytes(id, carrying(vec![li_change.clone()])) });
    assert_eq!(written(&stored), vec![(li_doc.get_actor().clone(), "li".to_owned())]);
    let (generation, chunk) = stored
        .iter()
        .find_map(|a| if let Action::Persist { generation, chunk, .. } = a { Some((*generation, chunk.bytes.clone())) } else { None })
        .unwrap();
    server.handle(0, Event::Persisted { doc: id, generation, ok: true });

    // Zhao forges a change under X, and writes one under its own actor in the same message.
    let mut forged = AutoCommit::load(&li_doc.save()).unwrap().with_actor(li_doc.get_actor().clone());
    forged.put(ROOT, "accepted_by", "federation").unwrap();
    let forged_change = forged.get_last_local_change().unwrap().raw_bytes().to_vec();
    let mut own = AutoCommit::load(&li_doc.save()).unwrap().with_actor(automerge::ActorId::from(b"zhao's device".as_slice()));
    own.put(ROOT, "note", "seen").unwrap();
    let own_change = own.get_last_local_change().unwrap().raw_bytes().to_vec();
    server.handle(0, Event::Received { conn: zhao, bytes: from_q(id, carrying(vec![])) });
    server.handle(
        0,
        Event::Authorized { conn: zhao, doc: id, verdict: Verdict::Allowed { chunks: vec![], actors: vec![], owner: String::new() } },
    );
    let answer =
        server.handle(0, Event::Received { conn: zhao, bytes: from_q(id, carrying(vec![own_change.clone(), forged_change.clone()])) });
    let (doc, reason) = refusal(&answer).expect("refused, saying why");
    assert_eq!(doc, id);
    assert!(reason.contains("belongs to another account"), "{reason}");
    assert!(!answer.iter().any(|a| matches!(a, Action::Persist { .. })), "nothing of the message is stored: {answer:?}");
    assert!(!answer.iter().any(|a| matches!(a, Action::Close { .. })), "the connection stays");

    // From storage (the chunk li wrote, with its binding), the forged change is refused again;
    // zhao's own change alone is taken and bound to zhao.
    let again = server.handle(0, Event::Received { conn: zhao, bytes: from_q(id, carrying(vec![forged_change])) });
    assert!(matches!(&again[..], [Action::Authorize { load: true, .. }]), "reloaded after the refusal: {again:?}");
    let actors = vec![(li_doc.get_actor().clone(), "li".to_owned())];
    let answer = server.handle(
        0,
        Event::Authorized { conn: zhao, doc: id, verdict: Verdict::Allowed { chunks: vec![chunk.clone()], actors, owner: String::new() } },
    );
    assert!(refusal(&answer).is_some_and(|(_, r)| r.contains("belongs to another account")), "{answer:?}");
    let again = server.handle(0, Event::Received { conn: zhao, bytes: from_q(id, carrying(vec![own_change])) });
    assert!(matches!(&again[..], [Action::Authorize { .. }]));
    let actors = vec![(li_doc.get_actor().clone(), "li".to_owned())];
    let answer = server.handle(
        0,
        Event::Authorized { conn: zhao, doc: id, verdict: Verdict::Allowed { chunks: vec![chunk], actors, owner: String::new() } },
    );
    assert_eq!(written(&answer), vec![(own.get_actor().clone(), "zhao".to_owned())]);
}

/// Changes of one account that wait for missing dependencies are not applied by another
/// account's message (they would pass as that account's): the document is dropped instead.
#[test]
fn another_accounts_message_does_not_apply_changes_waiting_for_dependencies() {
    let (mut server, li) = joined_server(1 << 20);
    let zhao = ConnId(2);
    let join = Message::Join { sender_id: PeerId("q".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
    server.handle(0, Event::Connected { conn: zhao, account: "zhao".into(), org: String::new() });
    server.handle(0, Event::Received { conn: zhao, bytes: join.encode() });
    let id = doc_id(0);
    server.handle(0, Event::Received { conn: li, bytes: sync_bytes(id, carrying(vec![])) });
    server.handle(0, Event::Authorized { conn: li, doc: id, verdict: Verdict::Created });
    let mut base = AutoCommit::new();
    base.put(ROOT, "base", 1).unwrap();
    let base_change = base.get_last_local_change().unwrap().raw_bytes().to_vec();
    let mut orphan = base.fork();
    orphan.put(ROOT, "later", 2).unwrap();
    let orphan_change = orphan.get_last_local_change().unwrap().raw_bytes().to_vec();
    let queued = server.handle(0, Event::Received { conn: li, bytes: sync_bytes(id, carrying(vec![orphan_change])) });
    assert!(!queued.iter().any(|a| matches!(a, Action::Persist { .. })), "it waits for its dependency");

    let data = carrying(vec![base_change]).encode();
    let hello = carrying(vec![]).encode();
    server.handle(
        0,
        Event::Received {
            conn: zhao,
            bytes: Message::Sync { sender_id: PeerId("q".into()), target_id: PeerId("server".into()), document_id: id, data: hello }
                .encode(),
        },
    );
    server.handle(
        0,
        Event::Authorized { conn: zhao, doc: id, verdict: Verdict::Allowed { chunks: vec![], actors: vec![], owner: String::new() } },
    );
    let bytes = Message::Sync { sender_id: PeerId("q".into()), target_id: PeerId("server".into()), document_id: id, data }.encode();
    let answer = server.handle(0, Event::Received { conn: zhao, bytes });
    assert!(refusal(&answer).is_some_and(|(_, r)| r.contains("another device's missing changes")), "{answer:?}");
    assert!(!answer.iter().any(|a| matches!(a, Action::Persist { .. })), "nothing applied: {answer:?}");
    assert_eq!(server.loaded_docs(), 0, "dropped, which clears the waiting changes: they cannot block the document");
}

/// A case step through the server's node: an honest transfer is admitted (a receipt in the
/// document, the receiver's access with the chunk); a step that breaks its guard is refused
/// for that record alone and nothing of its message is applied.
#[test]
fn the_server_node_admits_case_steps_and_refuses_a_broken_one() {
    use shared::case;
    let mut server = Node::new(NodeConfig {
        peer_id: PeerId("server".into()),
        metadata: PeerMetadata::default(),
        role: Role::Server,
        max_doc_bytes: 1 << 20,
    });
    server.set_org_kinds([("fed", "federation"), ("proc", "procuratorate")].into_iter().map(|(o, k)| (o.into(), k.into())).collect());
    let (li, wang) = (ConnId(1), ConnId(2));
    for (conn, account, org, peer) in [(li, "1", "fed", "p"), (wang, "2", "proc", "q")] {
        let join = Message::Join { sender_id: PeerId(peer.into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
        server.handle(0, Event::Connected { conn, account: account.into(), org: org.into() });
        server.handle(0, Event::Received { conn, bytes: join.encode() });
    }
    let from = |peer: &str, doc: DocumentId, message: automerge::sync::Message| {
        Message::Sync { sender_id: PeerId(peer.into()), target_id: PeerId("server".into()), document_id: doc, data: message.encode() }
            .encode()
    };
    let id = doc_id(0);
    let mut li_doc = common::intake(id);
    let to_proc = case::admit::data(&[("to_org", "proc"), ("basis", "consent")]);
    case::take(&mut li_doc, "intake", "fed", "transfer", "t1", "1", "fed", 1_000, to_proc, None).unwrap();
    let changes: Vec<Vec<u8>> = li_doc.get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()).collect();

    server.handle(0, Event::Received { conn: li, bytes: from("p", id, carrying(vec![])) });
    server.handle(0, Event::Authorized { conn: li, doc: id, verdict: Verdict::Created });
    let stored = server.handle(5_000, Event::Received { conn: li, bytes: from("p", id, carrying(changes)) });
    let access = stored.iter().find_map(|a| if let Action::Persist { access, .. } = a { Some(access.clone()) } else { None });
    assert_eq!(access.expect("stored").grant, vec!["proc".to_owned()], "the receiver may read it, stored with the chunk");
    let log = case::log::read(server.doc(id).unwrap());
    assert_eq!(log.received["t1"], case::Receipt { seq: 1, at: 5_000, void: false }, "the server wrote when it received the step");
    let generation = stored.iter().find_map(|a| if let Action::Persist { generation, .. } = a { Some(*generation) } else { None }).unwrap();
    server.handle(5_000, Event::Persisted { doc: id, generation, ok: true });

    // The procuratorate reports a result without accepting first.
    let mut wang_doc = server.doc(id).unwrap().clone().with_actor(automerge::ActorId::from(b"wang's laptop".as_slice()));
    let early = case::Event {
        id: "x1".into(),
        step: "report_result".into(),
        by_user: "2".into(),
        by_org: "proc".into(),
        at: 6_000,
        prev: "t1".into(),
        data: case::admit::data(&[("outcome", "prosecuted"), ("date", "2026-12-20")]),
    };
    case::log::append(&mut wang_doc, &early, None).unwrap();
    let heads = server.doc_mut(id).unwrap().get_heads();
    let forged: Vec<Vec<u8>> = wang_doc.get_changes(&heads).iter().map(|c| c.raw_bytes().to_vec()).collect();
    server.handle(0, Event::Received { conn: wang, bytes: from("q", id, carrying(vec![])) });
    server.handle(
        0,
        Event::Authorized { conn: wang, doc: id, verdict: Verdict::Allowed { chunks: vec![], actors: vec![], owner: "fed".into() } },
    );
    let answer = server.handle(7_000, Event::Received { conn: wang, bytes: from("q", id, carrying(forged)) });
    let (doc, reason) = refusal(&answer).expect("refused, saying why");
    assert_eq!(doc, id);
    assert!(reason.contains("x1") && reason.contains("nothing of this message was applied"), "{reason}");
    assert!(!answer.iter().any(|a| matches!(a, Action::Persist { .. })), "nothing stored: {answer:?}");
    assert!(!answer.iter().any(|a| matches!(a, Action::Close { .. })), "the connection stays");
    assert!(server.doc(id).is_none(), "what the message applied is dropped with the document");
}

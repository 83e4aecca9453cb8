//! The sync state machine on a simulated network: one server, several clients, random
//! schedules of offline edits, disconnects, slow storage and server crashes.

use std::collections::{HashMap, VecDeque};

use automerge::{transaction::Transactable, AutoCommit, ReadDoc, ROOT};
use proptest::prelude::*;
use shared::sync::node::Chunk;
use shared::sync::{Action, ConnId, Event, Message, Node, NodeConfig, PeerId, PeerMetadata, Role, Verdict};
use shared::DocumentId;

const DOCS: usize = 3;

fn doc_id(i: usize) -> DocumentId {
    DocumentId::from_random_bytes([i as u8 + 1; 16])
}

fn server_node() -> Node {
    Node::new(NodeConfig {
        peer_id: PeerId("server".into()),
        metadata: PeerMetadata { storage_id: Some("server-storage".into()), is_ephemeral: false },
        role: Role::Server,
        max_doc_bytes: 1 << 20,
    })
}

fn client_node(i: usize) -> Node {
    Node::new(NodeConfig {
        peer_id: PeerId(format!("client-{i}")),
        metadata: PeerMetadata::default(),
        role: Role::Client,
        max_doc_bytes: 1 << 20,
    })
}

/// Stored chunks per document, as either side's storage keeps them.
#[derive(Default, Clone)]
struct Store(HashMap<DocumentId, Vec<Vec<u8>>>);

impl Store {
    fn write(&mut self, doc: DocumentId, chunk: Chunk) {
        let chunks = self.0.entry(doc).or_default();
        match chunk {
            Chunk::Incremental(b) => chunks.push(b),
            Chunk::Snapshot(b) => *chunks = vec![b],
        }
    }

    fn load(&self, doc: DocumentId) -> AutoCommit {
        let mut d = AutoCommit::new();
        for c in self.0.get(&doc).into_iter().flatten() {
            d.load_incremental(c).unwrap();
        }
        d
    }
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
}

struct Sim {
    server: Node,
    server_store: Store,
    /// Persists the server asked for that storage has not finished.
    server_pending: VecDeque<(DocumentId, Chunk)>,
    clients: Vec<Client>,
    next_conn: u64,
}

#[derive(Debug, Clone)]
enum Op {
    Edit { client: usize, doc: usize },
    Connect { client: usize },
    Disconnect { client: usize },
    Deliver { client: usize, to_server: bool },
    StoreServer,
    CrashServer,
}

impl Sim {
    fn new(clients: usize) -> Sim {
        Sim {
            server: server_node(),
            server_store: Store::default(),
            server_pending: VecDeque::new(),
            clients: (0..clients)
                .map(|i| Client { node: client_node(i), store: Store::default(), link: None, opened: [false; DOCS], edits: vec![] })
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
                            Verdict::Allowed { chunks: if load { self.server_store.0[&doc].clone() } else { vec![] } }
                        } else if create {
                            self.server_store.0.insert(doc, vec![]);
                            Verdict::Created
                        } else {
                            Verdict::Unavailable
                        };
                        events.push_back(Event::Authorized { conn, doc, verdict });
                    }
                    Action::Persist { doc, chunk, .. } => self.server_pending.push_back((doc, chunk)),
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
                    // The browser writes to IndexedDB at once; here, to the client's store.
                    Action::Persist { doc, chunk, .. } => {
                        self.clients[i].store.write(doc, chunk);
                        events.push_back(Event::Persisted { doc, ok: true });
                    }
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
                if !self.clients[client].opened[doc] {
                    self.clients[client].opened[doc] = true;
                    let chunks = self.clients[client].store.0.get(&id).cloned().unwrap_or_default();
                    self.client_event(client, Event::Open { doc: id, chunks });
                }
                let key = format!("c{client}-e{}", self.clients[client].edits.len());
                let d = self.clients[client].node.doc_mut(id).unwrap();
                d.put(ROOT, key.as_str(), 1).unwrap();
                self.clients[client].edits.push((doc, key));
                self.client_event(client, Event::Changed { doc: id });
            }
            Op::Connect { client } => {
                if self.clients[client].link.is_some() {
                    return;
                }
                let (c, s) = (self.conn(), self.conn());
                self.clients[client].link = Some(Link { client: c, server: s, to_server: VecDeque::new(), to_client: VecDeque::new() });
                self.server_event(Event::Connected { conn: s, account: "federation".into() });
                self.client_event(client, Event::Connected { conn: c, account: String::new() });
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
                let Some((client, to_server)) = (0..2 * n)
                    .map(|k| ((client + k / 2) % n, to_server ^ (k % 2 == 1)))
                    .find(|(c, dir)| self.clients[*c].link.as_ref().is_some_and(|l| !(if *dir { &l.to_server } else { &l.to_client }).is_empty()))
                else {
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
                if let Some((doc, chunk)) = self.server_pending.pop_front() {
                    self.server_store.write(doc, chunk);
                    self.server_event(Event::Persisted { doc, ok: true });
                }
            }
            Op::CrashServer => self.crash_server(),
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
                    assert!(stored.get_change_by_hash(&h).is_some(), "the server told client {i} it had change {h} of doc {doc}; it is not stored");
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
            self.run(Op::Disconnect { client: i });
            self.run(Op::Connect { client: i });
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
        1 => Just(Op::CrashServer),
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
                let replica = c.node.doc(id).unwrap();
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
    let join = |name: &str| Message::Join {
        sender_id: PeerId(name.into()),
        supported_protocol_versions: vec!["1".into()],
        peer_metadata: None,
    }
    .encode();
    server.handle(0, Event::Connected { conn: fed, account: "federation".into() });
    server.handle(0, Event::Connected { conn: proc_, account: "procuratorate".into() });
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
            Some(Action::Authorize { conn, doc, .. }) => server.handle(0, Event::Authorized { conn: *conn, doc: *doc, verdict: Verdict::Unavailable }),
            _ => actions,
        };
        assert!(!actions.iter().any(|a| matches!(a, Action::Persist { .. })), "{kind}: nothing is stored");
        let replies: Vec<Message> = actions
            .iter()
            .filter_map(|a| if let Action::Send { bytes, .. } = a { Some(Message::decode(bytes).unwrap()) } else { None })
            .collect();
        assert_eq!(
            replies,
            vec![Message::DocUnavailable { sender_id: PeerId("server".into()), target_id: PeerId("proc".into()), document_id: owner }],
            "{kind}: answered as if missing"
        );
    }
    assert!(server.doc(owner).is_none(), "the document was never loaded for them");
}

#[test]
fn a_rejoin_with_the_same_peer_id_replaces_the_old_socket_only_for_the_same_account() {
    let mut server = server_node();
    let join = Message::Join { sender_id: PeerId("phone".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None }.encode();
    server.handle(0, Event::Connected { conn: ConnId(1), account: "li".into() });
    server.handle(0, Event::Received { conn: ConnId(1), bytes: join.clone() });

    server.handle(0, Event::Connected { conn: ConnId(2), account: "wang".into() });
    let refused = server.handle(0, Event::Received { conn: ConnId(2), bytes: join.clone() });
    assert!(refused.iter().any(|a| matches!(a, Action::Close { conn: ConnId(2), .. })));
    assert!(!refused.iter().any(|a| matches!(a, Action::Close { conn: ConnId(1), .. })));

    server.handle(0, Event::Connected { conn: ConnId(3), account: "li".into() });
    let replaced = server.handle(0, Event::Received { conn: ConnId(3), bytes: join });
    assert!(replaced.iter().any(|a| matches!(a, Action::Close { conn: ConnId(1), .. })), "old socket closed");
    assert!(replaced.iter().any(|a| matches!(a, Action::Established { conn: ConnId(3), .. })));
}

#[test]
fn malformed_input_gets_an_error_and_a_close() {
    let mut server = server_node();
    server.handle(0, Event::Connected { conn: ConnId(1), account: "li".into() });
    let actions = server.handle(0, Event::Received { conn: ConnId(1), bytes: vec![0xff, 0x00] });
    assert!(matches!(&actions[..], [Action::Send { .. }, Action::Close { .. }]));
    let Action::Send { bytes, .. } = &actions[0] else { unreachable!() };
    assert!(matches!(Message::decode(bytes).unwrap(), Message::Error { .. }));

    // Sync before join.
    server.handle(0, Event::Connected { conn: ConnId(2), account: "li".into() });
    let early = Message::Sync { sender_id: PeerId("x".into()), target_id: PeerId("server".into()), document_id: doc_id(0), data: vec![1] };
    let actions = server.handle(0, Event::Received { conn: ConnId(2), bytes: early.encode() });
    assert!(actions.iter().any(|a| matches!(a, Action::Close { .. })));

    // Bad sync data after a proper join.
    server.handle(0, Event::Connected { conn: ConnId(3), account: "li".into() });
    let join = Message::Join { sender_id: PeerId("y".into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None };
    server.handle(0, Event::Received { conn: ConnId(3), bytes: join.encode() });
    let bad = Message::Sync { sender_id: PeerId("y".into()), target_id: PeerId("server".into()), document_id: doc_id(0), data: vec![9, 9, 9] };
    let asked = server.handle(0, Event::Received { conn: ConnId(3), bytes: bad.encode() });
    assert!(matches!(&asked[..], [Action::Authorize { create: true, .. }]));
    let actions = server.handle(0, Event::Authorized { conn: ConnId(3), doc: doc_id(0), verdict: Verdict::Created });
    let _ = actions.iter().find(|a| matches!(a, Action::Close { .. })).expect("closed on bad sync data");
    assert!(!actions.iter().any(|a| matches!(a, Action::Persist { .. })));
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

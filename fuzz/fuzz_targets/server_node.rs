//! The server's sync node fed random sequences of events, as several peers and a storage that
//! answers in any order (or wrongly) would produce them: joins, frames of random bytes, sync
//! messages made from real Automerge documents, access checks answered late or not at all,
//! writes that fail, disconnects, late answers for checks no longer open. The node must never panic, never send to a connection it
//! does not have, and never acknowledge (send its heads for) a change that is not stored.
#![no_main]

use std::collections::{BTreeSet, HashMap, HashSet};

use arbitrary::{Arbitrary, Unstructured};
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ROOT};
use libfuzzer_sys::fuzz_target;
use shared::DocumentId;
use shared::sync::{Action, ConnId, Event, Message, Node, NodeConfig, PeerId, PeerMetadata, Role, Verdict};

const CONNS: u8 = 4;
const DOCS: u8 = 4;

#[derive(Arbitrary, Debug)]
enum Op {
    Connect { conn: u8, account: u8 },
    Join { conn: u8, peer: u8 },
    Raw { conn: u8, bytes: Vec<u8> },
    /// A sync message from a peer's own copy of a document, after `edits` random edits.
    Sync { conn: u8, doc: u8, edits: Vec<(u8, u16)>, request: bool },
    Ephemeral { conn: u8, doc: u8, session: u8, count: u8 },
    Leave { conn: u8 },
    Disconnect { conn: u8 },
    /// Answer the oldest access check still open (in any of these ways).
    Authorize { pick: u8, verdict: u8 },
    /// Answer the oldest write still open.
    Persist { pick: u8, ok: bool },
    /// A made-up answer for something never asked.
    BogusAuthorize { conn: u8, doc: u8 },
    Release { doc: u8 },
}

struct Harness {
    node: Node,
    connected: HashSet<ConnId>,
    /// Access checks asked and not answered.
    checks: Vec<(ConnId, DocumentId, bool)>,
    /// Writes asked and not answered: (doc, generation, heads after it).
    writes: Vec<(DocumentId, u64, Vec<ChangeHash>)>,
    /// Change hashes the storage holds, per document.
    stored: HashMap<DocumentId, BTreeSet<ChangeHash>>,
    /// Each peer's own copy of each document, and its sync state.
    peers: HashMap<(u8, DocumentId), (AutoCommit, sync::State)>,
}

fn doc_id(i: u8) -> DocumentId {
    DocumentId::from_random_bytes([i % DOCS + 1; 16])
}

impl Harness {
    fn run(&mut self, event: Event) {
        let actions = self.node.handle(0, event);
        for action in actions {
            match action {
                Action::Send { conn, bytes } => {
                    assert!(self.connected.contains(&conn), "sent to {conn:?}, which is not connected");
                    // Heads the server sends are changes it has stored (durable before visible).
                    if let Ok(Message::Sync { document_id, data, .. }) = Message::decode(&bytes)
                        && let Ok(msg) = sync::Message::decode(&data)
                    {
                        let stored = self.stored.get(&document_id);
                        for h in &msg.heads {
                            assert!(stored.is_some_and(|s| s.contains(h)), "the server announced head {h} of {document_id} before storing it");
                        }
                    }
                }
                Action::Close { conn, .. } => {
                    self.connected.remove(&conn);
                }
                Action::Authorize { conn, doc, load, .. } => self.checks.push((conn, doc, load)),
                Action::Persist { doc, heads, generation, chunk, .. } => {
                    assert!(!chunk.bytes.is_empty(), "an empty write");
                    self.writes.push((doc, generation, heads));
                }
                _ => {}
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(ops) = Vec::<Op>::arbitrary(&mut u) else { return };
    let mut node = Node::new(NodeConfig {
        peer_id: PeerId("server".into()),
        metadata: PeerMetadata { storage_id: Some("fuzz".into()), is_ephemeral: false },
        role: Role::Server,
        max_doc_bytes: 64 * 1024,
    });
    node.set_max_loaded_docs(2);
    let mut h = Harness {
        node,
        connected: HashSet::new(),
        checks: Vec::new(),
        writes: Vec::new(),
        stored: HashMap::new(),
        peers: HashMap::new(),
    };
    // Long enough for a join, a few documents, checks and writes in any order; short enough
    // for thousands of runs a second.
    for op in ops.into_iter().take(64) {
        match op {
            Op::Connect { conn, account } => {
                let conn = ConnId((conn % CONNS) as u64);
                if h.connected.insert(conn) {
                    h.run(Event::Connected { conn, account: format!("account-{}", account % 2) });
                }
            }
            Op::Join { conn, peer } => {
                let conn = ConnId((conn % CONNS) as u64);
                let join = Message::Join {
                    sender_id: PeerId(format!("peer-{}", peer % 3)),
                    supported_protocol_versions: vec!["1".into()],
                    peer_metadata: None,
                };
                h.run(Event::Received { conn, bytes: join.encode() });
            }
            Op::Raw { conn, bytes } => h.run(Event::Received { conn: ConnId((conn % CONNS) as u64), bytes }),
            Op::Sync { conn, doc, edits, request } => {
                let conn_n = conn % CONNS;
                let id = doc_id(doc);
                let (copy, state) = h.peers.entry((conn_n, id)).or_insert_with(|| (AutoCommit::new(), sync::State::new()));
                for (key, value) in edits.into_iter().take(4) {
                    let _ = copy.put(ROOT, format!("k{}", key % 8), value as i64);
                }
                let Some(msg) = copy.sync().generate_sync_message(state) else { continue };
                let (sender_id, target_id, document_id, data) = (PeerId(format!("peer-{conn_n}")), PeerId("server".into()), id, msg.encode());
                let wire = if request {
                    Message::Request { sender_id, target_id, document_id, data }
                } else {
                    Message::Sync { sender_id, target_id, document_id, data }
                };
                h.run(Event::Received { conn: ConnId(conn_n as u64), bytes: wire.encode() });
            }
            Op::Ephemeral { conn, doc, session, count } => {
                let msg = Message::Ephemeral {
                    sender_id: PeerId("x".into()),
                    target_id: PeerId("server".into()),
                    count: count as u64,
                    session_id: format!("s{session}"),
                    document_id: doc_id(doc),
                    data: vec![1, 2, 3],
                };
                h.run(Event::Received { conn: ConnId((conn % CONNS) as u64), bytes: msg.encode() });
            }
            Op::Leave { conn } => {
                let leave = Message::Leave { sender_id: PeerId("x".into()) };
                h.run(Event::Received { conn: ConnId((conn % CONNS) as u64), bytes: leave.encode() });
            }
            Op::Disconnect { conn } => {
                let conn = ConnId((conn % CONNS) as u64);
                h.connected.remove(&conn);
                h.run(Event::Disconnected { conn });
            }
            Op::Authorize { pick, verdict } => {
                if h.checks.is_empty() {
                    continue;
                }
                let (conn, doc, _load) = h.checks.remove(pick as usize % h.checks.len());
                let verdict = match verdict % 4 {
                    // Storage is played as empty: a document reloaded after eviction comes back
                    // with nothing, which the node must take in its stride.
                    0 => Verdict::Allowed { chunks: Vec::new(), actors: Vec::new(), owner: String::new() },
                    1 => Verdict::Created,
                    2 => Verdict::Unavailable,
                    _ => Verdict::Failed("storage".into()),
                };
                h.run(Event::Authorized { conn, doc, verdict });
            }
            Op::Persist { pick, ok } => {
                if h.writes.is_empty() {
                    continue;
                }
                // Writes commit in order (one storage task); only which are answered varies.
                let _ = pick;
                let (doc, generation, heads) = h.writes.remove(0);
                if ok {
                    h.stored.entry(doc).or_default().extend(heads.iter().copied());
                }
                h.run(Event::Persisted { doc, generation, ok });
            }
            Op::BogusAuthorize { conn, doc } => {
                h.run(Event::Authorized { conn: ConnId((conn % CONNS) as u64), doc: doc_id(doc), verdict: Verdict::Created })
            }
            Op::Release { doc } => h.node.release(doc_id(doc)),
        }
    }
});

//! A campaign client: a light client node that keeps changing its own documents, connected or
//! not, and notes in the `Ledger` every change the server says it has.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};
use shared::DocumentId;
use shared::sync::Event;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, sleep, timeout};

use crate::common::client::{CONN, Client, Next, doc_of};

/// A client that cannot reconnect for this long, with a server up, fails the campaign.
const RECONNECT_LIMIT: Duration = Duration::from_secs(60);
/// A disconnected client tries again this often.
const RETRY: Duration = Duration::from_millis(20);
/// One connection attempt (socket and `join`) may take this long.
pub const ATTEMPT: Duration = Duration::from_secs(5);

/// What the clients share with the campaign that kills the server.
#[derive(Default)]
pub struct Ledger {
    /// Per document: the account it belongs to and every change the server acknowledged.
    pub acked: Mutex<HashMap<DocumentId, (usize, HashSet<ChangeHash>)>>,
    pub reconnects: AtomicUsize,
    /// `doc-unavailable` answers (each document is offered again).
    pub refusals: AtomicUsize,
    /// Heads the server sent that the client does not have: cannot happen unless something
    /// is wrong, since only this client changes its documents.
    pub unknown_heads: AtomicUsize,
    /// Clients joined right now.
    pub connected: AtomicUsize,
    /// Clients in the middle of connecting right now.
    pub connecting: AtomicUsize,
}

impl Ledger {
    /// Every acknowledged change so far: (account, document, changes).
    pub fn snapshot(&self) -> Vec<(usize, DocumentId, HashSet<ChangeHash>)> {
        let acked = self.acked.lock().expect("no client panics holding it");
        acked.iter().map(|(id, (account, hashes))| (*account, *id, hashes.clone())).collect()
    }

    pub fn acknowledged(&self) -> usize {
        self.acked.lock().expect("no client panics holding it").values().map(|(_, h)| h.len()).sum()
    }
}

pub struct Writer {
    pub index: usize,
    pub account: usize,
    token: String,
    pub client: Client,
    docs: Vec<Tracked>,
    /// Characters each change types.
    chars: usize,
}

/// One of a writer's documents.
struct Tracked {
    id: DocumentId,
    notes: ObjId,
    edits: i64,
}

impl Writer {
    /// Connects, creates `docs` documents (a number and a text, as a form's record has) and
    /// offers them.
    pub async fn start(
        index: usize,
        account: usize,
        token: String,
        port: u16,
        docs: usize,
        chars: usize,
        ledger: &Ledger,
    ) -> Result<Writer> {
        let client = Client::connect(&sync_url(port, &token), &format!("crash-{index}")).await?;
        let mut w = Writer { index, account, token, client, docs: Vec::new(), chars };
        for _ in 0..docs {
            let mut b = [0u8; 16];
            getrandom::fill(&mut b)?;
            let id = DocumentId::from_random_bytes(b);
            let mut content = AutoCommit::new();
            content.put(ROOT, "seq", 0i64)?;
            let notes = content.put_object(ROOT, "notes", ObjType::Text)?;
            ledger.acked.lock().expect("no client panics holding it").insert(id, (account, HashSet::new()));
            w.docs.push(Tracked { id, notes, edits: 0 });
            let actions = w.client.node.handle(0, Event::Create { doc: id, content });
            w.client.carry_out(actions).await;
        }
        w.client.flush().await;
        Ok(w)
    }

    pub fn doc_ids(&self) -> Vec<DocumentId> {
        self.docs.iter().map(|t| t.id).collect()
    }

    /// Changes one document every `interval`, round robin, until `stop`, connected or not
    /// while a server is up; reads the server's answers while connected and reconnects to
    /// whatever `port` says once the connection breaks.
    pub async fn run(
        mut self,
        port: watch::Receiver<Option<u16>>,
        mut stop: watch::Receiver<bool>,
        interval: Duration,
        ledger: &Ledger,
    ) -> Result<Writer> {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut connected = true;
        ledger.connected.fetch_add(1, Ordering::Relaxed);
        let mut last_connected = Instant::now();
        let mut next = 0;
        // A killed server's socket closes at once: no frame is really waited for this long.
        let far = Duration::from_secs(3600);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {
                    // Between a kill and the check after the restart nobody edits: changes
                    // made then would test nothing and only make the documents grow.
                    if port.borrow().is_some() {
                        self.edit(next % self.docs.len()).await?;
                        next += 1;
                    }
                }
                frame = self.client.next_frame(Instant::now() + far), if connected => match frame {
                    Next::Frame(bytes) => self.received(bytes, ledger).await,
                    Next::Timeout | Next::Closed(_) => {
                        connected = false;
                        ledger.connected.fetch_sub(1, Ordering::Relaxed);
                    }
                },
                _ = sleep(RETRY), if !connected => {
                    // No server up: nothing to wait for.
                    let Some(p) = *port.borrow() else {
                        last_connected = Instant::now();
                        continue;
                    };
                    ledger.connecting.fetch_add(1, Ordering::Relaxed);
                    let attempt = timeout(ATTEMPT, self.client.reconnect(&sync_url(p, &self.token))).await;
                    if let Ok(Ok(())) = attempt {
                        connected = true;
                        last_connected = Instant::now();
                        ledger.reconnects.fetch_add(1, Ordering::Relaxed);
                        ledger.connected.fetch_add(1, Ordering::Relaxed);
                    }
                    ledger.connecting.fetch_sub(1, Ordering::Relaxed);
                    if !connected && last_connected.elapsed() > RECONNECT_LIMIT {
                        bail!("client {} could not reconnect for {} s", self.index, RECONNECT_LIMIT.as_secs());
                    }
                }
            }
        }
        if connected {
            ledger.connected.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(self)
    }

    /// One change to document `i`: the next number, and random text typed at the end.
    async fn edit(&mut self, i: usize) -> Result<()> {
        let text = random_text(self.chars)?;
        let t = &mut self.docs[i];
        let doc = self.client.node.doc_mut(t.id).context("a client's document left its memory")?;
        t.edits += 1;
        let end = doc.length(&t.notes);
        doc.put(ROOT, "seq", t.edits)?;
        doc.splice_text(&t.notes, end, 0, &text)?;
        doc.commit();
        let actions = self.client.node.handle(0, Event::Changed { doc: t.id });
        self.client.carry_out(actions).await;
        self.client.flush().await;
        Ok(())
    }

    /// Hands a frame to the node and notes what the server now says it has of its document:
    /// the heads it sent (`Node::acknowledged`) and everything they depend on, or all of the
    /// document if the node finds it in sync (`Node::in_sync`, what `Action::Acknowledged`
    /// and the app's "on the server" rest on).
    async fn received(&mut self, bytes: Vec<u8>, ledger: &Ledger) {
        let about = doc_of(&bytes);
        self.client.received(bytes).await;
        self.client.flush().await;
        self.client.updated.clear();
        for doc in std::mem::take(&mut self.client.unavailable) {
            // Refused (say, its write failed): offered again, as the app does next round.
            ledger.refusals.fetch_add(1, Ordering::Relaxed);
            let actions = self.client.node.handle(0, Event::Open { doc, chunks: Vec::new() });
            self.client.carry_out(actions).await;
            self.client.flush().await;
        }
        let Some(doc) = about.filter(|id| self.docs.iter().any(|t| t.id == *id)) else { return };
        let node = &mut self.client.node;
        let mut heads = node.acknowledged(CONN, doc);
        if node.in_sync(CONN, doc) {
            heads.extend(node.doc_mut(doc).map(|d| d.get_heads()).unwrap_or_default());
        }
        let Some(content) = node.doc_mut(doc) else { return };
        let mut acked = ledger.acked.lock().expect("no client panics holding it");
        let Some((_, hashes)) = acked.get_mut(&doc) else { return };
        let unknown = mark_ancestors(content, heads, hashes);
        ledger.unknown_heads.fetch_add(unknown, Ordering::Relaxed);
    }

    /// After the campaign: connects to the last server and waits until it has every change.
    pub async fn resync(&mut self, port: u16, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        timeout(ATTEMPT, self.client.reconnect(&sync_url(port, &self.token))).await??;
        let ids = self.doc_ids();
        self.client.until(deadline, |node| ids.iter().all(|id| node.in_sync(CONN, *id))).await
    }

    /// Every change each document has: (account, document, changes).
    pub fn made(&mut self) -> Result<Vec<(usize, DocumentId, HashSet<ChangeHash>)>> {
        let mut made = Vec::new();
        for id in self.doc_ids() {
            let doc = self.client.node.doc_mut(id).context("a client lost a document")?;
            made.push((self.account, id, doc.get_changes_meta(&[]).iter().map(|c| c.hash).collect()));
        }
        Ok(made)
    }
}

/// Adds `heads` and every change they depend on to `acked`; returns how many of them `doc`
/// does not have.
fn mark_ancestors(doc: &mut AutoCommit, heads: Vec<ChangeHash>, acked: &mut HashSet<ChangeHash>) -> usize {
    let mut unknown = 0;
    let mut stack = heads;
    while let Some(hash) = stack.pop() {
        // Whatever is in `acked` came with its ancestors.
        if acked.contains(&hash) {
            continue;
        }
        // The metadata alone: building the whole change would cost a walk over the ops.
        match doc.get_change_meta_by_hash(&hash) {
            Some(meta) => {
                acked.insert(hash);
                stack.extend(meta.deps.iter().copied());
            }
            None => unknown += 1,
        }
    }
    unknown
}

pub fn sync_url(port: u16, token: &str) -> String {
    format!("ws://127.0.0.1:{port}/sync?token={token}")
}

/// Common Chinese characters at random: text Automerge cannot compress away, so documents grow
/// past the size where the server writes snapshots that replace older chunks.
fn random_text(chars: usize) -> Result<String> {
    let mut b = vec![0u8; chars * 2];
    getrandom::fill(&mut b)?;
    Ok(b.chunks(2).map(|p| char::from_u32(0x4E00 + u32::from(u16::from_le_bytes([p[0], p[1]])) % 0x51A6).unwrap_or('字')).collect())
}

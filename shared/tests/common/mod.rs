//! What the simulated networks share: storage as either side keeps it.

use std::collections::HashMap;

use automerge::AutoCommit;
use shared::DocumentId;
use shared::record::sorted_heads;
use shared::sync::node::{Chunk, ChunkKind};

/// Stored chunks per document under their hashes, as either side's storage keeps them: a
/// snapshot deletes exactly the chunks it names, and a chunk written twice is kept once.
#[derive(Default, Clone)]
pub struct Chunks(pub HashMap<DocumentId, Vec<(String, Vec<u8>)>>);

#[allow(dead_code)] // each test crate uses its own part of it
impl Chunks {
    pub fn write(&mut self, doc: DocumentId, chunk: Chunk) {
        let chunks = self.0.entry(doc).or_default();
        if chunk.kind == ChunkKind::Snapshot {
            chunks.retain(|(h, _)| !chunk.replaces.contains(h));
        }
        if !chunks.iter().any(|(h, _)| *h == chunk.hash) {
            chunks.push((chunk.hash, chunk.bytes));
        }
    }

    pub fn chunks(&self, doc: DocumentId) -> Vec<Vec<u8>> {
        self.0.get(&doc).into_iter().flatten().map(|(_, b)| b.clone()).collect()
    }

    /// The document as storage holds it.
    pub fn load(&self, doc: DocumentId) -> AutoCommit {
        let mut d = AutoCommit::new();
        for c in self.chunks(doc) {
            d.load_incremental(&c).expect("stored chunks load");
        }
        d
    }

    pub fn heads(&self, doc: DocumentId) -> Vec<String> {
        sorted_heads(&self.load(doc).get_heads())
    }
}

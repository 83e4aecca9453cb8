//! What the simulated networks and the case tests share: storage as either side keeps it, and
//! case clue records.

// Each test binary uses its own part of this.
#![allow(dead_code)]

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

/// A case clue record as `Record::create` makes it, with the survivor's consent to transfer
/// recorded (so a transfer is allowed).
pub fn intake(id: DocumentId) -> AutoCommit {
    let meta = shared::record::RecordMeta {
        kind: shared::form::RecordKind::new("intake"),
        form_id: "intake".into(),
        form_version: 2,
        created_by: "fed-li".into(),
        created_at: 0,
    };
    let mut doc = shared::record::Record::create(id, &meta).into_doc();
    set_consent(&mut doc, id, "given", 0);
    doc
}

/// Records the survivor's consent (`given` or `refused`) as an edit of the form's field.
pub fn set_consent(doc: &mut AutoCommit, id: DocumentId, value: &str, at: i64) {
    let mut record = shared::record::Record::from_doc(id, std::mem::take(doc)).unwrap();
    let consent = record.form().unwrap().fields.iter().find(|f| f.id == "consent").unwrap();
    record.set(consent, Some(shared::record::FieldValue::Choice(value.into())), at).unwrap();
    *doc = record.into_doc();
}

//! Records in IndexedDB: each one an Automerge document kept as a snapshot plus incremental
//! chunks, with a small summary store for list views.
//!
//! Object stores (database version 1):
//! - `chunks`: key `[docId, "snapshot" | "incremental", sha256hex]`, value the bytes
//!   (`Uint8Array`). The key carries the content hash so a chunk written twice is stored once,
//!   and a chunk whose bytes changed on disk is detected when it is read back.
//! - `records`: key `docId`, value a [`RecordSummary`], so a list never loads documents.
//!
//! Every change is appended as an incremental chunk, together with the new summary, in one
//! transaction with strict durability, the moment it is made. When the incremental chunks
//! outgrow the snapshot they are folded into a new snapshot; the snapshot write and the
//! deletion of exactly the chunks it covers share one transaction, so a crash in between
//! cannot lose a change. A chunk that fails verification is reported, never deleted, and never
//! stops other chunks or other records from loading.

use automerge::AutoCommit;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{TransactionDurability, TransactionMode, TransactionOptions};
use indexed_db_futures::KeyRange;
use js_sys::{Array, Uint8Array};
use shared::storage_key::{chunk_hash, verify};
use shared::{DocumentId, Record, RecordSummary};
use wasm_bindgen::{JsCast, JsValue};

/// The database's name in production; tests open their own.
pub const DB_NAME: &str = "liaison";

pub const CHUNKS: &str = "chunks";
pub const RECORDS: &str = "records";
const SNAPSHOT: &str = "snapshot";
const INCREMENTAL: &str = "incremental";

/// Incremental chunks are folded into a snapshot once they are larger than the snapshot and
/// than this floor; below it, compaction would cost more than the chunks do.
pub const COMPACTION_FLOOR: usize = 16 * 1024;

/// The open database.
pub struct Store {
    db: Database,
}

/// A record loaded from storage, with what the store needs to compact it later.
pub struct StoredRecord {
    pub record: Record,
    /// Chunks that failed verification. They stay in storage untouched, for recovery.
    pub damaged: Vec<DamagedChunk>,
    snapshots: Vec<String>,
    snapshot_len: usize,
    incrementals: Vec<String>,
    incremental_len: usize,
    /// A write failed; the next one must be a full snapshot.
    unsaved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedChunk {
    pub hash: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("this browser's storage could not be opened: {0}")]
    Open(String),
    #[error("the browser's storage refused the operation: {0}")]
    Browser(String),
    #[error("record {0} is not on this device")]
    NotFound(DocumentId),
    #[error("record {id} could not be read: {reason}")]
    Corrupt { id: String, reason: String },
}

impl From<indexed_db_futures::error::Error> for StoreError {
    fn from(e: indexed_db_futures::error::Error) -> Self {
        StoreError::Browser(e.to_string())
    }
}

impl Store {
    /// Opens (and on first use creates) the database called `name`.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        let db = Database::open(name)
            .with_version(1u32)
            .with_on_upgrade_needed(|event, db| {
                if event.old_version() < 1.0 {
                    db.create_object_store(CHUNKS).build()?;
                    db.create_object_store(RECORDS).build()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        Ok(Store { db })
    }

    /// Stores a newly created record.
    pub async fn create(&self, record: Record) -> Result<StoredRecord, StoreError> {
        let mut stored = StoredRecord::new(record);
        self.save(&mut stored).await?;
        Ok(stored)
    }

    /// Persists every change made to `stored.record` since it was last saved.
    pub async fn save(&self, stored: &mut StoredRecord) -> Result<(), StoreError> {
        let Some(write) = stored.take_write()? else { return Ok(()) };
        self.apply(write).await.inspect_err(|_| stored.mark_unsaved())
    }

    /// Performs a write taken from a record, in one transaction.
    ///
    /// Writes run in the order this is called: IndexedDB runs read-write transactions over the
    /// same stores in the order they were created, so a compaction never overtakes the chunks
    /// it deletes.
    pub async fn apply(&self, write: Write) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        let chunks = tx.object_store(CHUNKS)?;
        let id = write.summary.id;
        chunks
            .put(JsValue::from(Uint8Array::from(write.bytes.as_slice())))
            .with_key(chunk_key(id, write.kind, &write.hash))
            .primitive()?;
        for old in &write.replaces {
            chunks.delete(old.clone()).primitive()?;
        }
        let summary = serde_wasm_bindgen::to_value(&write.summary).map_err(|e| StoreError::Browser(e.to_string()))?;
        tx.object_store(RECORDS)?.put(summary).with_key(id.to_string()).primitive()?;
        tx.commit().await?;
        Ok(())
    }

    /// Loads a record by folding its snapshots and incremental chunks.
    ///
    /// Chunks that fail verification are skipped and listed in `damaged`; the record still
    /// opens with everything else. It fails only when nothing readable is left of it.
    pub async fn load(&self, id: DocumentId) -> Result<StoredRecord, StoreError> {
        let tx = self.db.transaction(CHUNKS).build()?;
        let chunks = tx.object_store(CHUNKS)?;
        let range = doc_range(id);
        let keys: Vec<JsValue> = chunks.get_all_keys().with_query::<JsValue, _>(range.clone()).primitive()?.await?.collect::<Result<_, _>>()?;
        let values: Vec<JsValue> = chunks.get_all().with_query::<JsValue, _>(range).primitive()?.await?.collect::<Result<_, _>>()?;
        drop(tx);
        if keys.is_empty() {
            return Err(StoreError::NotFound(id));
        }

        let mut doc = AutoCommit::new();
        let (mut snapshots, mut snapshot_len, mut incrementals, mut incremental_len) = (vec![], 0, vec![], 0);
        let mut damaged = Vec::new();
        let mut entries: Vec<(String, String, JsValue)> = keys
            .into_iter()
            .zip(values)
            .map(|(key, value)| {
                let key: Array = key.unchecked_into();
                (key.get(1).as_string().unwrap_or_default(), key.get(2).as_string().unwrap_or_default(), value)
            })
            .collect();
        // Snapshots first: loading one into an empty document is cheaper than applying changes.
        entries.sort_by_key(|(kind, _, _)| kind != SNAPSHOT);
        for (kind, hash, value) in entries {
            let Some(bytes) = value.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec) else {
                damaged.push(DamagedChunk { hash, reason: "not a byte array".into() });
                continue;
            };
            if !verify(&hash, &bytes) {
                damaged.push(DamagedChunk { hash, reason: "content does not match its hash".into() });
                continue;
            }
            if let Err(e) = doc.load_incremental(&bytes) {
                damaged.push(DamagedChunk { hash, reason: e.to_string() });
                continue;
            }
            if kind == SNAPSHOT {
                snapshots.push(hash);
                snapshot_len += bytes.len();
            } else {
                incrementals.push(hash);
                incremental_len += bytes.len();
            }
        }
        // Everything loaded is already stored: the next incremental save must start from here.
        let _ = doc.save_incremental();
        let record = Record::from_doc(id, doc).map_err(|e| corrupt(id, e))?;
        Ok(StoredRecord { snapshots, snapshot_len, incrementals, incremental_len, damaged, ..StoredRecord::new(record) })
    }

    /// Every record's summary, newest first. A summary that cannot be read is reported in
    /// the second list and does not hide the others.
    pub async fn list(&self) -> Result<(Vec<RecordSummary>, Vec<StoreError>), StoreError> {
        let tx = self.db.transaction(RECORDS).build()?;
        let store = tx.object_store(RECORDS)?;
        let keys: Vec<JsValue> = store.get_all_keys().primitive()?.await?.collect::<Result<_, _>>()?;
        let values: Vec<JsValue> = store.get_all().primitive()?.await?.collect::<Result<_, _>>()?;
        let mut summaries = Vec::new();
        let mut errors = Vec::new();
        for (key, value) in keys.into_iter().zip(values) {
            match serde_wasm_bindgen::from_value::<RecordSummary>(value) {
                Ok(s) => summaries.push(s),
                Err(e) => errors.push(StoreError::Corrupt {
                    id: key.as_string().unwrap_or_else(|| "?".into()),
                    reason: e.to_string(),
                }),
            }
        }
        summaries.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
        Ok((summaries, errors))
    }

    fn write_tx(&self) -> Result<indexed_db_futures::transaction::Transaction<'_>, StoreError> {
        // Strict durability: the browser flushes to disk before reporting success, so a record
        // the cadre saw saved survives the phone's battery dying a second later.
        Ok(self
            .db
            .transaction([CHUNKS, RECORDS])
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(TransactionDurability::Strict))
            .build()?)
    }
}

/// One transaction's worth of writing for one record: a chunk (an incremental change, or a
/// snapshot that replaces the chunks listed in `replaces`) and the record's new summary.
pub struct Write {
    kind: &'static str,
    hash: String,
    bytes: Vec<u8>,
    replaces: Vec<JsValue>,
    summary: RecordSummary,
}

impl StoredRecord {
    fn new(record: Record) -> StoredRecord {
        StoredRecord {
            record,
            damaged: Vec::new(),
            snapshots: Vec::new(),
            snapshot_len: 0,
            incrementals: Vec::new(),
            incremental_len: 0,
            unsaved: false,
        }
    }

    /// Takes the changes made since the last call as a write to persist, or `None` if there
    /// are none. This is synchronous so that a caller can take writes in the order edits
    /// happen and hand them to [`Store::apply`] without holding the record across an await.
    pub fn take_write(&mut self) -> Result<Option<Write>, StoreError> {
        let id = self.record.id();
        let bytes = self.record.save_incremental();
        if bytes.is_empty() && !self.unsaved {
            return Ok(None);
        }
        let summary = self.record.summary().map_err(|e| corrupt(id, e))?;
        let grown = self.incremental_len + bytes.len();
        if !self.unsaved && grown <= self.snapshot_len.max(COMPACTION_FLOOR) {
            let hash = chunk_hash(&bytes);
            self.incrementals.push(hash.clone());
            self.incremental_len = grown;
            return Ok(Some(Write { kind: INCREMENTAL, hash, bytes, replaces: Vec::new(), summary }));
        }
        // Fold everything into one snapshot. After a failed write this is also how the store
        // catches up: the snapshot holds every change, including the one that failed.
        let bytes = self.record.save();
        let hash = chunk_hash(&bytes);
        let replaces = self
            .snapshots
            .iter()
            .filter(|h| **h != hash)
            .map(|h| chunk_key(id, SNAPSHOT, h))
            .chain(self.incrementals.iter().map(|h| chunk_key(id, INCREMENTAL, h)))
            .collect();
        self.snapshots = vec![hash.clone()];
        self.snapshot_len = bytes.len();
        self.incrementals.clear();
        self.incremental_len = 0;
        self.unsaved = false;
        Ok(Some(Write { kind: SNAPSHOT, hash, bytes, replaces, summary }))
    }

    /// Records that a write taken from this record failed, so the next one is a full snapshot.
    pub fn mark_unsaved(&mut self) {
        self.unsaved = true;
    }

    /// Bytes of incremental chunks in storage that the next compaction will fold.
    pub fn incremental_len(&self) -> usize {
        self.incremental_len
    }

    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }
}

fn chunk_key(id: DocumentId, kind: &str, hash: &str) -> JsValue {
    Array::of3(&id.to_string().into(), &kind.into(), &hash.into()).into()
}

/// All keys `[id, …]`: arrays sort after strings in IndexedDB, so `[id, []]` is above them all.
fn doc_range(id: DocumentId) -> KeyRange<JsValue> {
    let id = JsValue::from(id.to_string());
    KeyRange::Bound(Array::of1(&id).into(), false, Array::of2(&id, &Array::new()).into(), false)
}

fn corrupt(id: DocumentId, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { id: id.to_string(), reason: e.to_string() }
}

//! Records in IndexedDB: each one an Automerge document kept as snapshots plus incremental
//! chunks, with a small summary store for list views.
//!
//! Object stores:
//! - `chunks` (v1): key `[docId, "snapshot" | "incremental", sha256hex]`, value the bytes
//!   (`Uint8Array`). The key carries the content hash, so a chunk written twice is stored once
//!   and a chunk whose bytes changed on disk is detected when it is read back.
//! - `records` (v1): key `docId`, value a [`RecordSummary`], so a list never loads documents.
//! - `acked` (v2): key `docId`, value the heads (sorted hex) the server last acknowledged.
//! - `blobs` (v3): key `[docId, sha256hex]`, value `{name, mime, bytes}`: attachments, which
//!   never ride inside the CRDT. Checked against their hash when read.
//! - `uploads` (v3): key `[docId, sha256hex]`, value the size: attachments the server does not
//!   have yet. Written with the blob, deleted once the server holds every byte.
//!
//! - `keys` (v4): key the SHA-256 of the session token, value this device's signing key for
//!   that session (`{public, key_id, private: CryptoKey}` — non-extractable, so no script can
//!   read the secret out — or, where the browser has no Ed25519, `{public, key_id, secret}`).
//!   Cleared at sign-out, when the server revokes the key.
//!
//! What to write comes from the sync node ([`Chunk`]): an incremental chunk per change, or a
//! snapshot naming the chunks it replaces — those the node loaded or wrote, never one that
//! failed to load or that another tab wrote meanwhile. The snapshot write and those deletions
//! share one transaction, so a crash in between loses nothing. A chunk that fails
//! verification is reported and never deleted.

use std::collections::{HashMap, HashSet};

use indexed_db_futures::KeyRange;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{Transaction, TransactionDurability, TransactionMode, TransactionOptions};
use js_sys::{Array, Uint8Array};
use shared::storage_key::verify;
use shared::sync::node::{Chunk, ChunkKind};
use shared::{DocumentId, RecordSummary};
use wasm_bindgen::{JsCast, JsValue};

/// The database's name in production; tests open their own.
pub const DB_NAME: &str = "liaison";

pub const CHUNKS: &str = "chunks";
pub const RECORDS: &str = "records";
pub const ACKED: &str = "acked";
pub const BLOBS: &str = "blobs";
pub const UPLOADS: &str = "uploads";
pub const KEYS: &str = "keys";
const SNAPSHOT: &str = "snapshot";
const INCREMENTAL: &str = "incremental";

/// The open database.
pub struct Store {
    db: Database,
}

/// One chunk write of a batch ([`Store::write_batch`]): a chunk of `doc` (deleting those it
/// replaces) and the record's new summary.
#[derive(Debug, Clone)]
pub struct ChunkWrite {
    pub doc: DocumentId,
    pub chunk: Chunk,
    pub summary: Option<RecordSummary>,
}

/// A document's stored chunks, verified, snapshots first.
pub struct Loaded {
    pub chunks: Vec<Vec<u8>>,
    /// Chunks that failed verification. They stay in storage untouched, for recovery.
    pub damaged: Vec<DamagedChunk>,
}

/// An attachment's bytes with what the person chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
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
    /// Opens (and on first use creates or upgrades) the database called `name`.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        let db = Database::open(name)
            .with_version(4u32)
            .with_on_upgrade_needed(|event, db| {
                if event.old_version() < 1.0 {
                    db.create_object_store(CHUNKS).build()?;
                    db.create_object_store(RECORDS).build()?;
                }
                if event.old_version() < 2.0 {
                    db.create_object_store(ACKED).build()?;
                }
                if event.old_version() < 3.0 {
                    db.create_object_store(BLOBS).build()?;
                    db.create_object_store(UPLOADS).build()?;
                }
                if event.old_version() < 4.0 {
                    db.create_object_store(KEYS).build()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        Ok(Store { db })
    }

    /// A document's chunks, verified. Chunks that fail are skipped and listed in `damaged`.
    pub async fn load(&self, id: DocumentId) -> Result<Loaded, StoreError> {
        let tx = self.db.transaction(CHUNKS).build()?;
        let chunks = tx.object_store(CHUNKS)?;
        let range = doc_range(id);
        let keys: Vec<JsValue> =
            chunks.get_all_keys().with_query::<JsValue, _>(range.clone()).primitive()?.await?.collect::<Result<_, _>>()?;
        let values: Vec<JsValue> = chunks.get_all().with_query::<JsValue, _>(range).primitive()?.await?.collect::<Result<_, _>>()?;
        drop(tx);
        if keys.is_empty() {
            return Err(StoreError::NotFound(id));
        }
        let mut entries: Vec<(&'static str, String, JsValue)> = keys
            .into_iter()
            .zip(values)
            .map(|(key, value)| {
                let key: Array = key.unchecked_into();
                let kind = if key.get(1).as_string().as_deref() == Some(SNAPSHOT) { SNAPSHOT } else { INCREMENTAL };
                (kind, key.get(2).as_string().unwrap_or_default(), value)
            })
            .collect();
        // Snapshots first: loading one into an empty document is cheaper than applying changes.
        entries.sort_by_key(|(kind, _, _)| *kind != SNAPSHOT);
        let mut loaded = Loaded { chunks: Vec::new(), damaged: Vec::new() };
        for (_, hash, value) in entries {
            let Some(bytes) = value.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec) else {
                loaded.damaged.push(DamagedChunk { hash, reason: "not a byte array".into() });
                continue;
            };
            // Automerge skips chunks it cannot parse without failing, so verify first: this is
            // what turns corruption on disk into a visible warning instead of a silent gap.
            if !verify(&hash, &bytes) {
                loaded.damaged.push(DamagedChunk { hash, reason: "content does not match its hash".into() });
                continue;
            }
            loaded.chunks.push(bytes);
        }
        Ok(loaded)
    }

    /// Writes a chunk of `id` and its new summary in one transaction, deleting the chunks it
    /// replaces (under either kind: the node names them by hash only).
    pub async fn write(&self, id: DocumentId, chunk: &Chunk, summary: Option<&RecordSummary>) -> Result<(), StoreError> {
        self.write_batch(&[ChunkWrite { doc: id, chunk: chunk.clone(), summary: summary.cloned() }]).await
    }

    /// Carries out `writes` in order in one strict-durability transaction: all of them or
    /// none. A first sync stores thousands of records; one flush to disk per batch instead of
    /// per record is what keeps it linear and fast (the engine batches what arrives while the
    /// previous transaction is committing, as the server's group commit does).
    pub async fn write_batch(&self, writes: &[ChunkWrite]) -> Result<(), StoreError> {
        // The transaction is created before the first await, so batches keep the order they
        // were called in: IndexedDB runs read-write transactions over the same stores in
        // creation order.
        let tx = self.write_tx(&[CHUNKS, RECORDS])?;
        let chunks = tx.object_store(CHUNKS)?;
        let records = tx.object_store(RECORDS)?;
        for ChunkWrite { doc, chunk, summary } in writes {
            let kind = match chunk.kind {
                ChunkKind::Incremental => INCREMENTAL,
                ChunkKind::Snapshot => SNAPSHOT,
            };
            chunks.put(JsValue::from(Uint8Array::from(chunk.bytes.as_slice()))).with_key(chunk_key(*doc, kind, &chunk.hash)).primitive()?;
            for old in chunk.replaces.iter().filter(|h| **h != chunk.hash) {
                for old_kind in [SNAPSHOT, INCREMENTAL] {
                    chunks.delete(chunk_key(*doc, old_kind, old)).primitive()?;
                }
            }
            if let Some(summary) = summary {
                let value = serde_wasm_bindgen::to_value(summary).map_err(|e| StoreError::Browser(e.to_string()))?;
                records.put(value).with_key(doc.to_string()).primitive()?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes every trace of `id` from this device — chunks, summary, acknowledged heads,
    /// attachments and their pending uploads — in one transaction: its organisation may no
    /// longer read it. Created after any write already queued, so none of those brings it back.
    pub async fn forget(&self, id: DocumentId) -> Result<(), StoreError> {
        let tx = self.write_tx(&[CHUNKS, RECORDS, ACKED, BLOBS, UPLOADS])?;
        for store in [CHUNKS, BLOBS, UPLOADS] {
            tx.object_store(store)?.delete::<JsValue, _>(doc_range(id)).primitive()?;
        }
        for store in [RECORDS, ACKED] {
            tx.object_store(store)?.delete(JsValue::from(id.to_string())).primitive()?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records the heads the server acknowledged, in a transaction of their own over `acked`
    /// alone, so it never queues in front of the next edit's write. Relaxed durability: losing
    /// the last few after a crash only means the feed settles them again.
    pub async fn set_acked(&self, acked: &[(DocumentId, Vec<String>)]) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(ACKED)
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(TransactionDurability::Relaxed))
            .build()?;
        let store = tx.object_store(ACKED)?;
        for (doc, heads) in acked {
            let value = serde_wasm_bindgen::to_value(heads).map_err(|e| StoreError::Browser(e.to_string()))?;
            store.put(value).with_key(doc.to_string()).primitive()?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The documents that have any chunk on this device (listed or not): one key scan, so a
    /// first sync need not ask storage about each record it has never seen.
    pub async fn stored_docs(&self) -> Result<HashSet<DocumentId>, StoreError> {
        let tx = self.db.transaction(CHUNKS).build()?;
        let keys: Vec<JsValue> = tx.object_store(CHUNKS)?.get_all_keys().primitive()?.await?.collect::<Result<_, _>>()?;
        Ok(keys.into_iter().filter_map(|k| k.dyn_into::<Array>().ok()?.get(0).as_string()?.parse().ok()).collect())
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
                Err(e) => errors.push(StoreError::Corrupt { id: key.as_string().unwrap_or_else(|| "?".into()), reason: e.to_string() }),
            }
        }
        summaries.sort_by_key(|s| std::cmp::Reverse(s.updated_at));
        Ok((summaries, errors))
    }

    /// Replaces a record's summary alone (its chunks as they are) with one made again by a
    /// newer version of the app, if the stored one still has the heads `over` (in the same
    /// transaction: a newer summary stored meanwhile, by this tab or another, stands).
    /// Whether it was written.
    pub async fn put_summary_over(&self, summary: &RecordSummary, over: &[String]) -> Result<bool, StoreError> {
        let tx = self.write_tx(&[RECORDS])?;
        let store = tx.object_store(RECORDS)?;
        let key = summary.id.to_string();
        let stored: Option<JsValue> = store.get(key.clone()).primitive()?.await?;
        let still = stored.and_then(|v| serde_wasm_bindgen::from_value::<RecordSummary>(v).ok()).is_some_and(|s| s.heads == over);
        if still {
            let value = serde_wasm_bindgen::to_value(summary).map_err(|e| StoreError::Browser(e.to_string()))?;
            store.put(value).with_key(key).primitive()?;
        }
        tx.commit().await?;
        Ok(still)
    }

    /// One record's summary, if it has one.
    pub async fn summary(&self, id: DocumentId) -> Result<Option<RecordSummary>, StoreError> {
        let tx = self.db.transaction(RECORDS).build()?;
        let value: Option<JsValue> = tx.object_store(RECORDS)?.get(id.to_string()).primitive()?.await?;
        Ok(value.and_then(|v| serde_wasm_bindgen::from_value(v).ok()))
    }

    /// The heads the server last acknowledged, per document.
    pub async fn acked(&self) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let tx = self.db.transaction(ACKED).build()?;
        let store = tx.object_store(ACKED)?;
        let keys: Vec<JsValue> = store.get_all_keys().primitive()?.await?.collect::<Result<_, _>>()?;
        let values: Vec<JsValue> = store.get_all().primitive()?.await?.collect::<Result<_, _>>()?;
        Ok(keys.into_iter().zip(values).filter_map(|(k, v)| Some((k.as_string()?, serde_wasm_bindgen::from_value(v).ok()?))).collect())
    }

    /// Stores an attachment of `doc` under its SHA-256 and queues it for upload, in one
    /// transaction: a stored attachment is never forgotten by the uploader.
    pub async fn put_blob(&self, doc: DocumentId, hash: &str, blob: &StoredBlob) -> Result<(), StoreError> {
        let tx = self.write_tx(&[BLOBS, UPLOADS])?;
        let value = blob_value(blob);
        tx.object_store(BLOBS)?.put(value).with_key(blob_key(doc, hash)).primitive()?;
        tx.object_store(UPLOADS)?.put(JsValue::from(blob.bytes.len() as f64)).with_key(blob_key(doc, hash)).primitive()?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores an attachment fetched from the server (nothing to upload).
    pub async fn put_fetched_blob(&self, doc: DocumentId, hash: &str, blob: &StoredBlob) -> Result<(), StoreError> {
        let tx = self.write_tx(&[BLOBS])?;
        tx.object_store(BLOBS)?.put(blob_value(blob)).with_key(blob_key(doc, hash)).primitive()?;
        tx.commit().await?;
        Ok(())
    }

    /// An attachment stored on this device, checked against its hash.
    pub async fn blob(&self, doc: DocumentId, hash: &str) -> Result<Option<StoredBlob>, StoreError> {
        let tx = self.db.transaction(BLOBS).build()?;
        let value: Option<JsValue> = tx.object_store(BLOBS)?.get(blob_key(doc, hash)).primitive()?.await?;
        let Some(value) = value else { return Ok(None) };
        let corrupt = |reason: String| StoreError::Corrupt { id: format!("{doc}/{hash}"), reason };
        let name = js_sys::Reflect::get(&value, &"name".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
        let mime = js_sys::Reflect::get(&value, &"mime".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
        let bytes = js_sys::Reflect::get(&value, &"bytes".into())
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok())
            .ok_or_else(|| corrupt("not a byte array".into()))?
            .to_vec();
        if !verify(hash, &bytes) {
            return Err(corrupt("content does not match its hash".into()));
        }
        Ok(Some(StoredBlob { name, mime, bytes }))
    }

    /// Attachments the server does not have yet: `(doc, hash, size)`.
    pub async fn pending_uploads(&self) -> Result<Vec<(DocumentId, String, u64)>, StoreError> {
        let tx = self.db.transaction(UPLOADS).build()?;
        let store = tx.object_store(UPLOADS)?;
        let keys: Vec<JsValue> = store.get_all_keys().primitive()?.await?.collect::<Result<_, _>>()?;
        let values: Vec<JsValue> = store.get_all().primitive()?.await?.collect::<Result<_, _>>()?;
        Ok(keys
            .into_iter()
            .zip(values)
            .filter_map(|(k, v)| {
                let k: Array = k.dyn_into().ok()?;
                Some((k.get(0).as_string()?.parse().ok()?, k.get(1).as_string()?, v.as_f64()? as u64))
            })
            .collect())
    }

    /// The server holds every byte of this attachment.
    pub async fn uploaded(&self, doc: DocumentId, hash: &str) -> Result<(), StoreError> {
        let tx = self.write_tx(&[UPLOADS])?;
        tx.object_store(UPLOADS)?.delete(blob_key(doc, hash)).primitive()?;
        tx.commit().await?;
        Ok(())
    }

    fn write_tx(&self, stores: &[&str]) -> Result<Transaction<'_>, StoreError> {
        // Strict durability: the browser flushes to disk before reporting success, so a record
        // the cadre saw saved survives the phone's battery dying a second later.
        Ok(self
            .db
            .transaction(stores)
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(TransactionDurability::Strict))
            .build()?)
    }
}

fn blob_key(doc: DocumentId, hash: &str) -> JsValue {
    Array::of2(&doc.to_string().into(), &hash.into()).into()
}

/// `{name, mime, bytes}` with the bytes as a `Uint8Array` (compact in IndexedDB).
fn blob_value(blob: &StoredBlob) -> JsValue {
    let value = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&value, &"name".into(), &blob.name.as_str().into());
    let _ = js_sys::Reflect::set(&value, &"mime".into(), &blob.mime.as_str().into());
    let _ = js_sys::Reflect::set(&value, &"bytes".into(), &Uint8Array::from(blob.bytes.as_slice()).into());
    value.into()
}

fn chunk_key(id: DocumentId, kind: &str, hash: &str) -> JsValue {
    Array::of3(&id.to_string().into(), &kind.into(), &hash.into()).into()
}

/// All keys `[id, …]`: arrays sort after strings in IndexedDB, so `[id, []]` is above them all.
fn doc_range(id: DocumentId) -> KeyRange<JsValue> {
    let id = JsValue::from(id.to_string());
    KeyRange::Bound(Array::of1(&id).into(), false, Array::of2(&id, &Array::new()).into(), false)
}

impl Store {
    /// This session's signing key as stored (see the module docs), if there is one.
    pub async fn signing_key(&self, session: &str) -> Result<Option<JsValue>, StoreError> {
        let tx = self.db.transaction(KEYS).build()?;
        let value: Option<JsValue> = tx.object_store(KEYS)?.get(JsValue::from(session)).primitive()?.await?;
        Ok(value)
    }

    pub async fn put_signing_key(&self, session: &str, value: JsValue) -> Result<(), StoreError> {
        let tx = self.write_tx(&[KEYS])?;
        tx.object_store(KEYS)?.put(value).with_key(JsValue::from(session)).primitive()?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets every signing key (sign-out: the server revokes them too).
    pub async fn clear_signing_keys(&self) -> Result<(), StoreError> {
        let tx = self.write_tx(&[KEYS])?;
        tx.object_store(KEYS)?.clear()?;
        tx.commit().await?;
        Ok(())
    }
}

//! Attachments between this device and the server: stored locally first (with a queue entry in
//! the same transaction), uploaded in parts once the record is on the server, resumed from
//! where the server says it stands, and fetched on demand for records shared with us.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use shared::DocumentId;
use shared::storage_key::chunk_hash;

use crate::api::{self, ApiError};
use crate::storage::{Store, StoreError, StoredBlob};

/// Bytes per upload request: small enough to finish on a weak signal, under the server's
/// 1 MiB part limit.
const PART_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the attachment is not on this device and the server does not have it")]
    Missing,
    #[error("the server sent bytes that do not match the attachment's hash")]
    Mismatch,
}

/// The upload queue's state, for the status bar.
pub struct Uploader {
    running: Cell<bool>,
    /// Attachments waiting for upload.
    pub left: RwSignal<usize>,
    /// The last upload failure the server explained (too large, …), shown until one succeeds.
    pub error: RwSignal<Option<String>>,
}

impl Uploader {
    pub fn new() -> Uploader {
        Uploader { running: Cell::new(false), left: RwSignal::new(0), error: RwSignal::new(None) }
    }

    /// Uploads every queued attachment the server will take now. Ones whose record is not on
    /// the server yet (404) wait for the next run; it runs after each completed sync.
    pub async fn run(self: &Rc<Self>, store: &Store, token: &str) {
        if self.running.replace(true) {
            return;
        }
        let pending = store.pending_uploads().await.unwrap_or_default();
        self.left.set(pending.len());
        for (doc, hash, size) in pending {
            match upload(store, token, doc, &hash, size).await {
                Ok(()) => {
                    self.left.update(|n| *n = n.saturating_sub(1));
                    self.error.set(None);
                }
                // The record has not reached the server yet, or the network went: next time.
                Err(AttachmentError::Api(ApiError::Network | ApiError::Unauthorized)) => break,
                Err(AttachmentError::Api(ApiError::NotFound(_))) => {}
                Err(e) => self.error.set(Some(e.to_string())),
            }
        }
        self.running.set(false);
    }
}

impl Default for Uploader {
    fn default() -> Self {
        Uploader::new()
    }
}

/// Stores a new attachment of `doc` on this device; returns its SHA-256 (what the record
/// refers to). Uploading happens later, by [`Uploader::run`].
pub async fn add(store: &Store, doc: DocumentId, blob: &StoredBlob) -> Result<String, AttachmentError> {
    let hash = chunk_hash(&blob.bytes);
    store.put_blob(doc, &hash, blob).await?;
    Ok(hash)
}

/// An attachment's bytes: from this device, or else from the server (then kept here).
pub async fn fetch(
    store: &Store,
    token: Option<&str>,
    doc: DocumentId,
    hash: &str,
    name: &str,
    mime: &str,
) -> Result<StoredBlob, AttachmentError> {
    if let Some(blob) = store.blob(doc, hash).await? {
        return Ok(blob);
    }
    let token = token.ok_or(AttachmentError::Missing)?;
    let bytes = match api::download(token, doc, hash).await {
        Ok(bytes) => bytes,
        Err(ApiError::NotFound(_)) => return Err(AttachmentError::Missing),
        Err(e) => return Err(e.into()),
    };
    if chunk_hash(&bytes) != hash {
        return Err(AttachmentError::Mismatch);
    }
    let blob = StoredBlob { name: name.to_owned(), mime: mime.to_owned(), bytes };
    store.put_fetched_blob(doc, hash, &blob).await?;
    Ok(blob)
}

async fn upload(store: &Store, token: &str, doc: DocumentId, hash: &str, size: u64) -> Result<(), AttachmentError> {
    let Some(blob) = store.blob(doc, hash).await? else {
        // Queued but gone from this device: nothing can be sent; drop the entry.
        store.uploaded(doc, hash).await?;
        return Ok(());
    };
    let mut progress = api::upload_progress(token, doc, hash).await?;
    while !progress.complete {
        // Another size means someone else started an upload of this hash: start over from
        // zero, which makes the server discard theirs.
        let start = if progress.total != size || progress.received > size { 0 } else { progress.received as usize };
        let end = (start + PART_BYTES).min(blob.bytes.len());
        progress = api::upload_part(token, doc, hash, start as u64, size, &blob.bytes[start..end]).await?;
    }
    store.uploaded(doc, hash).await?;
    Ok(())
}

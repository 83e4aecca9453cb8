//! Attachments (photos, documents, signatures) stored beside their record, never inside the
//! CRDT: the record holds a reference `{sha256, name, mime, size}`, the bytes live in the store.
//!
//! Blobs belong to one document, keyed `(doc, sha256)`: whoever may read the record may read
//! its attachments, and nobody learns whether another organisation's record holds the same
//! file. Uploads are resumable: parts arrive in order at the offset the server reports, and the
//! blob becomes readable only once every byte is there and the SHA-256 matches its name.

use serde::Serialize;
use shared::api::MAX_ATTACHMENT_BYTES;

/// The largest part of an upload in one request.
pub const MAX_PART_BYTES: usize = 1024 * 1024;

/// How far an upload has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub received: u64,
    pub total: u64,
    pub complete: bool,
}

/// Why a part of an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("attachments may be at most {} MiB; this one is {:.1} MiB", MAX_ATTACHMENT_BYTES / (1024 * 1024), *.0 as f64 / (1024.0 * 1024.0))]
    TooLarge(u64),
    #[error("the upload continues at byte {received}, not {offset}")]
    WrongOffset { offset: u64, received: u64 },
    #[error("this upload was started with a size of {started} bytes, not {total}")]
    SizeChanged { started: u64, total: u64 },
    #[error("the part ends past the attachment's size")]
    PastEnd,
    #[error("the uploaded bytes do not match their SHA-256; upload the file again")]
    HashMismatch,
    #[error("not a SHA-256 in hex")]
    BadHash,
    #[error("the record does not refer to this attachment (yet): sync the record first")]
    NotReferenced,
}

/// Checks that `hash` is a lowercase hex SHA-256.
pub fn check_hash(hash: &str) -> Result<(), BlobError> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(BlobError::BadHash)
    }
}

/// Whether the document stored as `chunks` refers to the attachment `hash` (chunks that do not
/// load are skipped: what loads is what peers see).
pub fn referenced(chunks: &[Vec<u8>], hash: &str) -> bool {
    shared::record::references_attachment(&crate::store::doc_from_chunks(chunks), hash)
}

/// Checks what can be checked of an upload before storage is asked.
pub fn check_upload(hash: &str, total: u64) -> Result<(), BlobError> {
    check_hash(hash)?;
    if total > MAX_ATTACHMENT_BYTES {
        return Err(BlobError::TooLarge(total));
    }
    Ok(())
}

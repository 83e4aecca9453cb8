//! Attachments (photos, documents, signatures) stored beside their record, never inside the
//! CRDT: the record holds a reference `{sha256, name, mime, size}`, the bytes live here.
//!
//! Blobs belong to one document, keyed `(doc, sha256)`: whoever may read the record may read
//! its attachments, and nobody learns whether another organisation's record holds the same
//! file. Uploads are resumable: parts arrive in order at the offset the server reports, and the
//! blob becomes readable only once every byte is there and the SHA-256 matches its name.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::DocumentId;
use shared::api::MAX_ATTACHMENT_BYTES;

use crate::db::DbError;

/// The largest part of an upload in one request.
pub const MAX_PART_BYTES: usize = 1024 * 1024;

/// How far an upload has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub received: u64,
    pub total: u64,
    pub complete: bool,
}

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
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for BlobError {
    fn from(e: rusqlite::Error) -> Self {
        BlobError::Db(e.into())
    }
}

/// Checks that `hash` is a lowercase hex SHA-256.
pub fn check_hash(hash: &str) -> Result<(), BlobError> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(BlobError::BadHash)
    }
}

/// Where the upload of `hash` to `doc` stands; `None` if it never started.
pub fn progress(conn: &Connection, doc: DocumentId, hash: &str) -> Result<Option<Progress>, DbError> {
    Ok(conn
        .query_row("SELECT received, total, complete FROM blobs WHERE doc_id = ?1 AND hash = ?2", params![doc.to_string(), hash], |r| {
            Ok(Progress { received: r.get(0)?, total: r.get(1)?, complete: r.get(2)? })
        })
        .optional()?)
}

/// Stores one part of an upload at `offset` (which must be where the upload stands). The last
/// part checks the whole blob against its hash; a mismatch discards the upload.
pub fn put_part(conn: &mut Connection, doc: DocumentId, hash: &str, total: u64, offset: u64, bytes: &[u8]) -> Result<Progress, BlobError> {
    check_hash(hash)?;
    if total > MAX_ATTACHMENT_BYTES {
        return Err(BlobError::TooLarge(total));
    }
    let tx = conn.transaction()?;
    let id = doc.to_string();
    let current = progress(&tx, doc, hash)?;
    let received = match &current {
        Some(p) if p.complete => return Ok(p.clone()),
        // An unfinished upload of another size (someone else's mistaken or hostile start)
        // must not block the real one: it starts over. The hash check decides in the end.
        Some(p) if p.total != total && offset == 0 => {
            tx.execute("DELETE FROM blob_parts WHERE doc_id = ?1 AND hash = ?2", params![id, hash])?;
            tx.execute("UPDATE blobs SET total = ?3, received = 0 WHERE doc_id = ?1 AND hash = ?2", params![id, hash, total])?;
            0
        }
        Some(p) if p.total != total => return Err(BlobError::SizeChanged { started: p.total, total }),
        Some(p) => p.received,
        None => {
            tx.execute("INSERT INTO blobs (doc_id, hash, total) VALUES (?1, ?2, ?3)", params![id, hash, total])?;
            0
        }
    };
    if offset != received {
        return Err(BlobError::WrongOffset { offset, received });
    }
    let received = received + bytes.len() as u64;
    if received > total {
        return Err(BlobError::PastEnd);
    }
    if !bytes.is_empty() {
        tx.execute("INSERT INTO blob_parts (doc_id, hash, offset, bytes) VALUES (?1, ?2, ?3, ?4)", params![id, hash, offset, bytes])?;
    }
    let complete = received == total;
    if complete && parts_hash(&tx, doc, hash)? != hash {
        tx.execute("DELETE FROM blob_parts WHERE doc_id = ?1 AND hash = ?2", params![id, hash])?;
        tx.execute("DELETE FROM blobs WHERE doc_id = ?1 AND hash = ?2", params![id, hash])?;
        tx.commit()?;
        return Err(BlobError::HashMismatch);
    }
    tx.execute("UPDATE blobs SET received = ?3, complete = ?4 WHERE doc_id = ?1 AND hash = ?2", params![id, hash, received, complete])?;
    tx.commit()?;
    Ok(Progress { received, total, complete })
}

/// A complete blob's bytes; `None` while it is missing or unfinished.
pub fn get(conn: &Connection, doc: DocumentId, hash: &str) -> Result<Option<Vec<u8>>, DbError> {
    match progress(conn, doc, hash)? {
        Some(p) if p.complete => Ok(Some(read_parts(conn, doc, hash)?)),
        _ => Ok(None),
    }
}

/// The SHA-256 of the stored parts, read one at a time (an attachment may be 20 MiB).
fn parts_hash(conn: &Connection, doc: DocumentId, hash: &str) -> Result<String, DbError> {
    let mut stmt = conn.prepare("SELECT bytes FROM blob_parts WHERE doc_id = ?1 AND hash = ?2 ORDER BY offset")?;
    let mut sha = Sha256::new();
    for part in stmt.query_map(params![doc.to_string(), hash], |r| r.get::<_, Vec<u8>>(0))? {
        sha.update(part?);
    }
    Ok(sha.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn read_parts(conn: &Connection, doc: DocumentId, hash: &str) -> Result<Vec<u8>, DbError> {
    let mut stmt = conn.prepare("SELECT bytes FROM blob_parts WHERE doc_id = ?1 AND hash = ?2 ORDER BY offset")?;
    let mut out = Vec::new();
    for part in stmt.query_map(params![doc.to_string(), hash], |r| r.get::<_, Vec<u8>>(0))? {
        out.extend_from_slice(&part?);
    }
    Ok(out)
}

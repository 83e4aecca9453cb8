//! Documents on the server: chunks (snapshot + incremental, as in the browser), who may read
//! them, and a change feed.
//!
//! The feed follows CouchDB's `_changes?since=`: every write to a document, and every change
//! to who may read it, takes the next value of one global sequence. A client keeps the highest
//! sequence it has seen, so a reconnect with nothing new costs one query with an empty answer,
//! however many documents it holds.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use shared::DocumentId;
use shared::storage_key::verify;
use shared::sync::node::{Chunk, ChunkKind};

use crate::db::DbError;

/// Whether an organisation may use a document. `Missing` and `Denied` must look the same to
/// peers; they differ here only so a new document can be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Missing,
    Denied,
    Allowed,
}

pub use shared::api::FeedEntry;

pub fn access(conn: &Connection, id: DocumentId, org: &str) -> Result<Access, DbError> {
    let owner: Option<String> = conn.query_row("SELECT owner_org FROM docs WHERE id = ?1", [id.to_string()], |r| r.get(0)).optional()?;
    let Some(owner) = owner else { return Ok(Access::Missing) };
    if owner == org {
        return Ok(Access::Allowed);
    }
    let shared: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM access WHERE doc_id = ?1 AND org_id = ?2)", params![id.to_string(), org], |r| {
            r.get(0)
        })?;
    Ok(if shared { Access::Allowed } else { Access::Denied })
}

/// Every stored chunk of a document whose bytes still match their hash, snapshots first.
/// One that does not is logged and left where it is: the sync node never names it in a
/// snapshot's `replaces`, so compaction keeps it for recovery.
pub fn load_chunks(conn: &Connection, id: DocumentId) -> Result<Vec<Vec<u8>>, DbError> {
    let mut stmt = conn.prepare("SELECT hash, bytes FROM chunks WHERE doc_id = ?1 ORDER BY kind = 'incremental', hash")?;
    let rows = stmt.query_map([id.to_string()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut chunks = Vec::new();
    for row in rows {
        let (hash, bytes) = row?;
        if verify(&hash, &bytes) {
            chunks.push(bytes);
        } else {
            tracing::error!(doc = %id, chunk = %hash, "a stored chunk does not match its hash; left out");
        }
    }
    Ok(chunks)
}

/// Creates a document owned by `owner_org` unless it exists already (a concurrent creation).
pub fn create(tx: &Transaction<'_>, id: DocumentId, owner_org: &str, user_id: i64) -> Result<(), DbError> {
    let seq = next_seq(tx)?;
    tx.execute(
        "INSERT OR IGNORE INTO docs (id, owner_org, created_by, seq) VALUES (?1, ?2, ?3, ?4)",
        params![id.to_string(), owner_org, user_id, seq],
    )?;
    Ok(())
}

/// The organisation that owns a document.
pub fn owner(conn: &Connection, id: DocumentId) -> Result<Option<String>, DbError> {
    Ok(conn.query_row("SELECT owner_org FROM docs WHERE id = ?1", [id.to_string()], |r| r.get(0)).optional()?)
}

/// Stores a chunk, deletes the chunks it replaces (a snapshot names those it holds), and
/// records the document's new heads.
pub fn write_chunk(tx: &Transaction<'_>, id: DocumentId, chunk: &Chunk, heads: &[String]) -> Result<(), DbError> {
    let kind = match chunk.kind {
        ChunkKind::Incremental => "incremental",
        ChunkKind::Snapshot => "snapshot",
    };
    let doc = id.to_string();
    for old in chunk.replaces.iter().filter(|h| **h != chunk.hash) {
        tx.execute("DELETE FROM chunks WHERE doc_id = ?1 AND hash = ?2", params![doc, old])?;
    }
    tx.execute(
        "INSERT OR IGNORE INTO chunks (doc_id, kind, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
        params![doc, kind, chunk.hash, chunk.bytes],
    )?;
    touch(tx, id, heads)
}

/// Lets `org` read and write a document that `owner_org` owns.
pub fn share(conn: &mut Connection, id: DocumentId, owner_org: &str, org: &str) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    require_owner(&tx, id, owner_org)?;
    if !crate::accounts::org_exists(&tx, org)? {
        return Err(DbError::NotFound(format!("organisation `{org}`")));
    }
    tx.execute("INSERT OR IGNORE INTO access (doc_id, org_id) VALUES (?1, ?2)", params![id.to_string(), org])?;
    bump(&tx, id)?;
    tx.commit()?;
    Ok(())
}

/// Takes back `org`'s access to a document that `owner_org` owns.
pub fn revoke(conn: &mut Connection, id: DocumentId, owner_org: &str, org: &str) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    require_owner(&tx, id, owner_org)?;
    tx.execute("DELETE FROM access WHERE doc_id = ?1 AND org_id = ?2", params![id.to_string(), org])?;
    bump(&tx, id)?;
    tx.commit()?;
    Ok(())
}

/// The organisations a document is shared with (besides its owner).
pub fn shared_with(conn: &Connection, id: DocumentId) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare("SELECT org_id FROM access WHERE doc_id = ?1 ORDER BY org_id")?;
    let rows = stmt.query_map([id.to_string()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Documents `org` may read that changed after `since`, oldest change first, at most `limit`.
pub fn feed(conn: &Connection, org: &str, since: i64, limit: i64) -> Result<Vec<FeedEntry>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT d.id, d.seq, d.heads, d.owner_org = ?1 FROM docs d
         WHERE d.seq > ?2 AND (d.owner_org = ?1 OR EXISTS (SELECT 1 FROM access a WHERE a.doc_id = d.id AND a.org_id = ?1))
         ORDER BY d.seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![org, since, limit], |r| {
        let heads: String = r.get(2)?;
        Ok(FeedEntry {
            id: r.get(0)?,
            seq: r.get(1)?,
            heads: heads.split(',').filter(|h| !h.is_empty()).map(str::to_owned).collect(),
            owned: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The highest sequence number handed out so far.
pub fn latest_seq(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row("SELECT value FROM counters WHERE name = 'seq'", [], |r| r.get(0))?)
}

fn require_owner(conn: &Connection, id: DocumentId, org: &str) -> Result<(), DbError> {
    // Not found and not yours read the same, as on the sync socket.
    match conn.query_row("SELECT owner_org FROM docs WHERE id = ?1", [id.to_string()], |r| r.get::<_, String>(0)).optional()? {
        Some(owner) if owner == org => Ok(()),
        _ => Err(DbError::NotFound(format!("document {id}"))),
    }
}

fn touch(tx: &Transaction<'_>, id: DocumentId, heads: &[String]) -> Result<(), DbError> {
    let seq = next_seq(tx)?;
    let mut heads = heads.to_vec();
    heads.sort();
    tx.execute(
        "UPDATE docs SET seq = ?2, heads = ?3, size = (SELECT COALESCE(SUM(length(bytes)), 0) FROM chunks WHERE doc_id = ?1) WHERE id = ?1",
        params![id.to_string(), seq, heads.join(",")],
    )?;
    Ok(())
}

fn bump(tx: &Transaction<'_>, id: DocumentId) -> Result<(), DbError> {
    let seq = next_seq(tx)?;
    tx.execute("UPDATE docs SET seq = ?2 WHERE id = ?1", params![id.to_string(), seq])?;
    Ok(())
}

fn next_seq(tx: &Transaction<'_>) -> Result<i64, DbError> {
    Ok(tx.query_row("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value", [], |r| r.get(0))?)
}

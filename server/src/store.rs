//! Everything the server keeps: accounts, session tokens, documents and their chunks, who may
//! read them, the change feed, attachments. One trait, [`Store`], with two implementations:
//! SQLite (`sqlite`, the embedded default, one file in the data folder) and PostgreSQL
//! (`postgres`, for several server instances on one database).
//!
//! The rules every implementation keeps:
//! - **Acknowledged means durable.** A write returns only once its commit is on disk
//!   (SQLite `synchronous = FULL`, PostgreSQL `synchronous_commit = on`); the sync hub tells
//!   peers about a change only after that.
//! - **The feed never skips.** Every write to a document and every change to who may read it
//!   takes the next value of one sequence, and no reader can see a value before every smaller
//!   one is visible or abandoned. How each backend guarantees that is said in its module.
//! - **Unauthorised reads as missing.** Nothing here tells "not yours" from "not there" to a
//!   caller that does not need the difference.
//!
//! Methods take and return plain values and boxed futures, so the trait is object safe and
//! the rest of the server holds an `Arc<dyn Store>`.

pub mod postgres;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use shared::DocumentId;
use shared::api::{ActorBinding, DeviceKey, FeedEntry, Org, User};
use shared::case::admit::AccessChanges;
use shared::sync::node::Chunk;
use tokio::sync::mpsc;

use crate::blobs::{BlobError, Progress};

/// What a store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Something named does not exist (an organisation, a document one does not own).
    #[error("{0} not found")]
    NotFound(String),
    /// The change contradicts what is stored (an id taken, a name not allowed).
    #[error("{0}")]
    Conflict(String),
    /// The database itself failed.
    #[error("database error: {0}")]
    Backend(String),
}

/// What an organisation stores ([`Store::org_usage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub docs: u64,
    pub blob_bytes: u64,
}

/// Whether an organisation may use a document. `Missing` and `Denied` must look the same to
/// peers; they differ here only so a new document can be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Missing,
    Denied,
    Allowed,
}

/// The answer to [`Store::doc_open`].
#[derive(Debug)]
pub enum Opened {
    /// The organisation may use it; its verified chunks, snapshots first, if asked for.
    /// With the accounts its actors are bound to (hex actor id, user id), also if asked for.
    /// And the owning organisation, when loaded.
    Allowed { chunks: Vec<Vec<u8>>, actors: Vec<(String, i64)>, owner: String },
    /// It did not exist and now belongs to the asking user's organisation.
    Created,
    /// Missing, or another organisation's.
    Unavailable,
}

/// One chunk to store with the document's heads after it (hex, any order).
#[derive(Debug, Clone)]
pub struct ChunkWrite {
    pub doc: DocumentId,
    pub chunk: Chunk,
    pub heads: Vec<String>,
    /// Actors first seen in this chunk and the user whose connection sent them (hex actor id,
    /// user id). Stored in the same transaction; one bound to another user already (by another
    /// instance) fails the write with [`StoreError::Conflict`], so the chunk is not kept.
    pub actors: Vec<(String, i64)>,
    /// When the write was asked for (ms since the epoch): the binding's time.
    pub at: i64,
    /// Organisations the chunk's case steps give or take access to the document
    /// (`shared::case::admit`), in the same transaction; an unknown organisation or the owner
    /// is skipped. Other instances hear [`Notice::AccessChanged`].
    pub access: AccessChanges,
}

/// What another server instance on the same database did, as far as open connections here
/// must hear of it. Only a shared database (PostgreSQL) sends these; a store never reports
/// its own instance's writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// New chunks of `doc` were stored; its heads are now `heads`.
    DocChanged { doc: DocumentId, heads: Vec<String> },
    /// `org` was given or lost access to `doc`.
    AccessChanged { doc: DocumentId, org: String },
    /// A session token was revoked (sign-out); `token_hash` as stored.
    TokenRevoked { token_hash: String },
    /// The notice channel was interrupted and is back: some notices may have been lost, so
    /// whatever depends on them is checked again.
    Resync,
}

/// Which database to use: `postgres://…` or `postgresql://…` selects PostgreSQL, anything
/// else is not accepted; without one, SQLite in the data folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Database {
    pub fn new(url: Option<&str>, data_dir: &std::path::Path) -> Result<Database, StoreError> {
        match url {
            None => Ok(Database::Sqlite(data_dir.join("liaison.sqlite3"))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => Ok(Database::Postgres(u.to_owned())),
            Some(_) => Err(StoreError::Conflict("--database takes a postgres:// URL (without it: SQLite in the data folder)".into())),
        }
    }
}

/// Opens the store, creating and migrating its tables as needed.
pub async fn open(database: &Database) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match database {
        Database::Sqlite(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(format!("creating {}: {e}", dir.display())))?;
            }
            Arc::new(sqlite::SqliteStore::open(path)?)
        }
        Database::Postgres(url) => Arc::new(postgres::PgStore::connect(url).await?),
    })
}

pub trait Store: Send + Sync {
    /// This database's stable storage id, which automerge-repo peers key their memory of us by.
    fn storage_id(&self) -> StoreFuture<'_, String>;
    /// Starts hearing what other instances on this database do; `None` for a store no other
    /// instance shares. Called once, before serving.
    fn listen(&self) -> StoreFuture<'_, Option<mpsc::UnboundedReceiver<Notice>>>;

    /// Appends an audit row after the newest one, chained to its hash, as one step even with
    /// other instances writing ([`crate::audit`]).
    fn audit_append<'a>(&'a self, entry: &'a crate::audit::Entry) -> StoreFuture<'a, ()>;
    /// Up to `limit` audit rows numbered after `after`, in order.
    fn audit_rows(&self, after: i64, limit: i64) -> StoreFuture<'_, Vec<crate::audit::Row>>;
    /// Up to `limit` rows an organisation's administrator sees, newest first: what its own
    /// people did, and what anyone did to a record it owns; narrowed by `filter`.
    fn audit_for_org<'a>(&'a self, org: &'a str, filter: &'a crate::audit::Filter, limit: i64) -> StoreFuture<'a, Vec<crate::audit::Row>>;

    /// Adds an organisation of `kind` (checked by the caller); `Conflict` if the id is taken.
    fn org_create<'a>(&'a self, id: &'a str, name: &'a str, kind: &'a str) -> StoreFuture<'a, ()>;
    /// Says what an organisation is; `NotFound` without it.
    fn org_set_kind<'a>(&'a self, id: &'a str, kind: &'a str) -> StoreFuture<'a, ()>;
    fn org_exists<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;
    /// What an organisation's records take: how many it owns, and the bytes of their
    /// attachments (uploads under way counted at their full size), for its quotas.
    fn org_usage<'a>(&'a self, org: &'a str) -> StoreFuture<'a, Usage>;
    /// Every organisation, by id.
    fn orgs(&self) -> StoreFuture<'_, Vec<Org>>;
    /// Adds a user with an already hashed password; returns the id. `NotFound` without the
    /// organisation, `Conflict` if the username is taken.
    fn user_create<'a>(&'a self, username: &'a str, display_name: &'a str, org_id: &'a str, password_hash: &'a str)
    -> StoreFuture<'a, i64>;
    /// A user's id and stored password hash.
    fn password_hash<'a>(&'a self, username: &'a str) -> StoreFuture<'a, Option<(i64, String)>>;
    fn user(&self, id: i64) -> StoreFuture<'_, Option<User>>;
    /// Makes a user its organisation's `admin` or a `member` (checked by the caller);
    /// `NotFound` without the user.
    fn user_set_role<'a>(&'a self, username: &'a str, role: &'a str) -> StoreFuture<'a, ()>;

    /// Stores a session token by its hash.
    fn token_insert<'a>(&'a self, token_hash: &'a str, user_id: i64, created_at: i64, expires_at: i64) -> StoreFuture<'a, ()>;
    /// The user a token belongs to and when it expires, if it is unexpired at `now` and not
    /// revoked.
    fn token_user<'a>(&'a self, token_hash: &'a str, now: i64) -> StoreFuture<'a, Option<(User, i64)>>;
    /// Revokes a token; other instances hear [`Notice::TokenRevoked`].
    fn token_revoke<'a>(&'a self, token_hash: &'a str) -> StoreFuture<'a, ()>;

    /// What `user`'s organisation may do with `doc`; creates it for them if it is missing and
    /// `create`. `load`: also return its chunks.
    fn doc_open<'a>(&'a self, doc: DocumentId, user: &'a User, create: bool, load: bool) -> StoreFuture<'a, Opened>;
    fn doc_access<'a>(&'a self, doc: DocumentId, org: &'a str) -> StoreFuture<'a, Access>;
    /// The organisation that owns a document.
    fn doc_owner(&self, doc: DocumentId) -> StoreFuture<'_, Option<String>>;
    /// The organisations a document is shared with (besides its owner), by id.
    fn doc_shared_with(&self, doc: DocumentId) -> StoreFuture<'_, Vec<String>>;
    /// Lets `org` read and write a document `owner_org` owns (`NotFound` if it does not).
    fn doc_share<'a>(&'a self, doc: DocumentId, owner_org: &'a str, org: &'a str) -> StoreFuture<'a, ()>;
    /// Takes back `org`'s access to a document `owner_org` owns.
    fn doc_revoke<'a>(&'a self, doc: DocumentId, owner_org: &'a str, org: &'a str) -> StoreFuture<'a, ()>;
    /// Every stored chunk of a document whose bytes still match their hash, snapshots first.
    /// One that does not is logged and left where it is: the sync node never names it in a
    /// snapshot's `replaces`, so compaction keeps it for recovery.
    fn chunks_load(&self, doc: DocumentId) -> StoreFuture<'_, Vec<Vec<u8>>>;
    /// Stores the chunks in one transaction (group commit), in order: each deletes the chunks
    /// it replaces and records its document's new heads. Durable when it returns.
    fn chunks_write(&self, writes: Vec<ChunkWrite>) -> StoreFuture<'_, ()>;
    /// Who each actor of a document is (see [`ActorBinding`]), by actor id.
    fn doc_actors(&self, doc: DocumentId) -> StoreFuture<'_, Vec<ActorBinding>>;
    /// Documents `org` may read that changed after `since`, oldest change first, at most
    /// `limit`, and the highest sequence number a reader may rely on having seen everything
    /// up to (CouchDB's `_changes?since=`).
    fn feed<'a>(&'a self, org: &'a str, since: i64, limit: i64) -> StoreFuture<'a, (Vec<FeedEntry>, i64)>;
    /// Documents another organisation owns whose access `org` lost after `since` and has not
    /// been given again (by hand or by a case step).
    fn feed_gone<'a>(&'a self, org: &'a str, since: i64) -> StoreFuture<'a, Vec<String>>;

    /// Where the upload of `hash` to `doc` stands; `None` if it never started.
    fn blob_progress<'a>(&'a self, doc: DocumentId, hash: &'a str) -> StoreFuture<'a, Option<Progress>>;
    /// Stores one part of an upload at `offset` (which must be where the upload stands). The
    /// last part checks the whole blob against its hash; a mismatch discards the upload. The
    /// caller has checked the hash's form and the size limit.
    fn blob_put_part<'a>(
        &'a self,
        doc: DocumentId,
        hash: &'a str,
        total: u64,
        offset: u64,
        bytes: &'a [u8],
    ) -> StoreFuture<'a, Result<Progress, BlobError>>;
    /// A complete blob's size and the offsets of its stored parts, in order; `None` while it
    /// is missing or unfinished. Read part by part ([`Store::blob_part`]), a download holds
    /// one part (at most 1 MiB) in memory at a time, not the whole attachment.
    fn blob_parts<'a>(&'a self, doc: DocumentId, hash: &'a str) -> StoreFuture<'a, Option<(u64, Vec<u64>)>>;
    /// One stored part of a blob, by its offset.
    fn blob_part<'a>(&'a self, doc: DocumentId, hash: &'a str, offset: u64) -> StoreFuture<'a, Vec<u8>>;

    // ----- device keys -----

    /// Binds a device key to `user_id` from `added_at` until the session `token_hash` that
    /// registers it expires (its sign-out revokes it sooner). Registering one's own live key
    /// again changes nothing; a key another user registered, or a revoked one, is a
    /// [`StoreError::Conflict`].
    fn key_add<'a>(&'a self, key: &'a NewKey) -> StoreFuture<'a, ()>;
    /// Revokes a key from `at` unless it stopped earlier; whether it was live at `at`.
    fn key_revoke<'a>(&'a self, key_id: &'a str, at: i64) -> StoreFuture<'a, bool>;
    /// Revokes every key the session `token_hash` registered that is live at `at`, from `at`.
    fn keys_revoke_for_token<'a>(&'a self, token_hash: &'a str, at: i64) -> StoreFuture<'a, ()>;
    /// Every key ever registered, revoked ones too (old signatures are checked against them).
    fn keys(&self) -> StoreFuture<'_, Vec<DeviceKey>>;

    // ----- agreement signatures (append-only) -----

    /// Keeps an accepted signature of `doc` (`body`: its JSON) received at `received_at`. A
    /// signature id already kept stays as it was: `false`.
    fn signature_add<'a>(&'a self, doc: DocumentId, id: &'a str, body: &'a str, received_at: i64) -> StoreFuture<'a, bool>;
    /// Every kept signature of `doc`: its JSON and when it was received, oldest first.
    fn signatures(&self, doc: DocumentId) -> StoreFuture<'_, Vec<(String, i64)>>;
}

/// A key to register, for [`Store::key_add`].
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key_id: String,
    /// 32 bytes, hex.
    pub public_key: String,
    pub user_id: i64,
    pub token_hash: String,
    pub added_at: i64,
    /// The session's expiry: the key stops with it unless revoked sooner.
    pub expires_at: i64,
}

/// A document as stored: its chunks loaded into one Automerge document. Chunks that do not
/// load are skipped (they were reported when stored): what loads is what peers see.
pub fn doc_from_chunks(chunks: &[Vec<u8>]) -> automerge::AutoCommit {
    let mut doc = automerge::AutoCommit::new();
    for chunk in chunks {
        let _ = doc.load_incremental(chunk);
    }
    doc
}

/// What registering `key` again means when it is stored for `user` until `until`: nothing for
/// its own live key, a conflict otherwise. Shared by the backends.
pub(crate) fn existing_key(user: i64, until: Option<i64>, key: &NewKey) -> Result<(), StoreError> {
    if user != key.user_id {
        return Err(StoreError::Conflict("this key is registered to another user".into()));
    }
    if until.is_some_and(|t| t <= key.added_at) {
        return Err(StoreError::Conflict("this key was revoked: the device makes a new one".into()));
    }
    Ok(())
}

/// How a new part continues an upload that stands at `current`, shared by the backends.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PartPlan {
    /// Already complete: answer with where it stands.
    Done(Progress),
    /// Start a new upload row.
    Start,
    /// An unfinished upload of another size (someone else's mistaken or hostile start) must
    /// not block the real one: it starts over. The hash check decides in the end.
    Restart,
    /// Append at `received`.
    Continue { received: u64 },
}

pub(crate) fn plan_part(current: Option<&Progress>, total: u64, offset: u64, len: usize) -> Result<PartPlan, BlobError> {
    let (plan, received) = match current {
        Some(p) if p.complete => return Ok(PartPlan::Done(p.clone())),
        Some(p) if p.total != total && offset == 0 => (PartPlan::Restart, 0),
        Some(p) if p.total != total => return Err(BlobError::SizeChanged { started: p.total, total }),
        Some(p) => (PartPlan::Continue { received: p.received }, p.received),
        None => (PartPlan::Start, 0),
    };
    if offset != received {
        return Err(BlobError::WrongOffset { offset, received });
    }
    if received + len as u64 > total {
        return Err(BlobError::PastEnd);
    }
    Ok(plan)
}

/// A document's heads as stored: sorted, comma separated.
pub(crate) fn heads_text(heads: &[String]) -> String {
    let mut heads = heads.to_vec();
    heads.sort();
    heads.join(",")
}

pub(crate) fn heads_list(text: &str) -> Vec<String> {
    text.split(',').filter(|h| !h.is_empty()).map(str::to_owned).collect()
}

pub(crate) fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| StoreError::Backend(format!("no randomness: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A new storage id, in the UUID form automerge-repo peers use.
pub(crate) fn new_storage_id() -> Result<String, StoreError> {
    let hex = random_hex(16)?;
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(received: u64, total: u64, complete: bool) -> Progress {
        Progress { received, total, complete }
    }

    #[test]
    fn parts_continue_where_the_upload_stands() {
        let check = |current: Option<Progress>, total, offset, len, expect: Result<PartPlan, &str>| {
            let got = plan_part(current.as_ref(), total, offset, len).map_err(|e| e.to_string());
            assert_eq!(got, expect.map_err(str::to_owned), "{current:?} total {total} offset {offset} len {len}");
        };
        check(None, 10, 0, 4, Ok(PartPlan::Start));
        check(None, 10, 4, 4, Err("the upload continues at byte 0, not 4"));
        check(None, 10, 0, 11, Err("the part ends past the attachment's size"));
        check(Some(progress(4, 10, false)), 10, 4, 6, Ok(PartPlan::Continue { received: 4 }));
        check(Some(progress(4, 10, false)), 10, 0, 6, Err("the upload continues at byte 4, not 0"));
        check(Some(progress(4, 10, false)), 12, 0, 6, Ok(PartPlan::Restart));
        check(Some(progress(4, 10, false)), 12, 4, 6, Err("this upload was started with a size of 10 bytes, not 12"));
        check(Some(progress(10, 10, true)), 99, 3, 1, Ok(PartPlan::Done(progress(10, 10, true))));
    }
}

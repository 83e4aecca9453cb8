//! The embedded store: one SQLite file in the data folder, for one server instance.
//!
//! WAL mode with `synchronous = FULL`: a commit is on disk before it returns, so a change the
//! server acknowledged survives the process being killed and the machine losing power. Writers
//! that arrive together share one transaction (see `sync::hub`'s persist task), which keeps
//! that affordable.
//!
//! The feed cannot skip here: there is one connection, behind a mutex, so transactions run one
//! after another and each takes the next sequence number from `counters` inside itself.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};
use shared::DocumentId;
use shared::api::{ActorBinding, DeviceKey, FeedEntry, Org, User};
use shared::storage_key::verify;
use shared::sync::node::ChunkKind;
use tokio::sync::mpsc;

use super::{
    Access, ChunkWrite, NewKey, Notice, Opened, PartPlan, Store, StoreError, StoreFuture, Usage, heads_list, heads_text, plan_part,
};
use crate::blobs::{BlobError, Progress};

#[derive(Clone)]
pub struct SqliteStore {
    // A std mutex, not tokio's: the lock is only held inside `spawn_blocking`, never across
    // an `.await`.
    conn: Arc<Mutex<Connection>>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

const SCHEMA: &[&str] = &[
    // Version 1.
    r#"
    CREATE TABLE orgs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        org_id TEXT NOT NULL REFERENCES orgs(id),
        password_hash TEXT NOT NULL
    );
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE docs (
        id TEXT PRIMARY KEY,
        owner_org TEXT NOT NULL REFERENCES orgs(id),
        created_by INTEGER NOT NULL REFERENCES users(id),
        seq INTEGER NOT NULL,
        heads TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX docs_seq ON docs(seq);
    CREATE TABLE chunks (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        kind TEXT NOT NULL CHECK (kind IN ('snapshot', 'incremental')),
        hash TEXT NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (doc_id, kind, hash)
    );
    CREATE TABLE access (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        org_id TEXT NOT NULL REFERENCES orgs(id),
        PRIMARY KEY (doc_id, org_id)
    );
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO counters (name, value) VALUES ('seq', 0);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
    // Version 2: attachments, per document, uploaded in parts.
    r#"
    CREATE TABLE blobs (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        hash TEXT NOT NULL,
        total INTEGER NOT NULL,
        received INTEGER NOT NULL DEFAULT 0,
        complete INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (doc_id, hash)
    );
    CREATE TABLE blob_parts (
        doc_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        offset INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (doc_id, hash, offset),
        FOREIGN KEY (doc_id, hash) REFERENCES blobs(doc_id, hash)
    );
    "#,
    // Version 3: device signing keys (agreements).
    r#"
    CREATE TABLE device_keys (
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id),
        token_hash TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE INDEX device_keys_token ON device_keys(token_hash);
    CREATE TABLE agreement_signatures (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        signature_id TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (doc_id, signature_id)
    );
    "#,
    // Version 4: which account each Automerge actor of a document belongs to.
    r#"
    CREATE TABLE doc_actors (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        actor TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id),
        bound_at INTEGER NOT NULL,
        PRIMARY KEY (doc_id, actor)
    );
    "#,
    // Version 5: when an organisation lost access to a document (the feed tells its devices).
    r#"
    CREATE TABLE access_ended (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        org_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (doc_id, org_id)
    );
    "#,
    // Version 6: what each organisation is (a case clue goes to a procuratorate).
    r#"
    ALTER TABLE orgs ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';
    "#,
    // Version 7: the audit trail, hash-chained (see `audit`), and who administers an organisation.
    r#"
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        action TEXT NOT NULL,
        account_id INTEGER,
        username TEXT NOT NULL,
        org_id TEXT,
        device TEXT,
        doc_id TEXT,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_org ON audit(org_id, seq);
    CREATE INDEX audit_doc ON audit(doc_id, seq);
    CREATE INDEX docs_owner ON docs(owner_org);
    ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member';
    "#,
];

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(SqliteStore { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` on the connection in tokio's blocking pool.
    fn call<T, F>(&self, f: F) -> StoreFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                f(&mut guard)
            })
            .await
            .map_err(|e| StoreError::Backend(format!("the database task failed: {e}")))?
        })
    }
}

impl Store for SqliteStore {
    fn storage_id(&self) -> StoreFuture<'_, String> {
        self.call(|c| {
            if let Some(id) = c.query_row("SELECT value FROM settings WHERE key = 'storage_id'", [], |r| r.get(0)).optional()? {
                return Ok(id);
            }
            let id = super::new_storage_id()?;
            c.execute("INSERT INTO settings (key, value) VALUES ('storage_id', ?1)", [&id])?;
            Ok(id)
        })
    }

    fn listen(&self) -> StoreFuture<'_, Option<mpsc::UnboundedReceiver<Notice>>> {
        // One file, one instance: nobody else writes.
        Box::pin(async { Ok(None) })
    }

    fn audit_append<'a>(&'a self, entry: &'a crate::audit::Entry) -> StoreFuture<'a, ()> {
        let e = entry.clone();
        self.call(move |c| {
            let tx = c.transaction()?;
            let last: Option<(i64, String)> =
                tx.query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            let (seq, prev) = last.map_or((1, crate::audit::GENESIS.to_owned()), |(s, h)| (s + 1, h));
            let hash = crate::audit::row_hash(&prev, seq, &e);
            tx.execute(
                "INSERT INTO audit (seq, at, action, account_id, username, org_id, device, doc_id, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![seq, e.at, e.action, e.account, e.username, e.org, e.device, e.doc, e.detail, prev, hash],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn audit_rows(&self, after: i64, limit: i64) -> StoreFuture<'_, Vec<crate::audit::Row>> {
        self.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT seq, at, action, account_id, username, org_id, device, doc_id, detail, prev_hash, hash
                 FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit], audit_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn audit_for_org<'a>(&'a self, org: &'a str, filter: &'a crate::audit::Filter, limit: i64) -> StoreFuture<'a, Vec<crate::audit::Row>> {
        let (org, f) = (org.to_owned(), filter.clone());
        self.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, at, action, account_id, username, org_id, device, doc_id, detail, prev_hash, hash
                 FROM audit WHERE (org_id = ?1 OR doc_id IN (SELECT id FROM docs WHERE owner_org = ?1))
                 AND (?2 IS NULL OR doc_id = ?2) AND (?3 IS NULL OR username = ?3)
                 AND (?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at < ?5) AND (?6 IS NULL OR seq < ?6)
                 AND (NOT ?8 OR org_id IS NOT ?1)
                 ORDER BY seq DESC LIMIT ?7",
            )?;
            let rows = stmt.query_map(params![org, f.doc, f.user, f.from, f.to, f.before, limit, f.others], audit_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn org_create<'a>(&'a self, id: &'a str, name: &'a str, kind: &'a str) -> StoreFuture<'a, ()> {
        let (id, name, kind) = (id.to_owned(), name.to_owned(), kind.to_owned());
        self.call(move |c| {
            let n = c.execute("INSERT OR IGNORE INTO orgs (id, name, kind) VALUES (?1, ?2, ?3)", params![id, name, kind])?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("organisation `{id}` exists already")));
            }
            Ok(())
        })
    }

    fn org_set_kind<'a>(&'a self, id: &'a str, kind: &'a str) -> StoreFuture<'a, ()> {
        let (id, kind) = (id.to_owned(), kind.to_owned());
        self.call(move |c| {
            if c.execute("UPDATE orgs SET kind = ?2 WHERE id = ?1", params![id, kind])? == 0 {
                return Err(StoreError::NotFound(format!("organisation `{id}`")));
            }
            Ok(())
        })
    }

    fn org_exists<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        let id = id.to_owned();
        self.call(move |c| org_exists(c, &id))
    }

    fn org_usage<'a>(&'a self, org: &'a str) -> StoreFuture<'a, Usage> {
        let org = org.to_owned();
        self.call(move |c| {
            let docs: i64 = c.query_row("SELECT COUNT(*) FROM docs WHERE owner_org = ?1", [&org], |r| r.get(0))?;
            let blob_bytes: i64 = c.query_row(
                "SELECT COALESCE(SUM(b.total), 0) FROM blobs b JOIN docs d ON d.id = b.doc_id WHERE d.owner_org = ?1",
                [&org],
                |r| r.get(0),
            )?;
            Ok(Usage { docs: docs as u64, blob_bytes: blob_bytes as u64 })
        })
    }

    fn orgs(&self) -> StoreFuture<'_, Vec<Org>> {
        self.call(|c| {
            let mut stmt = c.prepare("SELECT id, name, kind FROM orgs ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok(Org { id: r.get(0)?, name: r.get(1)?, kind: r.get(2)? }))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn user_create<'a>(
        &'a self,
        username: &'a str,
        display_name: &'a str,
        org_id: &'a str,
        password_hash: &'a str,
    ) -> StoreFuture<'a, i64> {
        let (username, display_name, org_id, hash) =
            (username.to_owned(), display_name.to_owned(), org_id.to_owned(), password_hash.to_owned());
        self.call(move |c| {
            if !org_exists(c, &org_id)? {
                return Err(StoreError::NotFound(format!("organisation `{org_id}`")));
            }
            let n = c.execute(
                "INSERT OR IGNORE INTO users (username, display_name, org_id, password_hash) VALUES (?1, ?2, ?3, ?4)",
                params![username, display_name, org_id, hash],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("user `{username}` exists already")));
            }
            Ok(c.last_insert_rowid())
        })
    }

    fn password_hash<'a>(&'a self, username: &'a str) -> StoreFuture<'a, Option<(i64, String)>> {
        let username = username.to_owned();
        self.call(move |c| {
            Ok(c.query_row("SELECT id, password_hash FROM users WHERE username = ?1", [username], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
    }

    fn user(&self, id: i64) -> StoreFuture<'_, Option<User>> {
        self.call(move |c| user_by_id(c, id))
    }

    fn user_set_role<'a>(&'a self, username: &'a str, role: &'a str) -> StoreFuture<'a, ()> {
        let (username, role) = (username.to_owned(), role.to_owned());
        self.call(move |c| {
            if c.execute("UPDATE users SET role = ?2 WHERE username = ?1", params![username, role])? == 0 {
                return Err(StoreError::NotFound(format!("user `{username}`")));
            }
            Ok(())
        })
    }

    fn token_insert<'a>(&'a self, token_hash: &'a str, user_id: i64, created_at: i64, expires_at: i64) -> StoreFuture<'a, ()> {
        let hash = token_hash.to_owned();
        self.call(move |c| {
            c.execute(
                "INSERT INTO tokens (hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, user_id, created_at, expires_at],
            )?;
            Ok(())
        })
    }

    fn token_user<'a>(&'a self, token_hash: &'a str, now: i64) -> StoreFuture<'a, Option<(User, i64)>> {
        let hash = token_hash.to_owned();
        self.call(move |c| {
            let found: Option<(i64, i64)> = c
                .query_row(
                    "SELECT user_id, expires_at FROM tokens WHERE hash = ?1 AND revoked = 0 AND expires_at > ?2",
                    params![hash, now],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match found {
                Some((id, expires_at)) => Ok(user_by_id(c, id)?.map(|u| (u, expires_at))),
                None => Ok(None),
            }
        })
    }

    fn token_revoke<'a>(&'a self, token_hash: &'a str) -> StoreFuture<'a, ()> {
        let hash = token_hash.to_owned();
        self.call(move |c| {
            c.execute("UPDATE tokens SET revoked = 1 WHERE hash = ?1", [hash])?;
            Ok(())
        })
    }

    fn doc_open<'a>(&'a self, doc: DocumentId, user: &'a User, create: bool, load: bool) -> StoreFuture<'a, Opened> {
        let (org, user_id) = (user.org_id.clone(), user.id);
        self.call(move |c| {
            let mut access = access(c, doc, &org)?;
            if access == Access::Missing && create {
                // No fsync of its own (it cost one per new document, the push benchmark's
                // limit): nothing about the document is acknowledged before its first change
                // commits with `synchronous = FULL`, whose fsync of the write-ahead log takes
                // this row along.
                c.pragma_update(None, "synchronous", "NORMAL")?;
                let created = (|| -> Result<(), StoreError> {
                    let tx = c.transaction()?;
                    let seq = next_seq(&tx)?;
                    tx.execute(
                        "INSERT OR IGNORE INTO docs (id, owner_org, created_by, seq) VALUES (?1, ?2, ?3, ?4)",
                        params![doc.to_string(), org, user_id, seq],
                    )?;
                    Ok(tx.commit()?)
                })();
                c.pragma_update(None, "synchronous", "FULL")?;
                created?;
                // Another organisation may have created the same id a moment before.
                access = match self::access(c, doc, &org)? {
                    Access::Allowed => return Ok(Opened::Created),
                    other => other,
                };
            }
            Ok(match access {
                Access::Allowed if load => Opened::Allowed {
                    chunks: load_chunks(c, doc)?,
                    actors: load_actors(c, doc)?,
                    owner: owner(c, doc)?.unwrap_or_default(),
                },
                Access::Allowed => Opened::Allowed { chunks: Vec::new(), actors: Vec::new(), owner: String::new() },
                Access::Missing | Access::Denied => Opened::Unavailable,
            })
        })
    }

    fn doc_access<'a>(&'a self, doc: DocumentId, org: &'a str) -> StoreFuture<'a, Access> {
        let org = org.to_owned();
        self.call(move |c| access(c, doc, &org))
    }

    fn doc_owner(&self, doc: DocumentId) -> StoreFuture<'_, Option<String>> {
        self.call(move |c| owner(c, doc))
    }

    fn doc_shared_with(&self, doc: DocumentId) -> StoreFuture<'_, Vec<String>> {
        self.call(move |c| {
            let mut stmt = c.prepare("SELECT org_id FROM access WHERE doc_id = ?1 ORDER BY org_id")?;
            let rows = stmt.query_map([doc.to_string()], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn doc_share<'a>(&'a self, doc: DocumentId, owner_org: &'a str, org: &'a str) -> StoreFuture<'a, ()> {
        let (owner_org, org) = (owner_org.to_owned(), org.to_owned());
        self.call(move |c| {
            let tx = c.transaction()?;
            require_owner(&tx, doc, &owner_org)?;
            if !org_exists(&tx, &org)? {
                return Err(StoreError::NotFound(format!("organisation `{org}`")));
            }
            tx.execute("INSERT OR IGNORE INTO access (doc_id, org_id) VALUES (?1, ?2)", params![doc.to_string(), org])?;
            bump(&tx, doc)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn doc_revoke<'a>(&'a self, doc: DocumentId, owner_org: &'a str, org: &'a str) -> StoreFuture<'a, ()> {
        let (owner_org, org) = (owner_org.to_owned(), org.to_owned());
        self.call(move |c| {
            let tx = c.transaction()?;
            require_owner(&tx, doc, &owner_org)?;
            let ended = tx.execute("DELETE FROM access WHERE doc_id = ?1 AND org_id = ?2", params![doc.to_string(), org])? > 0;
            let seq = bump(&tx, doc)?;
            if ended {
                access_ended(&tx, &doc.to_string(), &org, seq)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn chunks_load(&self, doc: DocumentId) -> StoreFuture<'_, Vec<Vec<u8>>> {
        self.call(move |c| load_chunks(c, doc))
    }

    fn chunks_write(&self, writes: Vec<ChunkWrite>) -> StoreFuture<'_, ()> {
        self.call(move |c| {
            // Whatever happened before, this commit is on disk before it returns.
            c.pragma_update(None, "synchronous", "FULL")?;
            let tx = c.transaction()?;
            for w in &writes {
                write_chunk(&tx, w)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn doc_actors(&self, doc: DocumentId) -> StoreFuture<'_, Vec<ActorBinding>> {
        let doc = doc.to_string();
        self.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT a.actor, u.id, u.username, u.display_name, u.org_id, a.bound_at
                 FROM doc_actors a JOIN users u ON u.id = a.user_id WHERE a.doc_id = ?1 ORDER BY a.actor",
            )?;
            let rows = stmt.query_map([doc], |r| {
                Ok(ActorBinding {
                    actor: r.get(0)?,
                    user_id: r.get(1)?,
                    username: r.get(2)?,
                    display_name: r.get(3)?,
                    org_id: r.get(4)?,
                    bound_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn feed<'a>(&'a self, org: &'a str, since: i64, limit: i64) -> StoreFuture<'a, (Vec<FeedEntry>, i64)> {
        let org = org.to_owned();
        self.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT d.id, d.seq, d.heads, d.owner_org = ?1 FROM docs d
                 WHERE d.seq > ?2 AND (d.owner_org = ?1 OR EXISTS (SELECT 1 FROM access a WHERE a.doc_id = d.id AND a.org_id = ?1))
                 ORDER BY d.seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![org, since, limit], |r| {
                let heads: String = r.get(2)?;
                Ok(FeedEntry { id: r.get(0)?, seq: r.get(1)?, heads: heads_list(&heads), owned: r.get(3)? })
            })?;
            let entries = rows.collect::<Result<_, _>>()?;
            let latest = c.query_row("SELECT value FROM counters WHERE name = 'seq'", [], |r| r.get(0))?;
            Ok((entries, latest))
        })
    }

    fn feed_gone<'a>(&'a self, org: &'a str, since: i64) -> StoreFuture<'a, Vec<String>> {
        let org = org.to_owned();
        self.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT e.doc_id FROM access_ended e JOIN docs d ON d.id = e.doc_id
                 WHERE e.org_id = ?1 AND e.seq > ?2 AND d.owner_org <> ?1
                   AND NOT EXISTS (SELECT 1 FROM access a WHERE a.doc_id = e.doc_id AND a.org_id = ?1)
                 ORDER BY e.seq",
            )?;
            let rows = stmt.query_map(params![org, since], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn blob_progress<'a>(&'a self, doc: DocumentId, hash: &'a str) -> StoreFuture<'a, Option<Progress>> {
        let hash = hash.to_owned();
        self.call(move |c| progress(c, doc, &hash))
    }

    fn blob_put_part<'a>(
        &'a self,
        doc: DocumentId,
        hash: &'a str,
        total: u64,
        offset: u64,
        bytes: &'a [u8],
    ) -> StoreFuture<'a, Result<Progress, BlobError>> {
        let (hash, bytes) = (hash.to_owned(), bytes.to_vec());
        self.call(move |c| {
            let tx = c.transaction()?;
            let id = doc.to_string();
            let received = match plan_part(progress(&tx, doc, &hash)?.as_ref(), total, offset, bytes.len()) {
                Err(refused) => return Ok(Err(refused)),
                Ok(PartPlan::Done(p)) => return Ok(Ok(p)),
                Ok(PartPlan::Restart) => {
                    tx.execute("DELETE FROM blob_parts WHERE doc_id = ?1 AND hash = ?2", params![id, hash])?;
                    tx.execute("UPDATE blobs SET total = ?3, received = 0 WHERE doc_id = ?1 AND hash = ?2", params![id, hash, total])?;
                    0
                }
                Ok(PartPlan::Start) => {
                    tx.execute("INSERT INTO blobs (doc_id, hash, total) VALUES (?1, ?2, ?3)", params![id, hash, total])?;
                    0
                }
                Ok(PartPlan::Continue { received }) => received,
            };
            if !bytes.is_empty() {
                tx.execute(
                    "INSERT INTO blob_parts (doc_id, hash, offset, bytes) VALUES (?1, ?2, ?3, ?4)",
                    params![id, hash, offset, bytes],
                )?;
            }
            let received = received + bytes.len() as u64;
            let complete = received == total;
            if complete && parts_hash(&tx, doc, &hash)? != hash {
                tx.execute("DELETE FROM blob_parts WHERE doc_id = ?1 AND hash = ?2", params![id, hash])?;
                tx.execute("DELETE FROM blobs WHERE doc_id = ?1 AND hash = ?2", params![id, hash])?;
                tx.commit()?;
                return Ok(Err(BlobError::HashMismatch));
            }
            tx.execute(
                "UPDATE blobs SET received = ?3, complete = ?4 WHERE doc_id = ?1 AND hash = ?2",
                params![id, hash, received, complete],
            )?;
            tx.commit()?;
            Ok(Ok(Progress { received, total, complete }))
        })
    }

    fn blob_parts<'a>(&'a self, doc: DocumentId, hash: &'a str) -> StoreFuture<'a, Option<(u64, Vec<u64>)>> {
        let hash = hash.to_owned();
        self.call(move |c| match progress(c, doc, &hash)? {
            Some(p) if p.complete => {
                let mut stmt = c.prepare("SELECT offset FROM blob_parts WHERE doc_id = ?1 AND hash = ?2 ORDER BY offset")?;
                let offsets = stmt.query_map(params![doc.to_string(), hash], |r| r.get::<_, i64>(0))?;
                let offsets = offsets.map(|o| o.map(|o| o as u64)).collect::<Result<Vec<u64>, _>>()?;
                Ok(Some((p.total, offsets)))
            }
            _ => Ok(None),
        })
    }

    fn blob_part<'a>(&'a self, doc: DocumentId, hash: &'a str, offset: u64) -> StoreFuture<'a, Vec<u8>> {
        let hash = hash.to_owned();
        self.call(move |c| {
            Ok(c.query_row(
                "SELECT bytes FROM blob_parts WHERE doc_id = ?1 AND hash = ?2 AND offset = ?3",
                params![doc.to_string(), hash, offset as i64],
                |r| r.get(0),
            )?)
        })
    }

    fn key_add<'a>(&'a self, key: &'a NewKey) -> StoreFuture<'a, ()> {
        let key = key.clone();
        self.call(move |c| {
            let tx = c.transaction()?;
            let owner: Option<(i64, Option<i64>)> = tx
                .query_row("SELECT user_id, revoked_at FROM device_keys WHERE key_id = ?1", [&key.key_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((user, until)) = owner {
                return super::existing_key(user, until, &key);
            }
            tx.execute(
                "INSERT INTO device_keys (key_id, public_key, user_id, token_hash, added_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![key.key_id, key.public_key, key.user_id, key.token_hash, key.added_at, key.expires_at],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn key_revoke<'a>(&'a self, key_id: &'a str, at: i64) -> StoreFuture<'a, bool> {
        let key_id = key_id.to_owned();
        self.call(move |c| {
            Ok(c.execute(
                "UPDATE device_keys SET revoked_at = ?2 WHERE key_id = ?1 AND (revoked_at IS NULL OR revoked_at > ?2)",
                rusqlite::params![key_id, at],
            )? > 0)
        })
    }

    fn keys_revoke_for_token<'a>(&'a self, token_hash: &'a str, at: i64) -> StoreFuture<'a, ()> {
        let token_hash = token_hash.to_owned();
        self.call(move |c| {
            c.execute(
                "UPDATE device_keys SET revoked_at = ?2 WHERE token_hash = ?1 AND (revoked_at IS NULL OR revoked_at > ?2)",
                rusqlite::params![token_hash, at],
            )?;
            Ok(())
        })
    }

    fn keys(&self) -> StoreFuture<'_, Vec<DeviceKey>> {
        self.call(|c| {
            let mut stmt = c.prepare(
                "SELECT k.key_id, k.public_key, k.user_id, u.username, u.org_id, k.added_at, k.revoked_at
                 FROM device_keys k JOIN users u ON u.id = k.user_id ORDER BY k.added_at, k.key_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(DeviceKey {
                    key_id: r.get(0)?,
                    public_key: r.get(1)?,
                    user_id: r.get(2)?,
                    username: r.get(3)?,
                    org_id: r.get(4)?,
                    added_at: r.get(5)?,
                    revoked_at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn signature_add<'a>(&'a self, doc: DocumentId, id: &'a str, body: &'a str, received_at: i64) -> StoreFuture<'a, bool> {
        let (doc, id, body) = (doc.to_string(), id.to_owned(), body.to_owned());
        self.call(move |c| {
            Ok(c.execute(
                "INSERT OR IGNORE INTO agreement_signatures (doc_id, signature_id, body, received_at) VALUES (?1, ?2, ?3, ?4)",
                params![doc, id, body, received_at],
            )? > 0)
        })
    }

    fn signatures(&self, doc: DocumentId) -> StoreFuture<'_, Vec<(String, i64)>> {
        let doc = doc.to_string();
        self.call(move |c| {
            let mut stmt =
                c.prepare("SELECT body, received_at FROM agreement_signatures WHERE doc_id = ?1 ORDER BY received_at, signature_id")?;
            let rows = stmt.query_map([doc], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, step) in SCHEMA.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn org_exists(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)", [id], |r| r.get(0))?)
}

fn user_by_id(conn: &Connection, id: i64) -> Result<Option<User>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT u.id, u.username, u.display_name, u.org_id, o.name, u.role = 'admin' FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?1",
            [id],
            |r| Ok(User { id: r.get(0)?, username: r.get(1)?, display_name: r.get(2)?, org_id: r.get(3)?, org_name: r.get(4)?, admin: r.get(5)? }),
        )
        .optional()?)
}

fn owner(conn: &Connection, id: DocumentId) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row("SELECT owner_org FROM docs WHERE id = ?1", [id.to_string()], |r| r.get(0)).optional()?)
}

fn access(conn: &Connection, id: DocumentId, org: &str) -> Result<Access, StoreError> {
    let Some(owner) = owner(conn, id)? else { return Ok(Access::Missing) };
    if owner == org {
        return Ok(Access::Allowed);
    }
    let shared: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM access WHERE doc_id = ?1 AND org_id = ?2)", params![id.to_string(), org], |r| {
            r.get(0)
        })?;
    Ok(if shared { Access::Allowed } else { Access::Denied })
}

fn load_actors(conn: &Connection, id: DocumentId) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = conn.prepare("SELECT actor, user_id FROM doc_actors WHERE doc_id = ?1")?;
    let rows = stmt.query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn load_chunks(conn: &Connection, id: DocumentId) -> Result<Vec<Vec<u8>>, StoreError> {
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

/// Stores a chunk, deletes the chunks it replaces (a snapshot names those it holds), and
/// records the document's new heads.
fn write_chunk(tx: &Transaction<'_>, w: &ChunkWrite) -> Result<(), StoreError> {
    let kind = match w.chunk.kind {
        ChunkKind::Incremental => "incremental",
        ChunkKind::Snapshot => "snapshot",
    };
    let doc = w.doc.to_string();
    for old in w.chunk.replaces.iter().filter(|h| **h != w.chunk.hash) {
        tx.execute("DELETE FROM chunks WHERE doc_id = ?1 AND hash = ?2", params![doc, old])?;
    }
    tx.execute(
        "INSERT OR IGNORE INTO chunks (doc_id, kind, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
        params![doc, kind, w.chunk.hash, w.chunk.bytes],
    )?;
    for (actor, user) in &w.actors {
        tx.execute(
            "INSERT OR IGNORE INTO doc_actors (doc_id, actor, user_id, bound_at) VALUES (?1, ?2, ?3, ?4)",
            params![doc, actor, user, w.at],
        )?;
        let owner: i64 =
            tx.query_row("SELECT user_id FROM doc_actors WHERE doc_id = ?1 AND actor = ?2", params![doc, actor], |r| r.get(0))?;
        if owner != *user {
            return Err(StoreError::Conflict(format!("actor {actor} of {doc} belongs to another account")));
        }
    }
    for org in &w.access.grant {
        tx.execute(
            "INSERT OR IGNORE INTO access (doc_id, org_id) SELECT ?1, ?2
             WHERE EXISTS (SELECT 1 FROM orgs WHERE id = ?2) AND ?2 <> (SELECT owner_org FROM docs WHERE id = ?1)",
            params![doc, org],
        )?;
    }
    let mut ended = Vec::new();
    for org in &w.access.revoke {
        if tx.execute("DELETE FROM access WHERE doc_id = ?1 AND org_id = ?2", params![doc, org])? > 0 {
            ended.push(org);
        }
    }
    let seq = next_seq(tx)?;
    tx.execute(
        "UPDATE docs SET seq = ?2, heads = ?3, size = (SELECT COALESCE(SUM(length(bytes)), 0) FROM chunks WHERE doc_id = ?1) WHERE id = ?1",
        params![doc, seq, heads_text(&w.heads)],
    )?;
    for org in ended {
        access_ended(tx, &doc, org, seq)?;
    }
    Ok(())
}

fn require_owner(conn: &Connection, id: DocumentId, org: &str) -> Result<(), StoreError> {
    // Not found and not yours read the same, as on the sync socket.
    match owner(conn, id)? {
        Some(owner) if owner == org => Ok(()),
        _ => Err(StoreError::NotFound(format!("document {id}"))),
    }
}

fn bump(tx: &Transaction<'_>, id: DocumentId) -> Result<i64, StoreError> {
    let seq = next_seq(tx)?;
    tx.execute("UPDATE docs SET seq = ?2 WHERE id = ?1", params![id.to_string(), seq])?;
    Ok(seq)
}

/// Notes that `org` lost access to `doc` at `seq`, for its devices' next feed.
fn access_ended(tx: &Transaction<'_>, doc: &str, org: &str, seq: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO access_ended (doc_id, org_id, seq) VALUES (?1, ?2, ?3) ON CONFLICT (doc_id, org_id) DO UPDATE SET seq = excluded.seq",
        params![doc, org, seq],
    )?;
    Ok(())
}

fn next_seq(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx.query_row("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value", [], |r| r.get(0))?)
}

fn progress(conn: &Connection, doc: DocumentId, hash: &str) -> Result<Option<Progress>, StoreError> {
    Ok(conn
        .query_row("SELECT received, total, complete FROM blobs WHERE doc_id = ?1 AND hash = ?2", params![doc.to_string(), hash], |r| {
            Ok(Progress { received: r.get(0)?, total: r.get(1)?, complete: r.get(2)? })
        })
        .optional()?)
}

/// The SHA-256 of the stored parts, read one at a time (an attachment may be 20 MiB).
fn parts_hash(conn: &Connection, doc: DocumentId, hash: &str) -> Result<String, StoreError> {
    let mut stmt = conn.prepare("SELECT bytes FROM blob_parts WHERE doc_id = ?1 AND hash = ?2 ORDER BY offset")?;
    let mut sha = Sha256::new();
    for part in stmt.query_map(params![doc.to_string(), hash], |r| r.get::<_, Vec<u8>>(0))? {
        sha.update(part?);
    }
    Ok(sha.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::audit::Row> {
    Ok(crate::audit::Row {
        seq: r.get(0)?,
        entry: crate::audit::Entry {
            at: r.get(1)?,
            action: r.get(2)?,
            account: r.get(3)?,
            username: r.get(4)?,
            org: r.get(5)?,
            device: r.get(6)?,
            doc: r.get(7)?,
            detail: r.get(8)?,
        },
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

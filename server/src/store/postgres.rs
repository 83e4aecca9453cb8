//! The shared store: one PostgreSQL database for any number of server instances.
//!
//! **Durability.** Every connection sets `synchronous_commit = on`, whatever the server's
//! default: a commit returns once its WAL is flushed, so an acknowledged change survives a
//! crash of the database machine. Only the row that creates a document commits without
//! waiting (as on SQLite): nothing about the document is acknowledged before its first change
//! commits, and that commit's flush takes the earlier WAL record along.
//!
//! **The feed never skips an entry.** A sequence (`nextval`) alone would not do: transaction
//! T1 takes 5, T2 takes 6, T2 commits first, a reader sees 6 and moves its checkpoint past 5,
//! which T1 then commits. Here every number comes from one row, `counters.seq`, incremented
//! with `UPDATE … RETURNING` inside the writing transaction. The row lock that update takes is
//! held until commit or rollback, so the transaction that takes 6 waits until the one that
//! took 5 has finished: transactions holding numbers commit in the order of their numbers,
//! and once a reader sees a number, every smaller one is committed or was never used (a rolled
//! back number leaves a gap, which skips nothing). Writers take the number last, after their
//! other work, so the lock is held only for the final update and the commit's flush; writes
//! on one server are group committed anyway, so the lock is taken once per batch. Taking the
//! counter before updating any `docs` row, in every transaction, also keeps two writers from
//! deadlocking over rows. The feed reads the entries and `counters.seq` in one `REPEATABLE
//! READ` snapshot, so the `last_seq` it reports covers exactly what it returned.
//!
//! **Several instances.** Writes that other instances must hear of send `NOTIFY liaison` in
//! the same transaction (PostgreSQL delivers it only on commit): a document's new heads, an
//! access change, a revoked token. Each instance `LISTEN`s on a connection of its own and
//! ignores its own notices; when that connection breaks it reconnects and reports
//! [`Notice::Resync`], since notices sent meanwhile are lost.

use std::sync::Mutex;

use shared::DocumentId;
use shared::api::{ActorBinding, DeviceKey, FeedEntry, Org, User};
use shared::storage_key::verify;
use shared::sync::node::ChunkKind;
use tokio::sync::{Semaphore, SemaphorePermit, mpsc, oneshot};
use tokio_postgres::{AsyncMessage, Client, GenericClient, NoTls};

use super::{
    Access, ChunkWrite, NewKey, Notice, Opened, PartPlan, Store, StoreError, StoreFuture, Usage, heads_list, heads_text, plan_part,
};
use crate::blobs::{BlobError, Progress};

/// Connections per instance; PostgreSQL allows 100 in all by default.
const POOL_SIZE: usize = 8;
/// The channel notices travel on.
const CHANNEL: &str = "liaison";
/// More heads than this are not named in a notice (it must stay under 8,000 bytes): the
/// receiver then reads the document's chunks whenever it has the document loaded.
const NOTICE_MAX_HEADS: usize = 32;

pub struct PgStore {
    config: tokio_postgres::Config,
    pool: Pool,
    /// Tells this instance's notices from others'.
    instance: String,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => StoreError::Backend(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Backend(e.to_string()),
        }
    }
}

const SCHEMA: &[&str] = &[
    // Version 1: as SQLite's versions 1 and 2.
    r#"
    CREATE TABLE orgs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL
    );
    CREATE TABLE users (
        id BIGSERIAL PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        org_id TEXT NOT NULL REFERENCES orgs(id),
        password_hash TEXT NOT NULL
    );
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        user_id BIGINT NOT NULL REFERENCES users(id),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE TABLE docs (
        id TEXT PRIMARY KEY,
        owner_org TEXT NOT NULL REFERENCES orgs(id),
        created_by BIGINT NOT NULL REFERENCES users(id),
        seq BIGINT NOT NULL,
        heads TEXT NOT NULL DEFAULT '',
        size BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX docs_seq ON docs(seq);
    CREATE TABLE chunks (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        kind TEXT NOT NULL CHECK (kind IN ('snapshot', 'incremental')),
        hash TEXT NOT NULL,
        bytes BYTEA NOT NULL,
        PRIMARY KEY (doc_id, kind, hash)
    );
    CREATE TABLE access (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        org_id TEXT NOT NULL REFERENCES orgs(id),
        PRIMARY KEY (doc_id, org_id)
    );
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    );
    INSERT INTO counters (name, value) VALUES ('seq', 0);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE blobs (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        hash TEXT NOT NULL,
        total BIGINT NOT NULL,
        received BIGINT NOT NULL DEFAULT 0,
        complete BOOLEAN NOT NULL DEFAULT FALSE,
        PRIMARY KEY (doc_id, hash)
    );
    CREATE TABLE blob_parts (
        doc_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        part_offset BIGINT NOT NULL,
        bytes BYTEA NOT NULL,
        PRIMARY KEY (doc_id, hash, part_offset),
        FOREIGN KEY (doc_id, hash) REFERENCES blobs(doc_id, hash)
    );
    "#,
    // Version 2: as SQLite's version 3 (device signing keys).
    r#"
    CREATE TABLE device_keys (
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        user_id BIGINT NOT NULL REFERENCES users(id),
        token_hash TEXT NOT NULL,
        added_at BIGINT NOT NULL,
        revoked_at BIGINT
    );
    CREATE INDEX device_keys_token ON device_keys(token_hash);
    CREATE TABLE agreement_signatures (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        signature_id TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (doc_id, signature_id)
    );
    "#,
    // Version 3: as SQLite's version 4 (actor bindings).
    r#"
    CREATE TABLE doc_actors (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        actor TEXT NOT NULL,
        user_id BIGINT NOT NULL REFERENCES users(id),
        bound_at BIGINT NOT NULL,
        PRIMARY KEY (doc_id, actor)
    );
    "#,
    // Version 4: as SQLite's version 5 (ended access, for the feed).
    r#"
    CREATE TABLE access_ended (
        doc_id TEXT NOT NULL REFERENCES docs(id),
        org_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (doc_id, org_id)
    );
    "#,
    // Version 5: as SQLite's version 6 (what each organisation is).
    r#"
    ALTER TABLE orgs ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';
    "#,
    // Version 6: as SQLite's version 7 (the audit trail, roles).
    r#"
    CREATE TABLE audit (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        action TEXT NOT NULL,
        account_id BIGINT,
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

impl PgStore {
    /// Connects to the database at `url` and brings its tables up to date (instances starting
    /// together migrate one at a time, under an advisory lock).
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Backend(format!("the database URL: {e}")))?;
        let store = PgStore { pool: Pool::new(config.clone()), config, instance: super::random_hex(8)? };
        let mut c = store.pool.get().await?;
        let tx = c.transaction().await?;
        tx.batch_execute(
            "SET LOCAL client_min_messages = warning;
             SELECT pg_advisory_xact_lock(7355608);
             CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);",
        )
        .await?;
        let version: i32 = match tx.query_opt("SELECT version FROM schema_version", &[]).await? {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[]).await?;
                0
            }
        };
        for (i, step) in SCHEMA.iter().enumerate().skip(version as usize) {
            tx.batch_execute(step).await?;
            tx.execute("UPDATE schema_version SET version = $1", &[&(i as i32 + 1)]).await?;
        }
        tx.commit().await?;
        drop(c);
        Ok(store)
    }
}

impl Store for PgStore {
    fn storage_id(&self) -> StoreFuture<'_, String> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            // Every instance on this database is the same storage to a peer.
            let id = super::new_storage_id()?;
            c.execute("INSERT INTO settings (key, value) VALUES ('storage_id', $1) ON CONFLICT (key) DO NOTHING", &[&id]).await?;
            Ok(c.query_one("SELECT value FROM settings WHERE key = 'storage_id'", &[]).await?.get(0))
        })
    }

    fn listen(&self) -> StoreFuture<'_, Option<mpsc::UnboundedReceiver<Notice>>> {
        Box::pin(async move {
            let (out, notices) = mpsc::unbounded_channel();
            let (ready, started) = oneshot::channel();
            tokio::spawn(listener(self.config.clone(), self.instance.clone(), out, ready));
            started.await.map_err(|_| StoreError::Backend("the listener ended".into()))??;
            Ok(Some(notices))
        })
    }

    fn audit_append<'a>(&'a self, e: &'a crate::audit::Entry) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            // One chain for every instance: appends take turns (the lock ends with the
            // transaction).
            tx.execute("LOCK TABLE audit IN EXCLUSIVE MODE", &[]).await?;
            let last = tx.query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[]).await?;
            let (seq, prev): (i64, String) = last.map_or((1, crate::audit::GENESIS.to_owned()), |r| (r.get::<_, i64>(0) + 1, r.get(1)));
            let hash = crate::audit::row_hash(&prev, seq, e);
            tx.execute(
                "INSERT INTO audit (seq, at, action, account_id, username, org_id, device, doc_id, detail, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[&seq, &e.at, &e.action, &e.account, &e.username, &e.org, &e.device, &e.doc, &e.detail, &prev, &hash],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn audit_rows(&self, after: i64, limit: i64) -> StoreFuture<'_, Vec<crate::audit::Row>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    "SELECT seq, at, action, account_id, username, org_id, device, doc_id, detail, prev_hash, hash
                     FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &limit],
                )
                .await?;
            Ok(rows.iter().map(audit_row).collect())
        })
    }

    fn audit_for_org<'a>(&'a self, org: &'a str, f: &'a crate::audit::Filter, limit: i64) -> StoreFuture<'a, Vec<crate::audit::Row>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    "SELECT seq, at, action, account_id, username, org_id, device, doc_id, detail, prev_hash, hash
                     FROM audit WHERE (org_id = $1 OR doc_id IN (SELECT id FROM docs WHERE owner_org = $1))
                     AND ($2::TEXT IS NULL OR doc_id = $2) AND ($3::TEXT IS NULL OR username = $3)
                     AND ($4::BIGINT IS NULL OR at >= $4) AND ($5::BIGINT IS NULL OR at < $5)
                     AND ($6::BIGINT IS NULL OR seq < $6)
                     AND (NOT $8 OR org_id IS DISTINCT FROM $1)
                     ORDER BY seq DESC LIMIT $7",
                    &[&org, &f.doc, &f.user, &f.from, &f.to, &f.before, &limit, &f.others],
                )
                .await?;
            Ok(rows.iter().map(audit_row).collect())
        })
    }

    fn org_create<'a>(&'a self, id: &'a str, name: &'a str, kind: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let n = c
                .execute("INSERT INTO orgs (id, name, kind) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING", &[&id, &name, &kind])
                .await?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("organisation `{id}` exists already")));
            }
            Ok(())
        })
    }

    fn org_set_kind<'a>(&'a self, id: &'a str, kind: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            if c.execute("UPDATE orgs SET kind = $2 WHERE id = $1", &[&id, &kind]).await? == 0 {
                return Err(StoreError::NotFound(format!("organisation `{id}`")));
            }
            Ok(())
        })
    }

    fn org_exists<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { org_exists(&*self.pool.get().await?, id).await })
    }

    fn org_usage<'a>(&'a self, org: &'a str) -> StoreFuture<'a, Usage> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let docs: i64 = c.query_one("SELECT COUNT(*) FROM docs WHERE owner_org = $1", &[&org]).await?.get(0);
            let blob_bytes: i64 = c
                .query_one(
                    "SELECT COALESCE(SUM(b.total), 0)::BIGINT FROM blobs b JOIN docs d ON d.id = b.doc_id WHERE d.owner_org = $1",
                    &[&org],
                )
                .await?
                .get(0);
            Ok(Usage { docs: docs as u64, blob_bytes: blob_bytes as u64 })
        })
    }

    fn orgs(&self) -> StoreFuture<'_, Vec<Org>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let rows = c.query("SELECT id, name, kind FROM orgs ORDER BY id", &[]).await?;
            Ok(rows.iter().map(|r| Org { id: r.get(0), name: r.get(1), kind: r.get(2) }).collect())
        })
    }

    fn user_create<'a>(
        &'a self,
        username: &'a str,
        display_name: &'a str,
        org_id: &'a str,
        password_hash: &'a str,
    ) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            if !org_exists(&*c, org_id).await? {
                return Err(StoreError::NotFound(format!("organisation `{org_id}`")));
            }
            let row = c
                .query_opt(
                    "INSERT INTO users (username, display_name, org_id, password_hash) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (username) DO NOTHING RETURNING id",
                    &[&username, &display_name, &org_id, &password_hash],
                )
                .await?;
            row.map(|r| r.get(0)).ok_or_else(|| StoreError::Conflict(format!("user `{username}` exists already")))
        })
    }

    fn password_hash<'a>(&'a self, username: &'a str) -> StoreFuture<'a, Option<(i64, String)>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let row = c.query_opt("SELECT id, password_hash FROM users WHERE username = $1", &[&username]).await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    fn user_set_role<'a>(&'a self, username: &'a str, role: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            if c.execute("UPDATE users SET role = $2 WHERE username = $1", &[&username, &role]).await? == 0 {
                return Err(StoreError::NotFound(format!("user `{username}`")));
            }
            Ok(())
        })
    }

    fn user(&self, id: i64) -> StoreFuture<'_, Option<User>> {
        Box::pin(async move { user_by_id(&*self.pool.get().await?, id).await })
    }

    fn token_insert<'a>(&'a self, token_hash: &'a str, user_id: i64, created_at: i64, expires_at: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            c.execute(
                "INSERT INTO tokens (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&token_hash, &user_id, &created_at, &expires_at],
            )
            .await?;
            Ok(())
        })
    }

    fn token_user<'a>(&'a self, token_hash: &'a str, now: i64) -> StoreFuture<'a, Option<(User, i64)>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let row = c
                .query_opt(
                    "SELECT u.id, u.username, u.display_name, u.org_id, o.name, t.expires_at, u.role = 'admin'
                     FROM tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org_id
                     WHERE t.hash = $1 AND NOT t.revoked AND t.expires_at > $2",
                    &[&token_hash, &now],
                )
                .await?;
            Ok(row.map(|r| {
                (
                    User {
                        id: r.get(0),
                        username: r.get(1),
                        display_name: r.get(2),
                        org_id: r.get(3),
                        org_name: r.get(4),
                        admin: r.get(6),
                    },
                    r.get(5),
                )
            }))
        })
    }

    fn token_revoke<'a>(&'a self, token_hash: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute("UPDATE tokens SET revoked = TRUE WHERE hash = $1", &[&token_hash]).await?;
            notify(&tx, &format!("token {} {token_hash}", self.instance)).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn doc_open<'a>(&'a self, doc: DocumentId, user: &'a User, create: bool, load: bool) -> StoreFuture<'a, Opened> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let id = doc.to_string();
            let mut access = access(&*c, &id, &user.org_id).await?;
            if access == Access::Missing && create {
                let tx = c.transaction().await?;
                // See the module comment: the first change's commit flushes this row too.
                tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
                let seq = next_seq(&tx).await?;
                tx.execute(
                    "INSERT INTO docs (id, owner_org, created_by, seq) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                    &[&id, &user.org_id, &user.id, &seq],
                )
                .await?;
                tx.commit().await?;
                // Another organisation may have created the same id a moment before.
                access = match self::access(&*c, &id, &user.org_id).await? {
                    Access::Allowed => return Ok(Opened::Created),
                    other => other,
                };
            }
            Ok(match access {
                Access::Allowed if load => Opened::Allowed {
                    chunks: load_chunks(&*c, doc).await?,
                    actors: load_actors(&*c, doc).await?,
                    owner: owner(&*c, &id).await?.unwrap_or_default(),
                },
                Access::Allowed => Opened::Allowed { chunks: Vec::new(), actors: Vec::new(), owner: String::new() },
                Access::Missing | Access::Denied => Opened::Unavailable,
            })
        })
    }

    fn doc_access<'a>(&'a self, doc: DocumentId, org: &'a str) -> StoreFuture<'a, Access> {
        Box::pin(async move { access(&*self.pool.get().await?, &doc.to_string(), org).await })
    }

    fn doc_owner(&self, doc: DocumentId) -> StoreFuture<'_, Option<String>> {
        Box::pin(async move { owner(&*self.pool.get().await?, &doc.to_string()).await })
    }

    fn doc_shared_with(&self, doc: DocumentId) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let rows = c.query("SELECT org_id FROM access WHERE doc_id = $1 ORDER BY org_id", &[&doc.to_string()]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn doc_share<'a>(&'a self, doc: DocumentId, owner_org: &'a str, org: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let id = doc.to_string();
            let tx = c.transaction().await?;
            require_owner(&tx, &id, owner_org).await?;
            if !org_exists(&tx, org).await? {
                return Err(StoreError::NotFound(format!("organisation `{org}`")));
            }
            tx.execute("INSERT INTO access (doc_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&id, &org]).await?;
            self.access_changed(&tx, &id, org).await?;
            // Numbered last (see the module comment): the receiver's feed lists it.
            let seq = next_seq(&tx).await?;
            tx.execute("UPDATE docs SET seq = $2 WHERE id = $1", &[&id, &seq]).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn doc_revoke<'a>(&'a self, doc: DocumentId, owner_org: &'a str, org: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let id = doc.to_string();
            let tx = c.transaction().await?;
            require_owner(&tx, &id, owner_org).await?;
            let ended = tx.execute("DELETE FROM access WHERE doc_id = $1 AND org_id = $2", &[&id, &org]).await? > 0;
            self.access_changed(&tx, &id, org).await?;
            let seq = next_seq(&tx).await?;
            tx.execute("UPDATE docs SET seq = $2 WHERE id = $1", &[&id, &seq]).await?;
            if ended {
                access_ended(&tx, &id, org, seq).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn chunks_load(&self, doc: DocumentId) -> StoreFuture<'_, Vec<Vec<u8>>> {
        Box::pin(async move { load_chunks(&*self.pool.get().await?, doc).await })
    }

    fn chunks_write(&self, writes: Vec<ChunkWrite>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            let mut ended: Vec<Vec<&str>> = Vec::with_capacity(writes.len());
            for w in &writes {
                let kind = match w.chunk.kind {
                    ChunkKind::Incremental => "incremental",
                    ChunkKind::Snapshot => "snapshot",
                };
                let doc = w.doc.to_string();
                let old: Vec<&str> = w.chunk.replaces.iter().filter(|h| **h != w.chunk.hash).map(String::as_str).collect();
                if !old.is_empty() {
                    tx.execute("DELETE FROM chunks WHERE doc_id = $1 AND hash = ANY($2)", &[&doc, &old]).await?;
                }
                tx.execute(
                    "INSERT INTO chunks (doc_id, kind, hash, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&doc, &kind, &w.chunk.hash, &w.chunk.bytes],
                )
                .await?;
                // Another instance may have bound one of these actors meanwhile: the first
                // binding stands, and this write (which would pass as that account's) fails.
                for (actor, user) in &w.actors {
                    tx.execute(
                        "INSERT INTO doc_actors (doc_id, actor, user_id, bound_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[&doc, actor, user, &w.at],
                    )
                    .await?;
                    let owner: i64 =
                        tx.query_one("SELECT user_id FROM doc_actors WHERE doc_id = $1 AND actor = $2", &[&doc, actor]).await?.get(0);
                    if owner != *user {
                        return Err(StoreError::Conflict(format!("actor {actor} of {doc} belongs to another account")));
                    }
                }
                for org in &w.access.grant {
                    tx.execute(
                        "INSERT INTO access (doc_id, org_id) SELECT $1, $2
                         WHERE EXISTS (SELECT 1 FROM orgs WHERE id = $2) AND $2 <> (SELECT owner_org FROM docs WHERE id = $1)
                         ON CONFLICT DO NOTHING",
                        &[&doc, org],
                    )
                    .await?;
                    self.access_changed(&tx, &doc, org).await?;
                }
                let mut lost = Vec::new();
                for org in &w.access.revoke {
                    if tx.execute("DELETE FROM access WHERE doc_id = $1 AND org_id = $2", &[&doc, org]).await? > 0 {
                        lost.push(org.as_str());
                    }
                    self.access_changed(&tx, &doc, org).await?;
                }
                ended.push(lost);
            }
            // Numbers last (see the module comment), one per write in order, and each
            // document's final heads announced once.
            let mut last: Vec<(&DocumentId, &[String])> = Vec::new();
            for (w, lost) in writes.iter().zip(&ended) {
                let seq = next_seq(&tx).await?;
                let doc = w.doc.to_string();
                tx.execute(
                    "UPDATE docs SET seq = $2, heads = $3,
                     size = (SELECT COALESCE(SUM(octet_length(bytes)), 0) FROM chunks WHERE doc_id = $1) WHERE id = $1",
                    &[&doc, &seq, &heads_text(&w.heads)],
                )
                .await?;
                for org in lost {
                    access_ended(&tx, &doc, org, seq).await?;
                }
                last.retain(|(d, _)| **d != w.doc);
                last.push((&w.doc, &w.heads));
            }
            for (doc, heads) in last {
                let heads = if heads.len() > NOTICE_MAX_HEADS { String::new() } else { heads_text(heads) };
                notify(&tx, &format!("doc {} {doc} {heads}", self.instance)).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn feed<'a>(&'a self, org: &'a str, since: i64, limit: i64) -> StoreFuture<'a, (Vec<FeedEntry>, i64)> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            // One snapshot for the entries and the number reported with them.
            let tx = c.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).read_only(true).start().await?;
            let rows = tx
                .query(
                    "SELECT d.id, d.seq, d.heads, d.owner_org = $1 FROM docs d
                     WHERE d.seq > $2 AND (d.owner_org = $1 OR EXISTS (SELECT 1 FROM access a WHERE a.doc_id = d.id AND a.org_id = $1))
                     ORDER BY d.seq LIMIT $3",
                    &[&org, &since, &limit],
                )
                .await?;
            let latest: i64 = tx.query_one("SELECT value FROM counters WHERE name = 'seq'", &[]).await?.get(0);
            tx.commit().await?;
            let entries = rows
                .iter()
                .map(|r| FeedEntry { id: r.get(0), seq: r.get(1), heads: heads_list(r.get::<_, &str>(2)), owned: r.get(3) })
                .collect();
            Ok((entries, latest))
        })
    }

    fn feed_gone<'a>(&'a self, org: &'a str, since: i64) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    "SELECT e.doc_id FROM access_ended e JOIN docs d ON d.id = e.doc_id
                     WHERE e.org_id = $1 AND e.seq > $2 AND d.owner_org <> $1
                       AND NOT EXISTS (SELECT 1 FROM access a WHERE a.doc_id = e.doc_id AND a.org_id = $1)
                     ORDER BY e.seq",
                    &[&org, &since],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn blob_progress<'a>(&'a self, doc: DocumentId, hash: &'a str) -> StoreFuture<'a, Option<Progress>> {
        Box::pin(async move { progress(&*self.pool.get().await?, &doc.to_string(), hash, false).await })
    }

    fn blob_put_part<'a>(
        &'a self,
        doc: DocumentId,
        hash: &'a str,
        total: u64,
        offset: u64,
        bytes: &'a [u8],
    ) -> StoreFuture<'a, Result<Progress, BlobError>> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let id = doc.to_string();
            let tx = c.transaction().await?;
            // `FOR UPDATE`: two parts of one upload arriving at once take turns.
            let received = match plan_part(progress(&tx, &id, hash, true).await?.as_ref(), total, offset, bytes.len()) {
                Err(refused) => return Ok(Err(refused)),
                Ok(PartPlan::Done(p)) => return Ok(Ok(p)),
                Ok(PartPlan::Restart) => {
                    tx.execute("DELETE FROM blob_parts WHERE doc_id = $1 AND hash = $2", &[&id, &hash]).await?;
                    tx.execute("UPDATE blobs SET total = $3, received = 0 WHERE doc_id = $1 AND hash = $2", &[&id, &hash, &(total as i64)])
                        .await?;
                    0
                }
                Ok(PartPlan::Start) => {
                    let n = tx
                        .execute(
                            "INSERT INTO blobs (doc_id, hash, total) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                            &[&id, &hash, &(total as i64)],
                        )
                        .await?;
                    if n == 0 {
                        return Err(StoreError::Conflict("another upload of this attachment started at the same moment; try again".into()));
                    }
                    0
                }
                Ok(PartPlan::Continue { received }) => received,
            };
            if !bytes.is_empty() {
                tx.execute(
                    "INSERT INTO blob_parts (doc_id, hash, part_offset, bytes) VALUES ($1, $2, $3, $4)",
                    &[&id, &hash, &(offset as i64), &bytes],
                )
                .await?;
            }
            let received = received + bytes.len() as u64;
            let complete = received == total;
            if complete && parts_hash(&tx, &id, hash).await? != hash {
                tx.execute("DELETE FROM blob_parts WHERE doc_id = $1 AND hash = $2", &[&id, &hash]).await?;
                tx.execute("DELETE FROM blobs WHERE doc_id = $1 AND hash = $2", &[&id, &hash]).await?;
                tx.commit().await?;
                return Ok(Err(BlobError::HashMismatch));
            }
            tx.execute(
                "UPDATE blobs SET received = $3, complete = $4 WHERE doc_id = $1 AND hash = $2",
                &[&id, &hash, &(received as i64), &complete],
            )
            .await?;
            tx.commit().await?;
            Ok(Ok(Progress { received, total, complete }))
        })
    }

    fn blob_parts<'a>(&'a self, doc: DocumentId, hash: &'a str) -> StoreFuture<'a, Option<(u64, Vec<u64>)>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let id = doc.to_string();
            match progress(&*c, &id, hash, false).await? {
                Some(p) if p.complete => {
                    let rows = c
                        .query("SELECT part_offset FROM blob_parts WHERE doc_id = $1 AND hash = $2 ORDER BY part_offset", &[&id, &hash])
                        .await?;
                    Ok(Some((p.total, rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())))
                }
                _ => Ok(None),
            }
        })
    }

    fn blob_part<'a>(&'a self, doc: DocumentId, hash: &'a str, offset: u64) -> StoreFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let row = c
                .query_one(
                    "SELECT bytes FROM blob_parts WHERE doc_id = $1 AND hash = $2 AND part_offset = $3",
                    &[&doc.to_string(), &hash, &(offset as i64)],
                )
                .await?;
            Ok(row.get(0))
        })
    }

    fn key_add<'a>(&'a self, key: &'a NewKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            // Two instances registering one key at once: the primary key decides, then the owner is read.
            let inserted = tx
                .execute(
                    "INSERT INTO device_keys (key_id, public_key, user_id, token_hash, added_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (key_id) DO NOTHING",
                    &[&key.key_id, &key.public_key, &key.user_id, &key.token_hash, &key.added_at, &key.expires_at],
                )
                .await?;
            if inserted == 0 {
                let row = tx.query_one("SELECT user_id, revoked_at FROM device_keys WHERE key_id = $1", &[&key.key_id]).await?;
                return super::existing_key(row.get(0), row.get(1), key);
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn key_revoke<'a>(&'a self, key_id: &'a str, at: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            Ok(c.execute(
                "UPDATE device_keys SET revoked_at = $2 WHERE key_id = $1 AND (revoked_at IS NULL OR revoked_at > $2)",
                &[&key_id, &at],
            )
            .await?
                > 0)
        })
    }

    fn keys_revoke_for_token<'a>(&'a self, token_hash: &'a str, at: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            c.execute(
                "UPDATE device_keys SET revoked_at = $2 WHERE token_hash = $1 AND (revoked_at IS NULL OR revoked_at > $2)",
                &[&token_hash, &at],
            )
            .await?;
            Ok(())
        })
    }

    fn keys(&self) -> StoreFuture<'_, Vec<DeviceKey>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    "SELECT k.key_id, k.public_key, k.user_id, u.username, u.org_id, k.added_at, k.revoked_at
                     FROM device_keys k JOIN users u ON u.id = k.user_id ORDER BY k.added_at, k.key_id COLLATE \"C\"",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| DeviceKey {
                    key_id: r.get(0),
                    public_key: r.get(1),
                    user_id: r.get(2),
                    username: r.get(3),
                    org_id: r.get(4),
                    added_at: r.get(5),
                    revoked_at: r.get(6),
                })
                .collect())
        })
    }

    fn signature_add<'a>(&'a self, doc: DocumentId, id: &'a str, body: &'a str, received_at: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let n = c
                .execute(
                    "INSERT INTO agreement_signatures (doc_id, signature_id, body, received_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&doc.to_string(), &id, &body, &received_at],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn doc_actors(&self, doc: DocumentId) -> StoreFuture<'_, Vec<ActorBinding>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    "SELECT a.actor, u.id, u.username, u.display_name, u.org_id, a.bound_at
                     FROM doc_actors a JOIN users u ON u.id = a.user_id WHERE a.doc_id = $1 ORDER BY a.actor COLLATE \"C\"",
                    &[&doc.to_string()],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| ActorBinding {
                    actor: r.get(0),
                    user_id: r.get(1),
                    username: r.get(2),
                    display_name: r.get(3),
                    org_id: r.get(4),
                    bound_at: r.get(5),
                })
                .collect())
        })
    }

    fn signatures(&self, doc: DocumentId) -> StoreFuture<'_, Vec<(String, i64)>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    "SELECT body, received_at FROM agreement_signatures WHERE doc_id = $1 ORDER BY received_at, signature_id COLLATE \"C\"",
                    &[&doc.to_string()],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }
}

impl PgStore {
    /// Gives the document a new number (it shows in the feed again) and tells other instances.
    async fn access_changed(&self, tx: &tokio_postgres::Transaction<'_>, id: &str, org: &str) -> Result<(), StoreError> {
        let seq = next_seq(tx).await?;
        tx.execute("UPDATE docs SET seq = $2 WHERE id = $1", &[&id, &seq]).await?;
        notify(tx, &format!("access {} {id} {org}", self.instance)).await
    }
}

/// The next feed number; the row stays locked until the transaction ends (see the module
/// comment for why that is what keeps the feed from skipping).
async fn next_seq(tx: &tokio_postgres::Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx.query_one("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value", &[]).await?.get(0))
}

/// Notes that `org` lost access to `doc` at `seq`, for its devices' next feed.
async fn access_ended(tx: &tokio_postgres::Transaction<'_>, doc: &str, org: &str, seq: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO access_ended (doc_id, org_id, seq) VALUES ($1, $2, $3) ON CONFLICT (doc_id, org_id) DO UPDATE SET seq = EXCLUDED.seq",
        &[&doc, &org, &seq],
    )
    .await?;
    Ok(())
}

async fn notify(tx: &tokio_postgres::Transaction<'_>, payload: &str) -> Result<(), StoreError> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload]).await?;
    Ok(())
}

async fn org_exists(c: &impl GenericClient, id: &str) -> Result<bool, StoreError> {
    Ok(c.query_one("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = $1)", &[&id]).await?.get(0))
}

async fn user_by_id(c: &impl GenericClient, id: i64) -> Result<Option<User>, StoreError> {
    let row = c
        .query_opt(
            "SELECT u.id, u.username, u.display_name, u.org_id, o.name, u.role = 'admin' FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = $1",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| User {
        id: r.get(0),
        username: r.get(1),
        display_name: r.get(2),
        org_id: r.get(3),
        org_name: r.get(4),
        admin: r.get(5),
    }))
}

async fn owner(c: &impl GenericClient, id: &str) -> Result<Option<String>, StoreError> {
    Ok(c.query_opt("SELECT owner_org FROM docs WHERE id = $1", &[&id]).await?.map(|r| r.get(0)))
}

async fn access(c: &impl GenericClient, id: &str, org: &str) -> Result<Access, StoreError> {
    let row = c
        .query_opt(
            "SELECT d.owner_org = $2 OR EXISTS (SELECT 1 FROM access a WHERE a.doc_id = d.id AND a.org_id = $2) FROM docs d WHERE d.id = $1",
            &[&id, &org],
        )
        .await?;
    Ok(match row.map(|r| r.get::<_, bool>(0)) {
        None => Access::Missing,
        Some(true) => Access::Allowed,
        Some(false) => Access::Denied,
    })
}

async fn require_owner(c: &impl GenericClient, id: &str, org: &str) -> Result<(), StoreError> {
    // Not found and not yours read the same, as on the sync socket.
    match owner(c, id).await? {
        Some(owner) if owner == org => Ok(()),
        _ => Err(StoreError::NotFound(format!("document {id}"))),
    }
}

async fn load_actors(c: &impl GenericClient, doc: DocumentId) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = c.query("SELECT actor, user_id FROM doc_actors WHERE doc_id = $1", &[&doc.to_string()]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn load_chunks(c: &impl GenericClient, doc: DocumentId) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = c.query("SELECT hash, bytes FROM chunks WHERE doc_id = $1 ORDER BY kind = 'incremental', hash", &[&doc.to_string()]).await?;
    let mut chunks = Vec::new();
    for row in rows {
        let (hash, bytes): (&str, Vec<u8>) = (row.get(0), row.get(1));
        if verify(hash, &bytes) {
            chunks.push(bytes);
        } else {
            tracing::error!(doc = %doc, chunk = %hash, "a stored chunk does not match its hash; left out");
        }
    }
    Ok(chunks)
}

async fn progress(c: &impl GenericClient, id: &str, hash: &str, lock: bool) -> Result<Option<Progress>, StoreError> {
    let sql = if lock {
        "SELECT received, total, complete FROM blobs WHERE doc_id = $1 AND hash = $2 FOR UPDATE"
    } else {
        "SELECT received, total, complete FROM blobs WHERE doc_id = $1 AND hash = $2"
    };
    let row = c.query_opt(sql, &[&id, &hash]).await?;
    Ok(row.map(|r| Progress { received: r.get::<_, i64>(0) as u64, total: r.get::<_, i64>(1) as u64, complete: r.get(2) }))
}

/// The SHA-256 of the stored parts, computed by the database (an attachment may be 20 MiB).
async fn parts_hash(c: &impl GenericClient, id: &str, hash: &str) -> Result<String, StoreError> {
    let row = c
        .query_one(
            "SELECT encode(sha256(COALESCE(string_agg(bytes, ''::bytea ORDER BY part_offset), ''::bytea)), 'hex')
             FROM blob_parts WHERE doc_id = $1 AND hash = $2",
            &[&id, &hash],
        )
        .await?;
    Ok(row.get(0))
}

/// Hears notices on a connection of its own, reconnecting when it breaks. `ready` says
/// whether the first `LISTEN` worked; after a reconnect it reports [`Notice::Resync`].
async fn listener(
    config: tokio_postgres::Config,
    instance: String,
    out: mpsc::UnboundedSender<Notice>,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let mut ready = Some(ready);
    while !out.is_closed() {
        let result = async {
            let (client, mut connection) = config.connect(NoTls).await?;
            let (payloads, incoming) = mpsc::unbounded_channel::<String>();
            let driver = tokio::spawn(async move {
                while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    match message {
                        Ok(AsyncMessage::Notification(n)) => {
                            if payloads.send(n.payload().to_owned()).is_err() {
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "the database connection for notices failed");
                            break;
                        }
                    }
                }
            });
            client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
            Ok::<_, tokio_postgres::Error>((client, driver, incoming))
        }
        .await;
        match result {
            Ok((client, driver, mut incoming)) => {
                match ready.take() {
                    Some(ready) => {
                        let _ = ready.send(Ok(()));
                    }
                    None => {
                        tracing::info!("listening for other instances' notices again");
                        let _ = out.send(Notice::Resync);
                    }
                }
                while let Some(payload) = incoming.recv().await {
                    if let Some(notice) = parse_notice(&payload, &instance)
                        && out.send(notice).is_err()
                    {
                        break;
                    }
                }
                driver.abort();
                drop(client);
            }
            Err(e) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(e.into()));
                    return;
                }
                tracing::warn!(error = %e, "cannot listen for other instances' notices; retrying");
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// `doc <instance> <id> <heads>`, `access <instance> <id> <org>`, `token <instance> <hash>`;
/// `None` for this instance's own and for anything unreadable.
fn parse_notice(payload: &str, instance: &str) -> Option<Notice> {
    let mut parts = payload.split(' ');
    let (kind, from) = (parts.next()?, parts.next()?);
    if from == instance {
        return None;
    }
    match kind {
        "doc" => Some(Notice::DocChanged { doc: parts.next()?.parse().ok()?, heads: heads_list(parts.next().unwrap_or("")) }),
        "access" => Some(Notice::AccessChanged { doc: parts.next()?.parse().ok()?, org: parts.next()?.to_owned() }),
        "token" => Some(Notice::TokenRevoked { token_hash: parts.next()?.to_owned() }),
        _ => None,
    }
}

/// A few connections, opened when first needed and kept while they work.
struct Pool {
    config: tokio_postgres::Config,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
}

struct Pooled<'a> {
    client: Option<Client>,
    pool: &'a Pool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    fn new(config: tokio_postgres::Config) -> Pool {
        Pool { config, idle: Mutex::new(Vec::new()), permits: Semaphore::new(POOL_SIZE) }
    }

    async fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let permit = self.permits.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        let idle = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.retain(|c| !c.is_closed());
            idle.pop()
        };
        let client = match idle {
            Some(c) => c,
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::warn!(error = %e, "a database connection failed");
                    }
                });
                client.batch_execute("SET synchronous_commit = on").await?;
                client
            }
        };
        Ok(Pooled { client: Some(client), pool: self, _permit: permit })
    }
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        // A transaction left open by a cancelled request was rolled back when it was dropped.
        if let Some(c) = self.client.take().filter(|c| !c.is_closed()) {
            self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        }
    }
}

fn audit_row(r: &tokio_postgres::Row) -> crate::audit::Row {
    crate::audit::Row {
        seq: r.get(0),
        entry: crate::audit::Entry {
            at: r.get(1),
            action: r.get(2),
            account: r.get(3),
            username: r.get(4),
            org: r.get(5),
            device: r.get(6),
            doc: r.get(7),
            detail: r.get(8),
        },
        prev_hash: r.get(9),
        hash: r.get(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_from_other_instances_are_read_and_own_ones_ignored() {
        let doc: DocumentId = "11111111111111114Ki9Gx".parse().unwrap();
        let check = |payload: &str, expect: Option<Notice>| assert_eq!(parse_notice(payload, "me"), expect, "{payload}");
        check(&format!("doc other {doc} a,b"), Some(Notice::DocChanged { doc, heads: vec!["a".into(), "b".into()] }));
        check(&format!("doc other {doc} "), Some(Notice::DocChanged { doc, heads: vec![] }));
        check(&format!("doc me {doc} a"), None);
        check(&format!("access other {doc} county-court"), Some(Notice::AccessChanged { doc, org: "county-court".into() }));
        check("token other abc", Some(Notice::TokenRevoked { token_hash: "abc".into() }));
        check("doc other not-an-id a", None);
        check("shout other", None);
        check("", None);
    }
}

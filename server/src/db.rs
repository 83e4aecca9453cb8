//! The embedded database: one SQLite file in the data folder.
//!
//! WAL mode with `synchronous = FULL`: a commit is on disk before it returns, so a change the
//! server acknowledged survives the process being killed and the machine losing power. Writers
//! that arrive together share one transaction (see `sync::persist`), which keeps that affordable.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

#[derive(Clone)]
pub struct Db {
    // A std mutex, not tokio's: the lock is only held inside `spawn_blocking`, never across
    // an `.await`.
    conn: Arc<Mutex<Connection>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database task failed: {0}")]
    Task(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
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
];

impl Db {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Db { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` on the connection in tokio's blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs `f` on the connection on this thread (for start-up and the command line).
    pub fn call_blocking<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, DbError>) -> Result<T, DbError> {
        let mut guard = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, step) in SCHEMA.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

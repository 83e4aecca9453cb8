//! A PostgreSQL server for the tests, started on first use and stopped when the test process
//! ends; each test gets a database of its own on it.
//!
//! `LIAISON_TEST_POSTGRES=postgres://user@host:port` uses a server that is already running
//! (the user must be allowed to create databases). Otherwise `cluster` starts a throwaway one
//! (Debian's package, installed if missing; `initdb` in a temporary folder, a free loopback port).

mod cluster;

use std::sync::OnceLock;

use server::Database;

/// A new, empty database on the test server.
pub async fn database() -> Database {
    let base = base_url();
    let name = format!("t_{}", crate::harness::random_hex(8));
    let (client, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls).await.expect("the test PostgreSQL answers");
    tokio::spawn(connection);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    Database::Postgres(format!("{base}/{name}"))
}

/// `postgres://user@host:port` of the test server, starting it the first time.
fn base_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("LIAISON_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
        _ => cluster::start(&crate::harness::temp_dir("pg"))
            .unwrap_or_else(|e| panic!("could not start PostgreSQL for the tests: {e}; or set LIAISON_TEST_POSTGRES")),
    })
}

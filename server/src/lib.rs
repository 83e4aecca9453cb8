//! liaison's server: serves the built app, signs people in, and syncs records.
//!
//! Architecture invariant: only this crate knows HTTP. Record rules and the sync protocol come
//! from `shared`; this crate adds sockets, the database, accounts and access.

pub mod accounts;
mod api;
pub mod audit;
mod auth;
pub mod blobs;
pub mod demo;
mod error;
pub mod signatures;
mod static_files;
pub mod store;
mod sync;
mod throttle;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{delete, get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use store::{Database, Store, StoreError};
pub use sync::Hub;
pub use sync::hub::HubConfig;
pub use sync::socket::MAX_FRAME_BYTES;

/// What the server needs to start; `main` fills it from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// The built app (`cargo xtask dist` writes it to `dist/`).
    pub dist_dir: PathBuf,
    /// Where the server keeps its database: SQLite in the data folder, or PostgreSQL.
    pub database: Database,
    /// A sync message that would take a document past this many stored bytes is refused.
    pub max_doc_bytes: usize,
    pub quota: Quota,
}

/// What one organisation may store, so that no account can fill the server: records (a new
/// one past it is refused alone, with the reason) and attachment bytes (an upload past it gets
/// 413). Counted per instance from the database at first use, so with several instances the
/// record count may overshoot by what the others create meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub docs_per_org: u64,
    pub blob_bytes_per_org: u64,
}

impl Default for Quota {
    /// A county's organisations over many years: a federation records a few thousand a year.
    fn default() -> Quota {
        Quota { docs_per_org: 1_000_000, blob_bytes_per_org: 100 * 1024 * 1024 * 1024 }
    }
}

impl Config {
    pub fn new(dist_dir: PathBuf, database: Database) -> Config {
        Config { dist_dir, database, max_doc_bytes: 64 * 1024 * 1024, quota: Quota::default() }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub hub: Hub,
    pub logins: Arc<throttle::LoginThrottle>,
    /// Set when the server starts shutting down: requests held open (feed waits) answer then,
    /// rather than holding the shutdown up.
    pub closing: Arc<tokio::sync::watch::Sender<bool>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the database could not be opened: {0}")]
    Store(#[from] StoreError),
    #[error("the built app was not found at {0}: run `cargo xtask dist` first")]
    NoDist(PathBuf),
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// All routes: the API under `/api`, sync at `/sync`, the app everywhere else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health_get))
        .route("/api/login", post(api::session_create))
        .route("/api/logout", post(api::session_delete))
        .route("/api/me", get(api::me_get))
        .route("/api/orgs", get(api::orgs_list))
        .route("/api/audit", get(api::audit_list))
        .route("/api/audit/events", post(api::audit_event_create))
        .route("/api/keys", get(api::keys_list).post(api::key_create))
        .route("/api/docs", get(api::docs_feed))
        .route("/api/docs/wait", get(api::docs_wait))
        .route("/api/docs/{id}/access", get(api::doc_access_get))
        .route("/api/docs/{id}/actors", get(api::doc_actors))
        .route("/api/docs/{id}/signatures", get(api::signatures_list).post(api::signature_create))
        .route("/api/docs/{id}/share", post(api::doc_share_create))
        .route("/api/docs/{id}/share/{org}", delete(api::doc_share_delete))
        .route(
            "/api/docs/{id}/blobs/{hash}",
            get(api::blob_get).put(api::blob_put).layer(axum::extract::DefaultBodyLimit::max(blobs::MAX_PART_BYTES)),
        )
        .route("/api/docs/{id}/blobs/{hash}/upload", get(api::blob_upload_get))
        .route("/sync", get(sync::socket::sync_get))
        .fallback_service(static_files::service(&state.config.dist_dir))
        // Path only: a query string may carry the sync token, which must not reach the logs.
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &axum::extract::Request| tracing::debug_span!("request", method = %req.method(), path = %req.uri().path()),
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    if !config.dist_dir.join("index.html").is_file() {
        return Err(StartError::NoDist(config.dist_dir.clone()));
    }
    let store = store::open(&config.database).await?;
    let state = state(store, config).await?;
    let closing = state.closing.clone();
    let shutdown = async move {
        shutdown.await;
        closing.send_replace(true);
    };
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// The state the routes share: the store, and the sync hub started on it (hearing what other
/// instances on the same database do).
pub async fn state(store: Arc<dyn Store>, config: Config) -> Result<AppState, StoreError> {
    let storage_id = store.storage_id().await?;
    let notices = store.listen().await?;
    let hub = Hub::start(
        store.clone(),
        notices,
        HubConfig { storage_id, max_doc_bytes: config.max_doc_bytes, max_docs_per_org: config.quota.docs_per_org },
    );
    let closing = Arc::new(tokio::sync::watch::channel(false).0);
    Ok(AppState { config: Arc::new(config), store, hub, logins: Arc::default(), closing })
}

async fn health_get() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

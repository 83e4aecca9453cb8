//! liaison's server: serves the built app and, from the sync issue on, syncs records.
//!
//! Architecture invariant: only this crate knows HTTP. Record rules come from `shared`.

mod static_files;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// What the server needs to start; `main` fills it from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// The built app (`cargo xtask dist` writes it to `dist/`).
    pub dist_dir: PathBuf,
    /// Where the server keeps its data.
    pub data_dir: PathBuf,
}

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the data folder {path} could not be created: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("the built app was not found at {0}: run `cargo xtask dist` first")]
    NoDist(PathBuf),
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// All routes: the API under `/api`, the app everywhere else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health_get))
        .fallback_service(static_files::service(&state.config.dist_dir))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| StartError::DataDir { path: config.data_dir.clone(), source })?;
    if !config.dist_dir.join("index.html").is_file() {
        return Err(StartError::NoDist(config.dist_dir.clone()));
    }
    let state = AppState { config: Arc::new(config) };
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

async fn health_get() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

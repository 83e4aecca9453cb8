//! samod's sync server, set up as automerge-repo-sync-server is: serve what peers ask for,
//! announce nothing, store with the filesystem storage (the layout of automerge-repo's NodeFS).
//! `samod-server DATA_DIR` listens on a free loopback port and prints "listening PORT".

use anyhow::{Context, Result};
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;
use samod::storage::TokioFilesystemStorage;
use samod::{AcceptorHandle, Repo, ShareConfig};

#[tokio::main]
async fn main() -> Result<()> {
    let dir = std::env::args().nth(1).context("usage: samod-server DATA_DIR")?;
    let repo = Repo::build_tokio()
        .with_peer_id("samod-sync-server".into())
        .with_storage(TokioFilesystemStorage::new(&dir))
        .with_share_policy(ShareConfig::read_write().with_announce(false))
        .load()
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let acceptor = repo.make_acceptor(format!("ws://127.0.0.1:{port}/").parse()?)?;
    let app = axum::Router::new().route("/", get(socket)).with_state(acceptor);
    println!("listening {port}");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn socket(State(acceptor): State<AcceptorHandle>, upgrade: WebSocketUpgrade) -> Response {
    // The peer's own claimed id is trusted, as in automerge-repo's sync server.
    upgrade.on_upgrade(move |socket| async move {
        let _ = acceptor.accept_axum(socket, None);
    })
}

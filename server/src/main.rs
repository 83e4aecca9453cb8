use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// liaison's sync server.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LIAISON_ADDR")]
    addr: SocketAddr,
    /// Folder where the server keeps its data.
    #[arg(long, default_value = "data", env = "LIAISON_DATA_DIR")]
    data_dir: PathBuf,
    /// The built app (from `cargo xtask dist`).
    #[arg(long, default_value = "dist", env = "LIAISON_DIST")]
    dist: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let listener = TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    // On stdout, alone on its line: the end-to-end tests read the port from it.
    println!("liaison listening on http://{addr}");
    tracing::info!(%addr, data_dir = %args.data_dir.display(), "serving");
    let config = server::Config { dist_dir: args.dist, data_dir: args.data_dir };
    // Stop taking requests on Ctrl-C or SIGTERM and let the ones under way finish.
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
    };
    server::run(listener, config, shutdown).await?;
    Ok(())
}

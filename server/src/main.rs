use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// liaison's sync server. Without a command it serves.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LIAISON_ADDR")]
    addr: SocketAddr,
    /// Folder where the server keeps its SQLite database (unless --database names another).
    #[arg(long, default_value = "data", env = "LIAISON_DATA_DIR")]
    data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://user:password@host:port/name`) instead of SQLite in
    /// the data folder. Several instances on one database serve as one.
    #[arg(long, env = "LIAISON_DATABASE")]
    database: Option<String>,
    /// The built app (from `cargo xtask dist`).
    #[arg(long, default_value = "dist", env = "LIAISON_DIST")]
    dist: PathBuf,
    /// Create the demo organisations and users (if missing) and print their passwords.
    #[arg(long)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Device signing keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Walk the hash chain and name the first row that was changed or removed.
    Verify,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// List every registered key: id, user, organisation, added, revoked.
    List,
    /// Revoke a key (a lost phone): signatures the server receives with it from now on do not count.
    Revoke { key_id: String },
}

#[derive(Subcommand, Debug)]
enum OrgCommand {
    /// Add an organisation: `org add county-court "县人民法院" --kind court`.
    Add {
        id: String,
        name: String,
        /// What it is: federation, procuratorate, court, police or other. A case clue is
        /// transferred only to a procuratorate, an entrustment only to a federation.
        #[arg(long)]
        kind: String,
    },
    /// Change what an organisation is: `org set-kind county-procuratorate procuratorate`.
    SetKind { id: String, kind: String },
    /// List every organisation: id, kind, name.
    List,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user; the password is read from LIAISON_PASSWORD or the first line of stdin.
    Add {
        username: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
    },
    /// Make a user its organisation's administrator, who sees in the app who read or changed
    /// its records, or a member again: `user set-role fed-li admin`.
    SetRole {
        username: String,
        /// `admin` or `member`.
        role: String,
    },
}

fn main() -> anyhow::Result<()> {
    // Before the runtime's threads exist, so that they too follow the allocator settings.
    return_big_allocations_to_the_system();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve_or_run_command())
}

async fn serve_or_run_command() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        // Automerge logs every chunk that does not load on its own as an error, including the
        // expected case of changes whose dependencies are in another chunk (the sync node
        // parses each chunk alone before folding it): dozens of false errors per reconnect.
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,automerge=off")))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let database = server::Database::new(args.database.as_deref(), &args.data_dir)?;
    match args.command {
        Some(Command::Audit { command: AuditCommand::Verify }) => {
            let store = server::store::open(&database).await?;
            let rows = server::audit::verify(&*store).await?;
            println!("audit trail intact: {rows} rows");
            return Ok(());
        }
        Some(Command::Org { command }) => {
            let store = server::store::open(&database).await?;
            match command {
                OrgCommand::Add { id, name, kind } => {
                    server::accounts::create_org(&*store, &id, &name, &kind).await?;
                    println!("organisation {id} ({kind}) added");
                }
                OrgCommand::SetKind { id, kind } => {
                    server::accounts::set_org_kind(&*store, &id, &kind).await?;
                    println!("organisation {id} is now of kind {kind}; steps already taken stand");
                }
                OrgCommand::List => {
                    for org in store.orgs().await? {
                        println!("{}\t{}\t{}", org.id, org.kind, org.name);
                    }
                }
            }
            return Ok(());
        }
        Some(Command::User { command: UserCommand::Add { username, org, name } }) => {
            let password = match std::env::var("LIAISON_PASSWORD") {
                Ok(p) => p,
                Err(_) => std::io::stdin().lock().lines().next().context("no password on stdin")??,
            };
            let store = server::store::open(&database).await?;
            server::accounts::create_user(&*store, &username, &name, &org, &password).await?;
            println!("user {username} added to {org}");
            return Ok(());
        }
        Some(Command::User { command: UserCommand::SetRole { username, role } }) => {
            let store = server::store::open(&database).await?;
            server::accounts::set_role(&*store, &username, &role).await?;
            println!("user {username} is now {role}");
            return Ok(());
        }
        Some(Command::Key { command: KeyCommand::List }) => {
            let store = server::store::open(&database).await?;
            for k in store.keys().await? {
                let revoked = k.revoked_at.map_or("-".to_owned(), |t| t.to_string());
                println!("{}\t{}\t{}\tadded {}\trevoked {revoked}", k.key_id, k.username, k.org_id, k.added_at);
            }
            return Ok(());
        }
        Some(Command::Key { command: KeyCommand::Revoke { key_id } }) => {
            let store = server::store::open(&database).await?;
            if !store.key_revoke(&key_id, server::now_ms()).await? {
                anyhow::bail!("no live key {key_id}");
            }
            println!("key {key_id} revoked");
            return Ok(());
        }
        None => {}
    }
    if args.demo {
        let store = server::store::open(&database).await?;
        for line in server::demo::seed(&*store).await? {
            println!("{line}");
        }
    }
    let listener = TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    // On stdout, alone on its line: the end-to-end tests read the port from it.
    println!("liaison listening on http://{addr}");
    match &database {
        server::Database::Sqlite(path) => tracing::info!(%addr, database = %path.display(), "serving"),
        // The URL may hold a password: not in the log.
        server::Database::Postgres(_) => tracing::info!(%addr, database = "postgres", "serving"),
    }
    let config = server::Config::new(args.dist, database);
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

/// Two allocator settings, measured on the sync benchmark (1,000 records: peak 48.6 → ~40 MiB).
///
/// Argon2 takes a block of several MiB per password check. glibc's malloc raises its mmap
/// threshold after the first such block is freed, so later ones come from the heap and are
/// never given back: each sign-in grew the server by the block's size (measured with 19 MiB
/// blocks: 6 sign-ins, 183 MiB). A fixed threshold keeps
/// big blocks in their own mappings, returned on free (measured: 8 sign-ins, peak 27.5 MiB).
///
/// glibc also gives each thread that allocates its own arena (up to 8 per core); the blocking
/// pool's threads for access checks each kept a partly used one. Two arenas suffice for a
/// server whose work is mostly waiting on the disk and the network.
fn return_big_allocations_to_the_system() {
    #[cfg(target_env = "gnu")]
    // SAFETY: `mallopt` only changes allocator settings, with valid values; it runs first
    // thing in `main`, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

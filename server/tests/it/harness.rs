use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use server::Database;
use shared::DocumentId;
use shared::sync::{Action, ConnId, Event, Message, Node, NodeConfig, PeerId, PeerMetadata, Role};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as Ws;

/// How long a test waits for a frame it expects before giving up (see [`Client::pump_until`]).
const EXPECTING: Duration = Duration::from_secs(30);

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A server on a free loopback port, with the demo accounts, on its own database.
pub struct TestServer {
    pub base: String,
    pub database: Database,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("liaison-it-{name}-{}", random_hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A new, empty database of this kind.
    pub async fn database(self) -> Database {
        match self {
            Backend::Sqlite => Database::Sqlite(temp_dir("data").join("liaison.sqlite3")),
            Backend::Postgres => crate::pg::database().await,
        }
    }
}

/// Runs each named test, an `async fn(Backend)`, once on SQLite (in `sqlite::`) and once on
/// PostgreSQL (in `postgres::`).
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name($crate::harness::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name($crate::harness::Backend::Postgres).await
            })*
        }
    };
}

impl TestServer {
    /// A server on a new database of the `backend`'s kind.
    pub async fn start(backend: Backend) -> TestServer {
        TestServer::start_on(backend.database().await).await
    }

    /// A server on `database`, seeding the demo accounts (if missing).
    pub async fn start_on(database: Database) -> TestServer {
        TestServer::start_configured(database, |_| {}).await
    }

    /// Like [`TestServer::start_on`], with the configuration changed by `configure`.
    pub async fn start_configured(database: Database, configure: impl FnOnce(&mut server::Config)) -> TestServer {
        let dist = temp_dir("dist");
        std::fs::write(dist.join("index.html"), "<!doctype html><title>test</title>").unwrap();
        let store = server::store::open(&database).await.unwrap();
        server::demo::seed(&*store).await.unwrap();
        drop(store);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (stop, stopped) = oneshot::channel::<()>();
        let mut config = server::Config::new(dist, database.clone());
        config.max_doc_bytes = 256 * 1024;
        configure(&mut config);
        let task = tokio::spawn(async move {
            server::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestServer { base, database, stop: Some(stop), task: Some(task) }
    }

    /// Stops the server abruptly: the task is aborted, as a killed process would be.
    pub async fn kill(mut self) -> Database {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let _ = self.stop.take();
        // The database connection closes with the last handle; give aborted tasks a moment.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.database.clone()
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.base)
    }

    pub async fn login(&self, user: &str, password: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.http("/api/login"))
            .json(&serde_json::json!({ "username": user, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self, user: &str) -> String {
        let password = server::demo::ACCOUNTS.iter().find(|a| a.user == user).unwrap().password;
        let r = self.login(user, password).await;
        assert_eq!(r.status(), 200);
        r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    /// A token for `fed-li` issued at `issued_ms` (so it expires `TOKEN_TTL_MS` after), written
    /// straight into the database.
    pub async fn token_issued_at(&self, issued_ms: i64) -> String {
        let store = server::store::open(&self.database).await.unwrap();
        let user = server::accounts::check_password(&*store, "fed-li", "demo-federation").await.unwrap().unwrap();
        server::accounts::issue_token(&*store, user.id, issued_ms).await.unwrap().0
    }

    pub async fn socket(&self, token: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        tokio_tungstenite::connect_async(format!("ws://{}/sync?token={token}", self.base)).await.map(|(s, _)| s)
    }
}

/// A sync client: the shared node in the client role, driven over a real socket.
pub struct Client {
    pub node: Node,
    pub socket: Socket,
    pub unavailable: Vec<DocumentId>,
    /// Documents refused with a reason, the connection kept.
    pub refusals: Vec<(DocumentId, String)>,
    pub closed: Option<String>,
    conn: ConnId,
    peer: String,
}

impl Client {
    pub async fn connect(server: &TestServer, token: &str, peer: &str) -> Client {
        let socket = server.socket(token).await.expect("socket opens");
        let node = Node::new(NodeConfig {
            peer_id: PeerId(peer.into()),
            metadata: PeerMetadata::default(),
            role: Role::Client,
            max_doc_bytes: 1 << 30,
        });
        let mut c = Client { node, socket, unavailable: vec![], refusals: vec![], closed: None, conn: ConnId(1), peer: peer.to_owned() };
        let actions = c.node.handle(0, Event::Connected { conn: c.conn, account: String::new(), org: String::new() });
        c.carry_out(actions).await;
        c
    }

    pub async fn open(&mut self, doc: DocumentId, chunks: Vec<Vec<u8>>) {
        let actions = self.node.handle(0, Event::Open { doc, chunks });
        self.carry_out(actions).await;
    }

    pub async fn changed(&mut self, doc: DocumentId) {
        let actions = self.node.handle(0, Event::Changed { doc });
        self.carry_out(actions).await;
    }

    async fn carry_out(&mut self, actions: Vec<Action>) {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Send { bytes, .. } => {
                    let _ = self.socket.send(Ws::Binary(bytes.into())).await;
                }
                Action::Persist { doc, generation, .. } => {
                    queue.extend(self.node.handle(0, Event::Persisted { doc, generation, ok: true }))
                }
                Action::Unavailable { doc, reason, .. } => {
                    self.unavailable.push(doc);
                    self.refusals.extend(reason.map(|r| (doc, r)));
                }
                Action::Close { reason, .. } => self.closed = Some(reason),
                _ => {}
            }
        }
    }

    /// Processes incoming frames until `done` holds, or nothing arrives for [`EXPECTING`].
    ///
    /// The window is long because the whole suite runs at once on two cores: pushes to an
    /// idle socket have been seen arriving more than 5 s late there (never with one test
    /// alone, under CPU load or not), so a short window failed tests whose message was only
    /// late. A test waiting for something *not* to arrive says how long with
    /// [`Client::quiet_for`] instead.
    pub async fn pump_until(&mut self, done: impl FnMut(&mut Client) -> bool) -> bool {
        self.pump_within(EXPECTING, done).await
    }

    /// Whether `happened` stays false while frames arrive, until `window` passes with none.
    pub async fn quiet_for(&mut self, window: Duration, happened: impl FnMut(&mut Client) -> bool) -> bool {
        !self.pump_within(window, happened).await
    }

    async fn pump_within(&mut self, window: Duration, mut done: impl FnMut(&mut Client) -> bool) -> bool {
        for _ in 0..500 {
            if done(self) {
                return true;
            }
            let waited = std::time::Instant::now();
            match tokio::time::timeout(window, self.socket.next()).await {
                Ok(Some(Ok(Ws::Binary(bytes)))) => {
                    if waited.elapsed() > Duration::from_secs(5) {
                        eprintln!("a frame reached {} {:?} after the last", self.peer, waited.elapsed());
                    }
                    let actions = self.node.handle(0, Event::Received { conn: self.conn, bytes: bytes.to_vec() });
                    self.carry_out(actions).await;
                }
                Ok(Some(Ok(Ws::Close(frame)))) => {
                    self.closed.get_or_insert(frame.map(|f| f.reason.to_string()).unwrap_or_default());
                    return done(self);
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => return done(self),
            }
        }
        done(self)
    }

    pub async fn synced(&mut self, doc: DocumentId) -> bool {
        let conn = self.conn;
        self.pump_until(|c| c.node.in_sync(conn, doc)).await
    }
}

/// Reads frames until the server closes, returning the `error` message it sent, if any.
pub async fn error_then_close(socket: &mut Socket) -> Option<String> {
    let mut error = None;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        match frame {
            Ok(Ws::Binary(b)) => {
                if let Ok(Message::Error { message }) = Message::decode(&b) {
                    error = Some(message);
                }
            }
            Ok(Ws::Close(_)) | Err(_) => break,
            _ => {}
        }
    }
    error
}

/// The next message the server sends on a raw socket (`None` if it closes first or is silent).
pub async fn next_message(socket: &mut Socket) -> Option<Message> {
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        match frame {
            Ok(Ws::Binary(b)) => return Message::decode(&b).ok(),
            Ok(Ws::Close(_)) | Err(_) => return None,
            _ => {}
        }
    }
    None
}

pub fn join(peer: &str) -> Vec<u8> {
    Message::Join { sender_id: PeerId(peer.into()), supported_protocol_versions: vec!["1".into()], peer_metadata: None }.encode()
}

//! The sync servers the benches measure, each started alone on a free loopback port with a
//! fresh data folder: ours (the release `liaison-server`), automerge-repo's JS server
//! (`tests/bench/js-server.mjs`) and samod's (`benches/samod-server`, a Rust automerge-repo).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};

/// A server must print its port within this.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The demo federation user of `liaison-server --demo`; every bench client signs in as it.
pub const USER: &str = "fed-li";
pub const PASSWORD: &str = "demo-federation";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ours,
    Js,
    Samod,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ours => "liaison",
            Kind::Js => "automerge-js",
            Kind::Samod => "samod",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::Ours, Kind::Js, Kind::Samod].into_iter().find(|k| k.name() == name)
    }
}

/// Where each server's program is.
pub struct Programs {
    /// The release `liaison-server` (`LIAISON_SERVER_BIN`, set by xtask).
    pub ours: PathBuf,
    pub js: PathBuf,
    /// The release `samod-server` (`SAMOD_SERVER_BIN`), built only for the benches that use it.
    pub samod: Option<PathBuf>,
}

impl Programs {
    pub fn from_env() -> Result<Programs> {
        let ours = std::env::var_os("LIAISON_SERVER_BIN")
            .context("LIAISON_SERVER_BIN: the release liaison-server to measure (cargo xtask bench sets it)")?;
        Ok(Programs {
            ours: ours.into(),
            js: Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bench/js-server.mjs"),
            samod: std::env::var_os("SAMOD_SERVER_BIN").map(PathBuf::from),
        })
    }
}

/// A server process with its own data folder, removed when it stops.
pub struct Server {
    pub kind: Kind,
    child: Child,
    dirs: Vec<PathBuf>,
    pub port: u16,
}

impl Server {
    pub fn start(kind: Kind, programs: &Programs) -> Result<Server> {
        let data = temp_dir("data")?;
        let mut dirs = vec![data.clone()];
        let mut command = match kind {
            Kind::Ours => {
                let dist = temp_dir("dist")?;
                std::fs::write(dist.join("index.html"), "bench")?;
                dirs.push(dist.clone());
                let mut c = Command::new(&programs.ours);
                c.args(["--addr", "127.0.0.1:0", "--demo", "--data-dir"]).arg(&data).arg("--dist").arg(&dist);
                c
            }
            Kind::Js => {
                let mut c = Command::new("node");
                c.arg(&programs.js).arg(&data);
                c
            }
            Kind::Samod => {
                let mut c = Command::new(
                    programs.samod.as_ref().context("SAMOD_SERVER_BIN: the release samod-server (cargo xtask bench live sets it)")?,
                );
                c.arg(&data);
                c
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", kind.name()))?;
        let ready = match kind {
            Kind::Ours => "liaison listening on http://127.0.0.1:",
            Kind::Js | Kind::Samod => "listening ",
        };
        let port = read_port(&mut child, ready);
        let mut server = Server { kind, child, dirs, port: 0 };
        match port {
            Ok(port) => server.port = port,
            Err(e) => {
                server.stop();
                return Err(e.context(format!("{} did not say which port it listens on", kind.name())));
            }
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The sync socket's address; ours wants a token on it, so this signs in.
    pub async fn sync_url(&self) -> Result<String> {
        Ok(match self.kind {
            Kind::Ours => format!("ws://127.0.0.1:{}/sync?token={}", self.port, login(self.port).await?),
            Kind::Js | Kind::Samod => format!("ws://127.0.0.1:{}", self.port),
        })
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Signs in as the demo federation user and returns the session token.
async fn login(port: u16) -> Result<String> {
    login_as(port, USER, PASSWORD).await
}

/// Signs in to ours on `port` and returns the session token.
pub async fn login_as(port: u16, user: &str, password: &str) -> Result<String> {
    let body = serde_json::json!({ "username": user, "password": password });
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/login"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(reply["token"].as_str().context("no token in the login reply")?.to_owned())
}

/// Waits for the line `ready` + port on the child's stdout, then keeps draining it (on a
/// thread) so the child never blocks on a full pipe.
pub fn read_port(child: &mut Child, ready: &str) -> Result<u16> {
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    let ready = ready.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix(&ready).and_then(|p| p.trim().parse::<u16>().ok()) {
                let _ = tx.send(port);
            }
        }
    });
    Ok(rx.recv_timeout(START_TIMEOUT)?)
}

pub fn temp_dir(name: &str) -> Result<PathBuf> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)?;
    let suffix: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("liaison-bench-{name}-{suffix}"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

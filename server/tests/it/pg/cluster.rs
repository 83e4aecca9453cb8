//! A throwaway PostgreSQL cluster on this machine, stopped when this process ends. Shared by the
//! server's tests (`tests/it/pg.rs`) and the crash campaign (`benches/crash.rs`, which includes
//! this file by path), so it uses nothing but std.
//!
//! Debian's `postgresql` package is installed if missing (as root), `initdb` makes a cluster in
//! the caller's folder and `postgres` listens on a free loopback port. PostgreSQL refuses to run
//! as root, so as root it runs as the `postgres` user the package creates. A shell watchdog stops
//! it and removes the folder once this process is gone, however it ends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Starts a cluster in `dir` (a new, empty folder it then owns) and returns
/// `postgres://liaison@127.0.0.1:port`; the user `liaison` is its superuser, trusted.
pub fn start(dir: &Path) -> Result<String, String> {
    let started = Instant::now();
    let bin = bin_dir()?;
    let root = is_root();
    let data = dir.join("data");
    if root {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir))?;
    }
    run(as_postgres(root, &bin.join("initdb")).arg("-D").arg(&data).args(["-A", "trust", "-U", "liaison", "-E", "UTF8", "--no-sync"]))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let postgres = format!(
        "{} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=500",
        bin.join("postgres").display(),
        data.display(),
        dir.display()
    );
    let user = if root { "setpriv --reuid=postgres --regid=postgres --init-groups " } else { "" };
    // Stops the server (fast shutdown) and removes its folder once this process has gone.
    let watchdog = format!(
        "{user}{postgres} >{log} 2>&1 & pg=$!; while kill -0 {me} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.5; done; kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
        log = dir.join("log").display(),
        me = std::process::id(),
        dir = dir.display(),
    );
    Command::new("sh").args(["-c", &watchdog]).spawn().map_err(|e| format!("sh: {e}"))?;
    let ready = bin.join("pg_isready");
    while Command::new(&ready).args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()]).status().map_err(|e| e.to_string())?.code()
        != Some(0)
    {
        if started.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!("not ready after a minute:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("throwaway PostgreSQL on port {port}, ready in {:.1} s", started.elapsed().as_secs_f64());
    Ok(format!("postgres://liaison@127.0.0.1:{port}"))
}

/// Debian's binaries, `/usr/lib/postgresql/<version>/bin`, the newest version there,
/// installing the package first if there is none.
fn bin_dir() -> Result<PathBuf, String> {
    let find = || -> Option<PathBuf> {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .filter(|(_, bin): &(u32, PathBuf)| bin.join("postgres").is_file())
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    };
    if let Some(bin) = find() {
        return Ok(bin);
    }
    if !is_root() {
        return Err("PostgreSQL is not installed: `apt-get install postgresql`".into());
    }
    // Several test threads may get here at once: the first installs, the caller's `OnceLock`
    // holds the rest.
    eprintln!("installing Debian's postgresql");
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get").args(["install", "-y", "-qq", "postgresql"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    find().ok_or_else(|| "apt-get installed postgresql, but no /usr/lib/postgresql/*/bin/postgres".into())
}

fn as_postgres(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

//! Installs what the build and the tests need, only when it is missing: the wasm32 target,
//! wasm-bindgen-cli at exactly the version in Cargo.lock, binaryen's wasm-opt (npm), Chromium with
//! its driver and a CJK font (Debian packages), PostgreSQL for the server's tests and the crash
//! campaign (Debian), and the end-to-end tests' npm packages.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub fn ensure_wasm(root: &Path) -> Result<()> {
    let targets = cmd("rustup", &["target", "list", "--installed"]).output()?;
    if !targets.lines().any(|t| t.trim() == "wasm32-unknown-unknown") {
        cmd("rustup", &["target", "add", "wasm32-unknown-unknown"]).run()?;
    }

    let wanted = locked_version(root, "wasm-bindgen")?;
    let installed = Command::new("wasm-bindgen").arg("--version").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed.as_deref().is_none_or(|v| v.split_whitespace().nth(1) != Some(wanted.as_str())) {
        // Without --locked: the CLI's own lock file can name versions the registry mirror lacks.
        cmd("cargo", &["install", "wasm-bindgen-cli", "--version", &wanted]).run()?;
    }

    ensure_node_modules(&root.join("xtask"))
}

/// clippy and rustfmt, which the test command runs first (minimal rustup profiles lack them).
pub fn ensure_lints() -> Result<()> {
    let installed = cmd("rustup", &["component", "list", "--installed"]).output()?;
    for component in ["clippy", "rustfmt"] {
        if !installed.lines().any(|c| c.trim().starts_with(&format!("{component}-"))) {
            cmd("rustup", &["component", "add", component]).run()?;
        }
    }
    Ok(())
}

/// binaryen's wasm-opt from npm, pinned by `xtask/package-lock.json`.
pub fn wasm_opt(root: &Path) -> std::path::PathBuf {
    root.join("xtask/node_modules/binaryen/bin/wasm-opt")
}

pub fn ensure_browser() -> Result<()> {
    let fonts = Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc");
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() || !fonts.exists() {
        apt_install(&["chromium", "chromium-driver", "fonts-noto-cjk"])?;
    }
    Ok(())
}

/// Debian's PostgreSQL, which the server's tests and the crash campaign start a cluster of their
/// own with (the tests never use a running one unless `LIAISON_TEST_POSTGRES` names it).
pub fn ensure_postgres() -> Result<()> {
    let installed = std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|d| d.flatten().any(|v| v.path().join("bin/postgres").is_file()));
    if !installed {
        apt_install(&["postgresql"])?;
    }
    Ok(())
}

/// Installs the npm packages locked in `dir`, unless they are installed already.
pub fn ensure_node_modules(dir: &Path) -> Result<()> {
    if Command::new("npm").arg("--version").output().is_err() {
        apt_install(&["nodejs", "npm"])?;
    }
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed)) {
        (Ok(l), Ok(i)) => i.modified()? >= l.modified()?,
        _ => false,
    };
    if !fresh {
        cmd("npm", &["ci", "--prefix", &dir.to_string_lossy(), "--no-audit", "--no-fund"]).run()?;
    }
    Ok(())
}

/// The version of `package` that Cargo.lock pins.
pub fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{package}\"")
            && let Some(v) = lines.next().and_then(|l| l.trim().strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_owned());
        }
    }
    bail!("{package} is not in Cargo.lock")
}

fn apt_install(packages: &[&str]) -> Result<()> {
    let mut update = vec!["update", "-qq"];
    let mut install = vec!["install", "-y", "-qq"];
    install.extend_from_slice(packages);
    let sudo = !is_root();
    let run = |args: &mut Vec<&str>| {
        if sudo {
            args.insert(0, "apt-get");
            cmd("sudo", args).env("DEBIAN_FRONTEND", "noninteractive").run()
        } else {
            cmd("apt-get", args).env("DEBIAN_FRONTEND", "noninteractive").run()
        }
    };
    run(&mut update)?;
    run(&mut install)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false)
}

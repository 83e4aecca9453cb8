//! Builds the app into `dist/`: wasm in the size-optimised profile, wasm-bindgen's JS glue,
//! wasm-opt, content-hashed file names, the page, the service worker with this build's
//! precache list, and a brotli copy of every file for the server to send when accepted.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::cmd;

pub fn build(root: &Path) -> Result<()> {
    cmd("cargo", &["build", "--package", "app", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release"]).run()?;
    let bindgen = target_dir(root).join("wasm-bindgen");
    let _ = fs::remove_dir_all(&bindgen);
    cmd(
        "wasm-bindgen",
        &[
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            "app",
            "--out-dir",
            &bindgen.to_string_lossy(),
            &target_dir(root).join("wasm32-unknown-unknown/wasm-release/app.wasm").to_string_lossy(),
        ],
    )
    .run()?;
    let wasm = bindgen.join("app_bg.wasm");
    let optimised = bindgen.join("app_opt.wasm");
    // The features are those rustc enables for wasm32 by default; wasm-opt must keep them.
    cmd(
        &crate::toolchain::wasm_opt(root).to_string_lossy(),
        &[
            "-Oz",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
            "--enable-multivalue",
            "-o",
            &optimised.to_string_lossy(),
            &wasm.to_string_lossy(),
        ],
    )
    .run()?;

    let dist = root.join("dist");
    let _ = fs::remove_dir_all(&dist);
    fs::create_dir_all(&dist)?;
    let js = place(&dist, "app", "js", &fs::read(bindgen.join("app.js"))?)?;
    let wasm = place(&dist, "app", "wasm", &fs::read(&optimised)?)?;
    let css = place(&dist, "style", "css", &fs::read(root.join("app/style.css"))?)?;

    let page = fs::read_to_string(root.join("index.html"))?
        .replace("{{js}}", &js)
        .replace("{{wasm}}", &wasm)
        .replace("{{css}}", &css);
    fs::write(dist.join("index.html"), &page)?;

    let files = [js.as_str(), wasm.as_str(), css.as_str()];
    let version = hash_hex(format!("{page}{}", files.join(",")).as_bytes());
    let precache = std::iter::once("/".to_owned()).chain(files.iter().map(|f| format!("/{f}"))).collect::<Vec<_>>();
    let worker = fs::read_to_string(root.join("app/sw.js"))?
        .replace("{{version}}", &version[..16])
        .replace("{{precache}}", &format!("{precache:?}"));
    fs::write(dist.join("sw.js"), worker)?;

    report(&dist)
}

/// Writes `bytes` as `dist/<stem>-<hash>.<ext>` and returns that file name.
fn place(dist: &Path, stem: &str, ext: &str, bytes: &[u8]) -> Result<String> {
    let name = format!("{stem}-{}.{ext}", &hash_hex(bytes)[..16]);
    fs::write(dist.join(&name), bytes)?;
    Ok(name)
}

fn hash_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Brotli-compresses every file next to itself and prints the sizes: the `total` line is the
/// transfer size of a first visit.
fn report(dist: &Path) -> Result<()> {
    let mut rows = Vec::new();
    for entry in fs::read_dir(dist)? {
        let path = entry?.path();
        let raw = fs::read(&path)?;
        let mut compressed = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
        brotli::BrotliCompress(&mut raw.as_slice(), &mut compressed, &params).context("brotli")?;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        fs::write(dist.join(format!("{name}.br")), &compressed)?;
        rows.push((name, raw.len(), compressed.len()));
    }
    rows.sort();
    eprintln!("{:<36} {:>10} {:>10}", "dist/", "bytes", "brotli");
    for (name, raw, br) in &rows {
        eprintln!("{name:<36} {raw:>10} {br:>10}");
    }
    let (raw, br) = rows.iter().fold((0, 0), |(a, b), (_, r, c)| (a + r, b + c));
    eprintln!("{:<36} {raw:>10} {br:>10}", "total");
    Ok(())
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` if set (a second checkout may share the
/// first one's), else `target/` in the workspace.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |d| root.join(PathBuf::from(d)))
}

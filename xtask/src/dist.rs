//! Builds the app into `dist/`: wasm in the size-optimised profile, split at its
//! `#[wasm_split]` functions into a main module and chunks loaded when first needed (the same
//! library and steps as `cargo leptos --split`), wasm-bindgen's JS glue for the main module,
//! wasm-opt on every module, content-hashed file names, the page, the service worker with this
//! build's precache list (chunks included, so they load offline), and a brotli copy of every
//! file for the server to send when accepted.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};

use crate::cmd;

/// The flags the app's wasm is built with, on top of any the environment gives for wasm32:
/// relocations kept in the output so the splitter can cut functions apart, and Leptos' type
/// erasure (smaller code, 33 KB raw when measured). They are passed for the wasm32 target
/// only, so the native builds that xtask also runs (server, build scripts) never see them.
const WASM_RUSTFLAGS: &str = "-Clink-args=--emit-relocs --cfg erase_components";
const WASM_RUSTFLAGS_VAR: &str = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS";

/// The link module's name as the splitter writes it, which wasm-bindgen then imports.
const LINK_JS: &str = "__wasm_split.js";

pub fn build(root: &Path) -> Result<()> {
    let target = target_dir(root);
    // RUSTFLAGS would replace the target's flags rather than add to them.
    if std::env::var_os("RUSTFLAGS").is_some() || std::env::var_os("CARGO_ENCODED_RUSTFLAGS").is_some() {
        bail!(
            "unset RUSTFLAGS for `cargo xtask dist`: it would drop the flags the wasm needs ({WASM_RUSTFLAGS}); use {WASM_RUSTFLAGS_VAR}"
        );
    }
    let rustflags = match std::env::var(WASM_RUSTFLAGS_VAR) {
        Ok(own) if !own.trim().is_empty() => format!("{own} {WASM_RUSTFLAGS}"),
        _ => WASM_RUSTFLAGS.to_owned(),
    };
    cmd("cargo", &["build", "--package", "app", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release", "--features", "split"])
        .env(WASM_RUSTFLAGS_VAR, rustflags)
        .run()?;

    // The chunks and the main module, split at the `#[wasm_split]` functions.
    let split_dir = target.join("wasm-split");
    let _ = fs::remove_dir_all(&split_dir);
    fs::create_dir_all(&split_dir)?;
    let main_split = split_dir.join("app_split.wasm");
    eprintln!("xtask: splitting the wasm at its lazy functions");
    let input = fs::read(target.join("wasm32-unknown-unknown/wasm-release/app.wasm"))?;
    let link_name = format!("./{LINK_JS}");
    let split = wasm_split_cli_support::transform({
        let mut opts = wasm_split_cli_support::Options::new(&input);
        opts.output_dir = &split_dir;
        opts.main_out_path = &main_split;
        opts.main_module = "./app.js";
        opts.link_name = &link_name;
        opts
    })
    .map_err(|e| anyhow!("splitting the wasm: {e:?}"))?;

    // wasm-bindgen on the main module only; the chunks reach its exports through the link
    // module, so it must keep the linker's exports and their mangled names.
    let bindgen = target.join("wasm-bindgen");
    let _ = fs::remove_dir_all(&bindgen);
    cmd(
        "wasm-bindgen",
        &[
            "--target",
            "web",
            "--no-typescript",
            "--keep-lld-exports",
            "--no-demangle",
            "--out-name",
            "app",
            "--out-dir",
            &bindgen.to_string_lossy(),
            &main_split.to_string_lossy(),
        ],
    )
    .run()?;
    let main_wasm = optimise(root, &bindgen.join("app_bg.wasm"))?;
    let mut chunks = Vec::new();
    for path in &split.split_modules {
        let name = path.file_name().context("a chunk without a name")?.to_string_lossy().into_owned();
        chunks.push((name, optimise(root, path)?));
    }
    chunks.sort();

    let dist = root.join("dist");
    let _ = fs::remove_dir_all(&dist);
    fs::create_dir_all(&dist)?;
    let wasm = place(&dist, "app", "wasm", &main_wasm)?;
    let css = place(&dist, "style", "css", &fs::read(root.join("app/style.css"))?)?;

    // The link module loads each chunk by its name relative to itself; give it the hashed ones.
    let mut link = fs::read_to_string(split_dir.join(LINK_JS)).context("the splitter wrote no link module")?;
    let mut lazy = Vec::new();
    for (name, bytes) in &chunks {
        let stem = name.trim_end_matches(".wasm").replace(['.', '-'], "_");
        let hashed = place(&dist, &stem, "wasm", bytes)?;
        let quoted = format!("\"./{name}\"");
        if !link.contains(&quoted) {
            bail!("the link module does not load {name}");
        }
        link = link.replace(&quoted, &format!("\"./{hashed}\""));
        lazy.push(hashed);
    }
    // The glue imports the link module and the link module imports the glue, so neither name
    // can be a hash of its own final bytes: both take one hash of the pair before renaming.
    let glue = fs::read_to_string(bindgen.join("app.js"))?;
    let pair = &hash_hex(format!("{glue}\0{link}").as_bytes())[..16];
    let (js, link_js) = (format!("app-{pair}.js"), format!("split-{pair}.js"));
    let glue = rename_import(&glue, &format!("./{LINK_JS}"), &format!("./{link_js}"))?;
    let link = rename_import(&link, "./app.js", &format!("./{js}"))?;
    fs::write(dist.join(&js), glue)?;
    fs::write(dist.join(&link_js), link)?;

    let page = fs::read_to_string(root.join("index.html"))?
        .replace("{{js}}", &js)
        .replace("{{split_js}}", &link_js)
        .replace("{{wasm}}", &wasm)
        .replace("{{css}}", &css);
    fs::write(dist.join("index.html"), &page)?;

    // The chunks are precached with the rest: a record must open with no network once the
    // app has been opened once.
    let first = [js.as_str(), link_js.as_str(), wasm.as_str(), css.as_str()];
    let files: Vec<&str> = first.iter().copied().chain(lazy.iter().map(String::as_str)).collect();
    let version = hash_hex(format!("{page}{}", files.join(",")).as_bytes());
    let precache = std::iter::once("/".to_owned()).chain(files.iter().map(|f| format!("/{f}"))).collect::<Vec<_>>();
    let worker = fs::read_to_string(root.join("app/sw.js"))?
        .replace("{{version}}", &version[..16])
        .replace("{{precache}}", &format!("{precache:?}"));
    fs::write(dist.join("sw.js"), worker)?;

    report(&dist, &lazy)
}

/// Runs wasm-opt on one module and returns the result.
fn optimise(root: &Path, wasm: &Path) -> Result<Vec<u8>> {
    let out = wasm.with_extension("opt.wasm");
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
            &out.to_string_lossy(),
            &wasm.to_string_lossy(),
        ],
    )
    .run()?;
    Ok(fs::read(&out)?)
}

/// Points the JS module's `from "<old>"` imports at `new`. Only import specifiers change:
/// the same string may also be a key the wasm looks its imports up by, which must stay.
fn rename_import(js: &str, old: &str, new: &str) -> Result<String> {
    let mut out = js.to_owned();
    let mut found = false;
    for quote in ['"', '\''] {
        let from = format!("from {quote}{old}{quote}");
        if out.contains(&from) {
            found = true;
            out = out.replace(&from, &format!("from {quote}{new}{quote}"));
        }
    }
    if !found {
        bail!("no import from {old:?} to rename");
    }
    Ok(out)
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

/// Brotli-compresses every file next to itself and prints the sizes: what the first screen
/// waits for (the page, the JS, the main wasm, the CSS), then the chunks loaded when first
/// needed (`lazy`), then the service worker, which is fetched after the app has started.
fn report(dist: &Path, lazy: &[String]) -> Result<()> {
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
    let (worker, rows): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(name, ..)| name == "sw.js");
    let (later, first): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(name, ..)| lazy.contains(name));
    eprintln!("{:<44} {:>10} {:>10}", "dist/", "bytes", "brotli");
    for (title, group) in [("first download", &first), ("loaded when first needed", &later), ("service worker", &worker)] {
        for (name, raw, br) in group.iter() {
            eprintln!("{name:<44} {raw:>10} {br:>10}");
        }
        let (raw, br) = group.iter().fold((0, 0), |(a, b), (_, r, c)| (a + r, b + c));
        eprintln!("{:<44} {raw:>10} {br:>10}", format!("= {title}"));
    }
    Ok(())
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` if set (a second checkout may share the
/// first one's), else `target/` in the workspace.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |d| root.join(PathBuf::from(d)))
}

//! Embeds every form definition in `forms/` (files named `<form-id>.v<version>.json`), so
//! adding a form or a version is adding a file. The list is written to `$OUT_DIR/forms.rs`
//! as `include_str!`s, which `form::registry` parses on first use.

use std::path::Path;
use std::{env, fs};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("forms");
    // Cargo scans a directory given here for any change, including added files.
    println!("cargo::rerun-if-changed=forms");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("shared/forms exists")
        .map(|entry| entry.expect("readable shared/forms").file_name().to_string_lossy().into_owned())
        .filter(|name| is_definition(name))
        .collect();
    // Sorted, so the generated file (and the build) does not depend on directory order.
    files.sort();
    let mut out = String::from("/// Every form definition file in `shared/forms/`: file name and contents.\n");
    out.push_str("pub(super) static SOURCES: &[(&str, &str)] = &[\n");
    for name in &files {
        let path = dir.join(name);
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.to_string_lossy()));
    }
    out.push_str("];\n");
    let target = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("forms.rs");
    fs::write(target, out).expect("OUT_DIR is writable");
}

/// `intake.v2.json`, not `form.schema.json`.
fn is_definition(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".json") else { return false };
    let Some((_, version)) = stem.rsplit_once(".v") else { return false };
    !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())
}

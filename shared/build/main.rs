//! Compiles the form definitions in `forms/` (files named `<form-id>.v<version>.json`) into
//! the crate, so adding a form or a version is adding a file.
//!
//! Every file is read and checked here by the library's own definition code:
//! `form::definition`, compiled into this script with `#[path]` together with what it builds
//! (`form::model`, `form::date`, `i18n`). A broken definition fails the build with the file,
//! form, field and reason. The checked forms are written to `$OUT_DIR/forms.rs` as `static`
//! data ([`emit`]), which `form::registry` includes, so neither the JSON nor a parser for it
//! reaches the app's wasm.

// The script uses only the parts of the library's modules that read and check definitions.
#![allow(dead_code)]

#[path = "../src/i18n.rs"]
mod i18n;

#[path = "../src/form"]
mod form {
    mod date;
    pub mod definition;
    mod model;

    pub use model::*;
}

#[path = "../src/case/model.rs"]
mod case_model;

mod emit;
mod workflows;

use std::path::Path;
use std::{env, fs};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("forms");
    // Cargo scans a directory given here for any change, including added files. A change to
    // the included library code rebuilds (and so reruns) this script anyway.
    println!("cargo::rerun-if-changed=forms");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("shared/forms exists")
        .map(|entry| entry.expect("readable shared/forms").file_name().to_string_lossy().into_owned())
        .filter(|name| is_definition(name))
        .collect();
    // Sorted, so the generated file (and the build) does not depend on directory order.
    files.sort();
    let sources: Vec<(String, String)> = files
        .into_iter()
        .map(|name| {
            let source = fs::read_to_string(dir.join(&name)).unwrap_or_else(|e| panic!("shared/forms/{name}: {e}"));
            (name, source)
        })
        .collect();
    let sources: Vec<(&str, &str)> = sources.iter().map(|(name, source)| (name.as_str(), source.as_str())).collect();
    let forms = match form::definition::load(&sources) {
        Ok(forms) => {
            let target = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("forms.rs");
            fs::write(target, emit::forms(&forms)).expect("OUT_DIR is writable");
            forms
        }
        // Each error starts with its file name; Cargo prints these and fails the build.
        Err(errors) => {
            for e in errors {
                println!("cargo::error=shared/forms/{}", e.to_string().replace('\n', " "));
            }
            Vec::new()
        }
    };
    workflows_from(&Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("workflows"), &forms);
}

/// `workflows/*.json` into `$OUT_DIR/workflows.rs` (see `workflows`); the fields a state fixes
/// or a step's form shows must be fields of the newest version of each form of the workflow's
/// kind (the version records are edited with).
fn workflows_from(dir: &Path, forms: &[form::Form]) {
    println!("cargo::rerun-if-changed=workflows");
    let mut files: Vec<String> = fs::read_dir(dir)
        .expect("shared/workflows exists")
        .map(|entry| entry.expect("readable shared/workflows").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut checked = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for name in files {
        let source = fs::read_to_string(dir.join(&name)).unwrap_or_else(|e| panic!("shared/workflows/{name}: {e}"));
        match workflows::read(&name, &source) {
            Ok(c) if !kinds.insert(c.workflow.kind) => {
                println!("cargo::error=shared/workflows/{name}: another workflow is for records of kind {:?}", c.workflow.kind);
            }
            Ok(c) => {
                let newest = |f: &&form::Form| !forms.iter().any(|o| o.id == f.id && o.version > f.version);
                let named = c.workflow.states.iter().flat_map(|s| s.fixed.iter().map(move |f| (format!("state {:?} fixes", s.id), f)));
                let named =
                    named.chain(c.workflow.steps.iter().flat_map(|s| s.fields.iter().map(move |f| (format!("step {:?} shows", s.id), f))));
                let named = named.chain(c.workflow.receiver_fields.iter().map(|f| ("`receiver_fields` names".to_owned(), f)));
                let named: Vec<_> = named.collect();
                for form in forms.iter().filter(|f| f.kind == c.workflow.kind).filter(newest) {
                    for (what, field) in named.iter().filter(|(_, id)| !form.fields.iter().any(|f| f.id == **id)) {
                        println!(
                            "cargo::error=shared/workflows/{name}: {what} field {field:?}, which form {} v{} does not have",
                            form.id, form.version
                        );
                    }
                }
                checked.push(c);
            }
            Err(e) => println!("cargo::error=shared/workflows/{}", e.replace('\n', " ")),
        }
    }
    let target = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("workflows.rs");
    fs::write(target, workflows::emit(&checked)).expect("OUT_DIR is writable");
}

/// `intake.v2.json`, not `form.schema.json`.
fn is_definition(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".json") else { return false };
    let Some((_, version)) = stem.rsplit_once(".v") else { return false };
    !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())
}

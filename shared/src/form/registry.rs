//! Every form this build embeds, every version of each. `shared/build.rs` lists the files in
//! `shared/forms/`; they are parsed once, on first use.
//!
//! A broken definition is left out and reported by [`load_errors`] rather than panicking:
//! one bad form must not stop the app from opening every other record. A test asserts that
//! the embedded definitions have no errors, so a broken one never ships.

use std::sync::OnceLock;

use super::definition::check_compatible;
use super::{DefinitionError, Form};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/forms.rs"));
}

struct Loaded {
    /// Sorted by id, then version.
    forms: Vec<Form>,
    errors: Vec<DefinitionError>,
}

/// The newest version of every form.
pub fn forms() -> &'static [&'static Form] {
    static LATEST: OnceLock<Vec<&'static Form>> = OnceLock::new();
    LATEST.get_or_init(|| {
        let all = &loaded().forms;
        // Sorted by id then version: the last of each id is the newest.
        let newest = |(i, f): &(usize, &Form)| all.get(i + 1).is_none_or(|next| next.id != f.id);
        all.iter().enumerate().filter(newest).map(|(_, f)| f).collect()
    })
}

/// One version of a form.
pub fn find(id: &str, version: u32) -> Option<&'static Form> {
    versions(id).iter().find(|f| f.version == version)
}

/// The newest version of a form: the one new records use and old records are edited with.
pub fn latest(id: &str) -> Option<&'static Form> {
    versions(id).last()
}

/// Every known version of a form, oldest first.
pub fn versions(id: &str) -> &'static [Form] {
    let all = &loaded().forms;
    let start = all.partition_point(|f| f.id < id);
    let end = all.partition_point(|f| f.id <= id);
    &all[start..end]
}

/// What was wrong with embedded definitions (empty in a good build).
pub fn load_errors() -> &'static [DefinitionError] {
    &loaded().errors
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| load(embedded::SOURCES))
}

fn load(sources: &[(&str, &str)]) -> Loaded {
    let mut forms = Vec::new();
    let mut errors = Vec::new();
    for (file, source) in sources {
        match Form::from_json(file, source) {
            Ok(form) => {
                let expected = format!("{}.v{}.json", form.id, form.version);
                if *file == expected {
                    forms.push(form);
                } else {
                    let (form, version) = (form.id.to_owned(), form.version);
                    errors.push(DefinitionError::FileName { file: (*file).to_owned(), form, version, expected });
                }
            }
            Err(e) => errors.push(e),
        }
    }
    forms.sort_by(|a, b| (a.id, a.version).cmp(&(b.id, b.version)));
    // Every pair, not only neighbours: a field dropped in v2 may come back in v3.
    for (i, newer) in forms.iter().enumerate() {
        for older in forms[..i].iter().filter(|o| o.id == newer.id) {
            if let Err(e) = check_compatible(older, newer) {
                errors.push(e);
            }
        }
    }
    Loaded { forms, errors }
}

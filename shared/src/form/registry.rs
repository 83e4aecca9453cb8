//! Every form this build embeds, every version of each: `static` data that
//! `shared/build/main.rs` compiled from the files in `shared/forms/` after checking them, so
//! nothing is parsed at run time and a broken definition never gets past the build.

use std::sync::OnceLock;

use super::Form;

mod compiled {
    include!(concat!(env!("OUT_DIR"), "/forms.rs"));
}

/// The newest version of every form.
pub fn forms() -> &'static [&'static Form] {
    static LATEST: OnceLock<Vec<&'static Form>> = OnceLock::new();
    LATEST.get_or_init(|| {
        let all = compiled::FORMS;
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
    let all = compiled::FORMS;
    let start = all.partition_point(|f| f.id < id);
    let end = all.partition_point(|f| f.id <= id);
    &all[start..end]
}

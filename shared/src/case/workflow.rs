//! The workflows as data: states, the steps between them, who may take each, what a step must
//! carry, and default deadlines, one file each in `shared/workflows/` (checked and compiled in
//! by the build script, as forms are). The derivation ([`super::derive`]) and the server's
//! checks ([`super::admit`]) read these tables and nothing else, so changing a deadline or who
//! may take a step is an edit of that file, not of the logic.

use crate::i18n::L;

pub use super::model::*;

/// The workflow records of `kind` follow, if any.
pub fn for_kind(kind: &str) -> Option<&'static Workflow> {
    WORKFLOWS.iter().copied().find(|w| w.kind == kind)
}

pub fn find(id: &str) -> Option<&'static Workflow> {
    WORKFLOWS.iter().copied().find(|w| w.id == id)
}

// `CASE`, `ENTRUSTMENT`, `WORKFLOWS` and `CODE_LABELS`, from `shared/workflows/*.json`.
include!(concat!(env!("OUT_DIR"), "/workflows.rs"));

/// How a code in a step's data reads: outcomes, bases, reasons, subjects.
pub fn code_label(code: &str) -> Option<L> {
    CODE_LABELS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

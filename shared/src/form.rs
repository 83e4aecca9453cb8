//! Forms: which fields a kind of record has, when each is shown, how it is entered and checked.
//!
//! Forms are data. Each is a JSON file in `shared/forms/<id>.v<version>.json`, so adding a
//! form is adding a file. `shared/build/main.rs` reads and checks every file when the crate is
//! built (a broken definition fails the build, naming the file, form, field and reason) and
//! compiles them in as `static` [`Form`]s, so neither the app nor the server parses a
//! definition at run time; [`registry`](self::find) keeps every version. A record stores its
//! form id and version; every version stays known so a record made with an old one still opens.
//!
//! `definition` (the file format and its checks) is the code the build script runs. In the
//! library it is behind the `definitions` feature, which tests turn on to read definitions of
//! their own; the app and server are built without it, so the wasm carries no definition parser.
//!
//! Validation lives here so app and server agree: [`Field::parse_input`] turns a keystroke's
//! worth of text into a value (type errors only), and [`Form::check`] is what "mark complete"
//! runs: required fields that are shown, and each field's constraints.

#[cfg(feature = "definitions")]
pub mod definition;

mod condition;
pub(crate) mod date;
mod figure;
mod input;
mod model;
mod registry;
mod validate;

use crate::i18n::L;

#[cfg(feature = "definitions")]
pub use definition::{DefinitionError, DefinitionProblem};
pub use figure::Tally;
pub use input::InputError;
pub use model::{Choice, Comparison, Condition, Constraint, Field, FieldKind, FieldRef, FieldType, Figure, FigureRule, Form, Literal};
pub use registry::{find, forms, latest, versions};
pub use validate::{ItemAt, Problem, ProblemKind};

/// The name a record stores for its kind (`meta.kind`): a string from the definition, so a
/// new kind of record is a new file too.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RecordKind(pub String);

impl RecordKind {
    pub fn new(kind: impl Into<String>) -> RecordKind {
        RecordKind(kind.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The kind's name in both languages, from the newest form of this kind.
    pub fn label(&self) -> Option<L> {
        forms().iter().find(|f| f.kind == self.0).map(|f| f.kind_label)
    }
}

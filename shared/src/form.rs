//! Forms: which fields a kind of record has, when each is shown, how it is entered and checked.
//!
//! Forms are data. Each is a JSON file in `shared/forms/<id>.v<version>.json`, embedded in both
//! the app and the server by `shared/build.rs`, so adding a form is adding a file
//! ([`definition`] reads one, [`registry`](self::find) keeps every version). A record stores its
//! form id and version; every version stays known so a record made with an old one still opens.
//!
//! Validation lives here so app and server agree: [`Field::parse_input`] turns a keystroke's
//! worth of text into a value (type errors only), and [`Form::check`] is what "mark complete"
//! runs: required fields that are shown, and each field's constraints.

pub mod definition;

mod condition;
mod input;
mod registry;
mod validate;

use crate::i18n::L;

pub use condition::{Comparison, Condition, FieldRef, Literal};
pub use definition::{DefinitionError, DefinitionProblem};
pub use input::InputError;
pub use registry::{find, forms, latest, load_errors, versions};
pub use validate::{ItemAt, Problem, ProblemKind};

/// A form definition: an id and version that every record made with it stores.
///
/// Made by [`Form::from_json`]; strings are `'static` so the app can hold `&'static Field`
/// in components and [`L`] stays `Copy` (see [`definition`] for how).
#[derive(Debug)]
pub struct Form {
    pub id: &'static str,
    pub version: u32,
    /// What kind of record this form makes; several forms (or versions) may share a kind.
    pub kind: &'static str,
    pub kind_label: L,
    pub title: L,
    pub fields: Vec<Field>,
    /// The field whose value names the record in lists. It is never a `personal` field.
    pub title_field: &'static str,
    /// A select field whose choice labels the record in lists.
    pub category_field: Option<&'static str>,
}

/// The name a record stores for its kind (`meta.kind`): a string from the definition, so a
/// new kind of record is a new file too.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RecordKind(pub String);

#[derive(Debug)]
pub struct Field {
    /// The key in the record document; never changes meaning across versions of a form.
    pub id: &'static str,
    pub label: L,
    pub hint: Option<L>,
    pub ty: FieldType,
    /// Must be filled in (when shown) before the record can be marked complete.
    pub required: bool,
    /// Identifies a person (a name, say): never a list title.
    pub personal: bool,
    /// Skip logic: the field is shown only when this holds. A hidden field keeps its value
    /// but counts as unset for other conditions and is not checked.
    pub show_if: Option<Condition>,
    /// Checked when the record is marked complete, on a shown field that has a value.
    pub constraints: Vec<Constraint>,
}

#[derive(Debug)]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Paragraphs, stored as an Automerge text object so concurrent edits merge.
    LongText,
    /// A whole number; the range is part of the type, so out-of-range input is a typo caught
    /// at once and never stored.
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    /// A decimal number kept as its canonical text (`"1.5"`), so it reads back exactly.
    Decimal {
        min: Option<f64>,
        max: Option<f64>,
        places: u8,
    },
    /// An ISO 8601 calendar date, `YYYY-MM-DD`.
    Date,
    /// A wall-clock date and time as the person gave it, `YYYY-MM-DDTHH:MM`, with no time
    /// zone: what matters is the time where it happened.
    DateTime,
    YesNo,
    SelectOne(Vec<Choice>),
    /// Several choices, stored as a map keyed by choice id so concurrent additions merge.
    SelectMany(Vec<Choice>),
    /// A phone number, stored as digits with an optional leading `+`.
    Phone,
    /// A list of sub-records (attendees, evidence), each with these fields.
    Group(Vec<Field>),
    /// A photo or document, stored as a reference; the bytes never enter the document.
    /// `accept` lists MIME patterns (`image/*`, `application/pdf`); empty accepts anything.
    Attachment {
        accept: Vec<&'static str>,
    },
    /// A drawn signature, stored as a reference to an image attachment.
    Signature,
}

/// The type names the definition format uses (`"type": "select_one"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    LongText,
    Integer,
    Decimal,
    Date,
    DateTime,
    YesNo,
    SelectOne,
    SelectMany,
    Phone,
    Group,
    Attachment,
    Signature,
}

#[derive(Debug)]
pub struct Choice {
    pub id: &'static str,
    pub label: L,
}

/// A rule a field's value must satisfy when the record is marked complete.
#[derive(Debug)]
pub struct Constraint {
    pub check: Condition,
    pub message: L,
}

impl Form {
    /// Reads and checks one definition; `file` names it in errors.
    pub fn from_json(file: &str, source: &str) -> Result<Form, DefinitionError> {
        definition::parse(file, source)
    }

    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }
}

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

impl Field {
    /// The sub-fields of a group; empty for every other type.
    pub fn sub_fields(&self) -> &[Field] {
        match &self.ty {
            FieldType::Group(fields) => fields,
            _ => &[],
        }
    }

    /// The choices of a select; empty for every other type.
    pub fn choices(&self) -> &[Choice] {
        match &self.ty {
            FieldType::SelectOne(c) | FieldType::SelectMany(c) => c,
            _ => &[],
        }
    }
}

impl FieldType {
    pub fn kind(&self) -> FieldKind {
        match self {
            FieldType::Text => FieldKind::Text,
            FieldType::LongText => FieldKind::LongText,
            FieldType::Integer { .. } => FieldKind::Integer,
            FieldType::Decimal { .. } => FieldKind::Decimal,
            FieldType::Date => FieldKind::Date,
            FieldType::DateTime => FieldKind::DateTime,
            FieldType::YesNo => FieldKind::YesNo,
            FieldType::SelectOne(_) => FieldKind::SelectOne,
            FieldType::SelectMany(_) => FieldKind::SelectMany,
            FieldType::Phone => FieldKind::Phone,
            FieldType::Group(_) => FieldKind::Group,
            FieldType::Attachment { .. } => FieldKind::Attachment,
            FieldType::Signature => FieldKind::Signature,
        }
    }
}

impl FieldKind {
    /// The name used in definition files.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::LongText => "long_text",
            FieldKind::Integer => "integer",
            FieldKind::Decimal => "decimal",
            FieldKind::Date => "date",
            FieldKind::DateTime => "date_time",
            FieldKind::YesNo => "yes_no",
            FieldKind::SelectOne => "select_one",
            FieldKind::SelectMany => "select_many",
            FieldKind::Phone => "phone",
            FieldKind::Group => "group",
            FieldKind::Attachment => "attachment",
            FieldKind::Signature => "signature",
        }
    }
}

impl std::fmt::Display for FieldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

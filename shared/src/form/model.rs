//! What a form is: plain data, with nothing that reads a record.
//!
//! Every reference is `'static`: the forms a build ships are `static` data that
//! `shared/build/main.rs` writes in these types (nothing is parsed at run time), and `'static`
//! lets the app hold `&'static Field` in components and keep [`L`] `Copy`. A form read at run
//! time (tests, through `definition`) leaks its strings and lists instead.
//!
//! The build script compiles this file in too, with `date` and `definition`, so it uses
//! nothing of the crate but `i18n`.

use crate::i18n::L;

/// A form definition: an id and version that every record made with it stores.
#[derive(Debug)]
pub struct Form {
    pub id: &'static str,
    pub version: u32,
    /// What kind of record this form makes; several forms (or versions) may share a kind.
    pub kind: &'static str,
    pub kind_label: L,
    pub title: L,
    pub fields: &'static [Field],
    /// The field whose value names the record in lists. It is never a `personal` field.
    pub title_field: &'static str,
    /// A select field whose choice labels the record in lists.
    pub category_field: Option<&'static str>,
    /// What the dashboard adds up for this kind besides counting records (see [`Figure`]).
    pub figures: &'static [Figure],
}

/// A number the dashboard reports for a kind of record, worked out from each record's values
/// when its summary is made (so the dashboard reads summaries only): disputes resolved,
/// training hours, attendees by organisation.
#[derive(Debug)]
pub struct Figure {
    pub id: &'static str,
    pub label: L,
    pub rule: FigureRule,
}

#[derive(Debug)]
pub enum FigureRule {
    /// 1 for every record: "disputes received", "sessions held".
    Records,
    /// 1 for a record where the condition holds, else 0: "disputes resolved".
    CountIf(Condition),
    /// A number field's value (hidden or unset: 0): "hours".
    Sum(&'static str),
    /// The items of a group, and how many have each value of one of their fields (a text
    /// or select_one field, never personal): "attendees by organisation".
    Items { group: &'static str, by: Option<&'static str> },
}

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
    pub constraints: &'static [Constraint],
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
    SelectOne(&'static [Choice]),
    /// Several choices, stored as a map keyed by choice id so concurrent additions merge.
    SelectMany(&'static [Choice]),
    /// A phone number, stored as digits with an optional leading `+`.
    Phone,
    /// A list of sub-records (attendees, evidence), each with these fields.
    Group(&'static [Field]),
    /// A photo or document, stored as a reference; the bytes never enter the document.
    /// `accept` lists MIME patterns (`image/*`, `application/pdf`); empty accepts anything.
    Attachment {
        accept: &'static [&'static str],
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

/// Comparisons on fields' values combined with all/any/not: skip logic (`show_if`) and
/// constraints. `condition` evaluates them.
#[derive(Debug)]
pub enum Condition {
    Compare { field: FieldRef, op: Comparison },
    All(&'static [Condition]),
    Any(&'static [Condition]),
    Not(&'static Condition),
}

/// The field a comparison reads: a sibling in the same group item, or a field of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    pub id: &'static str,
    pub in_item: bool,
}

#[derive(Debug)]
pub enum Comparison {
    /// The field is set and equal to the literal.
    Equals(Literal),
    /// The field is unset or different: "not equal to yes" holds for an unanswered question.
    NotEquals(Literal),
    /// Numbers by value, dates and date-times by their ISO text (which sorts by time).
    LessThan(Literal),
    GreaterThan(Literal),
    /// `true`: the field has a value (a select-many with at least one choice, a group with
    /// at least one item); `false`: it has none.
    IsSet(bool),
    /// A select-many field includes this choice.
    Includes(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Bool(bool),
    Number(f64),
    Text(&'static str),
}

impl Form {
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }
}

impl Field {
    /// The sub-fields of a group; empty for every other type.
    pub fn sub_fields(&self) -> &'static [Field] {
        match self.ty {
            FieldType::Group(fields) => fields,
            _ => &[],
        }
    }

    /// The choices of a select; empty for every other type.
    pub fn choices(&self) -> &'static [Choice] {
        match self.ty {
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

impl Condition {
    /// Every field the condition reads.
    pub fn refs(&self) -> Vec<FieldRef> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs(&self, out: &mut Vec<FieldRef>) {
        match self {
            Condition::Compare { field, .. } => out.push(*field),
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.collect_refs(out)),
            Condition::Not(c) => c.collect_refs(out),
        }
    }
}

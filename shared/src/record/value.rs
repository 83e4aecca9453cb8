//! Values as the app and validation see them, independent of how the document stores them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// A field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    LongText(String),
    Int(i64),
    /// Canonical decimal text (`"1.5"`): exact, and shown back as it was entered.
    Decimal(String),
    Bool(bool),
    /// `YYYY-MM-DD`, stored as a string: a calendar date has no time zone.
    Date(String),
    /// `YYYY-MM-DDTHH:MM[:SS]`, wall-clock time where it happened, no time zone.
    DateTime(String),
    Choice(String),
    /// The choice ids of a select-many field.
    Choices(BTreeSet<String>),
    /// Digits with an optional leading `+`.
    Phone(String),
    /// The items of a repeat group, in document order.
    Group(Vec<GroupItem>),
    /// An attachment or a signature: a reference to bytes stored elsewhere.
    Attachment(AttachmentRef),
}

/// Field id → value, for a record or for one group item.
pub type Values = BTreeMap<String, FieldValue>;

/// One item of a repeat group. The id is random and stable, so two people editing the
/// same attendee, or adding different ones, never mix them up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupItem {
    pub id: String,
    pub values: Values,
}

/// A file kept outside the document (photo, scan, signature image), named by its content
/// hash. The document holds only this, so records stay small and sync stays cheap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    pub name: String,
    pub mime: String,
    pub size: u64,
}

/// Who made a change, as far as the record knows: see `Record::set_author`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub user: String,
    pub org: Option<String>,
}

impl FieldValue {
    /// No value: empty text, no choices, no items. Such a value counts as unset everywhere.
    pub fn is_empty(&self) -> bool {
        match self {
            FieldValue::Choices(set) => set.is_empty(),
            FieldValue::Group(items) => items.is_empty(),
            v => v.as_str().is_some_and(str::is_empty),
        }
    }

    /// The text of a text-like value (text, long text, decimal, date, date-time, choice, phone).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s)
            | FieldValue::LongText(s)
            | FieldValue::Decimal(s)
            | FieldValue::Date(s)
            | FieldValue::DateTime(s)
            | FieldValue::Choice(s)
            | FieldValue::Phone(s) => Some(s),
            _ => None,
        }
    }

    /// The value as text for an input or a read-only line; for typed fields,
    /// `Field::parse_input` reads it back as the same value.
    pub fn input_text(&self) -> String {
        match self {
            FieldValue::Int(n) => n.to_string(),
            FieldValue::Bool(b) => if *b { "yes" } else { "no" }.into(),
            FieldValue::Choices(set) => set.iter().map(String::as_str).collect::<Vec<_>>().join(", "),
            FieldValue::Group(items) => {
                let mut out = String::new();
                for (i, item) in items.iter().enumerate() {
                    let values: Vec<String> = item.values.values().map(FieldValue::input_text).collect();
                    let _ = write!(out, "{}{}", if i > 0 { "; " } else { "" }, values.join(", "));
                }
                out
            }
            FieldValue::Attachment(a) => a.name.clone(),
            v => v.as_str().unwrap_or_default().to_owned(),
        }
    }
}

impl GroupItem {
    /// A new, empty item; `random` comes from the caller because this crate has no
    /// random source.
    pub fn new(random: [u8; 8]) -> GroupItem {
        let mut id = String::with_capacity(16);
        for b in random {
            let _ = write!(id, "{b:02x}");
        }
        GroupItem { id, values: Values::new() }
    }
}

impl AttachmentRef {
    /// A SHA-256 in lower-case hex, a name and a MIME type.
    pub fn is_well_formed(&self) -> bool {
        self.sha256.len() == 64
            && self.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && !self.name.trim().is_empty()
            && self.mime.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
    }
}

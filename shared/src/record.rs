//! The record model: one Automerge document per record.
//!
//! Layout of a record document (every record, whatever its kind):
//!
//! ```text
//! {
//!   meta:   { kind, form_id, form_version, created_by, created_at, updated_at, status },
//!   fields: { <field id>: <value> }
//! }
//! ```
//!
//! Values map to Automerge types so that merges keep both people's work: long text is a text
//! object edited by splices, everything else a scalar (concurrent writes to one scalar are all
//! kept by Automerge and can be surfaced later). Times are milliseconds since the Unix epoch,
//! passed in by the caller because this crate has no clock.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, AutomergeError, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};

use crate::doc_id::DocumentId;
use crate::form::{self, Field, FieldType, RecordKind};

/// A record: its id and its Automerge document.
#[derive(Debug, Clone)]
pub struct Record {
    id: DocumentId,
    doc: AutoCommit,
}

/// Who made a record, with which form, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    pub kind: RecordKind,
    pub form_id: String,
    pub form_version: u32,
    pub created_by: String,
    pub created_at: i64,
}

/// A field's value as the app and validation see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    LongText(String),
    Int(i64),
    Bool(bool),
    /// `YYYY-MM-DD`, stored as a string: a calendar date has no time zone.
    Date(String),
    Choice(String),
}

/// What a list view needs about a record, kept beside the documents so a list never loads
/// every document. It holds no names: the title is the form's title field (a survivor code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSummary {
    pub id: DocumentId,
    pub kind: RecordKind,
    pub form_id: String,
    pub form_version: u32,
    pub status: Status,
    pub title: String,
    pub category: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The document's heads as sorted hex hashes: compared with the server's to know whether
    /// anything needs syncing without loading the document.
    #[serde(default)]
    pub heads: Vec<String>,
    /// The organisation whose session stored this record on this device (`None`: stored while
    /// signed out). A shared device shows and syncs only the signed-in organisation's records.
    #[serde(default)]
    pub org: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the document could not be read: {0}")]
    Automerge(#[from] AutomergeError),
    #[error("the document has no valid `{0}`; it is not a liaison record")]
    BadMeta(&'static str),
    #[error("unknown record kind `{0}`")]
    UnknownKind(String),
    #[error("form {0} version {1} is not known to this version of the app")]
    UnknownForm(String, u32),
}

/// Heads as the sorted hex strings that summaries and the server's feed use.
pub fn sorted_heads(heads: &[ChangeHash]) -> Vec<String> {
    let mut h: Vec<String> = heads.iter().map(ToString::to_string).collect();
    h.sort();
    h
}

impl Record {
    /// Starts a new, empty draft.
    pub fn create(id: DocumentId, meta: &RecordMeta) -> Record {
        let mut doc = AutoCommit::new();
        let m = doc.put_object(ROOT, "meta", ObjType::Map).expect("fresh doc");
        doc.put(&m, "kind", meta.kind.as_str()).expect("fresh doc");
        doc.put(&m, "form_id", meta.form_id.as_str()).expect("fresh doc");
        doc.put(&m, "form_version", meta.form_version as u64).expect("fresh doc");
        doc.put(&m, "created_by", meta.created_by.as_str()).expect("fresh doc");
        doc.put(&m, "created_at", ScalarValue::Timestamp(meta.created_at)).expect("fresh doc");
        doc.put(&m, "updated_at", ScalarValue::Timestamp(meta.created_at)).expect("fresh doc");
        doc.put(&m, "status", "draft").expect("fresh doc");
        doc.put_object(ROOT, "fields", ObjType::Map).expect("fresh doc");
        doc.commit_with(CommitOptions::default().with_time(meta.created_at / 1000));
        Record { id, doc }
    }

    /// Wraps a loaded document, checking that it is a record.
    pub fn from_doc(id: DocumentId, doc: AutoCommit) -> Result<Record, RecordError> {
        Record::try_wrap(id, doc).map_err(|(e, _)| e)
    }

    /// Like [`Record::from_doc`], but hands the document back if it is not a record.
    pub fn try_wrap(id: DocumentId, doc: AutoCommit) -> Result<Record, (RecordError, AutoCommit)> {
        let record = Record { id, doc };
        match record.meta() {
            Ok(_) => Ok(record),
            Err(e) => Err((e, record.doc)),
        }
    }

    /// Loads a document saved whole or in incremental chunks concatenated.
    pub fn load(id: DocumentId, bytes: &[u8]) -> Result<Record, RecordError> {
        Record::from_doc(id, AutoCommit::load(bytes)?)
    }

    pub fn id(&self) -> DocumentId {
        self.id
    }

    pub fn doc(&self) -> &AutoCommit {
        &self.doc
    }

    pub fn doc_mut(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    pub fn into_doc(self) -> AutoCommit {
        self.doc
    }

    pub fn meta(&self) -> Result<RecordMeta, RecordError> {
        let m = self.meta_obj()?;
        let kind = self.str_at(&m, "kind").ok_or(RecordError::BadMeta("kind"))?;
        Ok(RecordMeta {
            kind: RecordKind::parse(&kind).ok_or(RecordError::UnknownKind(kind))?,
            form_id: self.str_at(&m, "form_id").ok_or(RecordError::BadMeta("form_id"))?,
            form_version: self
                .scalar_at(&m, "form_version")
                .and_then(|s| s.as_u64())
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(RecordError::BadMeta("form_version"))?,
            created_by: self.str_at(&m, "created_by").unwrap_or_default(),
            created_at: self.time_at(&m, "created_at").ok_or(RecordError::BadMeta("created_at"))?,
        })
    }

    /// The form this record was made with; old versions stay known so old records still open.
    pub fn form(&self) -> Result<&'static form::Form, RecordError> {
        let meta = self.meta()?;
        form::find(&meta.form_id, meta.form_version)
            .ok_or(RecordError::UnknownForm(meta.form_id, meta.form_version))
    }

    /// Reads a field. A value of the wrong type (from a buggy or future peer) reads as absent
    /// rather than failing the whole record.
    pub fn get(&self, field: &Field) -> Option<FieldValue> {
        let fields = self.fields_obj()?;
        let (value, _) = self.doc.get(&fields, field.id).ok()??;
        match (&field.ty, value) {
            // Automerge's JS API writes strings as text objects by default; read those too.
            (FieldType::LongText | FieldType::Text | FieldType::Date | FieldType::SelectOne(_), Value::Object(ObjType::Text)) => {
                let (_, obj) = self.doc.get(&fields, field.id).ok()??;
                let text = self.doc.text(&obj).ok()?;
                Some(match field.ty {
                    FieldType::LongText => FieldValue::LongText(text),
                    FieldType::Date => FieldValue::Date(text),
                    FieldType::SelectOne(_) => FieldValue::Choice(text),
                    _ => FieldValue::Text(text),
                })
            }
            (ty, Value::Scalar(s)) => match (ty, s.as_ref()) {
                (FieldType::Text, ScalarValue::Str(s)) => Some(FieldValue::Text(s.to_string())),
                (FieldType::LongText, ScalarValue::Str(s)) => Some(FieldValue::LongText(s.to_string())),
                (FieldType::Date, ScalarValue::Str(s)) => Some(FieldValue::Date(s.to_string())),
                (FieldType::SelectOne(_), ScalarValue::Str(s)) => Some(FieldValue::Choice(s.to_string())),
                (FieldType::Integer { .. }, ScalarValue::Int(n)) => Some(FieldValue::Int(*n)),
                (FieldType::Integer { .. }, ScalarValue::Uint(n)) => i64::try_from(*n).ok().map(FieldValue::Int),
                (FieldType::YesNo, ScalarValue::Boolean(b)) => Some(FieldValue::Bool(*b)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Writes a field (or clears it with `None`) and commits the change at time `now`.
    ///
    /// Long text is updated by splices computed from the difference to the current text, so
    /// two people editing different parts of one paragraph both keep their edits.
    pub fn set(&mut self, field: &Field, value: Option<FieldValue>, now: i64) -> Result<(), RecordError> {
        let fields = match self.fields_obj() {
            Some(f) => f,
            None => self.doc.put_object(ROOT, "fields", ObjType::Map)?,
        };
        match value {
            None => self.doc.delete(&fields, field.id)?,
            Some(FieldValue::LongText(text)) => {
                let obj = match self.doc.get(&fields, field.id)? {
                    Some((Value::Object(ObjType::Text), obj)) => obj,
                    _ => self.doc.put_object(&fields, field.id, ObjType::Text)?,
                };
                self.doc.update_text(&obj, text)?;
            }
            Some(FieldValue::Text(s) | FieldValue::Date(s) | FieldValue::Choice(s)) => {
                self.doc.put(&fields, field.id, s)?
            }
            Some(FieldValue::Int(n)) => self.doc.put(&fields, field.id, n)?,
            Some(FieldValue::Bool(b)) => self.doc.put(&fields, field.id, b)?,
        }
        let m = self.meta_obj()?;
        self.doc.put(&m, "updated_at", ScalarValue::Timestamp(now))?;
        self.doc.commit_with(CommitOptions::default().with_time(now / 1000));
        Ok(())
    }

    /// The list-view summary of this record.
    pub fn summary(&mut self) -> Result<RecordSummary, RecordError> {
        let heads = sorted_heads(&self.doc.get_heads());
        let meta = self.meta()?;
        let form = self.form()?;
        let m = self.meta_obj()?;
        let text_of = |id: &str| match form.field(id).and_then(|f| self.get(f)) {
            Some(FieldValue::Text(s) | FieldValue::Choice(s)) => Some(s),
            _ => None,
        };
        Ok(RecordSummary {
            id: self.id,
            kind: meta.kind,
            form_id: meta.form_id,
            form_version: meta.form_version,
            status: Status::Draft,
            title: text_of(form.title_field).unwrap_or_default(),
            category: form.category_field.and_then(text_of),
            created_at: meta.created_at,
            updated_at: self.time_at(&m, "updated_at").unwrap_or(meta.created_at),
            heads,
            org: None,
        })
    }

    /// Everything since the last `save`/`save_incremental`, as one chunk to append to storage.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Folds another replica's changes into this one.
    pub fn merge(&mut self, other: &mut Record) -> Result<(), RecordError> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    fn meta_obj(&self) -> Result<ObjId, RecordError> {
        match self.doc.get(ROOT, "meta")? {
            Some((Value::Object(ObjType::Map), obj)) => Ok(obj),
            _ => Err(RecordError::BadMeta("meta")),
        }
    }

    fn fields_obj(&self) -> Option<ObjId> {
        match self.doc.get(ROOT, "fields").ok()? {
            Some((Value::Object(ObjType::Map), obj)) => Some(obj),
            _ => None,
        }
    }

    fn scalar_at(&self, obj: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.doc.get(obj, key).ok()?? {
            (Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    fn str_at(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.doc.get(obj, key).ok()?? {
            (Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Str(s) => Some(s.to_string()),
                _ => None,
            },
            (Value::Object(ObjType::Text), text) => self.doc.text(&text).ok(),
            _ => None,
        }
    }

    fn time_at(&self, obj: &ObjId, key: &str) -> Option<i64> {
        match self.scalar_at(obj, key)? {
            ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(t),
            _ => None,
        }
    }
}

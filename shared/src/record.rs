//! The record model: one Automerge document per record.
//!
//! Layout of a record document (every record, whatever its kind):
//!
//! ```text
//! {
//!   meta:   { kind, form_id, form_version, created_by, created_at, updated_at, status,
//!             actors: { <actor id hex>: { user, org } } },
//!   fields: { <field id>: <value> }
//! }
//! ```
//!
//! `form_version` is the version the record was made with; it never changes. The app edits a
//! record with the newest version of its form this build knows ([`Layout`]), so old records
//! keep opening, editing and syncing after a form changes. How each type of value is stored,
//! so that merges keep both people's work, is in `codec`. Times are milliseconds since the
//! Unix epoch, passed in by the caller because this crate has no clock.

mod codec;
mod conflict;
mod layout;
mod value;

use std::collections::BTreeMap;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, AutomergeError, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};

use crate::doc_id::DocumentId;
use crate::form::{self, Field, FieldType, Form, Problem, RecordKind};

pub use conflict::Conflict;
pub use layout::{Layout, Retired};
pub use value::{AttachmentRef, Author, FieldValue, GroupItem, Values};

/// A record: its id and its Automerge document.
#[derive(Debug, Clone)]
pub struct Record {
    id: DocumentId,
    doc: AutoCommit,
    /// Who is editing through this view; recorded with the next change (see `set_author`).
    author: Option<Author>,
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

/// What a list view needs about a record, kept beside the documents so a list never loads
/// every document. It holds no names: the title is the form's title field (a survivor code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Where its case stands, for a record whose kind follows a workflow.
    #[serde(default)]
    pub case: Option<Box<crate::case::CaseSummary>>,
    /// The form's figures for this record, by figure id (those it adds nothing to left out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, crate::form::Tally>,
    /// The [`SUMMARY_FORMAT`] this summary was made with: an older one lacks what newer
    /// summaries carry, and the app makes it again from the record.
    #[serde(default)]
    pub format: u32,
}

/// What [`RecordSummary`] carries, numbered: 1 added figures. Bump it when a bundled form's
/// figures change (a test pins them), so devices make their summaries again.
pub const SUMMARY_FORMAT: u32 = 1;

impl RecordSummary {
    /// Whether this summary lacks something a newer one of its form would carry.
    pub fn outdated(&self) -> bool {
        self.format < SUMMARY_FORMAT && form::latest(&self.form_id).is_some_and(|f| !f.figures.is_empty())
    }
}

/// A record is a draft while it is written; "mark complete" checks it. Any later edit makes
/// it a draft again, so "complete" always means "checked as it stands" on this replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Complete,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the document could not be read: {0}")]
    Automerge(#[from] AutomergeError),
    #[error("the document has no valid `{0}`; it is not a liaison record")]
    BadMeta(&'static str),
    #[error("form {0} version {1} is not known to this version of the app")]
    UnknownForm(String, u32),
    #[error("field `{0}` cannot hold a value of that type")]
    WrongType(String),
    #[error("group `{group}` has no item `{item}`")]
    NoSuchItem { group: String, item: String },
    #[error("the record is not complete: {} problem(s)", .0.len())]
    Incomplete(Vec<Problem>),
}

/// Whether a document refers to an attachment with this SHA-256 anywhere (a field, a group
/// item's field): the server takes only attachments some record refers to, so an account cannot
/// use it as a store for arbitrary files. It reads the references' `sha256` keys and nothing
/// else of the record.
pub fn references_attachment(doc: &AutoCommit, sha256: &str) -> bool {
    fn walk(doc: &AutoCommit, obj: &ObjId, sha256: &str, depth: u32) -> bool {
        if depth > 32 {
            return false;
        }
        let found = |key: Option<&str>, value: (Value<'_>, ObjId)| match value {
            (Value::Scalar(s), _) => key == Some("sha256") && matches!(s.as_ref(), ScalarValue::Str(h) if h.as_str() == sha256),
            (Value::Object(_), child) => walk(doc, &child, sha256, depth + 1),
        };
        match doc.object_type(obj) {
            Ok(ObjType::Map | ObjType::Table) => {
                doc.keys(obj).any(|k| doc.get(obj, k.as_str()).ok().flatten().is_some_and(|v| found(Some(&k), v)))
            }
            Ok(ObjType::List) => (0..doc.length(obj)).any(|i| doc.get(obj, i).ok().flatten().is_some_and(|v| found(None, v))),
            _ => false,
        }
    }
    walk(doc, &ROOT, sha256, 0)
}

/// Heads as the sorted hex strings that summaries and the server's feed use.
pub fn sorted_heads(heads: &[ChangeHash]) -> Vec<String> {
    let mut h: Vec<String> = heads.iter().map(ToString::to_string).collect();
    h.sort();
    h
}

impl Record {
    /// Starts a new, empty draft with the form `meta` names (if this build knows it).
    pub fn create(id: DocumentId, meta: &RecordMeta) -> Record {
        Record::create_with_form(id, meta, form::find(&meta.form_id, meta.form_version))
    }

    /// Starts a new draft; `form` (matching `meta`) lets the record make its text, choice
    /// and group containers now, so replicas that start from here edit the same objects.
    pub fn create_with_form(id: DocumentId, meta: &RecordMeta, form: Option<&Form>) -> Record {
        let mut doc = AutoCommit::new();
        let m = doc.put_object(ROOT, "meta", ObjType::Map).expect("fresh doc");
        doc.put(&m, "kind", meta.kind.as_str()).expect("fresh doc");
        doc.put(&m, "form_id", meta.form_id.as_str()).expect("fresh doc");
        doc.put(&m, "form_version", meta.form_version as u64).expect("fresh doc");
        doc.put(&m, "created_by", meta.created_by.as_str()).expect("fresh doc");
        doc.put(&m, "created_at", ScalarValue::Timestamp(meta.created_at)).expect("fresh doc");
        doc.put(&m, "updated_at", ScalarValue::Timestamp(meta.created_at)).expect("fresh doc");
        doc.put(&m, "status", "draft").expect("fresh doc");
        let actors = doc.put_object(&m, "actors", ObjType::Map).expect("fresh doc");
        let actor = doc.get_actor().to_hex_string();
        let me = doc.put_object(&actors, actor, ObjType::Map).expect("fresh doc");
        doc.put(&me, "user", meta.created_by.as_str()).expect("fresh doc");
        let fields = doc.put_object(ROOT, "fields", ObjType::Map).expect("fresh doc");
        if let Some(form) = form {
            codec::create_containers(&mut doc, &fields, form.fields).expect("fresh doc");
        }
        // An agreement's own text lives beside the form's fields (see `agreement`); made with
        // the record, so every replica edits the same text objects.
        if meta.kind.as_str() == crate::agreement::KIND {
            crate::agreement::init(&mut doc, "", &[]).expect("fresh doc");
        }
        // Likewise a case's step log, so replicas append to one map.
        if crate::case::workflow::for_kind(meta.kind.as_str()).is_some() {
            crate::case::log::init(&mut doc).expect("fresh doc");
        }
        doc.commit_with(CommitOptions::default().with_time(meta.created_at / 1000));
        Record { id, doc, author: None }
    }

    /// Wraps a loaded document, checking that it is a record.
    pub fn from_doc(id: DocumentId, doc: AutoCommit) -> Result<Record, RecordError> {
        Record::try_wrap(id, doc).map_err(|(e, _)| e)
    }

    /// Like [`Record::from_doc`], but hands the document back if it is not a record.
    // The error is that large because it carries the document back; boxing it would cost an
    // allocation on a path that runs once per record opened, for nothing.
    #[allow(clippy::result_large_err)]
    pub fn try_wrap(id: DocumentId, doc: AutoCommit) -> Result<Record, (RecordError, AutoCommit)> {
        let record = Record { id, doc, author: None };
        match record.meta() {
            Ok(_) => Ok(record),
            Err(e) => Err((e, record.doc)),
        }
    }

    /// Wraps a document already known to be a record at its current heads (its caller
    /// checked it with [`Record::try_wrap`] and nothing merged into it since).
    pub(crate) fn wrap_checked(id: DocumentId, doc: AutoCommit) -> Record {
        Record { id, doc, author: None }
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
        Ok(RecordMeta {
            kind: RecordKind::new(codec::str_at(&self.doc, &m, "kind").ok_or(RecordError::BadMeta("kind"))?),
            form_id: codec::str_at(&self.doc, &m, "form_id").ok_or(RecordError::BadMeta("form_id"))?,
            form_version: codec::scalar_at(&self.doc, &m, "form_version")
                .and_then(|s| s.as_u64())
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(RecordError::BadMeta("form_version"))?,
            created_by: codec::str_at(&self.doc, &m, "created_by").unwrap_or_default(),
            created_at: self.time_at(&m, "created_at").ok_or(RecordError::BadMeta("created_at"))?,
        })
    }

    pub fn status(&self) -> Status {
        let status = self.meta_obj().ok().and_then(|m| codec::str_at(&self.doc, &m, "status"));
        match status.as_deref() {
            Some("complete") => Status::Complete,
            _ => Status::Draft,
        }
    }

    /// The form version this record was made with; old versions stay known so old records
    /// still open. Edit with [`Record::layout`]'s `current` form.
    pub fn form(&self) -> Result<&'static Form, RecordError> {
        let meta = self.meta()?;
        form::find(&meta.form_id, meta.form_version).ok_or(RecordError::UnknownForm(meta.form_id, meta.form_version))
    }

    /// Reads a field. A value of the wrong type (from a buggy or future peer) reads as absent
    /// rather than failing the whole record; an empty value reads as absent too.
    pub fn get(&self, field: &Field) -> Option<FieldValue> {
        codec::read(&self.doc, &self.fields_obj()?, field)
    }

    /// Every field of `form` that has a value: what skip logic and [`Form::check`] read.
    pub fn values(&self, form: &Form) -> Values {
        match self.fields_obj() {
            Some(fields) => codec::read_all(&self.doc, &fields, form.fields),
            None => Values::new(),
        }
    }

    /// Writes a field (or clears it with `None`) and commits the change at time `now`.
    ///
    /// Edits are as small as the value allows, so concurrent edits merge: long text by
    /// splices, select-many by adding and deleting single choices, a group by inserting,
    /// deleting and updating only the items and sub-fields that differ from what is stored.
    pub fn set(&mut self, field: &Field, value: Option<FieldValue>, now: i64) -> Result<(), RecordError> {
        self.write(field, value, false, now)
    }

    /// Writes one field of one group item.
    pub fn set_item(&mut self, group: &Field, item: &str, field: &Field, value: Option<FieldValue>, now: i64) -> Result<(), RecordError> {
        self.write_item(group, item, field, value, false, now)
    }

    /// Checks the record against `form` (the layout's `current` one) and, if nothing stops
    /// it, marks it complete. Required fields count only where skip logic shows them.
    pub fn mark_complete(&mut self, form: &Form, now: i64) -> Result<(), RecordError> {
        let problems = form.check(&self.values(form));
        if !problems.is_empty() {
            return Err(RecordError::Incomplete(problems));
        }
        let m = self.meta_obj()?;
        self.doc.put(&m, "status", "complete")?;
        self.commit(now, false)
    }

    /// Names the person editing through this view, so conflicting values can say who wrote
    /// them. It is recorded in `meta.actors` with the next change this view makes (nothing
    /// is written just for opening a record).
    pub fn set_author(&mut self, author: Author) {
        self.author = Some(author);
    }

    /// The person behind an Automerge actor (hex), if the record knows.
    pub fn author_of(&self, actor: &str) -> Option<Author> {
        let m = self.meta_obj().ok()?;
        let actors = match self.doc.get(&m, "actors").ok()?? {
            (Value::Object(ObjType::Map), obj) => obj,
            _ => return None,
        };
        let entry = match self.doc.get(&actors, actor).ok()?? {
            (Value::Object(ObjType::Map), obj) => obj,
            _ => return None,
        };
        Some(Author { user: codec::str_at(&self.doc, &entry, "user")?, org: codec::str_at(&self.doc, &entry, "org") })
    }

    /// The list-view summary of this record, with the title and category of the newest
    /// version of its form.
    /// The document's heads as a summary names them (sorted hex).
    pub fn heads(&mut self) -> Vec<String> {
        sorted_heads(&self.doc.get_heads())
    }

    pub fn summary(&mut self) -> Result<RecordSummary, RecordError> {
        let heads = self.heads();
        let meta = self.meta()?;
        let form = form::latest(&meta.form_id).ok_or_else(|| RecordError::UnknownForm(meta.form_id.clone(), meta.form_version))?;
        let m = self.meta_obj()?;
        let text_of = |id: &str| match form.field(id).and_then(|f| self.get(f)) {
            Some(FieldValue::Text(s) | FieldValue::Choice(s) | FieldValue::Date(s)) => Some(s),
            _ => None,
        };
        let case = crate::case::state(&self.doc, meta.kind.as_str()).map(|s| Box::new(crate::case::CaseSummary::of(&s)));
        Ok(RecordSummary {
            id: self.id,
            kind: meta.kind,
            form_id: meta.form_id,
            form_version: meta.form_version,
            status: self.status(),
            // An agreement is named by its own title (the text its parties sign).
            title: crate::agreement::title(&self.doc).filter(|t| !t.is_empty()).or_else(|| text_of(form.title_field)).unwrap_or_default(),
            category: form.category_field.and_then(text_of),
            created_at: meta.created_at,
            updated_at: self.time_at(&m, "updated_at").unwrap_or(meta.created_at),
            heads,
            org: None,
            case,
            // Reading every value is skipped for the forms (most) that declare no figures: this
            // runs at every write.
            figures: if form.figures.is_empty() { BTreeMap::new() } else { form.tally(&self.values(form)) },
            format: SUMMARY_FORMAT,
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

    fn write(&mut self, field: &Field, value: Option<FieldValue>, fresh: bool, now: i64) -> Result<(), RecordError> {
        if value.as_ref().is_some_and(|v| !field.fits(v)) {
            return Err(RecordError::WrongType(field.id.into()));
        }
        let fields = match self.fields_obj() {
            Some(f) => f,
            None => self.doc.put_object(ROOT, "fields", ObjType::Map)?,
        };
        codec::write(&mut self.doc, &fields, field, value, fresh)?;
        self.commit(now, true)
    }

    fn write_item(
        &mut self,
        group: &Field,
        item: &str,
        field: &Field,
        value: Option<FieldValue>,
        fresh: bool,
        now: i64,
    ) -> Result<(), RecordError> {
        if value.as_ref().is_some_and(|v| !field.fits(v)) || matches!(field.ty, FieldType::Group(_)) {
            return Err(RecordError::WrongType(field.id.into()));
        }
        let no_item = || RecordError::NoSuchItem { group: group.id.into(), item: item.into() };
        let fields = self.fields_obj().ok_or_else(no_item)?;
        let item_obj = codec::find_item(&self.doc, &fields, group, item).ok_or_else(no_item)?;
        codec::write(&mut self.doc, &item_obj, field, value, fresh)?;
        self.commit(now, true)
    }

    /// Commits what a caller wrote straight into the document (an agreement's text, say) as a
    /// record change: stamped with `now` and its author, and, for an `edit`, back to draft.
    pub fn commit_change(&mut self, now: i64, edit: bool) -> Result<(), RecordError> {
        self.commit(now, edit)
    }

    /// Stamps and commits a change: `updated_at`, this view's author if the record does not
    /// know it yet, and (for an edit) the status back to draft.
    fn commit(&mut self, now: i64, edit: bool) -> Result<(), RecordError> {
        let m = self.meta_obj()?;
        self.doc.put(&m, "updated_at", ScalarValue::Timestamp(now))?;
        if edit && self.status() == Status::Complete {
            self.doc.put(&m, "status", "draft")?;
        }
        let actor = self.doc.get_actor().to_hex_string();
        if let Some(author) = self.author.clone()
            && self.author_of(&actor).as_ref() != Some(&author)
        {
            let actors = match self.doc.get(&m, "actors")? {
                Some((Value::Object(ObjType::Map), obj)) => obj,
                _ => self.doc.put_object(&m, "actors", ObjType::Map)?,
            };
            let entry = self.doc.put_object(&actors, actor.as_str(), ObjType::Map)?;
            self.doc.put(&entry, "user", author.user)?;
            if let Some(org) = author.org {
                self.doc.put(&entry, "org", org)?;
            }
        }
        self.doc.commit_with(CommitOptions::default().with_time(now / 1000));
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

    fn time_at(&self, obj: &ObjId, key: &str) -> Option<i64> {
        match codec::scalar_at(&self.doc, obj, key)? {
            ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(t),
            _ => None,
        }
    }
}

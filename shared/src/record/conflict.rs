//! Concurrent values of one field. When two people set the same single-value field offline,
//! Automerge keeps both; the document shows one (the same one on every replica) and the
//! others wait here until a person chooses.

use automerge::{ObjId, ReadDoc};

use crate::form::{Field, FieldType};

use super::value::{Author, FieldValue};
use super::{Record, RecordError, codec};

/// One of several values written concurrently to a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// `None`: a value this field cannot show (another type, or empty).
    pub value: Option<FieldValue>,
    /// The Automerge actor (hex) that wrote it.
    pub actor: String,
    /// The person behind that actor, if the record knows (`meta.actors`).
    pub author: Option<Author>,
}

impl Record {
    /// The values written concurrently to a field, or nothing if there is only one (or all
    /// are equal).
    /// Select-many fields and groups never conflict: their concurrent edits are merged.
    pub fn conflicts(&self, field: &Field) -> Vec<Conflict> {
        match self.fields_obj() {
            Some(fields) => self.conflicts_in(&fields, field),
            None => Vec::new(),
        }
    }

    /// Like [`Record::conflicts`], for one field of one group item.
    pub fn item_conflicts(&self, group: &Field, item: &str, field: &Field) -> Vec<Conflict> {
        let item_obj = self.fields_obj().and_then(|f| codec::find_item(&self.doc, &f, group, item));
        match item_obj {
            Some(obj) => self.conflicts_in(&obj, field),
            None => Vec::new(),
        }
    }

    /// Writes the value a person chose among conflicting ones (or any other). The write
    /// supersedes every value it has seen, so once it syncs, it is the value for everyone.
    pub fn resolve(&mut self, field: &Field, value: Option<FieldValue>, now: i64) -> Result<(), RecordError> {
        self.write(field, value, true, now)
    }

    /// Like [`Record::resolve`], for one field of one group item.
    pub fn resolve_item(
        &mut self,
        group: &Field,
        item: &str,
        field: &Field,
        value: Option<FieldValue>,
        now: i64,
    ) -> Result<(), RecordError> {
        self.write_item(group, item, field, value, true, now)
    }

    fn conflicts_in(&self, obj: &ObjId, field: &Field) -> Vec<Conflict> {
        if matches!(field.ty, FieldType::SelectMany(_) | FieldType::Group(_)) {
            return Vec::new();
        }
        let all = self.doc.get_all(obj, field.id).unwrap_or_default();
        if all.len() < 2 {
            return Vec::new();
        }
        let conflicts: Vec<Conflict> = all
            .into_iter()
            .map(|(value, id)| {
                // A value's id is the id of the operation that wrote it, which names its actor.
                let actor = match &id {
                    ObjId::Id(_, actor, _) => actor.to_hex_string(),
                    ObjId::Root => String::new(),
                };
                let value = codec::decode(&self.doc, field, value, id).filter(|v| !v.is_empty());
                let author = self.author_of(&actor);
                Conflict { value, actor, author }
            })
            .collect();
        // Two people who typed the same thing do not disagree.
        if conflicts.iter().all(|c| c.value == conflicts[0].value) {
            return Vec::new();
        }
        conflicts
    }
}

//! How each value lives in the Automerge document, chosen so that merges keep both people's
//! work:
//!
//! | field type                         | stored as                                           |
//! |------------------------------------|-----------------------------------------------------|
//! | long text                          | text object, edited by splices                      |
//! | select many                        | map `{ <choice id>: true }`; removal deletes the key|
//! | repeat group                       | list of maps `{ id, <sub-field id>: value, … }`     |
//! | attachment, signature              | map `{ sha256, name, mime, size }`, written whole   |
//! | integer                            | int scalar                                          |
//! | yes/no                             | boolean scalar                                      |
//! | text, decimal, date, date-time, select one, phone | string scalar                        |
//!
//! Containers (text, maps of choices, lists of items) are made when the record (or item) is
//! made, so both replicas edit the same object. A field added by a later form version has no
//! container yet; if two people create it concurrently Automerge keeps both objects, and the
//! readers below merge select-many maps and item lists across them rather than hiding one.
//! Scalars and attachment maps conflict as wholes: `get` shows Automerge's winner, and
//! `conflicts` shows every concurrent value.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use crate::form::{Field, FieldType};

use super::value::{AttachmentRef, FieldValue, GroupItem, Values};

/// The key holding a group item's id.
pub(super) const ITEM_ID: &str = "id";

/// Reads a field of `obj` (the record's `fields` map or a group item). A value of the wrong
/// type (from a buggy or future peer) reads as absent rather than failing the whole record.
pub(super) fn read(doc: &AutoCommit, obj: &ObjId, field: &Field) -> Option<FieldValue> {
    let value = match &field.ty {
        FieldType::SelectMany(_) => {
            let mut set = BTreeSet::new();
            for map in containers(doc, obj, field.id, ObjType::Map) {
                set.extend(chosen(doc, &map));
            }
            FieldValue::Choices(set)
        }
        FieldType::Group(subs) => {
            let mut items: Vec<GroupItem> = Vec::new();
            for list in containers(doc, obj, field.id, ObjType::List) {
                for (_, item_obj, id) in items_of(doc, &list) {
                    if !items.iter().any(|i| i.id == id) {
                        items.push(GroupItem { id, values: read_all(doc, &item_obj, subs) });
                    }
                }
            }
            FieldValue::Group(items)
        }
        _ => {
            let (value, id) = doc.get(obj, field.id).ok()??;
            decode(doc, field, value, id)?
        }
    };
    (!value.is_empty()).then_some(value)
}

/// Every field of `fields` that has a value.
pub(super) fn read_all(doc: &AutoCommit, obj: &ObjId, fields: &[Field]) -> Values {
    fields.iter().filter_map(|f| Some((f.id.to_owned(), read(doc, obj, f)?))).collect()
}

/// One stored value (of possibly several concurrent ones) as a value of `field`.
pub(super) fn decode(doc: &AutoCommit, field: &Field, value: Value, id: ObjId) -> Option<FieldValue> {
    let value = match value {
        // Automerge's JS API writes strings as text objects by default; read those too.
        Value::Object(ObjType::Text) => {
            let text = doc.text(&id).ok()?;
            string_value(field, text)?
        }
        Value::Object(ObjType::Map) => match &field.ty {
            FieldType::SelectMany(_) => FieldValue::Choices(chosen(doc, &id)),
            FieldType::Attachment { .. } | FieldType::Signature => FieldValue::Attachment(AttachmentRef {
                sha256: str_at(doc, &id, "sha256")?,
                name: str_at(doc, &id, "name")?,
                mime: str_at(doc, &id, "mime")?,
                size: match scalar_at(doc, &id, "size")? {
                    ScalarValue::Uint(n) => n,
                    ScalarValue::Int(n) => u64::try_from(n).ok()?,
                    _ => return None,
                },
            }),
            _ => return None,
        },
        Value::Object(ObjType::List) => match &field.ty {
            FieldType::Group(subs) => FieldValue::Group(
                items_of(doc, &id).into_iter().map(|(_, item_obj, id)| GroupItem { id, values: read_all(doc, &item_obj, subs) }).collect(),
            ),
            _ => return None,
        },
        Value::Object(_) => return None,
        Value::Scalar(s) => match (&field.ty, s.as_ref()) {
            (_, ScalarValue::Str(s)) => string_value(field, s.to_string())?,
            (FieldType::Integer { .. }, ScalarValue::Int(n)) => FieldValue::Int(*n),
            (FieldType::Integer { .. }, ScalarValue::Uint(n)) => FieldValue::Int(i64::try_from(*n).ok()?),
            (FieldType::Integer { .. }, ScalarValue::F64(f)) if f.fract() == 0.0 && f.abs() < 9e15 => FieldValue::Int(*f as i64),
            // JS peers write numbers; keep them readable as decimals.
            (FieldType::Decimal { .. }, ScalarValue::Int(n)) => FieldValue::Decimal(n.to_string()),
            (FieldType::Decimal { .. }, ScalarValue::Uint(n)) => FieldValue::Decimal(n.to_string()),
            (FieldType::Decimal { .. }, ScalarValue::F64(f)) if f.is_finite() => FieldValue::Decimal(f.to_string()),
            (FieldType::YesNo, ScalarValue::Boolean(b)) => FieldValue::Bool(*b),
            _ => return None,
        },
    };
    Some(value)
}

/// Writes (or with `None` clears) a field of `obj`. `fresh` replaces whatever is there with a
/// new value that supersedes every concurrent one (resolving a conflict); otherwise edits are
/// as small as possible so concurrent edits merge: splices into text, single keys of a
/// select-many map, single items and sub-fields of a group.
pub(super) fn write(
    doc: &mut AutoCommit,
    obj: &ObjId,
    field: &Field,
    value: Option<FieldValue>,
    fresh: bool,
) -> Result<(), AutomergeError> {
    let key = field.id;
    match (&field.ty, value) {
        (FieldType::SelectMany(_), value) if !fresh => {
            let desired = match value {
                Some(FieldValue::Choices(set)) => set,
                _ => BTreeSet::new(),
            };
            write_choices(doc, obj, key, desired)
        }
        (FieldType::Group(subs), value) => {
            let desired = match value {
                Some(FieldValue::Group(items)) => items,
                _ => Vec::new(),
            };
            write_group(doc, obj, key, subs, desired)
        }
        (FieldType::LongText, None) if !fresh => match doc.get(obj, key)? {
            // Clearing empties the text rather than deleting it, so an edit made meanwhile
            // elsewhere still lands in the same object.
            Some((Value::Object(ObjType::Text), text)) => doc.update_text(&text, ""),
            Some(_) => doc.delete(obj, key),
            None => Ok(()),
        },
        (_, None) => match doc.get(obj, key)? {
            Some(_) => doc.delete(obj, key),
            None => Ok(()),
        },
        (_, Some(FieldValue::LongText(text))) => {
            let existing = match doc.get(obj, key)? {
                Some((Value::Object(ObjType::Text), text)) if !fresh => Some(text),
                _ => None,
            };
            let target = match existing {
                Some(t) => t,
                None => doc.put_object(obj, key, ObjType::Text)?,
            };
            doc.update_text(&target, text)
        }
        (_, Some(FieldValue::Choices(set))) => {
            let map = doc.put_object(obj, key, ObjType::Map)?;
            set.into_iter().try_for_each(|c| doc.put(&map, c, true))
        }
        (_, Some(FieldValue::Attachment(a))) => {
            let unchanged = !fresh && read(doc, obj, field) == Some(FieldValue::Attachment(a.clone()));
            if unchanged && doc.get_all(obj, key)?.len() == 1 {
                return Ok(());
            }
            // A new map each time: a concurrent write is a conflict between two whole
            // references, never one file's hash with another's name.
            let map = doc.put_object(obj, key, ObjType::Map)?;
            doc.put(&map, "sha256", a.sha256)?;
            doc.put(&map, "name", a.name)?;
            doc.put(&map, "mime", a.mime)?;
            doc.put(&map, "size", ScalarValue::Uint(a.size))
        }
        (_, Some(FieldValue::Int(n))) => doc.put(obj, key, n),
        (_, Some(FieldValue::Bool(b))) => doc.put(obj, key, b),
        (_, Some(v)) => doc.put(obj, key, v.as_str().unwrap_or_default()),
    }
}

/// Makes the containers of `fields` in `obj`, so that replicas which start from this change
/// edit the same objects.
pub(super) fn create_containers(doc: &mut AutoCommit, obj: &ObjId, fields: &[Field]) -> Result<(), AutomergeError> {
    for f in fields {
        let ty = match f.ty {
            FieldType::LongText => ObjType::Text,
            FieldType::SelectMany(_) => ObjType::Map,
            FieldType::Group(_) => ObjType::List,
            _ => continue,
        };
        if doc.get(obj, f.id)?.is_none() {
            doc.put_object(obj, f.id, ty)?;
        }
    }
    Ok(())
}

/// A group item's map, found by item id in any of the group's lists.
pub(super) fn find_item(doc: &AutoCommit, obj: &ObjId, group: &Field, item: &str) -> Option<ObjId> {
    containers(doc, obj, group.id, ObjType::List)
        .iter()
        .flat_map(|list| items_of(doc, list))
        .find(|(_, _, id)| id == item)
        .map(|(_, obj, _)| obj)
}

/// Any stored value as readable text, for values no known field describes.
pub(super) fn raw_text(doc: &AutoCommit, value: &Value, id: &ObjId, depth: u32) -> String {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            other => other.to_string(),
        },
        Value::Object(ObjType::Text) => doc.text(id).unwrap_or_default(),
        _ if depth > 4 => "…".into(),
        Value::Object(ObjType::List) => {
            let parts: Vec<String> = (0..doc.length(id))
                .filter_map(|i| doc.get(id, i).ok().flatten())
                .map(|(value, item)| raw_text(doc, &value, &item, depth + 1))
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(_) => {
            let parts: Vec<String> = doc
                .keys(id)
                .filter_map(|key| {
                    let (value, item) = doc.get(id, key.as_str()).ok()??;
                    Some(format!("{key}: {}", raw_text(doc, &value, &item, depth + 1)))
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

pub(super) fn str_at(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        (Value::Object(ObjType::Text), text) => doc.text(&text).ok(),
        _ => None,
    }
}

pub(super) fn scalar_at(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<ScalarValue> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => Some(s.into_owned()),
        _ => None,
    }
}

fn string_value(field: &Field, s: String) -> Option<FieldValue> {
    Some(match field.ty {
        FieldType::Text => FieldValue::Text(s),
        FieldType::LongText => FieldValue::LongText(s),
        FieldType::Decimal { .. } => FieldValue::Decimal(s),
        FieldType::Date => FieldValue::Date(s),
        FieldType::DateTime => FieldValue::DateTime(s),
        FieldType::SelectOne(_) => FieldValue::Choice(s),
        FieldType::Phone => FieldValue::Phone(s),
        _ => return None,
    })
}

/// Every object of type `ty` at `obj[key]`: Automerge's winner first, then the values that
/// were written concurrently with it.
fn containers(doc: &AutoCommit, obj: &ObjId, key: &str, ty: ObjType) -> Vec<ObjId> {
    let winner = match doc.get(obj, key) {
        Ok(Some((Value::Object(t), id))) if t == ty => Some(id),
        _ => None,
    };
    let mut out: Vec<ObjId> = winner.into_iter().collect();
    for (value, id) in doc.get_all(obj, key).unwrap_or_default() {
        if value == Value::Object(ty) && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The choice ids a select-many map holds (keys set to `true`).
fn chosen(doc: &AutoCommit, map: &ObjId) -> BTreeSet<String> {
    doc.keys(map).filter(|key| scalar_at(doc, map, key) == Some(ScalarValue::Boolean(true))).collect()
}

/// A list's items: index, map and id. An item without an id (written by some other client)
/// is named by its object id, which is stable too.
fn items_of(doc: &AutoCommit, list: &ObjId) -> Vec<(usize, ObjId, String)> {
    (0..doc.length(list))
        .filter_map(|index| match doc.get(list, index).ok()?? {
            (Value::Object(ObjType::Map), item) => {
                let id = str_at(doc, &item, ITEM_ID).unwrap_or_else(|| item.to_string());
                Some((index, item, id))
            }
            _ => None,
        })
        .collect()
}

fn write_choices(doc: &mut AutoCommit, obj: &ObjId, key: &str, desired: BTreeSet<String>) -> Result<(), AutomergeError> {
    let maps = containers(doc, obj, key, ObjType::Map);
    let mut current = BTreeSet::new();
    for m in &maps {
        current.extend(chosen(doc, m));
    }
    let primary = match maps.first() {
        Some(m) => m.clone(),
        None if desired.is_empty() => return Ok(()),
        None => doc.put_object(obj, key, ObjType::Map)?,
    };
    for added in desired.difference(&current) {
        doc.put(&primary, added.as_str(), true)?;
    }
    for removed in current.difference(&desired) {
        for m in &maps {
            if doc.get(m, removed.as_str())?.is_some() {
                doc.delete(m, removed.as_str())?;
            }
        }
    }
    Ok(())
}

/// Makes the stored items match `desired` with the smallest edits: items missing from it are
/// deleted, new ones inserted after their predecessor, and of the others only the sub-fields
/// that changed are written. Sub-fields this form does not know are left alone.
fn write_group(doc: &mut AutoCommit, obj: &ObjId, key: &str, subs: &[Field], desired: Vec<GroupItem>) -> Result<(), AutomergeError> {
    let lists = containers(doc, obj, key, ObjType::List);
    let primary = match lists.first() {
        Some(l) => l.clone(),
        None if desired.is_empty() => return Ok(()),
        None => doc.put_object(obj, key, ObjType::List)?,
    };
    let lists = if lists.is_empty() { vec![primary.clone()] } else { lists };

    let keep: BTreeSet<&str> = desired.iter().map(|i| i.id.as_str()).collect();
    for list in &lists {
        for (index, _, id) in items_of(doc, list).into_iter().rev() {
            if !keep.contains(id.as_str()) {
                doc.delete(list, index)?;
            }
        }
    }

    let mut previous: Option<&str> = None;
    for item in &desired {
        let existing = lists.iter().flat_map(|l| items_of(doc, l)).find(|(_, _, id)| *id == item.id);
        match existing {
            Some((_, item_obj, _)) => {
                for sub in subs {
                    let want = item.values.get(sub.id).cloned().filter(|v| !v.is_empty());
                    if read(doc, &item_obj, sub) != want {
                        write(doc, &item_obj, sub, want, false)?;
                    }
                }
            }
            None => {
                let in_primary = items_of(doc, &primary);
                let index = match previous {
                    None => 0,
                    Some(prev) => match in_primary.iter().find(|(_, _, id)| id == prev) {
                        Some((i, _, _)) => i + 1,
                        None => doc.length(&primary),
                    },
                };
                let item_obj = doc.insert_object(&primary, index, ObjType::Map)?;
                doc.put(&item_obj, ITEM_ID, item.id.as_str())?;
                create_containers(doc, &item_obj, subs)?;
                for sub in subs {
                    if let Some(v) = item.values.get(sub.id).filter(|v| !v.is_empty()) {
                        write(doc, &item_obj, sub, Some(v.clone()), false)?;
                    }
                }
            }
        }
        previous = Some(&item.id);
    }
    Ok(())
}

//! Shared helpers: small forms built from JSON, records and replicas.

use serde_json::{Value, json};
use shared::form::{Field, Form, RecordKind};
use shared::{DocumentId, FieldValue, Record, RecordMeta};

pub const T0: i64 = 1_700_000_000_000;

/// A label in both languages.
pub fn l(zh: &str, en: &str) -> Value {
    json!({ "zh": zh, "en": en })
}

/// A valid form `id` v`version` with a `topic` title field followed by `fields`.
pub fn form_json(id: &str, version: u32, fields: Value) -> Value {
    let mut all = vec![json!({ "id": "topic", "type": "text", "label": l("主题", "Topic") })];
    all.extend(fields.as_array().unwrap().iter().cloned());
    json!({
        "id": id,
        "version": version,
        "kind": id,
        "kind_label": l("测试", "Test"),
        "title": l("测试表单", "Test form"),
        "title_field": "topic",
        "fields": all,
    })
}

pub fn form(id: &str, version: u32, fields: Value) -> Form {
    let file = format!("{id}.v{version}.json");
    Form::from_json(&file, &form_json(id, version, fields).to_string()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn field<'f>(form: &'f Form, path: &str) -> &'f Field {
    match path.split_once('.') {
        Some((group, sub)) => form.field(group).unwrap().sub_fields().iter().find(|f| f.id == sub).unwrap(),
        None => form.field(path).unwrap_or_else(|| panic!("no field {path}")),
    }
}

pub fn meta(form: &Form, by: &str) -> RecordMeta {
    RecordMeta {
        kind: RecordKind::new(form.kind),
        form_id: form.id.into(),
        form_version: form.version,
        created_by: by.into(),
        created_at: T0,
    }
}

pub fn id() -> DocumentId {
    DocumentId::from_random_bytes([7; 16])
}

/// A record made with `form`, and a second replica of it on another device.
pub fn two_replicas(form: &Form) -> (Record, Record) {
    let mut a = Record::create_with_form(id(), &meta(form, "amei"), Some(form));
    let mut b = Record::load(id(), &a.save()).unwrap();
    b.doc_mut().set_actor(automerge::ActorId::random());
    (a, b)
}

/// Both replicas exchange everything.
pub fn sync(a: &mut Record, b: &mut Record) {
    a.merge(b).unwrap();
    b.merge(a).unwrap();
}

pub fn text(s: &str) -> Option<FieldValue> {
    Some(FieldValue::Text(s.into()))
}

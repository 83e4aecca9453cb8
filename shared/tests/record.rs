//! The record model: round trips through storage formats and merges of independent replicas.

use shared::form::{Form, RecordKind};
use shared::{DocumentId, FieldValue, Record, RecordMeta};

/// Version 1 of the intake form, the one these records were first written with.
fn intake_v1() -> &'static Form {
    shared::form::find("intake", 1).unwrap()
}

fn meta(by: &str) -> RecordMeta {
    RecordMeta {
        kind: RecordKind::new("intake"),
        form_id: "intake".into(),
        form_version: 1,
        created_by: by.into(),
        created_at: 1_700_000_000_000,
    }
}

fn field(id: &str) -> &'static shared::form::Field {
    intake_v1().field(id).unwrap()
}

fn set(r: &mut Record, id: &str, v: FieldValue) {
    r.set(field(id), Some(v), 1_700_000_001_000).unwrap();
}

fn id() -> DocumentId {
    DocumentId::from_random_bytes([9; 16])
}

#[test]
fn a_record_round_trips_through_save_and_load() {
    let mut r = Record::create(id(), &meta("device-a"));
    set(&mut r, "survivor_code", FieldValue::Text("XJ-2024-07".into()));
    set(&mut r, "survivor_age", FieldValue::Int(14));
    set(&mut r, "minor", FieldValue::Bool(true));
    set(&mut r, "incident_date", FieldValue::Date("2024-05-01".into()));
    set(&mut r, "incident_type", FieldValue::Choice("domestic_violence".into()));
    set(&mut r, "description", FieldValue::LongText("邻居听到争吵。\nNeighbours heard shouting.".into()));

    let mut loaded = Record::load(id(), &r.save()).unwrap();
    assert_eq!(loaded.meta().unwrap(), meta("device-a"));
    for f in intake_v1().fields {
        assert_eq!(loaded.get(f), r.get(f), "field {}", f.id);
    }
    let summary = loaded.summary().unwrap();
    assert_eq!(summary.title, "XJ-2024-07");
    assert_eq!(summary.category.as_deref(), Some("domestic_violence"));
    assert_eq!(summary.updated_at, 1_700_000_001_000);
}

#[test]
fn incremental_chunks_fold_into_the_same_record() {
    let mut r = Record::create(id(), &meta("device-a"));
    let mut chunks = vec![r.save_incremental()];
    for (i, word) in ["一", "二", "三"].iter().enumerate() {
        set(&mut r, "reporter", FieldValue::Text(format!("{word}{i}")));
        chunks.push(r.save_incremental());
    }
    // Chunks may come back from storage in any order.
    chunks.reverse();
    let mut doc = automerge::AutoCommit::new();
    for c in &chunks {
        doc.load_incremental(c).unwrap();
    }
    let folded = Record::from_doc(id(), doc).unwrap();
    assert_eq!(folded.get(field("reporter")), Some(FieldValue::Text("三2".into())));
}

#[test]
fn clearing_a_field_removes_it() {
    let mut r = Record::create(id(), &meta("a"));
    set(&mut r, "incident_place", FieldValue::Text("村委会".into()));
    r.set(field("incident_place"), None, 1).unwrap();
    assert_eq!(r.get(field("incident_place")), None);
}

#[test]
fn independent_edits_to_different_fields_both_survive_a_merge() {
    let mut a = Record::create(id(), &meta("federation"));
    let mut b = Record::load(id(), &a.save()).unwrap();
    b.doc_mut().set_actor(automerge::ActorId::random());

    set(&mut a, "incident_place", FieldValue::Text("李家村".into()));
    set(&mut b, "survivor_age", FieldValue::Int(15));

    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    for r in [&a, &b] {
        assert_eq!(r.get(field("incident_place")), Some(FieldValue::Text("李家村".into())));
        assert_eq!(r.get(field("survivor_age")), Some(FieldValue::Int(15)));
    }
}

#[test]
fn concurrent_edits_to_one_long_text_keep_both_sentences() {
    let mut a = Record::create(id(), &meta("federation"));
    set(&mut a, "description", FieldValue::LongText("First sentence. Second sentence.".into()));
    let mut b = Record::load(id(), &a.save()).unwrap();
    b.doc_mut().set_actor(automerge::ActorId::random());

    set(&mut a, "description", FieldValue::LongText("First sentence, edited by A. Second sentence.".into()));
    set(&mut b, "description", FieldValue::LongText("First sentence. Second sentence, edited by B.".into()));

    a.merge(&mut b).unwrap();
    assert_eq!(
        a.get(field("description")),
        Some(FieldValue::LongText("First sentence, edited by A. Second sentence, edited by B.".into()))
    );
}

#[test]
fn a_document_that_is_not_a_record_is_refused() {
    let mut doc = automerge::AutoCommit::new();
    let bytes = doc.save();
    assert!(Record::load(id(), &bytes).is_err());
    assert!(Record::load(id(), b"not automerge at all").is_err());
}

/// A record written the way automerge's JS API writes by default (strings as text objects,
/// numbers as integers, dates as timestamps) reads like one of ours.
#[test]
fn a_record_written_with_text_objects_reads_like_ours() {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ScalarValue};
    let mut doc = automerge::AutoCommit::new();
    let meta = doc.put_object(ROOT, "meta", ObjType::Map).unwrap();
    for (k, v) in [("kind", "intake"), ("form_id", "intake"), ("created_by", "js-client"), ("status", "draft")] {
        let t = doc.put_object(&meta, k, ObjType::Text).unwrap();
        doc.splice_text(&t, 0, 0, v).unwrap();
    }
    doc.put(&meta, "form_version", 1i64).unwrap();
    doc.put(&meta, "created_at", ScalarValue::Timestamp(5)).unwrap();
    let fields = doc.put_object(ROOT, "fields", ObjType::Map).unwrap();
    let code = doc.put_object(&fields, "survivor_code", ObjType::Text).unwrap();
    doc.splice_text(&code, 0, 0, "JS-001").unwrap();
    doc.put(&fields, "survivor_age", 9i64).unwrap();

    let mut r = Record::from_doc(id(), doc).unwrap();
    assert_eq!(r.meta().unwrap().form_version, 1);
    assert_eq!(r.get(field("survivor_code")), Some(FieldValue::Text("JS-001".into())));
    assert_eq!(r.get(field("survivor_age")), Some(FieldValue::Int(9)));
    assert_eq!(r.summary().unwrap().title, "JS-001");
}

/// The server accepts an attachment only if a record refers to it; the check finds references
/// inside repeat groups and nothing that merely looks like one.
#[test]
fn a_record_tells_which_attachments_it_refers_to() {
    let form = shared::form::latest("intake").unwrap();
    let mut r = Record::create(id(), &RecordMeta { form_version: form.version, ..meta("device-a") });
    let photo = shared::record::AttachmentRef { sha256: "ab".repeat(32), name: "p.jpg".into(), mime: "image/jpeg".into(), size: 3 };
    let mut item = shared::record::GroupItem::new([1; 8]);
    item.values.insert("file".into(), FieldValue::Attachment(photo));
    r.set(form.field("evidence").unwrap(), Some(FieldValue::Group(vec![item])), 1_700_000_001_000).unwrap();
    // The survivor's code happens to be a hash-like string: not a reference.
    r.set(form.field("survivor_code").unwrap(), Some(FieldValue::Text("cd".repeat(32))), 1_700_000_001_000).unwrap();

    assert!(shared::record::references_attachment(r.doc(), &"ab".repeat(32)));
    assert!(!shared::record::references_attachment(r.doc(), &"cd".repeat(32)), "only `sha256` keys count");
    assert!(!shared::record::references_attachment(r.doc(), &"ef".repeat(32)));
}

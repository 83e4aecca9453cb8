//! Form versions: a record made with version 1 opens, edits and syncs under version 2, and
//! what version 2 no longer asks for stays visible, read-only.

use automerge::ROOT;
use automerge::transaction::Transactable;
use serde_json::json;
use shared::FieldValue;
use shared::form::Form;
use shared::record::Record;

use super::support::{T0, field, form, id, l, meta, sync, text};

/// A test-only pair: v2 drops `phone_note`, adds `hours` and keeps the rest.
fn pair() -> Vec<Form> {
    let v1 = form(
        "visit",
        1,
        json!([
            { "id": "place", "type": "text", "label": l("地点", "Place") },
            { "id": "phone_note", "type": "text", "label": l("电话记录", "Phone note") },
            { "id": "story", "type": "long_text", "label": l("经过", "Story") },
        ]),
    );
    let v2 = form(
        "visit",
        2,
        json!([
            { "id": "place", "type": "text", "label": l("地点", "Place"), "required": true },
            { "id": "story", "type": "long_text", "label": l("经过", "Story") },
            { "id": "hours", "type": "decimal", "label": l("时长", "Hours") },
        ]),
    );
    shared::form::definition::check_compatible(&v1, &v2).unwrap();
    vec![v1, v2]
}

#[test]
fn a_version_1_record_opens_and_edits_under_version_2() {
    let versions = pair();
    let (v1, v2) = (&versions[0], &versions[1]);
    let mut old = Record::create_with_form(id(), &meta(v1, "amei"), Some(v1));
    old.set(field(v1, "place"), text("李家村"), T0).unwrap();
    old.set(field(v1, "phone_note"), text("周二回电"), T0).unwrap();
    old.set(field(v1, "story"), Some(FieldValue::LongText("第一次来访。".into())), T0).unwrap();
    // A value no version knows, as a newer app would write it.
    let fields = match automerge::ReadDoc::get(old.doc(), ROOT, "fields").unwrap() {
        Some((_, obj)) => obj,
        None => unreachable!(),
    };
    old.doc_mut().put(&fields, "future_field", "来自新版本").unwrap();
    old.doc_mut().commit();

    // Another device, whose build knows both versions, opens it.
    let mut r = Record::load(id(), &old.save()).unwrap();
    r.doc_mut().set_actor(automerge::ActorId::random());
    let layout = r.layout_in(&versions).unwrap();
    assert_eq!(layout.current.version, 2);
    assert_eq!(layout.made_with.map(|f| f.version), Some(1));
    assert_eq!(layout.added.iter().map(|f| f.id).collect::<Vec<_>>(), ["hours"]);
    assert_eq!(layout.retired.len(), 1);
    assert_eq!((layout.retired[0].field.id, layout.retired[0].version), ("phone_note", 1));
    assert_eq!(layout.retired[0].value, FieldValue::Text("周二回电".into()));
    assert_eq!(layout.unknown, [("future_field".to_owned(), "来自新版本".to_owned())]);

    // Edited with version 2's fields; the record still says which version made it.
    r.set(field(v2, "hours"), Some(FieldValue::Decimal("1.5".into())), T0 + 1).unwrap();
    r.set(field(v2, "story"), Some(FieldValue::LongText("第一次来访。第二次回访。".into())), T0 + 1).unwrap();
    assert_eq!(r.meta().unwrap().form_version, 1);
    r.mark_complete(v2, T0 + 2).unwrap();

    // It syncs with the old device, whose edits under version 1 still merge.
    old.set(field(v1, "story"), Some(FieldValue::LongText("第一次来访（已核实）。".into())), T0 + 1).unwrap();
    sync(&mut r, &mut old);
    assert_eq!(r.get(field(v2, "story")), Some(FieldValue::LongText("第一次来访（已核实）。第二次回访。".into())));
    assert_eq!(old.get(field(v2, "hours")), Some(FieldValue::Decimal("1.5".into())));
    let reloaded = Record::load(id(), &r.save()).unwrap();
    assert_eq!(reloaded.layout_in(&versions).unwrap().retired.len(), 1);
}

#[test]
fn a_record_from_a_newer_version_opens_with_the_newest_known() {
    let versions = pair();
    let v2 = &versions[1];
    let mut newer = meta(v2, "amei");
    newer.form_version = 3;
    let r = Record::create_with_form(id(), &newer, None);
    let layout = r.layout_in(&versions).unwrap();
    assert_eq!(layout.current.version, 2);
    assert!(layout.made_with.is_none());
}

/// The bundled intake form: records made with version 1 (the first app) open under the
/// newest (3: a result's documents), keep their values and get a summary.
#[test]
fn a_bundled_intake_v1_record_opens_under_the_newest() {
    let v1 = shared::form::find("intake", 1).unwrap();
    let mut r = Record::create(id(), &meta(v1, "amei"));
    r.set(field(v1, "survivor_code"), text("ZX-2026-031"), T0).unwrap();
    r.set(field(v1, "consent"), Some(FieldValue::Choice("not_required".into())), T0).unwrap();
    r.set(field(v1, "incident_type"), Some(FieldValue::Choice("sexual_assault".into())), T0).unwrap();
    let layout = r.layout().unwrap();
    assert_eq!(layout.current.version, 3);
    assert!(layout.retired.is_empty() && layout.unknown.is_empty());
    let v3 = layout.current;
    assert_eq!(r.get(field(v3, "survivor_code")), text("ZX-2026-031"));
    assert!(layout.added.iter().any(|f| f.id == "guardian_contact"));
    assert!(layout.added.iter().any(|f| f.id == "result_files"));
    let summary = r.summary().unwrap();
    assert_eq!((summary.title.as_str(), summary.category.as_deref()), ("ZX-2026-031", Some("sexual_assault")));
    assert_eq!((summary.form_id.as_str(), summary.form_version), ("intake", 1));
}

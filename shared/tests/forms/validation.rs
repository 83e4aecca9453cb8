//! Skip logic and "mark complete": required fields count only where shown, constraints and
//! stored values are checked then, and never on a keystroke.

use serde_json::json;
use shared::form::{Form, InputError, ItemAt, Problem, ProblemKind};
use shared::record::{GroupItem, Status, Values};
use shared::{FieldValue, Record, RecordError};

use super::support::{T0, field, form, id, l, meta};

fn intake() -> &'static Form {
    shared::form::latest("intake").unwrap()
}

fn values(pairs: &[(&str, FieldValue)]) -> Values {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn shown(form: &Form, id: &str, v: &Values) -> bool {
    form.is_shown(form.field(id).unwrap(), v)
}

fn missing(field: &'static str) -> Problem {
    Problem { field, item: None, kind: ProblemKind::Missing }
}

#[test]
fn guardian_contact_is_asked_only_for_a_minor() {
    let form = intake();
    let table: &[(&[(&str, FieldValue)], bool)] =
        &[(&[], false), (&[("minor", FieldValue::Bool(true))], true), (&[("minor", FieldValue::Bool(false))], false)];
    for (given, expect) in table {
        assert_eq!(shown(form, "guardian_contact", &values(given)), *expect, "{given:?}");
    }
}

#[test]
fn skip_logic_table() {
    let form = intake();
    let yes = FieldValue::Bool(true);
    let no = FieldValue::Bool(false);
    let choice = |c: &str| FieldValue::Choice(c.into());
    // (field, given values, shown?)
    let table: Vec<(&str, Values, bool)> = vec![
        ("consent", values(&[]), true),
        ("consent", values(&[("minor", yes.clone())]), false),
        ("consent", values(&[("minor", no.clone())]), true),
        ("legal_basis", values(&[("minor", yes.clone())]), true),
        ("legal_basis", values(&[("minor", no.clone())]), false),
        ("legal_basis_note", values(&[("minor", yes.clone()), ("legal_basis", choice("other_law"))]), true),
        // Hidden fields read as unset: the basis is hidden for an adult, so is its note.
        ("legal_basis_note", values(&[("minor", no.clone()), ("legal_basis", choice("other_law"))]), false),
        ("survivor_contact", values(&[("contact_safe", yes.clone())]), true),
        ("survivor_contact", values(&[("contact_safe", no.clone())]), false),
        ("risk_measures", values(&[("immediate_risk", yes.clone())]), true),
    ];
    for (id, given, expect) in table {
        assert_eq!(shown(form, id, &given), expect, "{id} with {given:?}");
    }
}

#[test]
fn comparisons() {
    let form = form(
        "t",
        1,
        json!([
            { "id": "age", "type": "integer", "label": l("年龄", "Age") },
            { "id": "hours", "type": "decimal", "label": l("时长", "Hours") },
            { "id": "day", "type": "date", "label": l("日期", "Date") },
            { "id": "orgs", "type": "select_many", "label": l("单位", "Organisations"), "choices": [
                { "id": "court", "label": l("法院", "Court") }, { "id": "police", "label": l("公安", "Police") }] },
            { "id": "child", "type": "text", "label": l("儿童", "Child"), "show_if": { "field": "age", "less_than": 18 } },
            { "id": "long", "type": "text", "label": l("长", "Long"), "show_if": { "field": "hours", "greater_than": 2.5 } },
            { "id": "recent", "type": "text", "label": l("近期", "Recent"), "show_if": { "field": "day", "greater_than": "2024-01-31" } },
            { "id": "judges", "type": "text", "label": l("法官", "Judges"), "show_if": { "field": "orgs", "includes": "court" } },
            { "id": "nobody", "type": "text", "label": l("无", "None"), "show_if": { "field": "orgs", "is_set": false } },
        ]),
    );
    let orgs = |ids: &[&str]| FieldValue::Choices(ids.iter().map(|s| (*s).to_owned()).collect());
    let table: Vec<(&str, Values, bool)> = vec![
        ("child", values(&[]), false),
        ("child", values(&[("age", FieldValue::Int(17))]), true),
        ("child", values(&[("age", FieldValue::Int(18))]), false),
        ("long", values(&[("hours", FieldValue::Decimal("2.5".into()))]), false),
        ("long", values(&[("hours", FieldValue::Decimal("3".into()))]), true),
        ("recent", values(&[("day", FieldValue::Date("2024-02-01".into()))]), true),
        ("recent", values(&[("day", FieldValue::Date("2024-01-31".into()))]), false),
        ("judges", values(&[("orgs", orgs(&["police", "court"]))]), true),
        ("judges", values(&[("orgs", orgs(&["police"]))]), false),
        ("nobody", values(&[]), true),
        ("nobody", values(&[("orgs", orgs(&[]))]), true),
        ("nobody", values(&[("orgs", orgs(&["police"]))]), false),
    ];
    for (id, given, expect) in table {
        assert_eq!(shown(&form, id, &given), expect, "{id} with {given:?}");
    }
}

#[test]
fn only_shown_required_fields_are_missing() {
    let form = intake();
    let mut v = values(&[
        ("channel", FieldValue::Choice("call".into())),
        ("reported_at", FieldValue::DateTime("2026-03-02T09:15".into())),
        ("survivor_code", FieldValue::Text("ZX-031".into())),
        ("minor", FieldValue::Bool(false)),
        ("contact_safe", FieldValue::Bool(false)),
        ("incident_type", FieldValue::Choice("domestic_violence".into())),
        ("description", FieldValue::LongText("邻居反映夜间多次听到哭喊声。".into())),
        ("immediate_risk", FieldValue::Bool(true)),
    ]);
    // An adult: consent is asked, the legal basis is not; the risk is real, so are measures.
    assert_eq!(form.check(&v), vec![missing("risk_measures"), missing("consent")]);
    v.insert("consent".into(), FieldValue::Choice("given".into()));
    v.insert("risk_measures".into(), FieldValue::LongText("已联系派出所。".into()));
    assert_eq!(form.check(&v), vec![]);
    // A minor: no consent needed, but the legal basis is.
    v.insert("minor".into(), FieldValue::Bool(true));
    assert_eq!(form.check(&v), vec![missing("legal_basis")]);
}

#[test]
fn constraints_and_stored_values_are_checked_at_completion() {
    let form = intake();
    let mut v = values(&[("survivor_age", FieldValue::Int(34)), ("minor", FieldValue::Bool(true))]);
    let problems = form.check(&v);
    let on_minor: Vec<_> = problems.iter().filter(|p| p.field == "minor").collect();
    assert_eq!(on_minor.len(), 1);
    assert_eq!(on_minor[0].message().1, "Does not match the survivor's age");
    v.insert("survivor_age".into(), FieldValue::Int(15));
    assert!(form.check(&v).iter().all(|p| p.field != "minor"));
    // A value an older version allowed (or a buggy peer wrote) is reported, not trusted.
    v.insert("minor".into(), FieldValue::Bool(false));
    v.insert("survivor_age".into(), FieldValue::Int(40));
    v.insert("consent".into(), FieldValue::Choice("not_required".into()));
    let consent: Vec<_> = form.check(&v).into_iter().filter(|p| p.field == "consent").collect();
    assert_eq!(consent[0].kind, ProblemKind::Invalid(InputError::UnknownChoice));
}

#[test]
fn group_items_are_checked_field_by_field() {
    let training = shared::form::latest("training").unwrap();
    let mut attendee = GroupItem::new([1; 8]);
    attendee.values.insert("organisation".into(), FieldValue::Text("城关镇妇联".into()));
    let v = values(&[
        ("topic", FieldValue::Text("反家庭暴力法".into())),
        ("training_date", FieldValue::Date("2026-04-10".into())),
        ("trainer", FieldValue::Text("县检察院".into())),
        ("hours", FieldValue::Decimal("2.5".into())),
        ("attendees", FieldValue::Group(vec![attendee.clone()])),
    ]);
    assert_eq!(
        training.check(&v),
        vec![Problem { field: "attendees", item: Some(ItemAt { id: attendee.id.clone(), field: "name" }), kind: ProblemKind::Missing }]
    );
    // A required group needs at least one item.
    let mut none = v.clone();
    none.insert("attendees".into(), FieldValue::Group(vec![]));
    assert_eq!(training.check(&none), vec![missing("attendees")]);
}

#[test]
fn marking_complete_checks_then_and_an_edit_reopens() {
    let form = shared::form::latest("roster").unwrap();
    let mut r = Record::create(id(), &meta(form, "amei"));
    // A draft accepts anything typed, required or not.
    r.set(field(form, "organisation"), Some(FieldValue::Text("县妇联".into())), T0 + 1).unwrap();
    match r.mark_complete(form, T0 + 2) {
        Err(RecordError::Incomplete(problems)) => {
            let ids: Vec<_> = problems.iter().map(|p| p.field).collect();
            assert_eq!(ids, ["org_type", "contact_name", "phone", "active"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.status(), Status::Draft);
    for (f, v) in [
        ("org_type", FieldValue::Choice("federation".into())),
        ("contact_name", FieldValue::Text("王芳".into())),
        ("phone", FieldValue::Phone("13800138000".into())),
        ("active", FieldValue::Bool(true)),
    ] {
        r.set(field(form, f), Some(v), T0 + 3).unwrap();
    }
    r.mark_complete(form, T0 + 4).unwrap();
    assert_eq!(r.status(), Status::Complete);
    assert_eq!(r.summary().unwrap().status, Status::Complete);
    // The deputy's phone is required only once a deputy is named.
    r.set(field(form, "deputy_name"), Some(FieldValue::Text("李娟".into())), T0 + 5).unwrap();
    assert_eq!(r.status(), Status::Draft);
    assert!(matches!(r.mark_complete(form, T0 + 6), Err(RecordError::Incomplete(p)) if p == vec![missing("deputy_phone")]));
}

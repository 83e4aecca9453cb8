//! Figures: what each bundled form adds up for the dashboard, worked out into a record's
//! summary — skip logic applied, and names never among them.

use std::collections::BTreeMap;

use shared::form::{Form, Tally};
use shared::record::{GroupItem, Values};
use shared::{FieldValue, Record};

use serde_json::json;

use super::support::{T0, field, form_json, id, l, meta};

fn bundled(id: &str) -> &'static Form {
    shared::form::latest(id).unwrap()
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.into())
}

fn item(n: u8, values: &[(&str, FieldValue)]) -> GroupItem {
    GroupItem { id: format!("item-{n}"), values: values.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<Values>() }
}

fn figures(form: &'static Form, values: &[(&str, FieldValue)]) -> BTreeMap<String, Tally> {
    let mut r = Record::create_with_form(id(), &meta(form, "amei"), Some(form));
    for (path, v) in values {
        r.set(field(form, path), Some(v.clone()), T0 + 1000).unwrap();
    }
    r.summary().unwrap().figures
}

fn n(t: &BTreeMap<String, Tally>, id: &str) -> f64 {
    t.get(id).map_or(0.0, |t| t.n)
}

#[test]
fn a_mediation_counts_as_resolved_by_its_outcome() {
    let form = bundled("mediation");
    for (outcome, resolved, partly, referred) in
        [("agreement", 1.0, 0.0, 0.0), ("partial", 0.0, 1.0, 0.0), ("no_agreement", 0.0, 0.0, 0.0), ("referred", 0.0, 0.0, 1.0)]
    {
        let t = figures(form, &[("case_code", text("TJ-1")), ("outcome", FieldValue::Choice(outcome.into()))]);
        assert_eq!((n(&t, "resolved"), n(&t, "partly_resolved"), n(&t, "referred")), (resolved, partly, referred), "{outcome}");
    }
    // No outcome yet: received, nothing resolved, and nothing else kept in the summary.
    let t = figures(form, &[("case_code", text("TJ-2"))]);
    assert_eq!(t.keys().collect::<Vec<_>>(), ["received"]);
    assert_eq!(n(&t, "received"), 1.0);
}

#[test]
fn parties_are_counted_without_their_names() {
    let form = bundled("mediation");
    let parties = FieldValue::Group(vec![
        item(1, &[("name", text("王秀英")), ("role", FieldValue::Choice("applicant".into()))]),
        item(2, &[("name", text("李强")), ("role", FieldValue::Choice("respondent".into()))]),
    ]);
    let t = figures(form, &[("parties", parties)]);
    assert_eq!(t["parties"], Tally { n: 2.0, by: BTreeMap::new() });
    let json = serde_json::to_string(&t).unwrap();
    assert!(!json.contains("王秀英") && !json.contains("李强"), "{json}");
}

#[test]
fn training_adds_hours_and_attendees_by_organisation() {
    let form = bundled("training");
    let attendees = FieldValue::Group(vec![
        item(1, &[("name", text("甲")), ("organisation", text("县妇联"))]),
        item(2, &[("name", text("乙")), ("organisation", text(" 县妇联 "))]),
        item(3, &[("name", text("丙")), ("organisation", text("县检察院"))]),
        item(4, &[("name", text("丁"))]),
    ]);
    let t = figures(form, &[("topic", text("反家暴法")), ("hours", FieldValue::Decimal("2.5".into())), ("attendees", attendees)]);
    assert_eq!(n(&t, "hours"), 2.5);
    let by: BTreeMap<String, f64> = [("县妇联", 2.0), ("县检察院", 1.0), ("", 1.0)].map(|(k, v)| (k.to_owned(), v)).into();
    assert_eq!(t["attendees"], Tally { n: 4.0, by });
    assert_eq!(n(&t, "sessions"), 1.0);
    // Nothing entered: a session held, and nothing else.
    assert_eq!(figures(form, &[("topic", text("空"))]).keys().collect::<Vec<_>>(), ["sessions"]);
    // Hours a buggy peer stored as no number count as unset, not as NaN in every sum.
    for odd in ["NaN", "inf", "一小时"] {
        let values = Values::from([("hours".to_owned(), FieldValue::Decimal(odd.into()))]);
        assert_eq!(form.tally(&values).keys().collect::<Vec<_>>(), ["sessions"], "{odd}");
    }
}

#[test]
fn a_hidden_field_adds_nothing() {
    // What skip logic hides is kept in the record but counted as unset, as when it is checked.
    let mut def = form_json(
        "t",
        1,
        json!([
            { "id": "held", "type": "yes_no", "label": l("已举办", "Held") },
            { "id": "hours", "type": "decimal", "label": l("时长", "Hours"), "show_if": { "field": "held", "equals": true } },
            { "id": "people", "type": "group", "label": l("人员", "People"), "fields": [
                { "id": "internal", "type": "yes_no", "label": l("内部", "Internal") },
                { "id": "unit", "type": "text", "label": l("单位", "Unit"), "show_if": { "field": "internal", "equals": false } }
            ] }
        ]),
    );
    def["figures"] = json!([
        { "id": "hours", "label": l("时长", "Hours"), "sum": "hours" },
        { "id": "held", "label": l("举办", "Held"), "count_if": { "field": "held", "equals": true } },
        { "id": "people", "label": l("人员", "People"), "items": "people", "by": "unit" }
    ]);
    let form = Form::from_json("t.v1.json", &def.to_string()).unwrap();
    let people = FieldValue::Group(vec![
        item(1, &[("internal", FieldValue::Bool(true)), ("unit", text("外单位"))]),
        item(2, &[("internal", FieldValue::Bool(false)), ("unit", text("外单位"))]),
    ]);
    let values = |held: bool| {
        Values::from([
            ("held".to_owned(), FieldValue::Bool(held)),
            ("hours".to_owned(), FieldValue::Decimal("3".into())),
            ("people".to_owned(), people.clone()),
        ])
    };
    let shown = form.tally(&values(true));
    assert_eq!((n(&shown, "hours"), n(&shown, "held")), (3.0, 1.0));
    let hidden = form.tally(&values(false));
    assert_eq!((n(&hidden, "hours"), n(&hidden, "held")), (0.0, 0.0));
    assert!(!hidden.contains_key("hours"), "a figure a record adds nothing to is left out");
    let by: BTreeMap<String, f64> = [("", 1.0), ("外单位", 1.0)].map(|(k, v)| (k.to_owned(), v)).into();
    assert_eq!(hidden["people"], Tally { n: 2.0, by });
}

/// Devices keep the figures in summaries and make again only those of an older
/// `SUMMARY_FORMAT`: a change to a bundled form's figures must come with a new format, or
/// devices go on counting without it. (This pins the figures' ids and rules by kind; it does
/// not read a `count_if` condition's insides.)
#[test]
fn a_change_to_the_figures_comes_with_a_new_summary_format() {
    use shared::form::FigureRule;
    let figures: Vec<String> = shared::form::forms()
        .iter()
        .flat_map(|f| {
            f.figures.iter().map(move |g| {
                let rule = match g.rule {
                    FigureRule::Records => "records".to_owned(),
                    FigureRule::CountIf(_) => "count_if".to_owned(),
                    FigureRule::Sum(field) => format!("sum {field}"),
                    FigureRule::Items { group, by } => format!("items {group} by {by:?}"),
                };
                format!("{} v{} {}: {rule}", f.id, f.version, g.id)
            })
        })
        .collect();
    let expected = [
        "mediation v1 received: records",
        "mediation v1 resolved: count_if",
        "mediation v1 partly_resolved: count_if",
        "mediation v1 referred: count_if",
        "mediation v1 parties: items parties by None",
        "training v1 sessions: records",
        "training v1 hours: sum hours",
        "training v1 attendees: items attendees by Some(\"organisation\")",
    ];
    assert_eq!((shared::record::SUMMARY_FORMAT, figures), (1, expected.map(String::from).to_vec()), "bump SUMMARY_FORMAT with the figures");
}

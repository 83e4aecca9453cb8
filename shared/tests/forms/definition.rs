//! Each bad definition gives the error it promises: which form, which field, what is wrong.

use serde_json::{Value, json};
use shared::form::Form;
use shared::form::definition::{self, check_compatible};

use super::support::{form, form_json, l};

/// `expect` is the message after the file name (every error starts with it), or the
/// message's beginning when it ends with `…` (serde's own messages go on to list every key it
/// expected).
fn check(definition: Value, expect: &str) {
    check_source(&definition.to_string(), expect);
}

fn check_source(source: &str, expect: &str) {
    let err = match Form::from_json("training.v1.json", source) {
        Ok(_) => panic!("accepted, expected: {expect}"),
        Err(e) => e.to_string(),
    };
    let err = err.strip_prefix("training.v1.json: ").unwrap_or_else(|| panic!("does not name the file: {err}"));
    match expect.strip_suffix('…') {
        Some(prefix) => assert!(err.starts_with(prefix), "\n got: {err}\nwant: {expect}"),
        None => assert_eq!(err, expect),
    }
}

/// A training form whose fields after `topic` are `fields`.
fn training(fields: Value) -> Value {
    form_json("training", 1, fields)
}

fn hours(extra: Value) -> Value {
    let mut f = json!({ "id": "hours", "type": "decimal", "label": l("时长", "Hours") });
    f.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    f
}

fn minor() -> Value {
    json!({ "id": "minor", "type": "yes_no", "label": l("是否未成年人", "Is a minor") })
}

fn role() -> Value {
    json!({ "id": "role", "type": "select_one", "label": l("身份", "Role"),
            "choices": [{ "id": "cadre", "label": l("干部", "Cadre") }] })
}

#[test]
fn ranges_and_type_parameters() {
    check(training(json!([hours(json!({ "min": 10, "max": 2 }))])), r#"form "training" v1, field "hours": min 10 is greater than max 2"#);
    check(
        training(json!([{ "id": "n", "type": "integer", "label": l("人数", "Count"), "min": 1.5 }])),
        r#"form "training" v1, field "n": min 1.5 is not a whole number"#,
    );
    check(
        training(json!([{ "id": "place", "type": "text", "label": l("地点", "Place"), "choices": [] }])),
        r#"form "training" v1, field "place": `choices` does not apply to a text field"#,
    );
    check(
        training(json!([{ "id": "place", "type": "text", "label": l("地点", "Place"), "max": 3 }])),
        r#"form "training" v1, field "place": `max` does not apply to a text field"#,
    );
    check(training(json!([hours(json!({ "places": 9 }))])), r#"form "training" v1, field "hours": places 9 is more than 6"#);
    check(
        training(json!([{ "id": "file", "type": "attachment", "label": l("文件", "File"), "accept": ["pdf"] }])),
        r#"form "training" v1, field "file": accept "pdf" is not a MIME type such as image/* or application/pdf"#,
    );
}

#[test]
fn ids_and_duplicates() {
    check(
        training(json!([{ "id": "topic", "type": "date", "label": l("日期", "Date") }])),
        r#"form "training" v1, field "topic": duplicate field id "topic""#,
    );
    check(
        training(json!([{ "id": "Hours", "type": "decimal", "label": l("时长", "Hours") }])),
        r#"form "training" v1, field "Hours": id "Hours" must start with a lower-case letter and use only a-z, 0-9 and _"#,
    );
    check(
        training(json!([{ "id": "role", "type": "select_one", "label": l("身份", "Role"), "choices": [
            { "id": "cadre", "label": l("干部", "Cadre") }, { "id": "cadre", "label": l("干部", "Cadre") }] }])),
        r#"form "training" v1, field "role": duplicate choice id "cadre""#,
    );
    let mut bad_version = training(json!([]));
    bad_version["version"] = json!(0);
    check(bad_version, r#"form "training" v0: version must be 1 or more"#);
}

#[test]
fn selects_need_choices() {
    check(
        training(json!([{ "id": "role", "type": "select_one", "label": l("身份", "Role") }])),
        r#"form "training" v1, field "role": a select_one field needs at least one choice"#,
    );
    check(
        training(json!([{ "id": "orgs", "type": "select_many", "label": l("单位", "Organisations"), "choices": [] }])),
        r#"form "training" v1, field "orgs": a select_many field needs at least one choice"#,
    );
}

#[test]
fn labels_in_both_languages() {
    check(
        training(json!([hours(json!({ "label": { "en": "Hours" } }))])),
        r#"form "training" v1, field "hours": label has no Chinese text"#,
    );
    check(
        training(json!([hours(json!({ "label": { "zh": "时长", "en": "  " } }))])),
        r#"form "training" v1, field "hours": label has no English text"#,
    );
    check(training(json!([hours(json!({ "hint": { "zh": "小时" } }))])), r#"form "training" v1, field "hours": hint has no English text"#);
    check(
        training(json!([{ "id": "role", "type": "select_one", "label": l("身份", "Role"),
            "choices": [{ "id": "cadre", "label": { "zh": "干部" } }] }])),
        r#"form "training" v1, field "role": choice "cadre" label has no English text"#,
    );
    check(
        training(json!([hours(
            json!({ "constraints": [{ "check": { "field": "hours", "less_than": 9 }, "message": { "zh": "太长" } }] })
        )])),
        r#"form "training" v1, field "hours": constraint 1 message has no English text"#,
    );
    let mut no_title = training(json!([]));
    no_title["title"] = json!({ "en": "Training" });
    check(no_title, r#"form "training" v1: title has no Chinese text"#);
}

#[test]
fn conditions_name_real_fields_and_fit_them() {
    let shown_if = |cond: Value| training(json!([minor(), role(), hours(json!({ "show_if": cond }))]));
    check(
        shown_if(json!({ "field": "age", "less_than": 18 })),
        r#"form "training" v1, field "hours": show_if refers to unknown field "age""#,
    );
    check(
        shown_if(json!({ "all": [{ "field": "minor", "equals": true }, { "field": "guardian", "is_set": true }] })),
        r#"form "training" v1, field "hours": show_if refers to unknown field "guardian""#,
    );
    check(
        shown_if(json!({ "field": "minor", "equals": "yes" })),
        r#"form "training" v1, field "hours": show_if: equals "yes" does not fit the yes_no field "minor""#,
    );
    check(
        shown_if(json!({ "field": "role", "equals": "boss" })),
        r#"form "training" v1, field "hours": show_if: field "role" has no choice "boss""#,
    );
    check(
        shown_if(json!({ "field": "role", "includes": "cadre" })),
        r#"form "training" v1, field "hours": show_if: includes "cadre" does not fit the select_one field "role""#,
    );
    check(
        shown_if(json!({ "field": "minor", "equals": true, "is_set": true })),
        r#"form "training" v1, field "hours": show_if: give exactly one of equals, not_equals, less_than, greater_than, is_set, includes, all, any, not"#,
    );
    check(
        shown_if(json!({ "field": "minor" })),
        r#"form "training" v1, field "hours": show_if: give exactly one of equals, not_equals, less_than, greater_than, is_set, includes, all, any, not"#,
    );
    check(shown_if(json!({ "all": [] })), r#"form "training" v1, field "hours": show_if: "all" needs at least one condition"#);
    check(shown_if(json!({ "is_set": true })), r#"form "training" v1, field "hours": show_if: "is_set" needs "field""#);
    check(
        training(json!([hours(
            json!({ "constraints": [{ "check": { "field": "days", "less_than": 2 }, "message": l("太长", "Too long") }] })
        )])),
        r#"form "training" v1, field "hours": constraint 1 refers to unknown field "days""#,
    );
    // A top-level field cannot look inside a group's items.
    check(
        training(json!([
            { "id": "attendees", "type": "group", "label": l("人员", "Attendees"), "fields": [role()] },
            hours(json!({ "show_if": { "field": "role", "is_set": true } })),
        ])),
        r#"form "training" v1, field "hours": show_if refers to unknown field "role""#,
    );
}

#[test]
fn skip_logic_cannot_go_round_in_circles() {
    check(
        training(json!([hours(json!({ "required": true, "show_if": { "field": "hours", "is_set": true } }))])),
        r#"form "training" v1, field "hours": show_if refers to the field itself"#,
    );
    check(
        training(json!([
            { "id": "a", "type": "yes_no", "label": l("甲", "A"), "show_if": { "field": "b", "equals": true } },
            { "id": "b", "type": "yes_no", "label": l("乙", "B"), "show_if": { "not": { "field": "a", "equals": true } } },
        ])),
        r#"form "training" v1, field "a": show_if conditions form a cycle: "a" → "b" → "a""#,
    );
    check(
        training(json!([{ "id": "parties", "type": "group", "label": l("当事人", "Parties"), "fields": [
            { "id": "name", "type": "text", "label": l("姓名", "Name"), "show_if": { "field": "name", "is_set": false } }] }])),
        r#"form "training" v1, field "parties.name": show_if refers to the field itself"#,
    );
    // A constraint may and usually does read its own field.
    form(
        "training",
        1,
        json!([hours(json!({ "constraints": [{ "check": { "field": "hours", "less_than": 9 }, "message": l("太长", "Too long") }] }))]),
    );
}

#[test]
fn unknown_keys_are_refused_where_they_are() {
    check(
        training(json!([hours(json!({ "colour": "red" }))])),
        r#"form "training" v1, field "hours": unknown field `colour`, expected one of…"#,
    );
    check(
        training(json!([hours(json!({ "show_if": { "field": "topic", "is_set": true, "colour": 1 } }))])),
        r#"form "training" v1, field "hours": unknown field `colour`, expected one of `field`…"#,
    );
    check(
        training(json!([{ "id": "attendees", "type": "group", "label": l("人员", "Attendees"), "fields": [
            { "id": "name", "type": "text", "label": l("姓名", "Name"), "colour": "red" }] }])),
        r#"form "training" v1, field "attendees.name": unknown field `colour`, expected one of…"#,
    );
    let mut top = training(json!([]));
    top["colour"] = json!("red");
    check(top, r#"form "training" v1: unknown field `colour`, expected one of…"#);
    check(
        training(json!([hours(json!({ "type": "number" }))])),
        r#"form "training" v1, field "hours": unknown variant `number`, expected one of…"#,
    );
    check(
        training(json!([hours(json!({ "required": "yes" }))])),
        r#"form "training" v1, field "hours": invalid type: string "yes", expected a boolean"#,
    );
    check(
        training(json!([hours(json!({ "label": { "zh": "时长", "en": "Hours", "fr": "Heures" } }))])),
        r#"form "training" v1, field "hours": unknown field `fr`, expected `zh` or `en`"#,
    );
}

#[test]
fn groups() {
    check(
        training(json!([{ "id": "attendees", "type": "group", "label": l("人员", "Attendees"), "fields": [] }])),
        r#"form "training" v1, field "attendees": a group needs at least one field"#,
    );
    check(
        training(json!([{ "id": "attendees", "type": "group", "label": l("人员", "Attendees"), "fields": [
            { "id": "more", "type": "group", "label": l("更多", "More"), "fields": [role()] }] }])),
        r#"form "training" v1, field "attendees.more": a group cannot contain another group"#,
    );
    check(
        training(json!([{ "id": "attendees", "type": "group", "label": l("人员", "Attendees"), "fields": [
            { "id": "id", "type": "text", "label": l("编号", "Id") }] }])),
        r#"form "training" v1, field "attendees.id": "id" is reserved for the item id in a group"#,
    );
    // Sub-fields may read their siblings and the record's fields.
    form(
        "training",
        1,
        json!([minor(), { "id": "attendees", "type": "group", "label": l("人员", "Attendees"), "fields": [
        role(),
        { "id": "note", "type": "text", "label": l("备注", "Note"), "show_if": { "all": [
            { "field": "role", "equals": "cadre" }, { "field": "minor", "equals": true }] } }] }]),
    );
}

#[test]
fn title_and_category_fields() {
    let mut personal = training(json!([]));
    personal["fields"][0]["personal"] = json!(true);
    check(personal, r#"form "training" v1: title_field "topic" is personal; lists must never show it"#);
    let mut missing = training(json!([]));
    missing["title_field"] = json!("name");
    check(missing, r#"form "training" v1: title_field "name" is not a field of the form"#);
    let mut long = training(json!([{ "id": "notes", "type": "long_text", "label": l("备注", "Notes") }]));
    long["title_field"] = json!("notes");
    check(long, r#"form "training" v1: title_field "notes" is a long_text field; it must be text, select_one or date"#);
    let mut category = training(json!([minor()]));
    category["category_field"] = json!("minor");
    check(category, r#"form "training" v1: category_field "minor" must be a select_one field"#);
}

#[test]
fn figures_name_fields_that_fit() {
    let people = json!({ "id": "people", "type": "group", "label": l("人员", "People"), "fields": [
        { "id": "name", "type": "text", "label": l("姓名", "Name"), "personal": true },
        { "id": "n", "type": "integer", "label": l("人数", "Count") }] });
    let with = |figure: Value| {
        let mut def = training(json!([people.clone(), hours(json!({})), minor()]));
        def["figures"] = json!([figure]);
        def
    };
    let f = |extra: Value| {
        let mut fig = json!({ "id": "x", "label": l("数", "Figure") });
        fig.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        with(fig)
    };
    let ok = Form::from_json("training.v1.json", &f(json!({ "sum": "hours" })).to_string()).unwrap();
    assert_eq!(ok.figures.len(), 1);
    check(f(json!({})), r#"form "training" v1: figure "x": give exactly one of records, count_if, sum, items"#);
    check(
        f(json!({ "sum": "hours", "items": "people" })),
        r#"form "training" v1: figure "x": give exactly one of records, count_if, sum, items"#,
    );
    check(
        f(json!({ "records": true, "sum": "hours" })),
        r#"form "training" v1: figure "x": give exactly one of records, count_if, sum, items"#,
    );
    check(f(json!({ "records": true, "by": "n" })), r#"form "training" v1: figure "x": by goes only with items"#);
    check(f(json!({ "sum": "topic" })), r#"form "training" v1: figure "x": sum needs an integer or decimal field; "topic" is text"#);
    check(f(json!({ "sum": "nope" })), r#"form "training" v1: figure "x": "nope" is not a field of the form"#);
    check(f(json!({ "items": "hours" })), r#"form "training" v1: figure "x": items needs a group; "hours" is decimal"#);
    check(f(json!({ "items": "people", "by": "nope" })), r#"form "training" v1: figure "x": group "people" has no field "nope""#);
    check(
        f(json!({ "items": "people", "by": "n" })),
        r#"form "training" v1: figure "x": by needs a text or select_one field; "n" is integer"#,
    );
    check(
        f(json!({ "items": "people", "by": "name" })),
        r#"form "training" v1: figure "x": by "name" is personal; figures must never count by it"#,
    );
    check(f(json!({ "sum": "hours", "by": "n" })), r#"form "training" v1: figure "x": by goes only with items"#);
    check(
        f(json!({ "count_if": { "field": "nope", "equals": true } })),
        r#"form "training" v1, field "figures.x": count_if refers to unknown field "nope""#,
    );
    let mut twice = with(json!({ "id": "x", "label": l("数", "Figure"), "sum": "hours" }));
    twice["figures"] = json!([twice["figures"][0].clone(), twice["figures"][0].clone()]);
    check(twice, r#"form "training" v1: figure "x": duplicate figure id"#);
}

#[test]
fn unreadable_files_are_named_by_file() {
    check_source("{ not json", "not valid JSON: key must be a string at line 1 column 3");
    let mut no_version = training(json!([]));
    no_version.as_object_mut().unwrap().remove("version");
    check(no_version, "missing field `version`");
}

#[test]
fn a_field_keeps_its_type_across_versions() {
    let v1 = form("t", 1, json!([minor()]));
    let v2 = form(
        "t",
        2,
        json!([{ "id": "minor", "type": "select_one", "label": l("未成年", "Minor"), "choices": [
        { "id": "yes", "label": l("是", "Yes") }] }]),
    );
    assert_eq!(
        check_compatible(&v1, &v2).unwrap_err().to_string(),
        r#"t.v2.json: form "t" v2, field "minor": type changed from yes_no in v1 to select_one; give the new meaning a new field id"#
    );
    let v3 = form("t", 3, json!([{ "id": "guardian", "type": "phone", "label": l("监护人电话", "Guardian's phone") }]));
    check_compatible(&v1, &v3).unwrap();
}

/// What the build runs on `shared/forms/`: every file, its name, and every version against
/// every older one, with every error reported (one build names every broken file).
#[test]
fn the_files_of_a_build_are_checked_together() {
    let t1 = form_json("t", 1, json!([minor()])).to_string();
    // v2 drops `minor`; v3 brings it back with another type, which v1's records cannot hold.
    let t2 = form_json("t", 2, json!([])).to_string();
    let select = json!({ "id": "minor", "type": "select_one", "label": l("未成年", "Minor"),
                         "choices": [{ "id": "yes", "label": l("是", "Yes") }] });
    let t3 = form_json("t", 3, json!([select])).to_string();
    let mut t4 = form_json("t", 4, json!([]));
    t4["kind"] = json!("other");
    let t4 = t4.to_string();
    let a1 = form_json("a", 1, json!([])).to_string();
    let b1 = form_json("b", 1, json!([{ "id": "x", "type": "text" }])).to_string();

    let forms = definition::load(&[("t.v2.json", &t2), ("a.v1.json", &a1), ("t.v1.json", &t1)]).unwrap();
    let order: Vec<(&str, u32)> = forms.iter().map(|f| (f.id, f.version)).collect();
    assert_eq!(order, [("a", 1), ("t", 1), ("t", 2)], "sorted by id, then version");

    let errors = |files: &[(&str, &str)]| -> Vec<String> { definition::load(files).unwrap_err().iter().map(|e| e.to_string()).collect() };
    assert_eq!(
        errors(&[("t.v3.json", &t3), ("t.v2.json", &t2), ("t.v1.json", &t1)]),
        [r#"t.v3.json: form "t" v3, field "minor": type changed from yes_no in v1 to select_one; give the new meaning a new field id"#]
    );
    assert_eq!(
        errors(&[("t.v1.json", &t1), ("t.v5.json", &t2), ("b.v1.json", &b1), ("t.v4.json", &t4)]),
        [
            r#"t.v5.json: holds form "t" v2, so it must be named t.v2.json"#,
            r#"b.v1.json: form "b" v1, field "x": missing field `label`"#,
            r#"t.v4.json: form "t" v4: kind changed from "t" in v1"#,
        ]
    );
}

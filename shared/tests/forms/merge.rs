//! Two people edit one record offline, then sync: per field type, both keep their work, and
//! where a single value cannot hold both, both values are shown until someone chooses.

use std::collections::BTreeSet;

use serde_json::json;
use shared::FieldValue;
use shared::form::Form;
use shared::record::{AttachmentRef, Author, GroupItem, Record};

use super::support::{T0, field, form, id, l, meta, sync, text, two_replicas};

fn test_form() -> Form {
    form(
        "t",
        1,
        json!([
            { "id": "story", "type": "long_text", "label": l("经过", "Story") },
            { "id": "place", "type": "text", "label": l("地点", "Place") },
            { "id": "age", "type": "integer", "label": l("年龄", "Age") },
            { "id": "orgs", "type": "select_many", "label": l("单位", "Organisations"), "choices": [
                { "id": "court", "label": l("法院", "Court") }, { "id": "police", "label": l("公安", "Police") },
                { "id": "federation", "label": l("妇联", "Federation") }] },
            { "id": "attendees", "type": "group", "label": l("人员", "Attendees"), "fields": [
                { "id": "name", "type": "text", "label": l("姓名", "Name") },
                { "id": "role", "type": "text", "label": l("身份", "Role") },
                { "id": "note", "type": "long_text", "label": l("备注", "Note") }] },
            { "id": "photo", "type": "attachment", "label": l("照片", "Photo"), "accept": ["image/*"] },
        ]),
    )
}

fn choices(ids: &[&str]) -> Option<FieldValue> {
    Some(FieldValue::Choices(ids.iter().map(|s| (*s).to_owned()).collect()))
}

fn item(random: u8, name: &str) -> GroupItem {
    let mut item = GroupItem::new([random; 8]);
    item.values.insert("name".into(), FieldValue::Text(name.into()));
    item
}

fn items(r: &Record, form: &Form) -> Vec<GroupItem> {
    match r.get(field(form, "attendees")) {
        Some(FieldValue::Group(items)) => items,
        None => Vec::new(),
        other => panic!("{other:?}"),
    }
}

fn names(r: &Record, form: &Form) -> BTreeSet<String> {
    items(r, form).iter().filter_map(|i| i.values.get("name")?.as_str().map(str::to_owned)).collect()
}

#[test]
fn concurrent_long_text_edits_keep_both_sentences() {
    let form = test_form();
    let story = field(&form, "story");
    let (mut a, mut b) = two_replicas(&form);
    // Both start from the empty text object the record was made with.
    a.set(story, Some(FieldValue::LongText("第一句。".into())), T0).unwrap();
    sync(&mut a, &mut b);
    a.set(story, Some(FieldValue::LongText("第一句，甲补充。".into())), T0 + 1).unwrap();
    b.set(story, Some(FieldValue::LongText("第一句。乙的第二句。".into())), T0 + 1).unwrap();
    sync(&mut a, &mut b);
    for r in [&a, &b] {
        assert_eq!(r.get(story), Some(FieldValue::LongText("第一句，甲补充。乙的第二句。".into())));
        assert!(r.conflicts(story).is_empty());
    }
    // Clearing empties the text; what the other person types meanwhile is kept.
    a.set(story, None, T0 + 2).unwrap();
    assert_eq!(a.get(story), None);
}

#[test]
fn repeat_group_additions_from_both_sides_are_kept() {
    let form = test_form();
    let group = field(&form, "attendees");
    let (mut a, mut b) = two_replicas(&form);
    a.set(group, Some(FieldValue::Group(vec![item(1, "王芳")])), T0).unwrap();
    sync(&mut a, &mut b);

    let mut mine = items(&a, &form);
    mine.push(item(2, "李娟"));
    a.set(group, Some(FieldValue::Group(mine)), T0 + 1).unwrap();
    let mut theirs = items(&b, &form);
    theirs.push(item(3, "张敏"));
    // B also edits the first attendee's role; A's list does not mention roles, so leaves it.
    theirs[0].values.insert("role".into(), FieldValue::Text("联络员".into()));
    b.set(group, Some(FieldValue::Group(theirs)), T0 + 1).unwrap();
    sync(&mut a, &mut b);

    let expect: BTreeSet<String> = ["王芳", "李娟", "张敏"].map(String::from).into();
    assert_eq!(names(&a, &form), expect);
    assert_eq!(items(&a, &form), items(&b, &form));
    let first = items(&a, &form).into_iter().find(|i| i.id == item(1, "").id).unwrap();
    assert_eq!(first.values.get("role"), Some(&FieldValue::Text("联络员".into())));

    // Removing one attendee while the other side edits another keeps the edit.
    let without: Vec<_> = items(&a, &form).into_iter().filter(|i| i.id != item(2, "").id).collect();
    a.set(group, Some(FieldValue::Group(without)), T0 + 2).unwrap();
    b.set_item(group, &item(3, "").id, field(&form, "attendees.role"), text("检察官"), T0 + 2).unwrap();
    sync(&mut a, &mut b);
    let expect: BTreeSet<String> = ["王芳", "张敏"].map(String::from).into();
    assert_eq!(names(&b, &form), expect);
    let third = items(&b, &form).into_iter().find(|i| i.id == item(3, "").id).unwrap();
    assert_eq!(third.values.get("role"), Some(&FieldValue::Text("检察官".into())));
}

#[test]
fn select_many_additions_merge_and_a_removal_removes_one() {
    let form = test_form();
    let orgs = field(&form, "orgs");
    let (mut a, mut b) = two_replicas(&form);
    a.set(orgs, choices(&["federation"]), T0).unwrap();
    sync(&mut a, &mut b);
    a.set(orgs, choices(&["federation", "court"]), T0 + 1).unwrap();
    b.set(orgs, choices(&["federation", "police"]), T0 + 1).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.get(orgs), choices(&["court", "federation", "police"]));
    assert_eq!(b.get(orgs), a.get(orgs));
    assert!(a.conflicts(orgs).is_empty());

    b.set(orgs, choices(&["court", "police"]), T0 + 2).unwrap();
    a.set(orgs, choices(&["court", "federation", "police"]), T0 + 2).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.get(orgs), choices(&["court", "police"]));
}

/// A field a later version added has no container in old records: two people who create it
/// at once make two objects, and both are read rather than one hidden.
#[test]
fn containers_created_concurrently_are_merged_on_read() {
    let form = test_form();
    let mut a = Record::create_with_form(id(), &meta(&form, "amei"), None);
    let mut b = Record::load(id(), &a.save()).unwrap();
    b.doc_mut().set_actor(automerge::ActorId::random());
    let (orgs, group) = (field(&form, "orgs"), field(&form, "attendees"));
    a.set(orgs, choices(&["court"]), T0).unwrap();
    b.set(orgs, choices(&["police"]), T0).unwrap();
    a.set(group, Some(FieldValue::Group(vec![item(1, "王芳")])), T0).unwrap();
    b.set(group, Some(FieldValue::Group(vec![item(2, "李娟")])), T0).unwrap();
    sync(&mut a, &mut b);
    for r in [&a, &b] {
        assert_eq!(r.get(orgs), choices(&["court", "police"]));
        assert_eq!(names(r, &form), ["李娟", "王芳"].map(String::from).into());
    }
    // Removing a choice removes it from whichever object holds it.
    a.set(orgs, choices(&["court"]), T0 + 1).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(b.get(orgs), choices(&["court"]));
}

#[test]
fn concurrent_single_values_are_shown_with_who_set_them_then_resolved() {
    let form = test_form();
    let place = field(&form, "place");
    let (mut a, mut b) = two_replicas(&form);
    a.set_author(Author { user: "amei".into(), org: Some("县妇联".into()) });
    b.set_author(Author { user: "lijuan".into(), org: Some("县检察院".into()) });
    a.set(place, text("李家村"), T0 + 1).unwrap();
    b.set(place, text("王家村"), T0 + 1).unwrap();
    sync(&mut a, &mut b);

    // Every replica shows the same winner, and both values with their authors.
    assert_eq!(a.get(place), b.get(place));
    let conflicts = a.conflicts(place);
    let mut seen: Vec<(String, String)> =
        conflicts.iter().map(|c| (c.value.as_ref().unwrap().input_text(), c.author.as_ref().unwrap().user.clone())).collect();
    seen.sort();
    assert_eq!(seen, [("李家村".into(), "amei".into()), ("王家村".into(), "lijuan".into())]);
    let by_b = conflicts.iter().find_map(|c| c.author.as_ref().filter(|a| a.user == "lijuan")).unwrap();
    assert_eq!(by_b.org.as_deref(), Some("县检察院"));
    assert_eq!(b.conflicts(place).len(), 2);

    // B chooses A's value; once synced it is the value for everyone, with no conflict left.
    b.resolve(place, text("李家村"), T0 + 2).unwrap();
    sync(&mut a, &mut b);
    for r in [&a, &b] {
        assert_eq!(r.get(place), text("李家村"));
        assert!(r.conflicts(place).is_empty());
    }

    // The same value typed on both sides is no conflict at all.
    let age = field(&form, "age");
    a.set(age, Some(FieldValue::Int(15)), T0 + 3).unwrap();
    b.set(age, Some(FieldValue::Int(15)), T0 + 3).unwrap();
    sync(&mut a, &mut b);
    assert!(a.conflicts(age).is_empty());
}

#[test]
fn conflicting_attachments_and_item_fields_are_shown_whole() {
    let form = test_form();
    let (photo, group, name) = (field(&form, "photo"), field(&form, "attendees"), field(&form, "attendees.name"));
    let (mut a, mut b) = two_replicas(&form);
    a.set(group, Some(FieldValue::Group(vec![item(1, "王芳")])), T0).unwrap();
    sync(&mut a, &mut b);
    let file = |hash: char, name: &str| AttachmentRef {
        sha256: hash.to_string().repeat(64),
        name: name.into(),
        mime: "image/jpeg".into(),
        size: 1200,
    };
    a.set(photo, Some(FieldValue::Attachment(file('a', "门口.jpg"))), T0 + 1).unwrap();
    b.set(photo, Some(FieldValue::Attachment(file('b', "伤情.jpg"))), T0 + 1).unwrap();
    let first = item(1, "").id;
    a.set_item(group, &first, name, text("王芳芳"), T0 + 1).unwrap();
    b.set_item(group, &first, name, text("王 芳"), T0 + 1).unwrap();
    sync(&mut a, &mut b);

    let mut refs: Vec<AttachmentRef> = a
        .conflicts(photo)
        .into_iter()
        .map(|c| match c.value {
            Some(FieldValue::Attachment(r)) => r,
            other => panic!("{other:?}"),
        })
        .collect();
    refs.sort_by(|x, y| x.sha256.cmp(&y.sha256));
    assert_eq!(refs, [file('a', "门口.jpg"), file('b', "伤情.jpg")]);
    assert_eq!(a.item_conflicts(group, &first, name).len(), 2);

    a.resolve(photo, Some(FieldValue::Attachment(file('b', "伤情.jpg"))), T0 + 2).unwrap();
    a.resolve_item(group, &first, name, text("王芳"), T0 + 2).unwrap();
    sync(&mut a, &mut b);
    assert!(b.conflicts(photo).is_empty());
    assert_eq!(b.get(photo), Some(FieldValue::Attachment(file('b', "伤情.jpg"))));
    assert!(b.item_conflicts(group, &first, name).is_empty());
    assert_eq!(items(&b, &form)[0].values.get("name"), Some(&FieldValue::Text("王芳".into())));
}

/// Two people who start the same long text at once (a field with no text object yet) make
/// two objects; neither is lost: they are shown as conflicting values.
#[test]
fn long_texts_started_concurrently_are_shown_as_a_conflict() {
    let form = test_form();
    let story = field(&form, "story");
    let mut a = Record::create_with_form(id(), &meta(&form, "amei"), None);
    let mut b = Record::load(id(), &a.save()).unwrap();
    b.doc_mut().set_actor(automerge::ActorId::random());
    a.set(story, Some(FieldValue::LongText("甲写的".into())), T0).unwrap();
    b.set(story, Some(FieldValue::LongText("乙写的".into())), T0).unwrap();
    sync(&mut a, &mut b);
    let mut texts: Vec<String> = a.conflicts(story).into_iter().map(|c| c.value.unwrap().input_text()).collect();
    texts.sort();
    assert_eq!(texts, ["乙写的", "甲写的"]);
    a.resolve(story, Some(FieldValue::LongText("甲写的；乙写的".into())), T0 + 1).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(b.get(story), Some(FieldValue::LongText("甲写的；乙写的".into())));
    assert!(b.conflicts(story).is_empty());
}

#[test]
fn a_value_of_the_wrong_type_is_refused() {
    let form = test_form();
    let mut r = Record::create_with_form(id(), &meta(&form, "amei"), Some(&form));
    assert!(r.set(field(&form, "age"), text("十四"), T0).is_err());
    assert!(r.set(field(&form, "orgs"), Some(FieldValue::Choice("court".into())), T0).is_err());
}

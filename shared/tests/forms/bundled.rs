//! The project's own forms, as shipped in `shared/forms/`.

use shared::form::{self, FieldKind, FieldType, Form, definition};

fn ids(form: &Form) -> Vec<&'static str> {
    form.fields.iter().map(|f| f.id).collect()
}

/// The build checked `shared/forms/` (a broken file fails it) and compiled the forms in; read
/// at run time by the same code, the files give exactly the forms the build compiled in.
#[test]
fn the_compiled_in_forms_are_the_files() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/forms");
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name != "form.schema.json" {
            let source = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            sources.push((name, source));
        }
    }
    let sources: Vec<(&str, &str)> = sources.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let parsed = definition::load(&sources).unwrap_or_else(|errors| panic!("{errors:#?}"));
    let compiled: Vec<&Form> = form::forms().iter().flat_map(|f| form::versions(f.id)).collect();
    // `Form` has no `PartialEq` (it holds `f64`s); its `Debug` shows every field.
    assert_eq!(format!("{compiled:#?}"), format!("{:#?}", parsed.iter().collect::<Vec<_>>()));
}

#[test]
fn every_bundled_definition_loads() {
    // The project's own forms at least; adding a file adds a form without touching this test.
    let latest: Vec<(&str, u32)> = form::forms().iter().map(|f| (f.id, f.version)).collect();
    for own in [("intake", 3), ("mediation", 1), ("minutes", 1), ("roster", 1), ("training", 1)] {
        assert!(latest.contains(&own), "{own:?} missing from {latest:?}");
    }
    // One entry per form file name's id, each at its highest version.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/forms")).unwrap();
    let mut ids: Vec<String> = files
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| Some(name.strip_suffix(".json")?.rsplit_once(".v")?.0.to_owned()))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(latest.len(), ids.len(), "one chooser entry per form id in shared/forms");
    assert_eq!(form::versions("intake").iter().map(|f| f.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(form::find("intake", 1).is_some() && form::latest("nothing").is_none());
}

/// Every field of `old` is in `new`, of the same kind: records made with `old` lose nothing.
fn keeps_every_field(old: &Form, new: &Form) {
    for f in old.fields {
        let kept = new.field(f.id).unwrap_or_else(|| panic!("v{} dropped {}", new.version, f.id));
        assert_eq!(kept.ty.kind(), f.ty.kind(), "{}", f.id);
    }
}

#[test]
fn intake_v2_keeps_every_v1_field_and_covers_the_domain() {
    let v2 = form::find("intake", 2).unwrap();
    keeps_every_field(form::find("intake", 1).unwrap(), v2);
    // DOMAIN.md's intake: reporter and channel, the survivor, the incident, the perpetrator,
    // risk, consent and its legal basis, evidence.
    for id in [
        "reporter",
        "channel",
        "reported_at",
        "survivor_code",
        "survivor_age",
        "survivor_sex",
        "minor",
        "guardian_contact",
        "contact_safe",
        "incident_type",
        "incident_date",
        "incident_place",
        "description",
        "perpetrator_relation",
        "perpetrator_age_group",
        "immediate_risk",
        "consent",
        "legal_basis",
        "evidence",
    ] {
        assert!(v2.field(id).is_some(), "intake v2 has no {id}");
    }
    let evidence = v2.field("evidence").unwrap();
    assert!(evidence.sub_fields().iter().any(|f| f.ty.kind() == FieldKind::Attachment));
}

#[test]
fn intake_v3_adds_the_results_documents_to_v2() {
    let (v2, v3) = (form::find("intake", 2).unwrap(), form::find("intake", 3).unwrap());
    keeps_every_field(v2, v3);
    let added: Vec<&str> = v3.fields.iter().filter(|f| v2.field(f.id).is_none()).map(|f| f.id).collect();
    assert_eq!(added, ["result_files"]);
    let files = v3.field("result_files").unwrap();
    assert!(files.sub_fields().iter().any(|f| f.ty.kind() == FieldKind::Attachment));
    // Filled with the result, in the case panel, and fixed once the result is reported.
    assert!(shared::case::workflow::CASE.is_step_field("result_files"));
    assert!(shared::case::workflow::CASE.state("result_reported").unwrap().fixed.contains(&"result_files"));
    // Each side writes its own: the receiver the result's documents, the sender the clue.
    use shared::case::Party::{Receiver, Sender};
    let case = &shared::case::workflow::CASE;
    assert!(case.writes(Receiver, "result_files") && !case.writes(Receiver, "description"));
    assert!(case.writes(Sender, "description") && !case.writes(Sender, "result_files"));
    let entrustment = &shared::case::workflow::ENTRUSTMENT;
    assert!(entrustment.writes(Receiver, "findings") && !entrustment.writes(Sender, "findings"));
}

#[test]
fn the_other_forms_have_what_their_records_need() {
    let training = form::latest("training").unwrap();
    assert_eq!(
        ids(training),
        ["topic", "training_date", "place", "trainer", "organisations", "hours", "attendees", "materials", "follow_up"]
    );
    let attendees: Vec<_> = training.field("attendees").unwrap().sub_fields().iter().map(|f| f.id).collect();
    assert_eq!(attendees, ["name", "organisation", "role", "signature"]);
    let minutes = form::latest("minutes").unwrap();
    let actions: Vec<_> = minutes.field("action_items").unwrap().sub_fields().iter().map(|f| f.id).collect();
    assert_eq!(actions, ["task", "owner", "owner_org", "due", "done"]);
    assert!(minutes.field("decisions").is_some() && minutes.field("attendees").is_some());
    let roster = form::latest("roster").unwrap();
    assert!(roster.field("contact_name").unwrap().personal);
    let mediation = form::latest("mediation").unwrap();
    assert!(["parties", "dispute_type", "outcome"].iter().all(|id| mediation.field(id).is_some()));
}

/// Lists show the title field: never a name. Every field that names a person is marked
/// `personal`, and the parser refuses a personal title.
#[test]
fn no_list_shows_a_name() {
    for form in form::forms() {
        let title = form.field(form.title_field).unwrap();
        assert!(!title.personal, "{}", form.id);
        for f in form.fields.iter().chain(form.fields.iter().flat_map(|f| f.sub_fields())) {
            let looks_like_a_name = f.id.ends_with("name") && !f.id.starts_with("org");
            assert!(!looks_like_a_name || f.personal, "{}.{} names a person but is not personal", form.id, f.id);
        }
    }
    assert_eq!(form::latest("intake").unwrap().title_field, "survivor_code");
}

#[test]
fn selects_have_labels_for_every_choice_and_kinds_have_labels() {
    for form in form::forms() {
        assert!(shared::form::RecordKind::new(form.kind).label().is_some());
        for f in form.fields {
            if let FieldType::SelectOne(c) | FieldType::SelectMany(c) = &f.ty {
                assert!(c.iter().all(|c| !c.label.zh.is_empty() && !c.label.en.is_empty()));
            }
        }
    }
}

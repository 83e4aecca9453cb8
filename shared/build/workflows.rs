//! Reads and checks the workflow definitions in `shared/workflows/*.json` and writes them out
//! as `static` values of `case::model`'s types (`$OUT_DIR/workflows.rs`), so a county changes a
//! deadline or who takes a step by editing a file, and a broken file fails the build saying
//! which file, which step and why.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::case_model::{Deadline, Need, ORG_KINDS, Party, StateDef, StepDef, When, Workflow};
use crate::emit::Rust;
use crate::i18n::L;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "$comment", default)]
    _comment: String,
    id: String,
    kind: String,
    initial: String,
    states: Vec<StateFile>,
    steps: Vec<StepFile>,
    #[serde(default)]
    receiver_fields: Vec<String>,
    /// Labels of every code a step's choices use.
    #[serde(default)]
    codes: BTreeMap<String, Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    zh: String,
    en: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    id: String,
    label: Text,
    #[serde(default)]
    waiting_for: Option<String>,
    #[serde(default)]
    deadline: Option<DeadlineFile>,
    #[serde(default)]
    closed: bool,
    #[serde(default)]
    fixed: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineFile {
    days: u32,
    setting: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    id: String,
    label: Text,
    by: String,
    from: Vec<String>,
    to: String,
    #[serde(default)]
    needs: Vec<NeedFile>,
    #[serde(default)]
    when: Option<String>,
    #[serde(default)]
    opens: bool,
    #[serde(default)]
    closes_access: bool,
    #[serde(default)]
    text: Option<Text>,
    #[serde(default)]
    fields: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedFile {
    /// The kind of organisation the step names as receiver (one of `ORG_KINDS`).
    #[serde(default)]
    to_org: Option<String>,
    #[serde(default)]
    choice: Option<String>,
    #[serde(default)]
    choices: Vec<String>,
    #[serde(default)]
    date: Option<String>,
}

/// A checked workflow, and the labels of its codes.
pub struct Checked {
    pub workflow: Workflow,
    pub codes: Vec<(&'static str, L)>,
}

/// Reads one definition file; `Err` says what is wrong with it.
pub fn read(name: &str, source: &str) -> Result<Checked, String> {
    let file: File = serde_json::from_str(source).map_err(|e| format!("{name}: {e}"))?;
    let fail = |what: String| Err(format!("{name}: workflow {}: {what}", file.id));
    let states: BTreeSet<&str> = file.states.iter().map(|s| s.id.as_str()).collect();
    if states.len() != file.states.len() {
        return fail("two states have the same id".into());
    }
    if !states.contains(file.initial.as_str()) {
        return fail(format!("the initial state {:?} is not one of its states", file.initial));
    }
    let mut step_ids = BTreeSet::new();
    for step in &file.steps {
        if !step_ids.insert(step.id.as_str()) {
            return fail(format!("two steps are called {:?}", step.id));
        }
        for s in step.from.iter().chain([&step.to]) {
            if !states.contains(s.as_str()) {
                return fail(format!("step {:?} names a state {s:?} it does not have", step.id));
            }
        }
        if step.from.is_empty() {
            return fail(format!("step {:?} can be taken from no state", step.id));
        }
        party(&step.by).ok_or_else(|| format!("{name}: step {:?}: `by` is \"sender\" or \"receiver\", not {:?}", step.id, step.by))?;
        if step.opens && step.by != "sender" {
            return fail(format!("step {:?} opens the case, so the sender takes it", step.id));
        }
        if step.opens && !step.needs.iter().any(|n| n.to_org.is_some()) {
            return fail(format!("step {:?} opens the case, so it needs `to_org`", step.id));
        }
        for need in &step.needs {
            let kinds = [need.to_org.is_some(), need.choice.is_some(), need.date.is_some()].into_iter().filter(|k| *k).count();
            if kinds != 1 {
                return fail(format!("step {:?}: each need is one of to_org, choice or date", step.id));
            }
            if let Some(kind) = need.to_org.as_deref().filter(|k| !ORG_KINDS.contains(k)) {
                return fail(format!("step {:?}: `to_org` is a kind of organisation ({}), not {kind:?}", step.id, ORG_KINDS.join(", ")));
            }
            if need.choice.is_some() && need.choices.is_empty() {
                return fail(format!("step {:?}: a choice needs its choices", step.id));
            }
            if let Some(code) = need.choices.iter().find(|c| !file.codes.contains_key(*c)) {
                return fail(format!("step {:?}: code {code:?} has no label in `codes`", step.id));
            }
        }
        if let Some(w) = &step.when {
            when(w).ok_or_else(|| format!("{name}: step {:?}: `when` is consent_or_basis or minor_sexual_assault, not {w:?}", step.id))?;
        }
    }
    if !file.steps.iter().any(|s| s.opens && s.from.contains(&file.initial)) {
        return fail("no step opens the case from its initial state".into());
    }
    for s in &file.states {
        if let Some(w) = &s.waiting_for {
            party(w).ok_or_else(|| format!("{name}: state {:?}: `waiting_for` is \"sender\" or \"receiver\", not {w:?}", s.id))?;
        }
        if s.deadline.as_ref().is_some_and(|d| d.days == 0) {
            return fail(format!("state {:?}: a deadline of 0 days", s.id));
        }
    }

    let workflow = Workflow {
        id: leak(file.id.clone()),
        kind: leak(file.kind.clone()),
        initial: leak(file.initial.clone()),
        receiver_fields: leak_slice(file.receiver_fields.iter().map(|f| leak(f.clone())).collect()),
        states: leak_slice(
            file.states
                .iter()
                .map(|s| StateDef {
                    id: leak(s.id.clone()),
                    label: text(&s.label),
                    waiting_for: s.waiting_for.as_deref().and_then(party),
                    deadline: s.deadline.as_ref().map(|d| Deadline { days: d.days, setting: text(&d.setting) }),
                    closed: s.closed,
                    fixed: leak_slice(s.fixed.iter().map(|f| leak(f.clone())).collect()),
                })
                .collect(),
        ),
        steps: leak_slice(
            file.steps
                .iter()
                .map(|s| StepDef {
                    id: leak(s.id.clone()),
                    label: text(&s.label),
                    by: party(&s.by).expect("checked above"),
                    from: leak_slice(s.from.iter().map(|f| leak(f.clone())).collect()),
                    to: leak(s.to.clone()),
                    needs: leak_slice(
                        s.needs
                            .iter()
                            .map(|n| match (&n.choice, &n.date) {
                                (Some(key), _) => Need::Choice {
                                    key: leak(key.clone()),
                                    choices: leak_slice(n.choices.iter().map(|c| leak(c.clone())).collect()),
                                },
                                (_, Some(key)) => Need::Date { key: leak(key.clone()) },
                                _ => Need::ToOrg { kind: leak(n.to_org.clone().unwrap_or_default()) },
                            })
                            .collect(),
                    ),
                    when: s.when.as_deref().and_then(when),
                    opens: s.opens,
                    closes_access: s.closes_access,
                    text: s.text.as_ref().map(text),
                    fields: leak_slice(s.fields.iter().map(|f| leak(f.clone())).collect()),
                })
                .collect(),
        ),
    };
    let codes = file.codes.iter().map(|(c, l)| (leak(c.clone()), text(l))).collect();
    Ok(Checked { workflow, codes })
}

/// The contents of `$OUT_DIR/workflows.rs`.
pub fn emit(workflows: &[Checked]) -> String {
    let mut out = String::from("// Written by shared/build/main.rs from shared/workflows/*.json: do not edit.\n\n");
    let mut names = Vec::new();
    let mut codes: BTreeMap<&str, L> = BTreeMap::new();
    for c in workflows {
        let name = c.workflow.id.to_uppercase();
        out.push_str(&format!("/// `shared/workflows/{}.json`.\npub static {name}: Workflow = {};\n\n", c.workflow.id, c.workflow.rust()));
        names.push(format!("&{name}"));
        codes.extend(c.codes.iter().copied());
    }
    out.push_str(&format!("/// Every workflow, by file name.\npub static WORKFLOWS: &[&Workflow] = &[{}];\n\n", names.join(", ")));
    let rows: Vec<String> = codes.iter().map(|(c, l)| format!("({}, {})", c.rust(), l.rust())).collect();
    out.push_str(&format!("/// How each code in step data reads.\nstatic CODE_LABELS: &[(&str, L)] = &[{}];\n", rows.join(",\n")));
    out
}

fn party(s: &str) -> Option<Party> {
    match s {
        "sender" => Some(Party::Sender),
        "receiver" => Some(Party::Receiver),
        _ => None,
    }
}

fn when(s: &str) -> Option<When> {
    match s {
        "consent_or_basis" => Some(When::ConsentOrBasis),
        "minor_sexual_assault" => Some(When::MinorSexualAssault),
        _ => None,
    }
}

fn text(t: &Text) -> L {
    L { zh: leak(t.zh.clone()), en: leak(t.en.clone()) }
}

// The build script runs once; the definitions live as long as it does.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn leak_slice<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

impl Rust for Workflow {
    fn rust(&self) -> String {
        let Workflow { id, kind, initial, states, steps, receiver_fields } = self;
        format!(
            "Workflow {{ id: {}, kind: {}, initial: {}, states: {}, steps: {}, receiver_fields: {} }}",
            id.rust(),
            kind.rust(),
            initial.rust(),
            states.rust(),
            steps.rust(),
            receiver_fields.rust()
        )
    }
}

impl Rust for StateDef {
    fn rust(&self) -> String {
        let StateDef { id, label, waiting_for, deadline, closed, fixed } = self;
        format!(
            "StateDef {{ id: {}, label: {}, waiting_for: {}, deadline: {}, closed: {}, fixed: {} }}",
            id.rust(),
            label.rust(),
            waiting_for.rust(),
            deadline.rust(),
            closed.rust(),
            fixed.rust()
        )
    }
}

impl Rust for Deadline {
    fn rust(&self) -> String {
        let Deadline { days, setting } = self;
        format!("Deadline {{ days: {}, setting: {} }}", days.rust(), setting.rust())
    }
}

impl Rust for Party {
    fn rust(&self) -> String {
        format!("Party::{self:?}")
    }
}

impl Rust for When {
    fn rust(&self) -> String {
        format!("When::{self:?}")
    }
}

impl Rust for Need {
    fn rust(&self) -> String {
        match self {
            Need::ToOrg { kind } => format!("Need::ToOrg {{ kind: {} }}", kind.rust()),
            Need::Choice { key, choices } => format!("Need::Choice {{ key: {}, choices: {} }}", key.rust(), choices.rust()),
            Need::Date { key } => format!("Need::Date {{ key: {} }}", key.rust()),
        }
    }
}

impl Rust for StepDef {
    fn rust(&self) -> String {
        let StepDef { id, label, by, from, to, needs, when, opens, closes_access, text, fields } = self;
        format!(
            "StepDef {{ id: {}, label: {}, by: {}, from: {}, to: {}, needs: {}, when: {}, opens: {}, closes_access: {}, text: {}, fields: {} }}",
            id.rust(),
            label.rust(),
            by.rust(),
            from.rust(),
            to.rust(),
            needs.rust(),
            when.rust(),
            opens.rust(),
            closes_access.rust(),
            text.rust(),
            fields.rust()
        )
    }
}

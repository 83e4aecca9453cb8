//! A case's timeline and the steps the signed-in organisation may take now (transfer →
//! accept or return → handling → result back; entrustments alike). Where the case stands is
//! `shared::case::derive` over the record's step log, on this device, offline too; a step is
//! appended to the record like any edit and the server checks it when it syncs.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::case::workflow::{self, Need, Party, StepDef};
use shared::case::{self, CaseState, Facts, Outcome};
use shared::i18n::{L, Lang};

use crate::api;
use crate::components::editor::{Editor, Slot};
use crate::components::field::FieldInput;
use crate::context::use_ctx;
use crate::{platform, text};

/// Everything the panel shows, read from the record once per change.
#[derive(Clone, PartialEq)]
struct Seen {
    state: CaseState,
    facts: Facts,
    texts: BTreeMap<String, String>,
    /// Field values some steps carry (`subject`, `due`, `legal_basis`, `minor`).
    fields: BTreeMap<String, String>,
    created_by: String,
    created_at: i64,
}

#[component]
pub fn CasePanel(editor: Editor) -> impl IntoView {
    let ctx = use_ctx();
    let id = editor.id;
    let kind = editor.form.kind;
    let seen = Memo::new(move |_| {
        editor.tick.track();
        editor.epoch.track();
        editor
            .read(|r| {
                let doc = r.doc();
                let state = case::state(doc, kind)?;
                let mut fields = BTreeMap::new();
                for key in ["subject", "due", "legal_basis", "minor"] {
                    if let Some(f) = r.form().ok().and_then(|form| form.field(key))
                        && let Some(v) = r.get(f)
                    {
                        fields.insert(key.to_owned(), field_code(&v));
                    }
                }
                let meta = r.meta().ok();
                Some(Seen {
                    state,
                    facts: case::facts(doc),
                    texts: case::log::texts(doc),
                    fields,
                    created_by: meta.as_ref().map(|m| m.created_by.clone()).unwrap_or_default(),
                    created_at: meta.as_ref().map_or(0, |m| m.created_at),
                })
            })
            .flatten()
    });
    let session = move || ctx.engine().and_then(|e| e.session());
    let my_org = move || session().map(|s| s.user.org_id);

    // Who owns the record (the only organisation that opens a case): the server says so when
    // reachable (kept for offline use); before that, the record's own author on this device.
    let owner_key = format!("liaison.owner.{id}");
    let owns = RwSignal::new(platform::cached(&owner_key).map(|v| v == "1"));
    if let Some(s) = session() {
        let key = owner_key.clone();
        spawn_local(async move {
            if let Ok(a) = api::access(&s.token, id).await {
                platform::cache(&key, if a.owner { "1" } else { "0" });
                owns.set(Some(a.owner));
            }
        });
    }
    let owner = move || -> String {
        let Some(s) = seen.get() else { return String::new() };
        if let Some(sender) = s.state.sender.clone() {
            return sender;
        }
        let me = session();
        match owns.get() {
            Some(true) => me.map(|m| m.user.org_id).unwrap_or_default(),
            Some(false) => String::new(),
            None if me.as_ref().is_some_and(|m| m.user.username == s.created_by) => me.map(|m| m.user.org_id).unwrap_or_default(),
            None => String::new(),
        }
    };

    // Names of the people behind user ids, as the server bound them to this record's writers.
    let people = RwSignal::new(BTreeMap::<i64, String>::new());
    if let Some(s) = session() {
        people.update(|p| {
            p.insert(s.user.id, s.user.display_name.clone());
        });
        spawn_local(async move {
            if let Ok(list) = api::actors(&s.token, id).await {
                people.update(|p| p.extend(list.into_iter().map(|b| (b.user_id, b.display_name))));
            }
        });
    }
    let org_name = move |org: &str| editor.org_name(org);
    let lang = move || ctx.lang.get();

    let choosing = RwSignal::new(None::<&'static StepDef>);
    let inputs = RwSignal::new(BTreeMap::<String, String>::new());
    let note = RwSignal::new(String::new());
    let message = RwSignal::new(None::<(bool, String)>);

    let take = move |def: &'static StepDef| {
        let Some(s) = session() else { return message.set(Some((false, ctx.t(text::CASE_SIGN_IN).to_owned()))) };
        let Some(seen_now) = seen.get_untracked() else { return };
        let mut data = inputs.get_untracked();
        // What the record itself says, carried as codes.
        match def.id {
            "transfer" => {
                let basis = if seen_now.fields.get("minor").is_some_and(|m| m == "true") {
                    seen_now.fields.get("legal_basis").cloned().unwrap_or_default()
                } else {
                    "consent".to_owned()
                };
                data.insert("basis".into(), basis);
            }
            "entrust" => {
                for key in ["subject", "due"] {
                    data.insert(key.into(), seen_now.fields.get(key).cloned().unwrap_or_default());
                }
            }
            _ => {}
        }
        data.retain(|_, v| !v.is_empty());
        // What the person was asked for and left empty, by name (the record's own fields
        // are checked by the step's guard).
        let missing: Vec<&str> = def
            .needs
            .iter()
            .filter_map(|n| match *n {
                Need::ToOrg { .. } if !data.contains_key("to_org") => Some(ctx.t(text::CASE_TO_NAME)),
                Need::Choice { key: key @ ("outcome" | "reason"), .. } if !data.contains_key(key) => Some(ctx.t(choice_label(key))),
                Need::Date { key } if def.id != "entrust" && !data.contains_key(key) => Some(ctx.t(text::CASE_DATE)),
                _ => None,
            })
            .collect();
        if !missing.is_empty() {
            return message.set(Some((false, format!("{}{}", ctx.t(text::CASE_MISSING), missing.join(ctx.t(text::LIST_SEP))))));
        }
        // An entrustment due before it is sent would be overdue from the start.
        if def.opens && data.get("due").is_some_and(|d| !d.is_empty() && *d < platform::today_cst()) {
            return message.set(Some((false, ctx.t(text::CASE_DUE_PAST).to_owned())));
        }
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        let event_id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = platform::now_ms();
        let owner = owner();
        let text = note.get_untracked();
        let done = editor.update(move |r| {
            case::take(r.doc_mut(), kind, &owner, def.id, &event_id, &s.user.id.to_string(), &s.user.org_id, now, data, Some(&text))
                .map_err(|e| match e {
                    case::CaseError::Refused(why) => why.text().get(ctx.lang.get_untracked()).to_owned(),
                    other => other.to_string(),
                })?;
            r.commit_change(now, false).map_err(|e| e.to_string())
        });
        match done {
            Ok(()) => {
                choosing.set(None);
                inputs.set(BTreeMap::new());
                note.set(String::new());
                let saved = ctx.t(text::CASE_STEP_SAVED).to_owned();
                message.set(Some((true, saved.clone())));
                // A confirmation, not a state: it goes after a while (the timeline stays).
                set_timeout(
                    move || {
                        if message.try_get_untracked().flatten().is_some_and(|(_, m)| m == saved) {
                            message.set(None);
                        }
                    },
                    std::time::Duration::from_secs(6),
                );
                ctx.access_changed.update(|n| *n += 1);
            }
            Err(e) => message.set(Some((false, e))),
        }
    };

    let header = move || {
        let s = seen.get()?;
        let st = &s.state;
        let waiting = st.waiting_for().map(|o| format!("{}{}", ctx.t(text::CASE_WAITING_FOR), org_name(o)));
        let now = platform::now_ms();
        let due = st.due().map(|d| {
            // The date the sender asked for, where it stands in for the default setting.
            let asked = st.state.waiting_for == Some(Party::Receiver) && st.asked_by.is_some();
            let setting = match st.state.deadline {
                _ if asked => ctx.t(text::CASE_DUE_ASKED),
                Some(dl) => dl.setting.get(lang()),
                None => "",
            };
            (format!("{}{} · {}", ctx.t(text::CASE_DUE), platform::format_cst_date(d, lang()), setting), st.overdue(now))
        });
        Some(view! {
            <div class="case-head">
                <span class="badge case-state" id="case-state" data-state=st.state.id>{st.state.label.get(lang())}</span>
                {waiting.map(|w| view! { <span class="muted" id="case-waiting">{w}</span> })}
                {due.map(|(d, late)| view! {
                    <span class=if late { "case-due overdue" } else { "case-due" } id="case-due" data-overdue=late.to_string()>
                        {late.then(|| view! { <strong>{ctx.t(text::CASE_OVERDUE)}" "</strong> })}{d}
                    </span>
                })}
            </div>
        })
    };

    let timeline = move || {
        let s = seen.get()?;
        let wf = s.state.workflow;
        // The record's own start (the device's clock) heads the timeline.
        let start = wf.state(wf.initial).map(|st| st.label.get(lang())).unwrap_or_default();
        let first = view! {
            <li class="case-step" data-step="created">
                <strong>{start}</strong>" · "{platform::format_cst(s.created_at, lang())}
            </li>
        };
        let mut last_applied: Option<i64> = Some(s.created_at);
        let rows = s
            .state
            .steps
            .iter()
            .map(|step| {
                let e = &step.event;
                let def = wf.step(&e.step);
                let label = def.map(|d| d.label.get(lang()).to_owned()).unwrap_or_else(|| e.step.clone());
                let who = e.by_user.parse::<i64>().ok().and_then(|u| people.with(|p| p.get(&u).cloned()));
                let who = match who {
                    Some(name) => format!("{name}（{}）", org_name(&e.by_org)),
                    None => org_name(&e.by_org),
                };
                let applied = step.outcome == Outcome::Applied;
                let took = match (applied, last_applied) {
                    (true, Some(before)) => Some(duration(e.at - before, lang())),
                    _ => None,
                };
                if applied {
                    // Counted by when each step was done, as shown, not when the server had it.
                    last_applied = Some(e.at);
                }
                let details: Vec<String> = e
                    .data
                    .iter()
                    .map(|(k, v)| match k.as_str() {
                        "to_org" => format!("{}{}", ctx.t(text::CASE_TO), org_name(v)),
                        _ if is_date(v) => platform::format_cst_date(date_ms(v), lang()),
                        _ => workflow::code_label(v).map(|l| l.get(lang()).to_owned()).unwrap_or_else(|| v.clone()),
                    })
                    .collect();
                let words = s.texts.get(&e.id).cloned();
                // Taken offline: when it was done (the device's clock) and when the server had
                // it, which deadlines count by, both shown.
                let offline = step.received.filter(|r| r.at - e.at >= 60_000).map(|r| platform::format_cst(r.at, lang()));
                let void = match &step.outcome {
                    Outcome::Void(why) => Some(why.text().get(lang()).to_owned()),
                    Outcome::Applied => None,
                };
                let class = if void.is_some() { "case-step void" } else { "case-step" };
                view! {
                    <li class=class data-step=e.step.clone() data-received=step.received.is_some().to_string()>
                        <strong>{label}</strong>" · "{who}" · "{platform::format_cst(e.at, lang())}
                        {offline.map(|at| view! { <span class="muted">" · "{ctx.t(text::CASE_RECEIVED_AT)}{at}</span> })}
                        {took.map(|t| view! { <span class="muted">" · "{ctx.t(text::CASE_TOOK)}{t}</span> })}
                        {step.received.is_none().then(|| view! { <span class="muted">" · "{ctx.t(text::CASE_NOT_SYNCED)}</span> })}
                        {(!details.is_empty()).then(|| view! { <div class="muted">{details.join(" · ")}</div> })}
                        {words.map(|w| view! { <div class="case-text">{w}</div> })}
                        {void.map(|why| view! { <div class="warn">{ctx.t(text::CASE_VOID)}{why}</div> })}
                    </li>
                }
            })
            .collect_view();
        Some(view! { <ol class="case-timeline" id="case-timeline">{first}{rows}</ol> })
    };

    let actions = move || {
        let s = seen.get()?;
        let org = my_org()?;
        let allowed = s.state.allowed(&org, &owner(), s.facts);
        let not_yet = (s.state.state.id == s.state.workflow.initial)
            .then(|| s.state.workflow.steps.iter().find(|d| d.opens).filter(|d| !allowed.iter().any(|a| a.id == d.id)))
            .flatten()
            .filter(|_| owner() == org);
        let buttons = allowed
            .into_iter()
            .map(|def| {
                view! {
                    <button type="button" class="case-action" data-step=def.id on:click=move |_| {
                        inputs.set(BTreeMap::new());
                        note.set(String::new());
                        message.set(None);
                        choosing.set(Some(def));
                    }>{def.label.get(lang())}</button>
                }
            })
            .collect_view();
        Some(view! {
            <div class="case-actions" id="case-actions">{buttons}</div>
            {not_yet.map(|def| view! {
                <p class="muted" id="case-blocked">{def.label.get(lang())}{ctx.t(text::CASE_NEEDS)}{needs_text(def, lang())}</p>
            })}
        })
    };

    // Record fields a step's form shows (a result's documents): filled there, then shown under
    // the timeline once the step is taken — a memo, so typing in them does not redraw them.
    let step_fields = move |def: &'static StepDef| {
        def.fields
            .iter()
            .filter_map(|id| editor.form.field(id))
            .map(|field| view! { <FieldInput at=Slot::top(field) editor=editor/> })
            .collect_view()
    };
    let taken_with_fields = Memo::new(move |_| {
        let s = seen.get()?;
        let chosen = choosing.get().map(|d| d.id);
        let applied = s.state.steps.iter().rev().filter(|st| st.outcome == Outcome::Applied);
        applied.filter_map(|st| s.state.workflow.step(&st.event.step)).find(|d| !d.fields.is_empty()).filter(|d| Some(d.id) != chosen)
    });
    let taken_fields = move || {
        editor.epoch.track();
        taken_with_fields
            .get()
            .map(|def| view! { <div class="case-fields fields" id="case-fields" data-step=def.id>{step_fields(def)}</div> })
    };

    let form = move || {
        let def = choosing.get()?;
        let org = my_org().unwrap_or_default();
        // No organisation it could go to: nothing to confirm (the form says why).
        let no_receiver = def.needs.iter().any(|n| match n {
            Need::ToOrg { kind } => editor.orgs.with(|os| !os.iter().any(|o| o.id != org && o.kind == *kind)),
            _ => false,
        });
        let fields = def
            .needs
            .iter()
            .filter_map(|need| match *need {
                Need::ToOrg { kind } => {
                    // Only organisations of the kind the step goes to: the server refuses others.
                    let options: Vec<_> = editor.orgs.get().into_iter().filter(|o| o.id != org && o.kind == kind).collect();
                    if options.is_empty() {
                        // We are of the kind it goes to (a federation cannot entrust a federation):
                        // say so rather than blame the list.
                        let ours = editor.orgs.with(|os| os.iter().any(|o| o.id == org && o.kind == kind));
                        let why = if ours { text::CASE_NOT_OURS } else { text::CASE_NO_RECEIVER };
                        return Some(view! { <p class="error" id="case-no-receiver">{ctx.t(why)}</p> }.into_any());
                    }
                    let options = options.into_iter().map(|o| view! { <option value=o.id>{o.name}</option> }).collect_view();
                    Some(view! {
                        <label>{ctx.t(text::CASE_TO)}
                            <select id="case-to-org" on:change=move |ev| { let v = event_target_value(&ev); inputs.update(|i| { i.insert("to_org".into(), v); }); }>
                                <option value="">{ctx.t(text::CHOOSE)}</option>
                                {options}
                            </select>
                        </label>
                    }.into_any())
                }
                // Carried from the record's own fields, not asked again.
                Need::Choice { key: "basis" | "subject", .. } => None,
                Need::Date { key: "due" } if def.id == "entrust" => None,
                Need::Choice { key, choices } => {
                    let options = choices
                        .iter()
                        .map(|c| view! { <option value=*c>{workflow::code_label(c).map(|l| l.get(lang())).unwrap_or(c)}</option> })
                        .collect_view();
                    Some(view! {
                        <label>{choice_label(key).get(lang())}
                            <select id=format!("case-{key}") on:change=move |ev| { let v = event_target_value(&ev); inputs.update(|i| { i.insert(key.into(), v); }); }>
                                <option value="">{ctx.t(text::CHOOSE)}</option>
                                {options}
                            </select>
                        </label>
                    }.into_any())
                }
                Need::Date { key } => {
                    let today = platform::today_cst();
                    inputs.update(|i| {
                        i.entry(key.into()).or_insert_with(|| today.clone());
                    });
                    Some(view! {
                        <label>{ctx.t(text::CASE_DATE)}
                            <input type="date" id=format!("case-{key}") value=today
                                on:input=move |ev| { let v = event_target_value(&ev); inputs.update(|i| { i.insert(key.into(), v); }); }/>
                        </label>
                    }.into_any())
                }
            })
            .collect_view();
        let words = def.text.map(|label| view! {
            <label>{label.get(lang())}
                <textarea id="case-text" rows="3" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))></textarea>
            </label>
            <p class="muted">{ctx.t(if def.closes_access && def.by == Party::Sender {
                text::CASE_TEXT_NOTE_WITHDRAW
            } else if def.needs.iter().any(|n| matches!(n, Need::Choice { key: "reason", .. })) {
                text::CASE_TEXT_NOTE_REASON
            } else {
                text::CASE_TEXT_NOTE
            })}</p>
        });
        Some(view! {
            <div class="case-form" id="case-form" data-step=def.id>
                <p><strong>{def.label.get(lang())}</strong></p>
                {fields}
                {words}
                {(!def.fields.is_empty()).then(|| view! { <div class="fields">{step_fields(def)}</div> })}
                <div class="case-form-buttons">
                    {(!no_receiver).then(|| view! {
                        <button type="button" id="case-confirm" on:click=move |_| take(def)>{ctx.t(text::CASE_CONFIRM)}</button>
                    })}
                    <button type="button" class="secondary" on:click=move |_| choosing.set(None)>{ctx.t(text::CANCEL)}</button>
                </div>
            </div>
        })
    };

    view! {
        <section class="case-panel" id="case-panel">
            <h3>{move || ctx.t(text::CASE_TITLE)}</h3>
            {header}
            {timeline}
            {taken_fields}
            {move || seen.with(|s| s.as_ref().is_some_and(|s| s.state.void().next().is_some())).then(|| view! {
                <p class="warn" id="case-review">{ctx.t(text::CASE_REVIEW)}</p>
            })}
            {actions}
            {form}
            {move || message.get().map(|(ok, m)| view! { <p class=if ok { "ok" } else { "error" } role="status" id="case-message">{m}</p> })}
            <p class="muted small">{move || ctx.t(text::CASE_DEADLINES_NOTE)}</p>
        </section>
    }
}

/// A field value as the code a step carries.
fn field_code(v: &shared::record::FieldValue) -> String {
    use shared::record::FieldValue;
    match v {
        FieldValue::Text(s) | FieldValue::Choice(s) | FieldValue::Date(s) => s.clone(),
        FieldValue::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn choice_label(key: &str) -> L {
    match key {
        "outcome" => text::CASE_OUTCOME,
        "reason" => text::CASE_REASON,
        _ => L::new("选择", "Choose"),
    }
}

/// What a step still needs before it can be taken (shown instead of its button).
fn needs_text(def: &StepDef, lang: Lang) -> &'static str {
    match def.when {
        Some(workflow::When::ConsentOrBasis) => text::CASE_NEEDS_CONSENT.get(lang),
        Some(workflow::When::MinorSexualAssault) => text::CASE_NEEDS_MINOR.get(lang),
        None if def.by == Party::Sender => text::CASE_NEEDS_FIELDS.get(lang),
        None => "",
    }
}

/// Whether a step's code is a date (`YYYY-MM-DD`).
fn is_date(v: &str) -> bool {
    v.len() == 10 && v.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
}

/// Noon of a `YYYY-MM-DD` date in China Standard Time, to show it as that date.
fn date_ms(v: &str) -> i64 {
    js_sys::Date::parse(&format!("{v}T12:00:00+08:00")) as i64
}

/// "3 天" / "3 days", "5 小时" / "5 hours", under an hour in minutes.
fn duration(ms: i64, lang: Lang) -> String {
    let minutes = ms.max(0) / 60_000;
    if minutes == 0 {
        return text::CASE_UNDER_A_MINUTE.get(lang).to_owned();
    }
    let (n, zh, en) = match minutes {
        m if m >= 2 * 24 * 60 => (m / (24 * 60), "天", "days"),
        m if m >= 120 => (m / 60, "小时", "hours"),
        m => (m, "分钟", "minutes"),
    };
    match lang {
        Lang::Zh => format!("{n} {zh}"),
        // "1 minute", "1 hour"; days start at 2.
        Lang::En if n == 1 => format!("1 {}", en.trim_end_matches('s')),
        Lang::En => format!("{n} {en}"),
    }
}

//! The records on this device, read from the summary store only, with filters (kind, status,
//! updated date, free text over the code and category), and the buttons that start a new
//! record of each form. Summaries hold only the title field (a code) and the category, so no
//! name can appear here.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::{FieldType, Form, RecordKind};
use shared::{RecordMeta, RecordSummary};

use crate::components::badges::{status_code, status_label, SyncState};
use crate::context::{Route, use_ctx};
use crate::{platform, text};

/// What the list is narrowed to; empty strings mean "any".
#[derive(Clone, Default, PartialEq)]
struct Filter {
    text: String,
    kind: String,
    status: String,
    from: String,
    to: String,
}

impl Filter {
    fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    fn keeps(&self, s: &RecordSummary) -> bool {
        if !self.kind.is_empty() && s.kind.as_str() != self.kind {
            return false;
        }
        if !self.status.is_empty() && status_code(s.status) != self.status {
            return false;
        }
        if !self.from.is_empty() || !self.to.is_empty() {
            let day = local_date(s.updated_at);
            if (!self.from.is_empty() && day < self.from) || (!self.to.is_empty() && day > self.to) {
                return false;
            }
        }
        let needle = self.text.trim().to_lowercase();
        if needle.is_empty() {
            return true;
        }
        // The code, and the category in both languages (and its id), whatever language is shown.
        let mut haystack = vec![s.title.to_lowercase()];
        if let Some(c) = &s.category {
            haystack.push(c.to_lowercase());
            if let Some(l) = category_label(s) {
                haystack.push(l.zh.to_lowercase());
                haystack.push(l.en.to_lowercase());
            }
        }
        haystack.iter().any(|h| h.contains(&needle))
    }
}

#[component]
pub fn ListPage() -> impl IntoView {
    let ctx = use_ctx();
    let records = RwSignal::new(None::<Vec<RecordSummary>>);
    let problems = RwSignal::new(Vec::<String>::new());
    let filter = RwSignal::new(Filter::default());

    // Re-read the summaries whenever a record is stored or synced.
    Effect::new(move |_| {
        let Some(engine) = ctx.engine() else { return };
        engine.revision.track();
        spawn_local(async move {
            match engine.store().list().await {
                Ok((list, errors)) => {
                    records.set(Some(list.into_iter().filter(|s| engine.visible(s)).collect()));
                    problems.set(errors.iter().map(ToString::to_string).collect());
                }
                Err(e) => {
                    records.set(Some(Vec::new()));
                    problems.set(vec![e.to_string()]);
                }
            }
        });
    });

    let shown = Memo::new(move |_| {
        let f = filter.get();
        records.with(|r| r.as_ref().map(|list| list.iter().filter(|s| f.keeps(s)).cloned().collect::<Vec<_>>()))
    });

    view! {
        <section class="list">
            <NewRecord/>
            <div class="list-head">
                <h2>{move || ctx.t(text::RECORDS)}</h2>
                {move || shown.get().filter(|_| records.with(|r| r.as_ref().is_some_and(|l| !l.is_empty()))).map(|s| view! {
                    <span class="muted count" id="record-count">{s.len()}" "{ctx.t(text::SHOWING)}</span>
                })}
            </div>
            <For each=move || problems.get() key=|p| p.clone() let:problem>
                <p class="error" role="alert">{move || ctx.t(text::LIST_DAMAGED)}{problem.clone()}</p>
            </For>
            {move || records.with(|r| r.as_ref().is_some_and(|l| !l.is_empty())).then(|| view! { <Filters filter=filter/> })}
            {move || match (records.with(|r| r.as_ref().map(Vec::len)), shown.get()) {
                (None, _) | (_, None) => view! { <p class="muted">{ctx.t(text::LOADING)}</p> }.into_any(),
                (Some(0), _) => view! { <p class="empty" id="empty-list">{ctx.t(text::EMPTY_LIST)}</p> }.into_any(),
                (_, Some(list)) if list.is_empty() => view! {
                    <div class="empty" id="no-match">
                        <p>{ctx.t(text::NO_MATCH)}</p>
                        <button type="button" on:click=move |_| filter.set(Filter::default())>{ctx.t(text::CLEAR_FILTERS)}</button>
                    </div>
                }.into_any(),
                (_, Some(list)) => view! {
                    <ul class="records" id="records">
                        {list.into_iter().map(|s| view! { <RecordRow summary=s/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <p class="muted list-note">{move || ctx.t(text::LIST_NOTE)}</p>
        </section>
    }
}

/// One button per form (the newest version of each), so adding a form file adds a button.
#[component]
fn NewRecord() -> impl IntoView {
    let ctx = use_ctx();
    let create = move |form: &'static Form| {
        let Some(engine) = ctx.engine() else { return };
        let created_by = engine.session().map(|s| s.user.username).unwrap_or_else(platform::device_id);
        let meta = RecordMeta {
            kind: RecordKind::new(form.kind),
            form_id: form.id.into(),
            form_version: form.version,
            created_by,
            created_at: platform::now_ms(),
        };
        let id = engine.create(&meta);
        ctx.go(Route::Record(id));
    };
    let buttons = shared::form::forms()
        .iter()
        .map(|&form| {
            // The case clue comes first and stands out: it is what most people open the app for.
            let class = if form.id == "intake" { "new-form primary" } else { "new-form" };
            view! {
                <button type="button" class=class id=format!("new-{}", form.id) data-form=form.id on:click=move |_| create(form)>
                    <span class="plus" aria-hidden="true">"＋"</span>
                    {move || ctx.t(form.title)}
                </button>
            }
        })
        .collect_view();
    view! {
        <section class="new-record" aria-labelledby="new-record-title">
            <h2 id="new-record-title">{move || ctx.t(text::NEW_RECORD)}</h2>
            <p class="muted">{move || ctx.t(text::NEW_RECORD_NOTE)}</p>
            <div class="new-buttons" id="new-record">{buttons}</div>
        </section>
    }
}

#[component]
fn Filters(filter: RwSignal<Filter>) -> impl IntoView {
    let ctx = use_ctx();
    let mut kinds: Vec<(&'static str, shared::i18n::L)> = Vec::new();
    for form in shared::form::forms() {
        if !kinds.iter().any(|(k, _)| *k == form.kind) {
            kinds.push((form.kind, form.kind_label));
        }
    }
    let set = move |f: fn(&mut Filter, String)| move |ev: leptos::ev::Event| filter.update(|x| f(x, event_target_value(&ev)));
    view! {
        <form class="filters" id="filters" role="search" on:submit=|ev| ev.prevent_default()>
            <div class="filter search">
                <label for="filter-text">{move || ctx.t(text::SEARCH)}</label>
                <input type="search" id="filter-text" autocomplete="off" placeholder=move || ctx.t(text::SEARCH_PLACEHOLDER)
                    prop:value=move || filter.with(|f| f.text.clone()) on:input=set(|f, v| f.text = v)/>
            </div>
            <div class="filter">
                <label for="filter-kind">{move || ctx.t(text::FILTER_KIND)}</label>
                <select id="filter-kind" prop:value=move || filter.with(|f| f.kind.clone()) on:change=set(|f, v| f.kind = v)>
                    <option value="">{move || ctx.t(text::ALL)}</option>
                    {kinds.into_iter().map(|(kind, label)| view! { <option value=kind>{move || ctx.t(label)}</option> }).collect_view()}
                </select>
            </div>
            <div class="filter">
                <label for="filter-status">{move || ctx.t(text::FILTER_STATUS)}</label>
                <select id="filter-status" prop:value=move || filter.with(|f| f.status.clone()) on:change=set(|f, v| f.status = v)>
                    <option value="">{move || ctx.t(text::ALL)}</option>
                    <option value="draft">{move || ctx.t(text::DRAFT)}</option>
                    <option value="complete">{move || ctx.t(text::COMPLETE)}</option>
                </select>
            </div>
            <div class="filter">
                <label for="filter-from">{move || ctx.t(text::FILTER_FROM)}</label>
                <input type="date" id="filter-from" prop:value=move || filter.with(|f| f.from.clone()) on:input=set(|f, v| f.from = v)/>
            </div>
            <div class="filter">
                <label for="filter-to">{move || ctx.t(text::FILTER_TO)}</label>
                <input type="date" id="filter-to" prop:value=move || filter.with(|f| f.to.clone()) on:input=set(|f, v| f.to = v)/>
            </div>
            {move || (!filter.with(Filter::is_empty)).then(|| view! {
                <button type="button" class="link clear-filters" id="clear-filters" on:click=move |_| filter.set(Filter::default())>
                    {ctx.t(text::CLEAR_FILTERS)}
                </button>
            })}
        </form>
    }
}

#[component]
fn RecordRow(summary: RecordSummary) -> impl IntoView {
    let ctx = use_ctx();
    let href = Route::Record(summary.id).href();
    let category = category_label(&summary);
    let title = summary.title.clone();
    let summary_id = summary.id;
    let kind_label = summary.kind.label();
    let updated_at = summary.updated_at;
    let status = summary.status;
    let sync = Memo::new(move |_| {
        ctx.engine().map_or(SyncState::Pending, |e| {
            e.revision.track();
            SyncState::of(&e, &summary)
        })
    });
    view! {
        <li class="record" data-id=summary_id.to_string() data-synced=move || (sync.get() == SyncState::OnServer).to_string()
            data-sync=move || sync.get().code() data-status=status_code(status)>
            <a href=href>
                <span class="title">{move || if title.is_empty() { ctx.t(text::NO_CODE).to_string() } else { title.clone() }}</span>
                <span class="kind">{move || kind_label.map(|l| ctx.t(l))}</span>
                <span class="category">{move || category.map(|l| ctx.t(l))}</span>
                <span class="meta">
                    <span class="badge status" data-status=status_code(status)>{move || ctx.t(status_label(status))}</span>
                    " "<span class=move || format!("sync-badge {}", sync.get().code())>{move || ctx.t(sync.get().label())}</span>
                    " · "{move || ctx.t(text::UPDATED)}" "{move || platform::format_time(updated_at, ctx.lang.get())}
                </span>
            </a>
        </li>
    }
}

/// The label of the summary's category choice, from the newest version of its form.
fn category_label(summary: &RecordSummary) -> Option<shared::i18n::L> {
    let form = shared::form::latest(&summary.form_id)?;
    let field = form.field(form.category_field?)?;
    let FieldType::SelectOne(choices) = &field.ty else { return None };
    let id = summary.category.as_deref()?;
    choices.iter().find(|c| c.id == id).map(|c| c.label)
}

/// `YYYY-MM-DD` of a time on this device's calendar, as date inputs give it.
fn local_date(ms: i64) -> String {
    let d = js_sys::Date::new(&(ms as f64).into());
    format!("{:04}-{:02}-{:02}", d.get_full_year(), d.get_month() + 1, d.get_date())
}

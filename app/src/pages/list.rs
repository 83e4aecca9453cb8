//! The records on this device, read from the summary store only, with filters (free text over
//! the code and category always in view; kind, status and updated date behind a button), and
//! the buttons that start a new record of each form. Summaries hold only the title field (a
//! code) and the category, so no name can appear here.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::{FieldType, Form, RecordKind};
use shared::{RecordMeta, RecordSummary};

use crate::components::badges::{SyncState, status_code, status_label};
use crate::context::{Route, use_ctx};
use crate::engine::SyncStatus;
use crate::{platform, text};

/// What the list is narrowed to; empty strings mean "any".
#[derive(Clone, Default, PartialEq)]
struct Filter {
    text: String,
    kind: String,
    status: String,
    /// A case stage, `workflow:state`.
    stage: String,
    from: String,
    to: String,
}

impl Filter {
    fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// How many of the filters behind the "filters" button narrow the list: kind, status and
    /// the updated dates (one range, whichever ends are set). The text search is always shown.
    fn folded_in_use(&self) -> usize {
        [!self.kind.is_empty(), !self.status.is_empty(), !self.stage.is_empty(), !self.from.is_empty() || !self.to.is_empty()]
            .into_iter()
            .filter(|&b| b)
            .count()
    }

    fn keeps(&self, s: &RecordSummary) -> bool {
        if !self.kind.is_empty() && s.kind.as_str() != self.kind {
            return false;
        }
        if !self.status.is_empty() && status_code(s.status) != self.status {
            return false;
        }
        if !self.stage.is_empty() && s.case.as_ref().is_none_or(|c| format!("{}:{}", c.workflow, c.state) != self.stage) {
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

/// Rows drawn at first and added per "show more": a phone shows about ten, and ten thousand
/// rows in the DOM would make every change slow.
const PAGE: usize = 50;

#[component]
pub fn ListPage() -> impl IntoView {
    let ctx = use_ctx();
    let filter = RwSignal::new(Filter::default());
    let limit = RwSignal::new(PAGE);
    let exporting = RwSignal::new(false);

    // The engine keeps every summary in memory and says when they change (at most a few
    // times a second, however many records a sync stores).
    let all = Memo::new(move |_| {
        let engine = ctx.engine()?;
        engine.list_changed.track();
        Some(engine.records())
    });
    let shown = Memo::new(move |_| {
        let f = filter.get();
        let picked = ctx.list_selection.get();
        let now = platform::now_ms();
        let keeps = |s: &RecordSummary| f.keeps(s) && picked.as_ref().is_none_or(|p| p.selection.keeps(s, now));
        all.with(|r| r.as_ref().map(|list| list.iter().filter(|s| keeps(s)).cloned().collect::<Vec<_>>()))
    });
    // A new filter starts again from the top.
    Effect::new(move |_| {
        filter.track();
        limit.set(PAGE);
    });
    let total = move || all.with(|r| r.as_ref().map_or(0, Vec::len));
    // Only whether there are records: the filters are not drawn again (closing them and
    // resetting what is being typed) each time a sync changes the list.
    let any = Memo::new(move |_| total() > 0);
    let page = move || shown.with(|s| s.as_ref().map(|l| l.iter().take(limit.get()).cloned().collect::<Vec<_>>()).unwrap_or_default());
    let more = move || shown.with(|s| s.as_ref().map_or(0, Vec::len)).saturating_sub(limit.get());
    let syncing = move || ctx.engine().is_some_and(|e| matches!(e.status.get(), SyncStatus::Syncing { .. } | SyncStatus::Connecting));
    let problems = move || ctx.engine().map(|e| e.list_problems.clone()).unwrap_or_default();

    view! {
        <section class="list">
            <NewRecord/>
            <div class="list-head">
                <h2>{move || ctx.t(text::RECORDS)}</h2>
                {move || shown.get().filter(|_| total() > 0).map(|s| view! {
                    <span class="muted count" id="record-count">{s.len()}" "{ctx.t(if s.len() == 1 { text::SHOWING_ONE } else { text::SHOWING })}</span>
                })}
            </div>
            {move || {
                let n = ctx.engine().map_or(0, |e| e.forgotten.with(Vec::len));
                (n > 0).then(|| view! {
                    <p class="warn" role="status" id="records-gone">
                        {ctx.t(if n == 1 { text::RECORDS_GONE_ONE } else { text::RECORDS_GONE }).replace("{n}", &n.to_string())}
                    </p>
                })
            }}
            <For each=problems key=|p| p.clone() let:problem>
                <p class="error" role="alert">{move || ctx.t(text::LIST_DAMAGED)}{problem.clone()}</p>
            </For>
            {move || ctx.list_selection.get().map(|p| view! {
                <p class="list-selection" id="list-selection" role="status">
                    <span>{ctx.t(text::LIST_SELECTION)}": "{p.label}</span>" "
                    <button type="button" class="link" id="list-selection-clear" on:click=move |_| ctx.list_selection.set(None)>
                        {ctx.t(text::LIST_SELECTION_CLEAR)}
                    </button>
                </p>
            })}
            {move || any.get().then(|| view! { <Filters filter=filter/> })}
            {move || (any.get() && !exporting.get()).then(|| view! {
                <button type="button" class="export-open" id="export-open" on:click=move |_| exporting.set(true)>
                    {ctx.t(text::EXPORT)}
                </button>
            })}
            {move || exporting.get().then(|| {
                // The records as the list shows them now, every page of them.
                let ids: Vec<shared::DocumentId> = shown.with_untracked(|s| s.iter().flatten().map(|r| r.id).collect());
                let close = Callback::new(move |()| exporting.set(false));
                view! {
                    <Suspense fallback=move || view! { <p class="muted">{ctx.t(text::OPENING_PAGE)}</p> }>
                        {Suspend::new(async move {
                            match crate::components::export::export_panel(ids, close).await {
                                Ok(panel) => panel,
                                Err(_) => view! { <p class="error" role="alert">{ctx.t(text::PAGE_LOAD_FAILED)}</p> }.into_any(),
                            }
                        })}
                    </Suspense>
                }
            })}
            {move || match (total(), shown.with(|s| s.as_ref().map(Vec::len))) {
                (_, None) => view! { <p class="muted">{ctx.t(text::LOADING)}</p> }.into_any(),
                (0, _) if syncing() => view! { <p class="empty" id="empty-list" data-syncing="true">{ctx.t(text::EMPTY_LIST_SYNCING)}</p> }.into_any(),
                (0, _) => view! { <p class="empty" id="empty-list">{ctx.t(text::EMPTY_LIST)}</p> }.into_any(),
                (_, Some(0)) => view! {
                    <div class="empty" id="no-match">
                        <p>{ctx.t(text::NO_MATCH)}</p>
                        <button type="button" on:click=move |_| filter.set(Filter::default())>{ctx.t(text::CLEAR_FILTERS)}</button>
                    </div>
                }.into_any(),
                _ => ().into_any(),
            }}
            <ul class="records" id="records">
                // Keyed by content (heads) so a row is redrawn only when its record changed.
                <For each=page key=|s| (s.id, s.heads.clone(), s.org.clone()) let:summary>
                    <RecordRow summary=summary/>
                </For>
            </ul>
            {move || (more() > 0).then(|| view! {
                <button type="button" class="more" id="show-more" on:click=move |_| limit.update(|n| *n += PAGE)>
                    {ctx.t(text::SHOW_MORE)}" ("{more()}")"
                </button>
            })}
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
        // At once, except in the first moments after start, while the sync code loads.
        spawn_local(async move {
            let id = engine.create(&meta).await;
            ctx.go(Route::Record(id));
        });
    };
    // The case clue comes first: on a phone the row scrolls sideways.
    let mut forms: Vec<&'static shared::form::Form> = shared::form::forms().to_vec();
    forms.sort_by_key(|f| f.id != "intake");
    let buttons = forms
        .into_iter()
        .map(|form| {
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

/// On a phone the filters take one line: the text search, and a button that shows the others
/// (kind, status, updated dates) and says how many of them are in use.
#[component]
fn Filters(filter: RwSignal<Filter>) -> impl IntoView {
    let ctx = use_ctx();
    let open = RwSignal::new(false);
    let mut kinds: Vec<(&'static str, shared::i18n::L)> = Vec::new();
    for form in shared::form::forms() {
        if !kinds.iter().any(|(k, _)| *k == form.kind) {
            kinds.push((form.kind, form.kind_label));
        }
    }
    let set = move |f: fn(&mut Filter, String)| move |ev: leptos::ev::Event| filter.update(|x| f(x, event_target_value(&ev)));
    let in_use = Memo::new(move |_| filter.with(Filter::folded_in_use));
    view! {
        <form class="filters" id="filters" role="search" on:submit=|ev| ev.prevent_default()>
            <div class="filter-bar">
                <label for="filter-text" class="visually-hidden">{move || ctx.t(text::SEARCH)}</label>
                <input type="search" id="filter-text" autocomplete="off" placeholder=move || ctx.t(text::SEARCH_PLACEHOLDER)
                    prop:value=move || filter.with(|f| f.text.clone()) on:input=set(|f, v| f.text = v)/>
                <button type="button" class="filters-toggle" id="filters-toggle" aria-controls="filter-more"
                    aria-expanded=move || open.get().to_string() data-in-use=move || in_use.get()
                    on:click=move |_| open.update(|o| *o = !*o)>
                    {move || match in_use.get() {
                        0 => ctx.t(text::FILTERS).to_string(),
                        n => format!("{} ({n})", ctx.t(text::FILTERS)),
                    }}
                </button>
            </div>
            <div class="filter-more" id="filter-more" hidden=move || !open.get()>
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
                    <label for="filter-stage">{move || ctx.t(text::FILTER_STAGE)}</label>
                    <select id="filter-stage" prop:value=move || filter.with(|f| f.stage.clone()) on:change=set(|f, v| f.stage = v)>
                        <option value="">{move || ctx.t(text::ALL)}</option>
                        {shared::case::workflow::WORKFLOWS.iter().map(|wf| {
                            let group = shared::form::forms().iter().find(|f| f.kind == wf.kind).map(|f| f.kind_label);
                            view! {
                                <optgroup label=move || group.map(|l| ctx.t(l))>
                                    {wf.states.iter().map(|st| view! {
                                        <option value=format!("{}:{}", wf.id, st.id)>{move || ctx.t(st.label)}</option>
                                    }).collect_view()}
                                </optgroup>
                            }
                        }).collect_view()}
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
            </div>
        </form>
    }
}

#[component]
fn RecordRow(summary: Arc<RecordSummary>) -> impl IntoView {
    let ctx = use_ctx();
    let href = Route::Record(summary.id).href();
    let category = category_label(&summary);
    let title = summary.title.clone();
    let summary_id = summary.id;
    let kind_label = summary.kind.label();
    let updated_at = summary.updated_at;
    let status = summary.status;
    // Where its case stands says more than draft/complete once a case has begun.
    let stage = summary.case.as_ref().and_then(|c| {
        let wf = shared::case::workflow::find(&c.workflow)?;
        (c.state != wf.initial).then(|| wf.state(&c.state)).flatten()
    });
    let sync = Memo::new(move |_| {
        ctx.engine().map_or(SyncState::Pending, |e| {
            e.list_changed.track();
            SyncState::of(&e, summary.id, &summary.heads)
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
                    {match stage {
                        Some(st) => view! { <span class="badge case-state" data-state=st.id>{move || ctx.t(st.label)}</span> }.into_any(),
                        None => view! { <span class="badge status" data-status=status_code(status)>{move || ctx.t(status_label(status))}</span> }.into_any(),
                    }}
                    " "<span class=move || format!("sync-badge {}", sync.get().code())>{move || ctx.t(sync.get().label())}</span>
                    " · "{move || ctx.t(text::UPDATED)}" "{move || platform::format_cst(updated_at, ctx.lang.get())}
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

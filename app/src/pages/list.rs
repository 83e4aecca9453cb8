//! The list of records on this device, read from the summary store only.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::{FieldType, RecordKind};
use shared::{RecordMeta, RecordSummary};

use crate::context::{Route, use_ctx};
use crate::{platform, text};

#[component]
pub fn ListPage() -> impl IntoView {
    let ctx = use_ctx();
    let records = RwSignal::new(None::<Vec<RecordSummary>>);
    let problems = RwSignal::new(Vec::<String>::new());

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

    let create = move |_| {
        let Some(engine) = ctx.engine() else { return };
        // New records use the newest version of the form.
        let Some(form) = shared::form::latest("intake") else { return };
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

    view! {
        <section class="list">
            <div class="list-head">
                <h2>{move || ctx.t(text::RECORDS)}</h2>
                <button class="primary" id="new-intake" on:click=create>{move || ctx.t(text::NEW_INTAKE)}</button>
            </div>
            <For each=move || problems.get() key=|p| p.clone() let:problem>
                <p class="error" role="alert">{move || ctx.t(text::LIST_DAMAGED)}{problem.clone()}</p>
            </For>
            {move || match records.get() {
                None => view! { <p class="muted">{ctx.t(text::LOADING)}</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="empty" id="empty-list">{ctx.t(text::EMPTY_LIST)}</p> }.into_any(),
                Some(list) => view! {
                    <ul class="records" id="records">
                        {list.into_iter().map(|s| view! { <RecordRow summary=s/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn RecordRow(summary: RecordSummary) -> impl IntoView {
    let ctx = use_ctx();
    let href = Route::Record(summary.id).href();
    let category = summary.category.clone();
    let form_id = summary.form_id.clone();
    let category_label = move || {
        // The summary's category comes from the newest version of the form.
        let form = shared::form::latest(&form_id)?;
        let field = form.field(form.category_field?)?;
        let FieldType::SelectOne(choices) = &field.ty else { return None };
        let id = category.as_deref()?;
        choices.iter().find(|c| c.id == id).map(|c| ctx.t(c.label))
    };
    let title = summary.title.clone();
    let summary_id = summary.id;
    let kind_label = summary.kind.label();
    let updated_at = summary.updated_at;
    let on_server = Memo::new(move |_| {
        ctx.engine().is_some_and(|e| {
            e.revision.track();
            e.on_server(&summary)
        })
    });
    view! {
        <li class="record" data-id=summary_id.to_string() data-synced=move || on_server.get().to_string()>
            <a href=href>
                <span class="title">{move || if title.is_empty() { ctx.t(text::NO_CODE).to_string() } else { title.clone() }}</span>
                <span class="kind">{move || kind_label.map(|l| ctx.t(l))}</span>
                <span class="category">{category_label}</span>
                <span class="meta">
                    <span class="badge">{move || ctx.t(text::DRAFT)}</span>
                    " "{move || ctx.t(text::UPDATED)}" "{move || platform::format_time(updated_at, ctx.lang.get())}
                    " · "<span class="sync-badge">{move || ctx.t(if on_server.get() { text::ON_SERVER } else { text::NOT_ON_SERVER })}</span>
                </span>
            </a>
        </li>
    }
}

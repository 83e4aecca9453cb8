//! The list of records on this device, read from the summary store only.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::{FieldType, INTAKE_V1, RecordKind};
use shared::{Record, RecordMeta, RecordSummary};

use crate::context::{Route, use_ctx};
use crate::{platform, text};

#[component]
pub fn ListPage() -> impl IntoView {
    let ctx = use_ctx();
    let records = RwSignal::new(None::<Vec<RecordSummary>>);
    let problems = RwSignal::new(Vec::<String>::new());

    if let Some(store) = ctx.store() {
        spawn_local(async move {
            match store.list().await {
                Ok((list, errors)) => {
                    records.set(Some(list));
                    problems.set(errors.iter().map(ToString::to_string).collect());
                }
                Err(e) => {
                    records.set(Some(Vec::new()));
                    problems.set(vec![e.to_string()]);
                }
            }
        });
    }

    let create = move |_| {
        let Some(store) = ctx.store() else { return };
        let meta = RecordMeta {
            kind: RecordKind::Intake,
            form_id: INTAKE_V1.id.into(),
            form_version: INTAKE_V1.version,
            created_by: platform::device_id(),
            created_at: platform::now_ms(),
        };
        let record = Record::create(platform::new_document_id(), &meta);
        let id = record.id();
        spawn_local(async move {
            match store.create(record).await {
                Ok(_) => ctx.go(Route::Record(id)),
                Err(e) => problems.update(|p| p.push(e.to_string())),
            }
        });
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
    let category_label = move || {
        let form = shared::form::find(&summary.form_id, summary.form_version)?;
        let field = form.field(form.category_field?)?;
        let FieldType::SelectOne(choices) = field.ty else { return None };
        let id = category.as_deref()?;
        choices.iter().find(|c| c.id == id).map(|c| ctx.t(c.label))
    };
    let title = summary.title.clone();
    view! {
        <li class="record" data-id=summary.id.to_string()>
            <a href=href>
                <span class="title">{move || if title.is_empty() { ctx.t(text::NO_CODE).to_string() } else { title.clone() }}</span>
                <span class="kind">{move || ctx.t(summary.kind.label())}</span>
                <span class="category">{category_label}</span>
                <span class="meta">
                    <span class="badge">{move || ctx.t(text::DRAFT)}</span>
                    " "{move || ctx.t(text::UPDATED)}" "{move || platform::format_time(summary.updated_at, ctx.lang.get())}
                </span>
            </a>
        </li>
    }
}

//! One record, open for editing. Every edit is stored the moment it is made; edits from
//! others appear once they are stored on this device.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::Field;
use shared::record::Layout;
use shared::{DocumentId, FieldValue};

use crate::api;
use crate::components::field::FieldInput;
use crate::context::{Route, use_ctx};
use crate::text;

/// The record being edited, shared by its field components.
#[derive(Clone, Copy)]
pub struct Editor {
    id: DocumentId,
    error: RwSignal<Option<String>>,
}

#[derive(Clone)]
enum LoadState {
    Loading,
    Ready { layout: Layout<'static>, damaged: usize },
    Failed(String),
}

impl Editor {
    pub fn value(&self, field: &Field) -> Option<FieldValue> {
        use_ctx().engine().and_then(|e| e.value(self.id, field))
    }

    pub fn set(&self, field: &'static Field, value: Option<FieldValue>) {
        let Some(engine) = use_ctx().engine() else { return };
        if let Err(e) = engine.edit(self.id, field, value) {
            self.error.set(Some(e));
        }
    }
}

#[component]
pub fn RecordPage(id: DocumentId) -> impl IntoView {
    let ctx = use_ctx();
    let editor = Editor { id, error: RwSignal::new(None) };
    let state = RwSignal::new(LoadState::Loading);

    if let Some(engine) = ctx.engine() {
        spawn_local(async move {
            match engine.open(id).await {
                Ok(damaged) => match engine.with_record(id, |r| r.layout().map_err(|e| e.to_string())) {
                    Ok(Ok(layout)) => state.set(LoadState::Ready { layout, damaged: damaged.len() }),
                    Ok(Err(e)) | Err(e) => state.set(LoadState::Failed(e)),
                },
                Err(e) => state.set(LoadState::Failed(e.to_string())),
            }
        });
    }

    // Bumps when someone else's edit to this record has been stored here: the fields re-render.
    let version = Memo::new(move |prev: Option<&u64>| {
        let (doc, n) = ctx.engine().map(|e| e.remote_update.get()).unwrap_or((None, 0));
        if doc == Some(id) { n } else { prev.copied().unwrap_or(0) }
    });

    let save_status = move || {
        let engine = ctx.engine()?;
        Some(if let Some(e) = editor.error.get().or_else(|| engine.write_error.get()) {
            view! { <span class="error" id="save-status" data-state="error">{ctx.t(text::SAVE_FAILED)}{e}</span> }.into_any()
        } else if engine.writes_pending.get() > 0 {
            view! { <span class="muted" id="save-status" data-state="saving">{ctx.t(text::SAVING)}</span> }.into_any()
        } else {
            view! { <span class="ok" id="save-status" data-state="saved">{ctx.t(text::SAVED)}</span> }.into_any()
        })
    };

    view! {
        <section class="record-page">
            <a class="back" href=Route::List.href()>{move || ctx.t(text::BACK)}</a>
            {move || match state.get() {
                LoadState::Loading => view! { <p class="muted">{ctx.t(text::LOADING)}</p> }.into_any(),
                LoadState::Failed(e) => view! {
                    <p class="error" role="alert" id="record-error">{ctx.t(text::RECORD_FAILED)}{e}</p>
                }.into_any(),
                LoadState::Ready { layout, damaged } => {
                    let form = layout.current;
                    // Values this version of the form no longer asks for, shown read-only.
                    let retired = layout.retired.into_iter().map(|r| view! {
                        <p class="retired" data-field=r.field.id>
                            <span class="label">{move || ctx.t(r.field.label)}</span>": "{r.value.input_text()}
                        </p>
                    }).collect_view();
                    let unknown = layout.unknown.into_iter().map(|(key, text)| view! {
                        <p class="retired" data-field=key.clone()><span class="label">{key.clone()}</span>": "{text}</p>
                    }).collect_view();
                    view! {
                        <h2>{move || ctx.t(form.title)}</h2>
                        <p class="record-id muted">{id.to_string()}</p>
                        {(damaged > 0).then(|| view! {
                            <p class="warn" role="alert" id="damaged-warning">{move || ctx.t(text::DAMAGED_CHUNKS)}</p>
                        })}
                        <p class="save-line" aria-live="polite">{save_status}" · "{move || ctx.t(text::AUTOSAVE_NOTE)}</p>
                        <SharePanel id=id/>
                        {move || {
                            // `get`, not `track`: a memo that was never read has not subscribed to
                            // its own sources yet, so tracking alone would never fire.
                            let _ = version.get();
                            view! {
                                <form class="fields" on:submit=|ev| ev.prevent_default()>
                                    {form.fields.iter().map(|field| view! { <FieldInput field=field editor=editor/> }).collect_view()}
                                </form>
                            }
                        }}
                        {retired}
                        {unknown}
                    }.into_any()
                }
            }}
        </section>
    }
}

/// Whether the server has this record, and sharing it with another organisation.
#[component]
fn SharePanel(id: DocumentId) -> impl IntoView {
    let ctx = use_ctx();
    let orgs = RwSignal::new(Vec::<api::Org>::new());
    let access = RwSignal::new(None::<api::DocAccess>);
    let choice = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    let on_server = move || {
        let engine = ctx.engine()?;
        engine.revision.track();
        let heads = engine.with_record(id, |r| r.summary().ok()).ok().flatten()?;
        Some(engine.on_server(&heads))
    };
    let refresh = move || {
        let Some(session) = ctx.engine().and_then(|e| e.session()) else { return };
        spawn_local(async move {
            if let Ok(list) = api::orgs(&session.token).await {
                orgs.set(list.into_iter().filter(|o| o.id != session.user.org_id).collect());
            }
            access.set(api::access(&session.token, id).await.ok());
        });
    };
    // Ask again once the record reaches the server.
    Effect::new(move |_| {
        if on_server() == Some(true) && access.get_untracked().is_none() {
            refresh();
        }
    });
    let share = move |_| {
        let Some(session) = ctx.engine().and_then(|e| e.session()) else { return };
        let org = choice.get_untracked();
        if org.is_empty() {
            return;
        }
        spawn_local(async move {
            match api::share(&session.token, id, &org).await {
                Ok(()) => {
                    error.set(None);
                    access.set(api::access(&session.token, id).await.ok());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let org_name = move |org_id: &str| orgs.get().into_iter().find(|o| o.id == org_id).map(|o| o.name).unwrap_or_else(|| org_id.to_owned());

    view! {
        <div class="share" id="share-panel">
            <p id="record-sync" data-synced=move || on_server().unwrap_or(false).to_string()>
                {move || ctx.t(if on_server().unwrap_or(false) { text::ON_SERVER } else { text::NOT_ON_SERVER })}
            </p>
            {move || match access.get() {
                Some(a) if a.owner => view! {
                    <p id="shared-with">{move || if a.shared_with.is_empty() { ctx.t(text::NOT_SHARED).to_string() } else {
                        format!("{}{}", ctx.t(text::SHARED_WITH), a.shared_with.iter().map(|o| org_name(o)).collect::<Vec<_>>().join("、"))
                    }}</p>
                    <div class="share-row">
                        <label for="share-org">{move || ctx.t(text::SHARE_WITH)}</label>
                        <select id="share-org" on:change=move |ev| choice.set(event_target_value(&ev))>
                            <option value="">{move || format!("— {} —", ctx.t(text::CHOOSE))}</option>
                            {move || orgs.get().into_iter().map(|o| view! { <option value=o.id.clone()>{o.name.clone()}</option> }).collect_view()}
                        </select>
                        <button id="share-button" on:click=share>{move || ctx.t(text::SHARE)}</button>
                    </div>
                }.into_any(),
                Some(_) => ().into_any(),
                None if ctx.engine().and_then(|e| e.session()).is_some() && on_server() != Some(true) => view! {
                    <p class="muted">{move || ctx.t(text::SHARE_NEEDS_SYNC)}</p>
                }.into_any(),
                None => ().into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{ctx.t(text::SHARE_FAILED)}{e}</p> })}
        </div>
    }
}

//! One record, open for editing. Every edit is stored the moment it is made; edits from
//! others appear once they are stored on this device. The page shows the record's status
//! (draft or complete) and whether the server has it, and "mark complete" lists what is
//! missing at the top and next to each field.

use crate::split::split_point;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::DocumentId;
use shared::form::{Field, Problem};
use shared::i18n::Lang;
use shared::record::{Layout, Status};
use wasm_split_helpers::SplitLoaderError;

use crate::api;
use crate::components::agreement::LazyAgreementPanel;
use crate::components::badges::{SyncState, status_code, status_label};
use crate::components::case::CasePanel;
use crate::components::editor::{Editor, Slot, focus_within};
use crate::components::field::{FieldInput, pick};
use crate::context::{Ctx, Route, use_ctx};
use crate::{platform, text};

/// The record page, fetched the first time a record is opened: the first screen (the list)
/// never needs it, so its code (editors, photos, the signature pad) is not part of the first
/// download. The service worker precaches its chunk, so it opens offline all the same; should
/// the chunk still be missing (no cache, no network), the page says so and offers a retry
/// rather than stopping the app.
#[component]
pub fn LazyRecordPage(id: DocumentId) -> impl IntoView {
    let ctx = use_ctx();
    let attempt = RwSignal::new(0u32);
    view! {
        <Suspense fallback=move || view! { <p class="muted" id="page-loading">{ctx.t(text::OPENING_PAGE)}</p> }>
            {move || {
                attempt.track();
                Suspend::new(async move {
                    match record_page(id).await {
                        Ok(page) => page,
                        Err(_) => view! {
                            <p class="error" role="alert" id="page-load-failed">
                                {ctx.t(text::PAGE_LOAD_FAILED)}" "
                                <button on:click=move |_| attempt.update(|n| *n += 1)>{ctx.t(text::RETRY)}</button>
                            </p>
                        }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

// The split point: `cargo xtask dist` moves what only this function reaches into its own
// wasm chunk. `fallible`, because a chunk that cannot load must not abort the whole app.
split_point!(
    record_page,
    fn record_page(id: DocumentId) -> Result<AnyView, SplitLoaderError> {
        Ok(view! { <RecordPage id=id/> }.into_any())
    }
);

#[derive(Clone)]
enum LoadState {
    Loading,
    Ready { layout: Layout<'static>, damaged: usize },
    Failed(String),
}

#[component]
fn RecordPage(id: DocumentId) -> impl IntoView {
    let ctx = use_ctx();
    let state = RwSignal::new(LoadState::Loading);

    if let Some(engine) = ctx.engine() {
        // The record stays in memory while this page shows it, and may leave once it goes.
        on_cleanup(move || {
            if let Some(engine) = ctx.engine_untracked() {
                engine.close(id);
            }
        });
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

    // Deleted from this device while open: its organisation may no longer read it.
    let gone = move || ctx.engine().is_some_and(|e| e.forgotten.with(|f| f.contains(&id)));
    view! {
        <section class="record-page">
            <a class="back" href=Route::List.href()>{move || ctx.t(text::BACK)}</a>
            {move || match state.get() {
                _ if gone() => view! { <p class="warn" role="alert" id="record-gone">{ctx.t(text::RECORD_GONE)}</p> }.into_any(),
                LoadState::Loading => view! { <p class="muted">{ctx.t(text::LOADING)}</p> }.into_any(),
                LoadState::Failed(e) => view! {
                    <p class="error" role="alert" id="record-error">{ctx.t(text::RECORD_FAILED)}{e}</p>
                }.into_any(),
                LoadState::Ready { layout, damaged } => view! { <RecordForm id=id layout=layout damaged=damaged/> }.into_any(),
            }}
        </section>
    }
}

/// How long a write runs before the save line says "saving".
const SLOW_SAVE_MS: u64 = 400;

/// What the save line shows.
#[derive(Clone, PartialEq)]
enum SaveState {
    Saving,
    Saved,
    Failed(String),
}

impl SaveState {
    /// For tests and styles: `saving`, `saved`, `error`.
    fn code(&self) -> &'static str {
        match self {
            SaveState::Saving => "saving",
            SaveState::Saved => "saved",
            SaveState::Failed(_) => "error",
        }
    }
}

#[component]
fn RecordForm(id: DocumentId, layout: Layout<'static>, damaged: usize) -> impl IntoView {
    let ctx = use_ctx();
    let form = layout.current;
    let editor = Editor::new(ctx, id, form);
    let result = RwSignal::new(None::<Result<(), String>>);
    let is_agreement = editor.read(|r| shared::agreement::content(r.doc()).is_ok()).unwrap_or(false);
    let sync_state = sync_state_memo(ctx, id);

    // A memo: several places show it, and it changes far less often than the record.
    let status = Memo::new(move |_| {
        editor.tick.track();
        editor.epoch.track();
        if let Some(e) = ctx.engine() {
            e.revision.track();
        }
        editor.read(|r| r.status()).unwrap_or(Status::Draft)
    });
    let status = move || status.get();

    let save_state = Memo::new(move |_| {
        let engine = ctx.engine()?;
        Some(if let Some(e) = editor.error.get().or_else(|| engine.write_error.get()) {
            SaveState::Failed(e)
        } else if engine.writes_pending.get() > 0 {
            SaveState::Saving
        } else {
            SaveState::Saved
        })
    });
    // `data-state` says at once what is going on; the words say "saving" only once a write has
    // taken a while. Each keystroke's write takes milliseconds: "saving"/"saved" in turn at
    // every keystroke would redraw the line and be read out by screen readers every time.
    let slow = RwSignal::new(false);
    let saving_since = StoredValue::new(0u64);
    Effect::new(move |_| {
        if save_state.get() == Some(SaveState::Saving) {
            let at = saving_since.get_value() + 1;
            saving_since.set_value(at);
            set_timeout(
                move || {
                    if saving_since.try_get_value() == Some(at) && save_state.get_untracked() == Some(SaveState::Saving) {
                        slow.set(true);
                    }
                },
                std::time::Duration::from_millis(SLOW_SAVE_MS),
            );
        } else {
            saving_since.update_value(|n| *n += 1);
            slow.set(false);
        }
    });
    let save_status = Memo::new(move |_| {
        let state = save_state.get()?;
        let (class, words) = match &state {
            SaveState::Failed(e) => ("error", format!("{}{e}", ctx.t(text::SAVE_FAILED))),
            SaveState::Saving if slow.get() => ("muted", ctx.t(text::SAVING).to_string()),
            _ => ("ok", ctx.t(text::SAVED).to_string()),
        };
        Some((class, state.code(), words))
    });
    let save_status = move || save_status.get();

    let mark_complete = move |_| {
        editor.refresh();
        editor.checked.set(true);
        let problems = editor.values.with_untracked(|v| form.check(v));
        if !problems.is_empty() {
            result.set(None);
            request_animation_frame(|| focus_within("check-summary"));
            return;
        }
        let now = platform::now_ms();
        let done = editor.update(|r| r.mark_complete(form, now).map_err(|e| e.to_string()));
        if done.is_ok() {
            // Nothing left to list: the summary goes, the result line says it is complete.
            editor.checked.set(false);
        }
        result.set(Some(done));
    };

    // Nothing of it is this organisation's to write now (a clue received; an entrustment's
    // questions once sent, for either side): "draft" and "mark complete" would mean nothing
    // here; the case panel says where it stands.
    let read_only = Memo::new(move |_| {
        let step_field = |f: &&Field| shared::case::workflow::for_kind(form.kind).is_some_and(|w| w.is_step_field(f.id));
        let mut own = form.fields.iter().filter(|f| !step_field(f)).peekable();
        own.peek().is_some() && own.all(|f| editor.fixed_reason(&Slot::top(f)).is_some())
    });

    // Values this version of the form no longer asks for, shown read-only.
    let retired = (!layout.retired.is_empty() || !layout.unknown.is_empty()).then(|| {
        let lang_value =
            move |field, value: &shared::FieldValue| crate::components::field::display_value(field, Some(value), ctx.lang.get());
        let retired = layout
            .retired
            .into_iter()
            .map(|r| {
                let value = r.value.clone();
                view! {
                    <p class="retired" data-field=r.field.id>
                        <span class="label">{move || ctx.t(r.field.label)}</span>": "{move || lang_value(r.field, &value)}
                    </p>
                }
            })
            .collect_view();
        let unknown = layout
            .unknown
            .into_iter()
            .map(|(key, text)| {
                view! {
                    <p class="retired" data-field=key.clone()><span class="label">{key.clone()}</span>": "{text}</p>
                }
            })
            .collect_view();
        view! {
            <section class="retired-values">
                <p class="muted">{move || ctx.t(text::RETIRED_NOTE)}</p>
                {retired}
                {unknown}
            </section>
        }
    });

    view! {
        <div class="record-head">
            <h2>{move || ctx.t(form.title)}</h2>
            <span id="record-status" class="badge" data-status=move || status_code(status()) hidden=move || read_only.get()>
                {move || ctx.t(status_label(status()))}
            </span>
        </div>
        <p class="record-id muted">{id.to_string()}</p>
        {(damaged > 0).then(|| view! {
            <p class="warn" role="alert" id="damaged-warning">{move || ctx.t(text::DAMAGED_CHUNKS)}</p>
        })}
        <p class="save-line" aria-live="polite">
            <span id="save-status" class=move || save_status().map(|s| s.0) data-state=move || save_status().map(|s| s.1)>
                {move || save_status().map(|s| s.2)}
            </span>
            " · "{move || ctx.t(text::AUTOSAVE_NOTE)}</p>
        <SyncLine id=id sync_state=sync_state/>
        // A case record is shared by its steps (transfer checks consent), never by hand.
        {shared::case::workflow::for_kind(form.kind).is_none().then(|| view! { <SharePanel id=id sync_state=sync_state/> })}
        {shared::case::workflow::for_kind(form.kind).is_some().then(|| view! { <CasePanel editor=editor/> })}
        {is_agreement.then(|| view! { <LazyAgreementPanel editor=editor/> })}
        <CheckSummary editor=editor/>
        {move || {
            // Drawn again when someone else's change arrives or a conflict is resolved.
            editor.epoch.track();
            view! {
                <form class="fields" on:submit=|ev| ev.prevent_default()>
                    {form
                        .fields
                        .iter()
                        // A result's documents are filled with the result, in the case panel.
                        .filter(|f| !shared::case::workflow::for_kind(form.kind).is_some_and(|w| w.is_step_field(f.id)))
                        .map(|field| view! { <FieldInput at=Slot::top(field) editor=editor/> })
                        .collect_view()}
                </form>
            }
        }}
        {retired}
        <div class="complete-row" hidden=move || read_only.get()>
            <button type="button" class="primary" id="mark-complete" on:click=mark_complete>{move || ctx.t(text::MARK_COMPLETE)}</button>
            <p id="complete-result" role="status" data-state=move || match (result.get(), editor.problems.with(Vec::len)) {
                (Some(Err(_)), _) => "error",
                (_, n) if n > 0 => "incomplete",
                (Some(Ok(())), _) if status() == Status::Complete => "complete",
                _ => "",
            }>
                {move || {
                    let n = editor.problems.with(Vec::len);
                    match result.get() {
                        Some(Err(e)) => format!("{}{e}", ctx.t(text::SAVE_FAILED)),
                        _ if n > 0 => ctx.t(text::CHECK_FAILED_SHORT).replace("{n}", &n.to_string()),
                        Some(Ok(())) if status() == Status::Complete => ctx.t(text::MARKED_COMPLETE).to_owned(),
                        _ if status() == Status::Complete => ctx.t(text::ALREADY_COMPLETE).to_owned(),
                        _ => String::new(),
                    }
                }}
            </p>
        </div>
    }
}

/// After "mark complete" found problems: each one, with a button to go to its field.
#[component]
fn CheckSummary(editor: Editor) -> impl IntoView {
    let ctx = use_ctx();
    move || {
        if !editor.checked.get() {
            return None;
        }
        let problems = editor.problems.get();
        let lang = ctx.lang.get();
        if problems.is_empty() {
            return Some(
                view! {
                    <div class="check-summary ok" id="check-summary" role="status" data-count="0">
                        <p>{ctx.t(text::CHECK_ALL_FIXED)}</p>
                    </div>
                }
                .into_any(),
            );
        }
        let count = problems.len();
        let items = problems
            .into_iter()
            .map(|p| {
                let (label, key) = problem_place(editor, &p, lang);
                let message = pick(lang, &p.message());
                view! {
                    <li>
                        <button type="button" class="link go-to" on:click=move |_| focus_within(&format!("w-{key}"))>
                            {label}
                        </button>
                        {if lang == Lang::Zh { "：" } else { ": " }}{message}
                    </li>
                }
            })
            .collect_view();
        Some(
            view! {
                <div class="check-summary" id="check-summary" role="alert" data-count=count>
                    <p>{ctx.t(text::CHECK_FAILED).replace("{n}", &count.to_string())}</p>
                    <ul>{items}</ul>
                </div>
            }
            .into_any(),
        )
    }
}

/// "证据 · 第 2 项 · 文件" and the slot key of a problem's field.
fn problem_place(editor: Editor, p: &Problem, lang: Lang) -> (String, String) {
    let form = editor.form;
    let Some(field) = form.field(p.field) else { return (p.field.to_owned(), p.field.to_owned()) };
    let Some(at) = &p.item else { return (field.label.get(lang).to_owned(), field.id.to_owned()) };
    let number = editor.values.with_untracked(|v| match v.get(field.id) {
        Some(shared::FieldValue::Group(items)) => items.iter().position(|i| i.id == at.id).map_or(0, |n| n + 1),
        _ => 0,
    });
    let sub = field.sub_fields().iter().find(|s| s.id == at.field);
    let label = format!(
        "{} · {} · {}",
        field.label.get(lang),
        text::ITEM.get(lang).replace("{n}", &number.to_string()),
        sub.map_or(at.field, |s| s.label.get(lang)),
    );
    (label, format!("{}-{}-{}", field.id, at.id, at.field))
}

/// Where this record stands with the server, and why the server refused it if it did.
#[component]
fn SyncLine(id: DocumentId, sync_state: Memo<Option<SyncState>>) -> impl IntoView {
    let ctx = use_ctx();
    let state = move || sync_state.get().unwrap_or(SyncState::Pending);
    view! {
        <p id="record-sync" data-synced=move || (state() == SyncState::OnServer).to_string()
            data-state=move || state().code()
            class=move || format!("sync-state {}", state().code())>
            {move || ctx.t(state().label())}
            <span id="record-refusal">{move || {
                sync_state.track();
                ctx.engine().and_then(|e| e.refusal(id)).flatten()
            }}</span>
        </p>
    }
}

/// The sync state of one record, as a memo: the sync line and the share box both show it,
/// and each change to the record would otherwise read the record once per place.
fn sync_state_memo(ctx: Ctx, id: DocumentId) -> Memo<Option<SyncState>> {
    Memo::new(move |_| {
        let engine = ctx.engine()?;
        engine.revision.track();
        let heads = engine.with_record(id, |r| r.heads()).ok()?;
        Some(SyncState::of(&engine, id, &heads))
    })
}

/// Sharing a record no case workflow shares with another organisation, and withdrawing it.
#[component]
fn SharePanel(id: DocumentId, sync_state: Memo<Option<SyncState>>) -> impl IntoView {
    let ctx = use_ctx();
    let orgs = RwSignal::new(Vec::<api::Org>::new());
    let access = RwSignal::new(None::<api::DocAccess>);
    let choice = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // Sharing survivor data is not undone by the other side forgetting it: it is confirmed first.
    let confirming = RwSignal::new(None::<String>);
    let sync_state = move || sync_state.get();
    let on_server = move || sync_state().map(|s| s == SyncState::OnServer);
    let refresh = move || {
        let Some(session) = ctx.engine().and_then(|e| e.session()) else { return };
        spawn_local(async move {
            if let Ok(list) = api::orgs(&session.token).await {
                orgs.set(list.into_iter().filter(|o| o.id != session.user.org_id).collect());
            }
            access.set(api::access(&session.token, id).await.ok());
        });
    };
    // Ask again when another panel shared it.
    Effect::new(move |prev: Option<u64>| {
        let n = ctx.access_changed.get();
        if prev.is_some() {
            refresh();
        }
        n
    });
    // Ask again once the record reaches the server.
    Effect::new(move |_| {
        if on_server() == Some(true) && access.get_untracked().is_none() {
            refresh();
        }
    });
    let ask = move |_| {
        let org = choice.get_untracked();
        if org.is_empty() {
            return error.set(Some(ctx.t(text::CHOOSE_ORG_FIRST).to_string()));
        }
        error.set(None);
        confirming.set(Some(org));
    };
    let share = move |_| {
        let Some(session) = ctx.engine().and_then(|e| e.session()) else { return };
        let Some(org) = confirming.get_untracked() else { return };
        confirming.set(None);
        spawn_local(async move {
            match api::share(&session.token, id, &org).await {
                Ok(()) => {
                    error.set(None);
                    choice.set(String::new());
                    access.set(api::access(&session.token, id).await.ok());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let unshare = move |org: String| {
        let Some(session) = ctx.engine().and_then(|e| e.session()) else { return };
        spawn_local(async move {
            match api::unshare(&session.token, id, &org).await {
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
            {move || match access.get() {
                Some(a) if a.owner => {
                    let shared = a.shared_with.clone();
                    let shared_any = !shared.is_empty();
                    let withdraw = shared.iter().map(|o| {
                        let org = o.clone();
                        let label = org.clone();
                        view! {
                            <li>
                                <span>{move || org_name(&label)}</span>
                                <button type="button" class="unshare" id=format!("unshare-{org}") on:click=move |_| unshare(org.clone())>
                                    {move || ctx.t(text::WITHDRAW_SHARE)}
                                </button>
                            </li>
                        }
                    }).collect_view();
                    view! {
                        <div id="shared-with">
                            <p>{move || ctx.t(if shared_any { text::SHARED_WITH } else { text::NOT_SHARED })}</p>
                            <ul class="shared-orgs">{withdraw}</ul>
                        </div>
                        <div class="share-row">
                            <label for="share-org">{move || ctx.t(text::SHARE_WITH)}</label>
                            <select id="share-org" prop:value=move || choice.get() on:change=move |ev| choice.set(event_target_value(&ev))>
                                <option value="">{move || format!("— {} —", ctx.t(text::CHOOSE))}</option>
                                {move || orgs.get().into_iter().filter(|o| !shared.contains(&o.id)).map(|o| view! { <option value=o.id.clone()>{o.name.clone()}</option> }).collect_view()}
                            </select>
                            <button type="button" id="share-button" on:click=ask>{move || ctx.t(text::SHARE)}</button>
                        </div>
                        {move || confirming.get().map(|org| view! {
                            <div class="share-confirm" role="alertdialog" aria-labelledby="share-confirm-text">
                                <p id="share-confirm-text">{ctx.t(text::SHARE_CONFIRM_1)}{org_name(&org)}{ctx.t(text::SHARE_CONFIRM_2)}</p>
                                <button type="button" id="share-confirm-button" on:click=share>{ctx.t(text::SHARE_CONFIRM_YES)}</button>
                                <button type="button" id="share-cancel" on:click=move |_| confirming.set(None)>{ctx.t(text::CANCEL)}</button>
                            </div>
                        })}
                    }.into_any()
                }
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

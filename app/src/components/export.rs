//! Export of the list as it is filtered, to XLSX (a sheet per form version) or CSV, in a wasm
//! chunk of its own (the workbook writer is only loaded when someone exports). Fields marked
//! personal stay out unless the person ticks to include them, says why and confirms; every
//! export is reported to the audit trail (queued while offline), with that reason.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::DocumentId;
use shared::export::{Exporter, Options};
use wasm_split_helpers::SplitLoaderError;

use crate::context::use_ctx;
use crate::split::split_point;
use crate::{platform, text};

split_point!(
    export_panel,
    pub fn export_panel(ids: Vec<DocumentId>, close: Callback<()>) -> Result<AnyView, SplitLoaderError> {
        Ok(view! { <ExportPanel ids=ids close=close/> }.into_any())
    }
);

#[derive(Clone, PartialEq)]
enum Progress {
    Idle,
    Reading(usize),
    Done(String),
    Failed(String),
}

#[component]
fn ExportPanel(ids: Vec<DocumentId>, close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let total = ids.len();
    let ids = Rc::new(ids);
    let format = RwSignal::new("xlsx".to_owned());
    let personal = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let confirmed = RwSignal::new(false);
    let progress = RwSignal::new(Progress::Idle);
    let ready = move || !personal.get() || (!reason.get().is_empty() && confirmed.get());
    let busy = move || matches!(progress.get(), Progress::Reading(_));

    let personal_signal = personal;
    let run = move || {
        let Some(engine) = ctx.engine_untracked() else { return };
        let ids = ids.clone();
        let (fmt, personal, reason) = (format.get_untracked(), personal.get_untracked(), reason.get_untracked());
        let lang = ctx.lang.get_untracked();
        progress.set(Progress::Reading(0));
        spawn_local(async move {
            let summaries = engine.records();
            let mut ex = Exporter::new(Options { lang, personal });
            let mut count = 0u32;
            for (n, id) in ids.iter().enumerate() {
                progress.set(Progress::Reading(n));
                let Some(summary) = summaries.iter().find(|s| s.id == *id).cloned() else { continue };
                if let Err(e) = engine.open(*id).await {
                    progress.set(Progress::Failed(format!("{}: {e}", summary.title)));
                    return;
                }
                let added = engine.with_record(*id, |r| ex.add(r, &summary).map_err(|e| e.to_string())).and_then(|r| r);
                engine.close(*id);
                if let Err(e) = added {
                    progress.set(Progress::Failed(format!("{}: {e}", summary.title)));
                    return;
                }
                count += 1;
            }
            let sheets = ex.sheets();
            let day = platform::file_stamp();
            let (bytes, mime, name) = if fmt == "csv" {
                (shared::export::csv(&sheets).into_bytes(), "text/csv;charset=utf-8", format!("liaison-{day}.csv"))
            } else {
                match shared::export::xlsx(&sheets) {
                    Ok(b) => (b, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", format!("liaison-{day}.xlsx")),
                    Err(e) => return progress.set(Progress::Failed(e.to_string())),
                }
            };
            // Reported (queued on the device) before the file goes out: the page closing right
            // after the download loses no row.
            if let Some(session) = engine.session() {
                let event = shared::api::ReportedEvent {
                    action: "export".into(),
                    format: fmt,
                    count,
                    personal,
                    reason: if personal { reason } else { String::new() },
                    at: platform::now_ms(),
                    device: platform::device_id(),
                };
                spawn_local(async move { crate::api::report(&session.token, session.user.id, event).await });
            }
            if let Err(e) = platform::download(&bytes, mime, &name) {
                return progress.set(Progress::Failed(e));
            }
            // The next export asks again.
            personal_signal.set(false);
            confirmed.set(false);
            progress.set(Progress::Done(name));
        });
    };

    view! {
        <div class="export-panel" id="export-panel" role="dialog" aria-labelledby="export-title">
            <h3 id="export-title">{move || ctx.t(text::EXPORT_TITLE).replace("{n}", &total.to_string())}</h3>
            <label class="export-option">
                <span>{move || ctx.t(text::EXPORT_FORMAT)}</span>
                <select id="export-format" prop:value=move || format.get() on:change=move |ev| format.set(event_target_value(&ev))>
                    <option value="xlsx">"Excel (XLSX)"</option>
                    <option value="csv">"CSV"</option>
                </select>
            </label>
            <label class="export-check">
                <input type="checkbox" id="export-personal" prop:checked=move || personal.get()
                    on:change=move |ev| personal.set(event_target_checked(&ev))/>
                {move || ctx.t(text::EXPORT_PERSONAL)}
            </label>
            {move || personal.get().then(|| view! {
                <div class="export-personal warn">
                    <label for="export-reason">{ctx.t(text::EXPORT_REASON)}</label>
                    <select id="export-reason" prop:value=move || reason.get() on:change=move |ev| reason.set(event_target_value(&ev))>
                        <option value="">{ctx.t(text::EXPORT_REASON_CHOOSE)}</option>
                        {shared::export::REASONS.iter().map(|(code, label)| view! { <option value=*code>{move || ctx.t(*label)}</option> }).collect_view()}
                    </select>
                    <label class="export-check">
                        <input type="checkbox" id="export-confirm" prop:checked=move || confirmed.get()
                            on:change=move |ev| confirmed.set(event_target_checked(&ev))/>
                        {ctx.t(text::EXPORT_CONFIRM)}
                    </label>
                </div>
            })}
            <p class="muted small">{move || ctx.t(if personal.get() { text::EXPORT_NOTE_PERSONAL } else { text::EXPORT_NOTE })}</p>
            <div class="export-actions">
                <button type="button" class="primary" id="export-go" disabled=move || !ready() || busy() || total == 0 on:click=move |_| run()>
                    {move || ctx.t(text::EXPORT_GO)}
                </button>
                <button type="button" id="export-close" on:click=move |_| close.run(())>{move || ctx.t(text::EXPORT_CLOSE)}</button>
            </div>
            {move || match progress.get() {
                Progress::Idle => None,
                Progress::Reading(n) => Some(view! {
                    <p role="status" id="export-progress">{ctx.t(text::EXPORT_READING).replace("{n}", &n.to_string()).replace("{total}", &total.to_string())}</p>
                }.into_any()),
                Progress::Done(name) => Some(view! {
                    <p role="status" class="ok" id="export-done" data-file=name.clone()>{ctx.t(text::EXPORT_DONE)}" "{name.clone()}</p>
                }.into_any()),
                Progress::Failed(why) => Some(view! { <p role="alert" class="error" id="export-error">{ctx.t(text::EXPORT_FAILED)}{why}</p> }.into_any()),
            }}
        </div>
    }
}

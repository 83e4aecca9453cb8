//! Always-visible status: network, storage persistence and use, offline readiness, sync.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::context::{Route, use_ctx};
use crate::engine::SyncStatus;
use crate::platform;
use crate::text;

#[component]
pub fn StatusBar() -> impl IntoView {
    let ctx = use_ctx();
    let online = RwSignal::new(platform::is_online());
    let persisted = RwSignal::new(None::<Option<bool>>);
    let estimate = RwSignal::new(None::<(f64, f64)>);
    let offline_ready = RwSignal::new(false);

    let on_online = window_event_listener(leptos::ev::online, move |_| online.set(true));
    let on_offline = window_event_listener(leptos::ev::offline, move |_| online.set(false));
    on_cleanup(move || {
        on_online.remove();
        on_offline.remove();
    });

    spawn_local(async move {
        persisted.set(Some(platform::request_persistence().await));
        estimate.set(platform::storage_estimate().await);
        offline_ready.set(platform::register_service_worker().await);
        // Registering caches the app shell, which changes the figure worth showing.
        estimate.set(platform::storage_estimate().await);
    });

    let open = RwSignal::new(false);
    let sync_state = move || {
        ctx.engine().map(|e| match e.status.get() {
            SyncStatus::SignedOut => "signed-out",
            SyncStatus::SessionExpired => "expired",
            SyncStatus::Offline => "offline",
            SyncStatus::Connecting => "connecting",
            SyncStatus::Syncing { .. } => "syncing",
            SyncStatus::UpToDate { .. } => "up-to-date",
            SyncStatus::Error(_) => "error",
        })
    };
    let progress = move |pick: fn(usize, usize) -> usize| {
        ctx.engine().and_then(|e| match e.status.get() {
            SyncStatus::Syncing { done, total } => Some(pick(done, total).to_string()),
            _ => None,
        })
    };

    // One line that stays on screen (sync first: it is what people wait for); the rest on tap.
    view! {
        <section class="status" aria-live="polite">
            <div class="status-line">
                <span id="sync-status" data-state=sync_state data-done=move || progress(|d, _| d) data-total=move || progress(|_, t| t)>
                    {move || ctx.engine().map(|e| match e.status.get() {
                        SyncStatus::SignedOut => ctx.t(text::SYNC_SIGNED_OUT).to_string(),
                        SyncStatus::SessionExpired => ctx.t(text::SYNC_EXPIRED).to_string(),
                        SyncStatus::Offline => ctx.t(text::SYNC_OFFLINE).to_string(),
                        SyncStatus::Connecting => ctx.t(text::SYNC_CONNECTING).to_string(),
                        SyncStatus::Syncing { done, total } => {
                            format!("{} {} / {}", ctx.t(text::SYNC_SYNCING), platform::format_count(done), platform::format_count(total))
                        }
                        SyncStatus::UpToDate { at } => format!("{} {}", ctx.t(text::SYNC_UP_TO_DATE), platform::format_time_short(at, ctx.lang.get())),
                        SyncStatus::Error(e) => format!("{}{e}", ctx.t(text::SYNC_ERROR)),
                    })}
                </span>
                <span id="network-status" class=move || if online.get() { "ok" } else { "warn" }>
                    {move || ctx.t(if online.get() { text::NETWORK_ONLINE } else { text::NETWORK_OFFLINE })}
                </span>
                <span id="offline-status" data-ready=move || offline_ready.get().to_string() class=move || if offline_ready.get() { "ok" } else { "muted" }>
                    {move || ctx.t(if offline_ready.get() { text::OFFLINE_READY } else { text::OFFLINE_NOT_READY })}
                </span>
                {move || ctx.engine().filter(|e| e.user.get().is_none()).map(|_| view! {
                    <a id="sign-in" href=Route::Login.href()>{ctx.t(text::SIGN_IN)}</a>
                })}
                <button type="button" class="link status-toggle" id="status-toggle" aria-controls="status-details"
                    aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                    // Storage the browser may clear is worth a look: marked until it is granted.
                    {move || (persisted.get() == Some(Some(false)) || persisted.get() == Some(None)).then_some("⚠ ")}
                    {move || ctx.t(if open.get() { text::LESS } else { text::DETAILS })}
                </button>
            </div>
            <div class="status-details" id="status-details" hidden=move || !open.get()>
                <span id="storage-status" data-persisted=move || match persisted.get() {
                    Some(Some(true)) => "yes",
                    Some(_) => "no",
                    None => "pending",
                }>
                    {move || ctx.t(text::STORAGE)}": "
                    {move || ctx.t(match persisted.get() {
                        Some(Some(true)) => text::PERSISTENT_YES,
                        Some(_) => text::PERSISTENT_NO,
                        None => text::PERSISTENT_UNKNOWN,
                    })}
                    {move || estimate.get().map(|(used, quota)| format!(
                        " · {} {} {} {}",
                        ctx.t(text::USED),
                        platform::format_bytes(used),
                        ctx.t(text::OF),
                        platform::format_bytes(quota),
                    ))}
                </span>
                {move || ctx.engine().and_then(|engine| engine.user.get().map(|user| {
                    let signed_in = format!("{}{} · {}", ctx.t(text::SIGNED_IN_AS), user.display_name, user.org_name);
                    let out = move |_| {
                        let engine = engine.clone();
                        leptos::task::spawn_local(async move { engine.logout().await });
                    };
                    view! {
                        <span id="user">{signed_in}</span>
                        <button class="link" id="sign-out" on:click=out>{ctx.t(text::SIGN_OUT)}</button>
                    }
                }))}
            </div>
        </section>
    }
}

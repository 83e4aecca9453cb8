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

    view! {
        <section class="status" aria-live="polite">
            <span id="network-status" class=move || if online.get() { "ok" } else { "warn" }>
                {move || ctx.t(if online.get() { text::NETWORK_ONLINE } else { text::NETWORK_OFFLINE })}
            </span>
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
            <span id="offline-status" data-ready=move || offline_ready.get().to_string()>
                {move || ctx.t(if offline_ready.get() { text::OFFLINE_READY } else { text::OFFLINE_NOT_READY })}
            </span>
            <span id="sync-status" data-state=move || ctx.engine().map(|e| match e.status.get() {
                SyncStatus::SignedOut => "signed-out",
                SyncStatus::SessionExpired => "expired",
                SyncStatus::Offline => "offline",
                SyncStatus::Connecting => "connecting",
                SyncStatus::Syncing { .. } => "syncing",
                SyncStatus::UpToDate { .. } => "up-to-date",
                SyncStatus::Error(_) => "error",
            })>
                {move || ctx.engine().map(|e| match e.status.get() {
                    SyncStatus::SignedOut => ctx.t(text::SYNC_SIGNED_OUT).to_string(),
                    SyncStatus::SessionExpired => ctx.t(text::SYNC_EXPIRED).to_string(),
                    SyncStatus::Offline => ctx.t(text::SYNC_OFFLINE).to_string(),
                    SyncStatus::Connecting => ctx.t(text::SYNC_CONNECTING).to_string(),
                    SyncStatus::Syncing { left } => format!("{} {left}", ctx.t(text::SYNC_SYNCING)),
                    SyncStatus::UpToDate { at } => format!("{} {}", ctx.t(text::SYNC_UP_TO_DATE), platform::format_time(at, ctx.lang.get())),
                    SyncStatus::Error(e) => format!("{}{e}", ctx.t(text::SYNC_ERROR)),
                })}
            </span>
            {move || ctx.engine().map(|engine| match engine.user.get() {
                Some(user) => {
                    let signed_in = format!("{}{} · {}", ctx.t(text::SIGNED_IN_AS), user.display_name, user.org_name);
                    let out = move |_| {
                        let engine = engine.clone();
                        leptos::task::spawn_local(async move { engine.logout().await });
                    };
                    view! {
                        <span id="user">{signed_in}</span>
                        <button class="link" id="sign-out" on:click=out>{ctx.t(text::SIGN_OUT)}</button>
                    }.into_any()
                }
                None => view! { <a id="sign-in" href=Route::Login.href()>{ctx.t(text::SIGN_IN)}</a> }.into_any(),
            })}
        </section>
    }
}

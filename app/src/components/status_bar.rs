//! Always-visible status: network, storage persistence and use, offline readiness, sync.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::context::use_ctx;
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
            <span id="sync-status">{move || ctx.t(text::SYNC_LOCAL_ONLY)}</span>
        </section>
    }
}

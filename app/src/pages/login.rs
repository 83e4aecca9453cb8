//! Sign-in. Needs the network once; the session is then kept for offline use.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::context::{Route, use_ctx};
use crate::text;

#[component]
pub fn LoginPage() -> impl IntoView {
    let ctx = use_ctx();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<crate::api::ApiError>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(engine) = ctx.engine() else { return };
        busy.set(true);
        spawn_local(async move {
            match engine.login(&username.get_untracked(), &password.get_untracked()).await {
                Ok(()) => {
                    error.set(None);
                    ctx.go(Route::List);
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="login">
            <a class="back" href=Route::List.href()>{move || ctx.t(text::BACK)}</a>
            <h2>{move || ctx.t(text::SIGN_IN)}</h2>
            <p class="muted">{move || ctx.t(text::SIGN_IN_NOTE)}</p>
            <form class="fields" on:submit=submit>
                <div class="field">
                    <label for="login-username">{move || ctx.t(text::USERNAME)}</label>
                    <input id="login-username" type="text" autocomplete="username" required
                        on:input=move |ev| username.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="login-password">{move || ctx.t(text::PASSWORD)}</label>
                    <input id="login-password" type="password" autocomplete="current-password" required
                        on:input=move |ev| password.set(event_target_value(&ev))/>
                </div>
                {move || error.get().map(|e| {
                    // The server's own words only for what has no text here.
                    let reason = match e {
                        crate::api::ApiError::Unauthorized => ctx.t(text::WRONG_PASSWORD).to_string(),
                        crate::api::ApiError::Network => ctx.t(text::SERVER_UNREACHABLE).to_string(),
                        crate::api::ApiError::TooManyAttempts(s) => ctx.t(text::TOO_MANY_ATTEMPTS).replace("{s}", &s.to_string()),
                        other => other.to_string(),
                    };
                    view! { <p class="error" role="alert" id="login-error">{ctx.t(text::SIGN_IN_FAILED)}{reason}</p> }
                })}
                <button class="primary" type="submit" id="login-submit" disabled=move || busy.get()>{move || ctx.t(text::SIGN_IN)}</button>
            </form>
        </section>
    }
}

//! The root component and the state every page shares.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::DocumentId;
use shared::i18n::{L, Lang};

use crate::components::status_bar::StatusBar;
use crate::engine::Engine;
use crate::pages::audit::{AuditLink, audit_page};
use crate::pages::inbox::{InboxLink, InboxPage};
use crate::pages::stats::stats_page;
use crate::pages::{list::ListPage, login::LoginPage, record::LazyRecordPage};
use crate::platform;
use crate::storage::DB_NAME;
use crate::text;

/// Shared app state. `Copy`, so closures take it freely; the engine itself is not `Send`, so
/// it lives in local storage (the browser runs this app on one thread).
#[derive(Clone, Copy)]
pub struct Ctx {
    pub lang: RwSignal<Lang>,
    pub route: RwSignal<Route>,
    engine: StoredValue<Option<Rc<Engine>>, LocalStorage>,
    pub store_state: RwSignal<StoreState>,
    /// Bumped when something other than the share panel shares a record (adding an
    /// agreement party, a case step), so the panel reads who has access again.
    pub access_changed: RwSignal<u64>,
    /// What a dashboard number counts, for the list to show those records alone.
    pub list_selection: RwSignal<Option<ListSelection>>,
}

/// A dashboard number's records, and how the list names them.
#[derive(Clone, Debug, PartialEq)]
pub struct ListSelection {
    pub selection: shared::report::Selection,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StoreState {
    Opening,
    Ready,
    Failed(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    List,
    Login,
    Inbox,
    Audit,
    Stats,
    Record(DocumentId),
}

impl Route {
    /// Routes live in the URL hash (`#/r/<id>`) so a reload reopens the same record and the
    /// service worker only ever has to serve one page.
    fn from_hash(hash: &str) -> Route {
        if hash == "#/login" {
            return Route::Login;
        }
        if hash == "#/inbox" {
            return Route::Inbox;
        }
        if hash == "#/audit" {
            return Route::Audit;
        }
        if hash == "#/stats" {
            return Route::Stats;
        }
        hash.strip_prefix("#/r/").and_then(|id| id.parse().ok()).map(Route::Record).unwrap_or(Route::List)
    }

    pub fn href(&self) -> String {
        match self {
            Route::List => "#/".into(),
            Route::Login => "#/login".into(),
            Route::Inbox => "#/inbox".into(),
            Route::Audit => "#/audit".into(),
            Route::Stats => "#/stats".into(),
            Route::Record(id) => format!("#/r/{id}"),
        }
    }
}

impl Ctx {
    pub fn t(&self, l: L) -> &'static str {
        l.get(self.lang.get())
    }

    /// The engine; pages are only shown once it is ready.
    pub fn engine(&self) -> Option<Rc<Engine>> {
        // The stored value is not reactive; tracking the state makes callers re-run once the
        // engine is ready.
        self.store_state.track();
        self.engine.get_value()
    }

    /// The engine, without subscribing the caller (for clean-up).
    pub fn engine_untracked(&self) -> Option<Rc<Engine>> {
        self.engine.get_value()
    }

    pub fn go(&self, route: Route) {
        if let Some(w) = web_sys::window() {
            let _ = w.location().set_hash(&route.href());
        }
        self.route.set(route);
    }
}

impl Ctx {
    /// The signed-in session, if any.
    pub fn session(&self) -> Option<crate::api::Session> {
        self.engine_untracked()?.session()
    }
}

pub fn use_ctx() -> Ctx {
    expect_context::<Ctx>()
}

fn current_hash() -> String {
    web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default()
}

#[component]
pub fn App() -> impl IntoView {
    let lang = platform::saved_lang();
    platform::save_lang(lang);
    let ctx = Ctx {
        lang: RwSignal::new(lang),
        route: RwSignal::new(Route::from_hash(&current_hash())),
        engine: StoredValue::new_local(None),
        store_state: RwSignal::new(StoreState::Opening),
        access_changed: RwSignal::new(0),
        list_selection: RwSignal::new(None),
    };
    provide_context(ctx);

    let on_hash = window_event_listener(leptos::ev::hashchange, move |_| ctx.route.set(Route::from_hash(&current_hash())));
    on_cleanup(move || on_hash.remove());

    spawn_local(async move {
        match Engine::start(DB_NAME).await {
            Ok(engine) => {
                ctx.engine.set_value(Some(engine));
                ctx.store_state.set(StoreState::Ready);
            }
            Err(e) => ctx.store_state.set(StoreState::Failed(e.to_string())),
        }
    });

    // The register of organisations, fetched once per signed-in session as soon as sync is up
    // (at sign-in at the latest), so a transfer made later with no signal has its receivers.
    let orgs_for = StoredValue::new(None::<i64>);
    Effect::new(move |_| {
        ctx.store_state.track();
        let Some(engine) = ctx.engine() else { return };
        let up = matches!(engine.status.get(), crate::engine::SyncStatus::UpToDate { .. });
        let Some(session) = engine.session().filter(|_| up) else { return };
        // Exports and prints made offline reach the audit trail once the server is back.
        let (token, user) = (session.token.clone(), session.user.id);
        spawn_local(async move { crate::api::send_reported(&token, user).await });
        if orgs_for.get_value() == Some(session.user.id) {
            return;
        }
        orgs_for.set_value(Some(session.user.id));
        spawn_local(async move {
            if crate::api::orgs(&session.token).await.is_err() {
                orgs_for.set_value(None);
            }
        });
    });

    let switch_lang = move |_| {
        let next = if ctx.lang.get_untracked() == Lang::Zh { Lang::En } else { Lang::Zh };
        platform::save_lang(next);
        ctx.lang.set(next);
    };

    view! {
        <header class="top">
            <div class="brand">
                <h1>{move || ctx.t(text::APP_TITLE)}</h1>
                <p class="subtitle">{move || ctx.t(text::APP_SUBTITLE)}</p>
            </div>
            <nav class="top-nav">
                {move || (ctx.store_state.get() == StoreState::Ready).then(|| view! {
                    <InboxLink/>
                    <a class="stats-link" id="stats-link" href="#/stats">{move || ctx.t(text::STATS)}</a>
                    <AuditLink/>
                })}
                <button class="lang" id="lang-switch" on:click=switch_lang>{move || ctx.t(text::SWITCH_LANG)}</button>
            </nav>
        </header>
        <StatusBar/>
        <main>
            {move || match ctx.store_state.get() {
                StoreState::Opening => view! { <p class="muted">{ctx.t(text::LOADING)}</p> }.into_any(),
                StoreState::Failed(e) => view! {
                    <p class="error" role="alert">{ctx.t(text::STORAGE_FAILED)}{e}</p>
                }.into_any(),
                StoreState::Ready => match ctx.route.get() {
                    Route::List => view! { <ListPage/> }.into_any(),
                    Route::Login => view! { <LoginPage/> }.into_any(),
                    Route::Inbox => view! { <InboxPage/> }.into_any(),
                    Route::Audit => view! { <LazyPage load=Load::Audit/> }.into_any(),
                    Route::Stats => view! { <LazyPage load=Load::Stats/> }.into_any(),
                    Route::Record(id) => view! { <LazyRecordPage id=id/> }.into_any(),
                },
            }}
        </main>
    }
}

/// Pages loaded as wasm chunks of their own the first time they open.
#[derive(Clone, Copy)]
enum Load {
    Audit,
    Stats,
}

/// A page in a chunk of its own: a loading line until it is in, an error with a retry if the
/// chunk cannot be fetched (offline before it was ever cached).
#[component]
fn LazyPage(load: Load) -> impl IntoView {
    let ctx = use_ctx();
    let attempt = RwSignal::new(0u32);
    view! {
        <Suspense fallback=move || view! { <p class="muted" id="page-loading">{ctx.t(text::OPENING_PAGE)}</p> }>
            {move || {
                attempt.track();
                Suspend::new(async move {
                    let page = match load {
                        Load::Audit => audit_page().await,
                        Load::Stats => stats_page().await,
                    };
                    page.unwrap_or_else(|_| view! {
                        <p class="error" role="alert" id="page-load-failed">
                            {ctx.t(text::PAGE_LOAD_FAILED)}" "
                            <button on:click=move |_| attempt.update(|n| *n += 1)>{ctx.t(text::RETRY)}</button>
                        </p>
                    }.into_any())
                })
            }}
        </Suspense>
    }
}

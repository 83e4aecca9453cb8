//! The inbox (待办): records whose case waits for the signed-in organisation's move, oldest
//! due first, overdue marked. Read from the summaries alone (each carries its case's derived
//! state), so it works offline from the last known state and follows every sync.

use std::sync::Arc;

use leptos::prelude::*;
use shared::RecordSummary;
use shared::case::workflow;

use crate::context::{Route, use_ctx};
use crate::{platform, text};

/// The summaries awaiting `org`, soonest due first (no deadline last).
pub fn awaiting(records: &[Arc<RecordSummary>], org: &str) -> Vec<Arc<RecordSummary>> {
    let mut out: Vec<Arc<RecordSummary>> =
        records.iter().filter(|s| s.case.as_ref().is_some_and(|c| c.waiting_for.as_deref() == Some(org))).cloned().collect();
    out.sort_by_key(|s| s.case.as_ref().map(|c| (c.due.unwrap_or(i64::MAX), c.since.unwrap_or(0))));
    out
}

#[component]
pub fn InboxPage() -> impl IntoView {
    let ctx = use_ctx();
    let items = Memo::new(move |_| {
        let engine = ctx.engine()?;
        engine.list_changed.track();
        let org = engine.session()?.user.org_id;
        Some(awaiting(&engine.records(), &org))
    });
    // Overdue is read against the clock, which moves without any record changing.
    let clock = RwSignal::new(platform::now_ms());
    if let Ok(handle) = set_interval_with_handle(move || clock.set(platform::now_ms()), std::time::Duration::from_secs(60)) {
        on_cleanup(move || handle.clear());
    }
    view! {
        <section class="inbox">
            <a class="back" href=Route::List.href()>{move || ctx.t(text::BACK)}</a>
            <h2>{move || ctx.t(text::INBOX_TITLE)}</h2>
            {move || match items.get() {
                None => view! { <p class="muted">{ctx.t(text::CASE_SIGN_IN)}</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="empty" id="inbox-empty">{ctx.t(text::INBOX_EMPTY)}</p> }.into_any(),
                Some(list) => {
                    let lang = ctx.lang.get();
                    let now = clock.get();
                    let rows = list
                        .into_iter()
                        .map(|s| {
                            let c = s.case.clone().expect("filtered on it");
                            let state = workflow::find(&c.workflow).and_then(|w| w.state(&c.state)).map(|st| st.label.get(lang)).unwrap_or_default();
                            let late = c.overdue(now);
                            let due = c.due.map(|d| platform::format_cst_date(d, lang)).unwrap_or_else(|| ctx.t(text::INBOX_NO_DUE).to_owned());
                            let kind = s.kind.label().map(|l| l.get(lang)).unwrap_or_default();
                            let title = if s.title.is_empty() { ctx.t(text::NO_CODE).to_owned() } else { s.title.clone() };
                            view! {
                                <li class=if late { "inbox-item overdue" } else { "inbox-item" } data-overdue=late.to_string() data-id=s.id.to_string()>
                                    <a href=Route::Record(s.id).href()>
                                        <strong>{title}</strong>" · "{kind}" · "{state}
                                        <span class="case-due">" · "{late.then(|| ctx.t(text::CASE_OVERDUE))}" "{ctx.t(text::CASE_DUE)}{due}</span>
                                    </a>
                                </li>
                            }
                        })
                        .collect_view();
                    view! { <ul class="inbox-list" id="inbox-list">{rows}</ul> }.into_any()
                }
            }}
            <p class="muted small">{move || ctx.t(text::CASE_DEADLINES_NOTE)}</p>
        </section>
    }
}

/// The navigation's link to the inbox, with how many items wait.
#[component]
pub fn InboxLink() -> impl IntoView {
    let ctx = use_ctx();
    let count = Memo::new(move |_| {
        let engine = ctx.engine()?;
        engine.list_changed.track();
        let org = engine.session()?.user.org_id;
        Some(awaiting(&engine.records(), &org).len())
    });
    move || {
        count.get().map(|n| {
            view! {
                <a class="inbox-link" id="inbox-link" href="#/inbox" data-count=n.to_string()
                    aria-label=ctx.t(text::INBOX_ARIA).replace("{n}", &n.to_string())>
                    {ctx.t(text::INBOX)}{(n > 0).then(|| view! { <span class="count-badge" id="inbox-count" aria-hidden="true">{n}</span> })}
                </a>
            }
        })
    }
}

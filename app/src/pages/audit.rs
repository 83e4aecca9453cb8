//! The audit trail (审计) for an organisation's administrator: who read or changed its
//! records, and which other organisations opened what it shared, filtered by record, person
//! and date. The rows are written by the server and kept there, so this page needs the
//! network; offline it says so rather than show a stale copy of who looked at what.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::api::AuditRow;
use shared::i18n::{L, Lang};

use crate::api::{self, ApiError};
use crate::context::{Route, use_ctx};
use crate::split::split_point;
use crate::{platform, text};

/// The filter as typed: a record's code or id, a username, and dates (`YYYY-MM-DD`, China Standard
/// Time, both days included).
#[derive(Clone, Default, PartialEq)]
struct Filter {
    doc: String,
    user: String,
    from: String,
    to: String,
    /// Only what other organisations did (who outside read what we hold).
    others: bool,
}

impl Filter {
    /// The URL query for this filter, for rows numbered below `before` if given.
    fn query(&self, before: Option<i64>) -> String {
        let mut parts = Vec::new();
        let mut add = |k: &str, v: String| parts.push(format!("{k}={}", js_sys::encode_uri_component(&v)));
        if !self.doc.trim().is_empty() {
            add("doc", self.doc.trim().to_owned());
        }
        if !self.user.trim().is_empty() {
            add("user", self.user.trim().to_owned());
        }
        if let Some(ms) = day_start(&self.from) {
            add("from", ms.to_string());
        }
        if let Some(ms) = day_start(&self.to) {
            add("to", (ms + 86_400_000).to_string());
        }
        if self.others {
            add("others", "true".into());
        }
        if let Some(seq) = before {
            add("before", seq.to_string());
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }
}

/// A device as the table shows it: the device part of a sync peer id
/// (`liaison-app-<device>-<tab>`), or a reported device id, cut to 8 characters (the whole
/// id is in the cell's title and the CSV).
fn device_short(device: &str) -> String {
    let device = device.strip_prefix("liaison-app-").unwrap_or(device);
    let device = match device.rsplit_once('-') {
        Some((d, tab)) if tab.len() == 16 && tab.chars().all(|c| c.is_ascii_hexdigit()) => d,
        _ => device,
    };
    // `device-<12 hex>` (`platform::device_id`): the hex is what tells devices apart.
    device.strip_prefix("device-").unwrap_or(device).chars().take(8).collect()
}

/// Midnight at the start of a `YYYY-MM-DD` day in China Standard Time.
fn day_start(date: &str) -> Option<i64> {
    let ms = js_sys::Date::parse(&format!("{}T00:00:00+08:00", date.trim()));
    (!ms.is_nan()).then_some(ms as i64)
}

#[derive(Clone, PartialEq)]
enum Load {
    Loading,
    Done,
    Offline,
    Failed(String),
}

fn action_label(action: &str) -> L {
    match action {
        "sign_in" => text::AUDIT_SIGN_IN,
        "sign_in_failed" => text::AUDIT_SIGN_IN_FAILED,
        "read" => text::AUDIT_READ,
        "created" => text::AUDIT_CREATED,
        "share" => text::AUDIT_SHARE,
        "unshare" => text::AUDIT_UNSHARE,
        "write" => text::AUDIT_WRITE,
        "download" => text::AUDIT_DOWNLOAD,
        "sign" => text::AUDIT_SIGN,
        "step" => text::AUDIT_STEP,
        "export" => text::AUDIT_EXPORT,
        "print" => text::AUDIT_PRINT,
        _ => text::AUDIT_OTHER,
    }
}

split_point!(
    audit_page,
    pub fn audit_page() -> Result<AnyView, wasm_split_helpers::SplitLoaderError> {
        Ok(view! { <AuditPage/> }.into_any())
    }
);

#[component]
fn AuditPage() -> impl IntoView {
    let ctx = use_ctx();
    let typed = RwSignal::new(Filter::default());
    // The filter the shown rows answer (the next page keeps it even if the fields changed).
    let applied = StoredValue::new(Filter::default());
    let rows = RwSignal::new(Vec::<AuditRow>::new());
    let more = RwSignal::new(false);
    let load = RwSignal::new(Load::Loading);

    let fetch = move |older: bool| {
        let Some(session) = ctx.engine_untracked().and_then(|e| e.session()) else {
            load.set(Load::Failed(ctx.t(text::CASE_SIGN_IN).to_owned()));
            return;
        };
        if !older {
            // A record is asked for by its code (what people know it by) or its id.
            let mut filter = typed.get_untracked();
            let code = filter.doc.trim().to_owned();
            if !code.is_empty() && code.parse::<shared::DocumentId>().is_err() {
                let records = ctx.engine_untracked().map(|e| e.records()).unwrap_or_default();
                let found: Vec<_> = records.iter().filter(|s| s.title.trim().eq_ignore_ascii_case(&code)).collect();
                match found.as_slice() {
                    [one] => filter.doc = one.id.to_string(),
                    [] => return load.set(Load::Failed(ctx.t(text::AUDIT_NO_SUCH_CODE).replace("{c}", &code))),
                    many => {
                        let why = ctx.t(text::AUDIT_CODE_TWICE).replace("{n}", &many.len().to_string()).replace("{c}", &code);
                        return load.set(Load::Failed(why));
                    }
                }
            }
            applied.set_value(filter);
        }
        let before = older.then(|| rows.with_untracked(|r| r.last().map(|r| r.seq))).flatten();
        let query = applied.get_value().query(before);
        load.set(Load::Loading);
        spawn_local(async move {
            match api::audit(&session.token, &query).await {
                Ok(page) => {
                    if older {
                        rows.update(|r| r.extend(page.rows));
                    } else {
                        rows.set(page.rows);
                    }
                    more.set(page.more);
                    load.set(Load::Done);
                }
                Err(ApiError::Network) => load.set(Load::Offline),
                Err(other) => load.set(Load::Failed(other.to_string())),
            }
        });
    };
    fetch(false);

    let org_name =
        |id: &str| api::orgs_cached().and_then(|o| o.into_iter().find(|o| o.id == id).map(|o| o.name)).unwrap_or_else(|| id.to_owned());
    let row_view = move |r: AuditRow, lang: Lang| {
        let record = r.doc.clone().map(|doc| {
            let local = doc.parse().ok().and_then(|id| ctx.engine_untracked()?.records().into_iter().find(|s| s.id == id));
            let title = local.as_ref().map(|s| if s.title.is_empty() { ctx.t(text::NO_CODE).to_owned() } else { s.title.clone() });
            let shown = title.unwrap_or_else(|| format!("{}…", doc.chars().take(8).collect::<String>()));
            match local {
                Some(s) => view! { <a href=Route::Record(s.id).href() title=doc.clone()>{shown}</a> }.into_any(),
                None => view! { <span title=doc.clone()>{shown}</span> }.into_any(),
            }
        });
        let detail = if matches!(r.action.as_str(), "share" | "unshare") { org_name(&r.detail) } else { r.detail.clone() };
        view! {
            <tr class="audit-row" data-action=r.action.clone() data-doc=r.doc.clone().unwrap_or_default() data-user=r.username.clone()>
                <td>{platform::format_cst(r.at, lang)}</td>
                <td>{action_label(&r.action).get(lang)}</td>
                <td>{r.username.clone()}</td>
                <td>{r.org.as_deref().map(org_name).unwrap_or_default()}</td>
                <td>{record}</td>
                <td>{detail}</td>
                <td class="audit-device" title=r.device.clone().unwrap_or_default()>{r.device.as_deref().map(device_short).unwrap_or_default()}</td>
            </tr>
        }
    };

    // The rows shown, as a CSV file (reported to the audit trail like any export).
    let export_rows = move |list: Vec<AuditRow>| {
        use shared::export::{Cell, Column, Sheet, csv};
        let lang = ctx.lang.get_untracked();
        let headers = [
            text::AUDIT_WHEN,
            text::AUDIT_WHAT,
            text::AUDIT_PERSON,
            text::AUDIT_ORG,
            text::AUDIT_RECORD,
            text::AUDIT_DETAIL,
            text::AUDIT_DEVICE,
        ];
        let columns = headers.iter().enumerate().map(|(i, l)| Column { id: i.to_string(), header: l.get(lang).to_owned() }).collect();
        let count = list.len() as u32;
        let rows = list
            .into_iter()
            .map(|r| {
                let detail = if matches!(r.action.as_str(), "share" | "unshare") { org_name(&r.detail) } else { r.detail.clone() };
                vec![
                    Cell::Text(platform::format_cst(r.at, lang)),
                    Cell::Text(action_label(&r.action).get(lang).to_owned()),
                    Cell::Text(r.username),
                    Cell::Text(r.org.as_deref().map(org_name).unwrap_or_default()),
                    Cell::Text(r.doc.unwrap_or_default()),
                    Cell::Text(detail),
                    Cell::Text(r.device.unwrap_or_default()),
                ]
            })
            .collect();
        let file = csv(&[Sheet { name: "audit".into(), columns, rows }]);
        let name = format!("liaison-audit-{}.csv", platform::file_stamp());
        if platform::download(file.as_bytes(), "text/csv;charset=utf-8", &name).is_ok()
            && let Some(session) = ctx.session()
        {
            let event = shared::api::ReportedEvent {
                action: "export".into(),
                format: "csv".into(),
                count,
                personal: false,
                reason: String::new(),
                at: platform::now_ms(),
                device: platform::device_id(),
            };
            spawn_local(async move { api::report(&session.token, session.user.id, event).await });
        }
    };

    let field = move |label: L, id: &'static str, kind: &'static str, get: fn(&Filter) -> String, set: fn(&mut Filter, String)| {
        view! {
            <label class="audit-filter">
                <span>{move || ctx.t(label)}</span>
                <input id=id type=kind prop:value=move || typed.with(get) on:input=move |ev| typed.update(|f| set(f, event_target_value(&ev)))/>
            </label>
        }
    };

    view! {
        <section class="audit">
            <a class="back" href=Route::List.href()>{move || ctx.t(text::BACK)}</a>
            <h2>{move || ctx.t(text::AUDIT_TITLE)}</h2>
            <p class="muted small">{move || ctx.t(text::AUDIT_INTRO)}</p>
            <form class="audit-filters" on:submit=move |ev| { ev.prevent_default(); fetch(false); }>
                {field(text::AUDIT_RECORD_FILTER, "audit-doc", "text", |f| f.doc.clone(), |f, v| f.doc = v)}
                {field(text::AUDIT_PERSON, "audit-user", "text", |f| f.user.clone(), |f, v| f.user = v)}
                {field(text::AUDIT_FROM, "audit-from", "date", |f| f.from.clone(), |f, v| f.from = v)}
                {field(text::AUDIT_TO, "audit-to", "date", |f| f.to.clone(), |f, v| f.to = v)}
                <label class="audit-filter audit-others">
                    <input type="checkbox" id="audit-others" prop:checked=move || typed.with(|f| f.others)
                        on:change=move |ev| typed.update(|f| f.others = event_target_checked(&ev))/>
                    <span>{move || ctx.t(text::AUDIT_OTHERS)}</span>
                </label>
                <button type="submit" id="audit-apply">{move || ctx.t(text::AUDIT_APPLY)}</button>
            </form>
            {move || match load.get() {
                Load::Failed(why) => Some(view! { <p class="error" role="alert" id="audit-error">{why}</p> }.into_any()),
                Load::Offline => Some(view! { <p class="error" role="alert" id="audit-error">{ctx.t(text::AUDIT_OFFLINE)}</p> }.into_any()),
                Load::Loading => Some(view! { <p class="muted">{ctx.t(text::LOADING)}</p> }.into_any()),
                Load::Done => None,
            }}
            {move || {
                let lang = ctx.lang.get();
                let list = rows.get();
                if list.is_empty() {
                    return (load.get() == Load::Done).then(|| view! { <p class="empty" id="audit-empty">{ctx.t(text::AUDIT_EMPTY)}</p> }.into_any());
                }
                Some(view! {
                    <table class="audit-table" id="audit-table">
                        <thead><tr>
                            <th>{ctx.t(text::AUDIT_WHEN)}</th><th>{ctx.t(text::AUDIT_WHAT)}</th><th>{ctx.t(text::AUDIT_PERSON)}</th>
                            <th>{ctx.t(text::AUDIT_ORG)}</th><th>{ctx.t(text::AUDIT_RECORD)}</th><th>{ctx.t(text::AUDIT_DETAIL)}</th>
                            <th>{ctx.t(text::AUDIT_DEVICE)}</th>
                        </tr></thead>
                        <tbody>{list.into_iter().map(|r| row_view(r, lang)).collect_view()}</tbody>
                    </table>
                }.into_any())
            }}
            {move || (!rows.with(Vec::is_empty)).then(|| view! {
                <button type="button" id="audit-export" on:click=move |_| export_rows(rows.get_untracked())>{ctx.t(text::AUDIT_EXPORT_CSV)}</button>
            })}
            {move || (more.get() && load.get() == Load::Done).then(|| view! {
                <button id="audit-older" on:click=move |_| fetch(true)>{ctx.t(text::AUDIT_OLDER)}</button>
            })}
        </section>
    }
}

/// The navigation's link to the audit trail, for an organisation's administrator only.
#[component]
pub fn AuditLink() -> impl IntoView {
    let ctx = use_ctx();
    let admin = Memo::new(move |_| {
        let engine = ctx.engine()?;
        engine.status.track();
        Some(engine.session()?.user.admin)
    });
    move || (admin.get() == Some(true)).then(|| view! { <a class="audit-link" id="audit-link" href="#/audit">{ctx.t(text::AUDIT)}</a> })
}

//! The dashboard (统计): how many records the organisation holds on this device, by month,
//! quarter or year of recording (China Standard Time), status, category and case stage, with
//! overdue cases and the median days a case took. Counted from the summaries alone, so it
//! works offline; a bar chart (SVG drawn here) and a table with the same numbers, both
//! printable. Every number opens the list of exactly the records it counts.

use leptos::prelude::*;
use shared::i18n::L;
use shared::report::{Period, Report, Selection, report};

use crate::context::{ListSelection, Route, use_ctx};
use crate::split::split_point;
use crate::{platform, text};

split_point!(
    stats_page,
    pub fn stats_page() -> Result<AnyView, wasm_split_helpers::SplitLoaderError> {
        Ok(view! { <StatsPage/> }.into_any())
    }
);

#[component]
fn StatsPage() -> impl IntoView {
    let ctx = use_ctx();
    let kind = RwSignal::new(String::new());
    let period = RwSignal::new(Period::Month);
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());

    let base = Memo::new(move |_| Selection {
        kind: Some(kind.get()).filter(|k| !k.is_empty()),
        from: shared::cst::day_start(&from.get()),
        // The end date is included: up to the start of the day after.
        to: shared::cst::day_start(&to.get()).map(|d| d + 86_400_000),
        ..Selection::default()
    });
    let reversed = Memo::new(move |_| matches!((base.get().from, base.get().to), (Some(f), Some(t)) if f >= t));
    let counted = Memo::new(move |_| {
        let engine = ctx.engine()?;
        engine.list_changed.track();
        let records = engine.records();
        Some(report(records.iter().map(|s| &**s), &base.get(), period.get(), platform::now_ms()))
    });

    // Opens the list narrowed to `more` within the dashboard's choice, saying what it shows.
    let open = move |more: Selection, what: String| {
        let lang = ctx.lang.get_untracked();
        let mut label = vec![kind_label(&kind.get_untracked()).map_or_else(|| ctx.t(text::ALL).to_owned(), |l| l.get(lang).to_owned())];
        if !from.get_untracked().is_empty() || !to.get_untracked().is_empty() {
            label.push(format!("{}–{}", from.get_untracked(), to.get_untracked()));
        }
        label.push(what);
        ctx.list_selection.set(Some(ListSelection { selection: base.get_untracked().and(more), label: label.join(" · ") }));
        ctx.go(Route::List);
    };

    let mut kinds: Vec<(&'static str, L)> = Vec::new();
    for form in shared::form::forms() {
        if !kinds.iter().any(|(k, _)| *k == form.kind) {
            kinds.push((form.kind, form.kind_label));
        }
    }

    view! {
        <section class="stats printable" id="stats">
            <a class="back no-print" href=Route::List.href()>{move || ctx.t(text::BACK)}</a>
            <h2>{move || ctx.t(text::STATS_TITLE)}</h2>
            <form class="stats-controls no-print" on:submit=|ev| ev.prevent_default()>
                <label>
                    <span>{move || ctx.t(text::FILTER_KIND)}</span>
                    <select id="stats-kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="">{move || ctx.t(text::ALL)}</option>
                        {kinds.into_iter().map(|(k, l)| view! { <option value=k>{move || ctx.t(l)}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    <span>{move || ctx.t(text::STATS_PERIOD)}</span>
                    <select id="stats-period" prop:value=move || period.get().code()
                        on:change=move |ev| period.set(Period::from_code(&event_target_value(&ev)).unwrap_or_default())>
                        <option value="month">{move || ctx.t(text::STATS_MONTH)}</option>
                        <option value="quarter">{move || ctx.t(text::STATS_QUARTER)}</option>
                        <option value="year">{move || ctx.t(text::STATS_YEAR)}</option>
                    </select>
                </label>
                <label>
                    <span>{move || ctx.t(text::STATS_FROM)}</span>
                    <input type="date" id="stats-from" prop:value=move || from.get() on:input=move |ev| from.set(event_target_value(&ev))/>
                </label>
                <label>
                    <span>{move || ctx.t(text::STATS_TO)}</span>
                    <input type="date" id="stats-to" prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev))/>
                </label>
                <button type="button" id="stats-print" on:click=move |_| crate::api::print_and_report(ctx.session(), counted.with_untracked(|r| r.as_ref().map_or(0, |r| r.total as u32)))>
                    {move || ctx.t(text::STATS_PRINT)}
                </button>
            </form>
            <p class="muted small no-print">{move || ctx.t(text::STATS_NOTE)}</p>
            // What the figures are of, so a printed page says so too.
            <p class="stats-scope" id="stats-scope">{move || {
                let lang = ctx.lang.get();
                let what = kind_label(&kind.get()).map_or_else(|| ctx.t(text::ALL).to_owned(), |l| l.get(lang).to_owned());
                let dates = match (from.get(), to.get()) {
                    (f, t) if f.is_empty() && t.is_empty() => ctx.t(text::STATS_SCOPE_ALL_DATES).to_owned(),
                    (f, t) => format!("{f} – {t}"),
                };
                let period = ctx.t(match period.get() {
                    Period::Month => text::STATS_MONTH,
                    Period::Quarter => text::STATS_QUARTER,
                    Period::Year => text::STATS_YEAR,
                });
                format!("{what} · {dates} · {period}")
            }}</p>
            {move || match (ctx.lang.track(), counted.get()).1 {
                _ if reversed.get() => view! { <p class="error" id="stats-reversed" role="alert">{ctx.t(text::STATS_REVERSED)}</p> }.into_any(),
                None => view! { <p class="muted">{ctx.t(text::CASE_SIGN_IN)}</p> }.into_any(),
                Some(r) if r.total == 0 => view! { <p class="empty" id="stats-empty">{ctx.t(text::STATS_EMPTY)}</p> }.into_any(),
                Some(r) => view! { <Figures report=r kind=kind.get() open=open/> }.into_any(),
            }}
        </section>
    }
}

/// The chart and the tables for one report.
#[component]
fn Figures(report: Report, kind: String, open: impl Fn(Selection, String) + Copy + 'static) -> impl IntoView {
    let ctx = use_ctx();
    let lang = ctx.lang.get_untracked();
    // A number that opens its list: `shown`, for the `n` records the list will hold.
    let link = move |shown: String, n: usize, sel: Selection, what: String, id: String| {
        view! {
            <a href="#/" class="count-link" id=id data-count=n.to_string()
                on:click=move |ev| { ev.prevent_default(); open(sel.clone(), what.clone()); }>{shown}</a>
        }
    };
    let count = move |n: usize, sel: Selection, what: String, id: String| link(n.to_string(), n, sel, what, id);
    let period_rows = report
        .periods
        .iter()
        .map(|b| {
            let sel = Selection { from: Some(b.from), to: Some(b.to), ..Selection::default() };
            view! { <tr><th scope="row">{b.key.clone()}</th><td>{count(b.count, sel, b.key.clone(), format!("stats-period-{}", b.key))}</td></tr> }
        })
        .collect_view();
    let table = |title: L, id: &'static str, rows: Vec<(String, String, usize, Selection)>| {
        view! {
            <table class="stats-table" id=id>
                <caption>{ctx.t(title)}</caption>
                <tbody>
                    {rows.into_iter().map(|(key, label, n, sel)| view! {
                        <tr data-key=key.clone()><th scope="row">{label.clone()}</th><td>{count(n, sel, label, format!("{id}-{key}"))}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    };
    let by_kind = report
        .by_kind
        .iter()
        .map(|(k, n)| {
            let label = kind_label(k).map_or_else(|| k.clone(), |l| l.get(lang).to_owned());
            (k.clone(), label, *n, Selection { kind: Some(k.clone()), ..Selection::default() })
        })
        .collect::<Vec<_>>();
    let by_status = report
        .by_status
        .iter()
        .map(|(code, n)| {
            let status = if *code == "draft" { shared::record::Status::Draft } else { shared::record::Status::Complete };
            let label = ctx.t(crate::components::badges::status_label(status)).to_owned();
            ((*code).to_owned(), label, *n, Selection { status: Some(status), ..Selection::default() })
        })
        .collect::<Vec<_>>();
    // Only for a kind whose form has a category (a training session has none).
    let by_category = newest_form(&kind).is_some_and(|f| f.category_field.is_some()).then(|| {
        report
            .by_category
            .iter()
            .map(|(c, n)| {
                let label = category_label(&kind, c)
                    .map_or_else(|| if c.is_empty() { ctx.t(text::STATS_NONE).to_owned() } else { c.clone() }, |l| l.get(lang).to_owned());
                (
                    if c.is_empty() { "none".to_owned() } else { c.clone() },
                    label,
                    *n,
                    Selection { category: Some(c.clone()), ..Selection::default() },
                )
            })
            .collect::<Vec<_>>()
    });
    let by_stage = report
        .by_stage
        .iter()
        .map(|(stage, n)| {
            let (wf, st) = stage.split_once(':').unwrap_or((stage, ""));
            let label =
                shared::case::workflow::find(wf).and_then(|w| w.state(st)).map_or_else(|| stage.clone(), |s| s.label.get(lang).to_owned());
            (stage.replace(':', "-"), label, *n, Selection { stage: Some(stage.clone()), ..Selection::default() })
        })
        .collect::<Vec<_>>();
    // The kind's own figures (disputes resolved, hours, attendees by organisation): one row
    // each, and under a figure over group items, a row per value of its `by` field.
    let figures = newest_form(&kind).map(|form| {
        let mut rows = Vec::new();
        for figure in form.figures {
            let Some(f) = report.figures.get(figure.id) else { continue };
            let label = figure.label.get(lang).to_owned();
            let sel = Selection { figure: Some((figure.id.to_owned(), None)), ..Selection::default() };
            rows.push(FigureRow {
                key: figure.id.to_owned(),
                label: label.clone(),
                what: label.clone(),
                value: f.sum.n,
                records: f.records,
                sel,
                part: None,
            });
            // A select's parts are choice ids: shown by their labels.
            let choices = match figure.rule {
                shared::form::FigureRule::Items { group, by: Some(by) } => {
                    form.field(group).and_then(|g| g.sub_fields().iter().find(|f| f.id == by)).map_or(&[][..], |f| f.choices())
                }
                _ => &[],
            };
            for (part, n) in &f.sum.by {
                let name = match choices.iter().find(|c| c.id == part) {
                    Some(c) => c.label.get(lang).to_owned(),
                    None if part.is_empty() => ctx.t(text::STATS_NONE).to_owned(),
                    None => part.clone(),
                };
                let sel = Selection { figure: Some((figure.id.to_owned(), Some(part.clone()))), ..Selection::default() };
                let records = f.records_by.get(part).copied().unwrap_or(0);
                let key = format!("{}-{}", figure.id, rows.len());
                let what = format!("{label} · {name}");
                rows.push(FigureRow { key, label: name, what, value: *n, records, sel, part: Some(part.clone()) });
            }
        }
        rows
    });
    let median = report.median_days_to_close.map(|d| format!("{d:.1}"));
    // The same numbers as a CSV table: group, item, count.
    let mut lines: Vec<(L, String, f64)> =
        vec![(text::STATS_TOTAL, String::new(), report.total as f64), (text::CASE_OVERDUE, String::new(), report.overdue as f64)];
    lines.extend(report.periods.iter().map(|b| (text::STATS_BY_PERIOD, b.key.clone(), b.count as f64)));
    for (title, rows) in [(text::STATS_BY_KIND, &by_kind), (text::STATS_BY_STATUS, &by_status), (text::STATS_BY_STAGE, &by_stage)] {
        lines.extend(rows.iter().map(|(_, label, n, _)| (title, label.clone(), *n as f64)));
    }
    if let Some(rows) = &by_category {
        lines.extend(rows.iter().map(|(_, label, n, _)| (text::STATS_BY_CATEGORY, label.clone(), *n as f64)));
    }
    if let Some(rows) = &figures {
        // Rounded as shown: sums of decimals carry float noise (0.1 + 0.2).
        lines.extend(rows.iter().map(|r| (text::STATS_FIGURES, r.what.clone(), (r.value * 100.0).round() / 100.0)));
    }
    let total = report.total;
    let export = move |_| {
        use shared::export::{Cell, Column, Sheet, csv};
        let columns = [text::STATS_GROUP, text::STATS_ITEM, text::STATS_COUNT]
            .iter()
            .enumerate()
            .map(|(i, l)| Column { id: i.to_string(), header: ctx.t(*l).to_owned() })
            .collect();
        let rows =
            lines.iter().map(|(g, item, n)| vec![Cell::Text(ctx.t(*g).to_owned()), Cell::Text(item.clone()), Cell::Number(*n)]).collect();
        let file = csv(&[Sheet { name: "figures".into(), columns, rows }]);
        let name = format!("liaison-figures-{}.csv", platform::file_stamp());
        if platform::download(file.as_bytes(), "text/csv;charset=utf-8", &name).is_ok()
            && let Some(session) = ctx.session()
        {
            let event = shared::api::ReportedEvent {
                action: "export".into(),
                format: "csv".into(),
                count: total as u32,
                personal: false,
                reason: String::new(),
                at: platform::now_ms(),
                device: platform::device_id(),
            };
            leptos::task::spawn_local(async move { crate::api::report(&session.token, session.user.id, event).await });
        }
    };
    view! {
        <div class="stats-figures">
            <p class="stats-total">
                {ctx.t(text::STATS_TOTAL)}" "{count(report.total, Selection::default(), ctx.t(text::STATS_TOTAL).to_owned(), "stats-total".into())}
                {(report.overdue > 0 || !by_stage.is_empty()).then(|| view! {
                    " · "{ctx.t(text::CASE_OVERDUE)}" "
                    {count(report.overdue, Selection { overdue: true, ..Selection::default() }, ctx.t(text::CASE_OVERDUE).to_owned(), "stats-overdue".into())}
                })}
                {median.map(|m| view! {
                    " · "<span id="stats-median">{ctx.t(text::STATS_MEDIAN).replace("{d}", &m).replace("{n}", &report.closed_cases.to_string())}</span>
                })}
            </p>
            <Chart report=report.clone() open=open/>
            // Each kind's own figures are its own to read: say where they are.
            {(kind.is_empty() && !report.figures.is_empty()).then(|| view! {
                <p class="muted small no-print" id="stats-choose-kind">{ctx.t(text::STATS_CHOOSE_KIND)}</p>
            })}
            <button type="button" class="no-print" id="stats-export" on:click=export>{ctx.t(text::STATS_EXPORT)}</button>
            <div class="stats-tables">
                <table class="stats-table" id="stats-periods">
                    <caption>{ctx.t(text::STATS_BY_PERIOD)}</caption>
                    <tbody>{period_rows}</tbody>
                </table>
                {kind.is_empty().then(|| table(text::STATS_BY_KIND, "stats-kinds", by_kind))}
                {table(text::STATS_BY_STATUS, "stats-status", by_status)}
                {by_category.map(|rows| table(text::STATS_BY_CATEGORY, "stats-categories", rows))}
                {(!by_stage.is_empty()).then(|| table(text::STATS_BY_STAGE, "stats-stages", by_stage))}
                {figures.filter(|rows| !rows.is_empty()).map(|rows| view! {
                    <table class="stats-table" id="stats-figures">
                        <caption>{ctx.t(text::STATS_FIGURES)}</caption>
                        <tbody>
                            {rows.into_iter().map(|FigureRow { key, label, what, value, records, sel, part }| {
                                let in_records = ctx.t(text::STATS_IN_RECORDS).replace("{n}", &records.to_string());
                                view! {
                                    <tr data-key=key.clone() class:figure-part=part.is_some() data-part=part>
                                        <th scope="row">{label.clone()}</th>
                                        <td>{link(number(value), records, sel, what, format!("stats-figure-{key}"))}
                                            " "<span class="muted small">{in_records}</span></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
            </div>
        </div>
    }
}

/// Bars per period, scaled to the largest; each bar opens its period's list.
#[component]
fn Chart(report: Report, open: impl Fn(Selection, String) + Copy + 'static) -> impl IntoView {
    let ctx = use_ctx();
    const H: f64 = 160.0;
    const BAR: f64 = 44.0;
    const GAP: f64 = 14.0;
    let max = report.periods.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let width = report.periods.len() as f64 * (BAR + GAP) + GAP;
    let bars = report
        .periods
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let h = b.count as f64 / max * H;
            let x = GAP + i as f64 * (BAR + GAP);
            let sel = Selection { from: Some(b.from), to: Some(b.to), ..Selection::default() };
            let key = b.key.clone();
            view! {
                <g class="bar" data-key=b.key.clone() data-count=b.count.to_string()
                    aria-label=format!("{}: {}", b.key, b.count) on:click=move |_| open(sel.clone(), key.clone())>
                    <rect x=x y=H - h + 20.0 width=BAR height=h.max(0.5)></rect>
                    <text class="bar-count" x=x + BAR / 2.0 y=H - h + 15.0 text-anchor="middle">{b.count}</text>
                    <text class="bar-label" x=x + BAR / 2.0 y=H + 36.0 text-anchor="middle">{b.key.clone()}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <svg class="stats-chart" id="stats-chart" role="img" aria-label=ctx.t(text::STATS_BY_PERIOD)
            viewBox=format!("0 0 {width} {}", H + 44.0) width=width height=H + 44.0>
            {bars}
        </svg>
    }
}

fn kind_label(kind: &str) -> Option<L> {
    shared::form::forms().iter().find(|f| f.kind == kind).map(|f| f.kind_label)
}

/// One row of a kind's figures: `label` as the table shows it (a part under its figure),
/// `what` as the list and the CSV name it, `records` how many the list it opens will hold.
struct FigureRow {
    key: String,
    label: String,
    what: String,
    value: f64,
    records: usize,
    sel: Selection,
    /// The value of the figure's `by` field this row counts, for a part.
    part: Option<String>,
}

fn newest_form(kind: &str) -> Option<&'static shared::form::Form> {
    shared::form::forms().iter().copied().filter(|f| f.kind == kind).max_by_key(|f| f.version)
}

/// A figure as people write it: whole numbers without a point, others to two places at most.
fn number(v: f64) -> String {
    // Rounded first, and +0 for a -0 it rounds to.
    let v = (v * 100.0).round() / 100.0 + 0.0;
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A category's label from the newest form of `kind`.
fn category_label(kind: &str, id: &str) -> Option<L> {
    let form = newest_form(kind)?;
    let field = form.field(form.category_field?)?;
    let shared::form::FieldType::SelectOne(choices) = &field.ty else { return None };
    choices.iter().find(|c| c.id == id).map(|c| c.label)
}

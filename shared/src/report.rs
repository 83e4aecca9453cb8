//! Counts for the dashboard (统计): the records an organisation holds, by period (when each
//! was recorded, China Standard Time), status, category and case stage, with overdue cases,
//! the median time from transfer to result, and the figures forms declare (disputes resolved,
//! training hours, attendees by organisation).
//!
//! Pure functions over [`RecordSummary`], so the app counts offline from what the device
//! holds. Every number comes with the [`Selection`] that makes it, and the list shows a
//! selection with the same [`Selection::keeps`]: a count and the list it opens cannot differ.

use std::collections::BTreeMap;

use crate::RecordSummary;
use crate::cst;
use crate::form::Tally;
use crate::record::Status;

const DAY_MS: i64 = 86_400_000;
/// The most periods a chart shows: a century of months.
const MAX_PERIODS: usize = 1200;

/// How the records are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    #[default]
    Month,
    Quarter,
    Year,
}

impl Period {
    pub fn code(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }

    pub fn from_code(code: &str) -> Option<Period> {
        [Period::Month, Period::Quarter, Period::Year].into_iter().find(|p| p.code() == code)
    }

    /// The period a moment falls in: its label (`2026-11`, `2026-Q4`, `2026`) and its
    /// bounds, first millisecond included, last excluded.
    pub fn of(self, ms: i64) -> Bucket {
        let (y, m, _) = cst::date_of(ms);
        let (first, months, key) = match self {
            Period::Month => (m, 1, format!("{y}-{m:02}")),
            Period::Quarter => ((m - 1) / 3 * 3 + 1, 3, format!("{y}-Q{}", (m - 1) / 3 + 1)),
            Period::Year => (1, 12, format!("{y}")),
        };
        Bucket { key, from: cst::start_of(y, first, 1), to: cst::start_of(y, first + months, 1), count: 0 }
    }
}

/// One period and how many records were recorded in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub from: i64,
    pub to: i64,
    pub count: usize,
}

/// Which records a number counts. Empty parts mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub kind: Option<String>,
    /// Recorded (created) at or after this moment…
    pub from: Option<i64>,
    /// …and before this one.
    pub to: Option<i64>,
    pub status: Option<Status>,
    /// A category's id; `Some("")` for records with none.
    pub category: Option<String>,
    /// A case stage, `workflow:state`.
    pub stage: Option<String>,
    /// Only cases past their due date at `now` (see [`Selection::keeps`]).
    pub overdue: bool,
    /// Only records that add to this figure (a form's figure id), or with a part named, to
    /// that part of it (items whose `by` field has that value).
    pub figure: Option<(String, Option<String>)>,
}

impl Selection {
    pub fn keeps(&self, s: &RecordSummary, now: i64) -> bool {
        self.kind.as_deref().is_none_or(|k| s.kind.as_str() == k)
            && self.from.is_none_or(|f| s.created_at >= f)
            && self.to.is_none_or(|t| s.created_at < t)
            && self.status.is_none_or(|st| s.status == st)
            && self.category.as_deref().is_none_or(|c| s.category.as_deref().unwrap_or("") == c)
            && self.stage.as_deref().is_none_or(|st| s.case.as_ref().is_some_and(|c| format!("{}:{}", c.workflow, c.state) == st))
            && (!self.overdue || s.case.as_ref().is_some_and(|c| c.overdue(now)))
            && self.figure.as_ref().is_none_or(|(f, by)| s.figures.get(f).is_some_and(|t| t.counts(by.as_deref())))
    }

    /// This selection narrowed further by `more`'s set parts (a time range: the overlap).
    pub fn and(&self, more: Selection) -> Selection {
        let later = |a: Option<i64>, b: Option<i64>| a.max(b);
        let earlier = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Selection {
            kind: more.kind.or_else(|| self.kind.clone()),
            from: later(self.from, more.from),
            to: earlier(self.to, more.to),
            status: more.status.or(self.status),
            category: more.category.or_else(|| self.category.clone()),
            stage: more.stage.or_else(|| self.stage.clone()),
            overdue: more.overdue || self.overdue,
            figure: more.figure.or_else(|| self.figure.clone()),
        }
    }
}

/// The counts over the records a selection keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub total: usize,
    /// Every period from the first record's to the last's, empty ones included (a bar chart
    /// shows a quiet month as a gap, not by leaving it out).
    pub periods: Vec<Bucket>,
    pub by_kind: BTreeMap<String, usize>,
    pub by_status: BTreeMap<&'static str, usize>,
    /// By category id (ids are each form's own: read them with one kind chosen); `""` for records with none.
    pub by_category: BTreeMap<String, usize>,
    /// By case stage, `workflow:state`.
    pub by_stage: BTreeMap<String, usize>,
    pub overdue: usize,
    /// Closed cases with a known opening, and the median days from it to the closing step.
    pub closed_cases: usize,
    pub median_days_to_close: Option<f64>,
    /// Each form figure added up, by figure id (ids are each form's own, like categories:
    /// read them with one kind chosen).
    pub figures: BTreeMap<String, FigureSum>,
}

/// A figure over many records: the sum, and how many records add to it (in all, and to each
/// part), which is how many the list it opens shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FigureSum {
    pub sum: Tally,
    pub records: usize,
    pub records_by: BTreeMap<String, usize>,
}

/// Counts what `base` keeps of `records`, grouped by `period`, at `now` (for overdue).
pub fn report<'a>(records: impl IntoIterator<Item = &'a RecordSummary>, base: &Selection, period: Period, now: i64) -> Report {
    let mut r = Report::default();
    let mut per: BTreeMap<i64, Bucket> = BTreeMap::new();
    let mut days = Vec::new();
    for s in records.into_iter().filter(|s| base.keeps(s, now)) {
        r.total += 1;
        let b = period.of(s.created_at);
        per.entry(b.from).or_insert(b).count += 1;
        *r.by_kind.entry(s.kind.as_str().to_owned()).or_default() += 1;
        *r.by_status.entry(status_code(s.status)).or_default() += 1;
        *r.by_category.entry(s.category.clone().unwrap_or_default()).or_default() += 1;
        for (id, t) in &s.figures {
            let f = r.figures.entry(id.clone()).or_default();
            f.sum.add(t);
            f.records += usize::from(t.counts(None));
            for key in t.by.keys().filter(|k| t.counts(Some(k))) {
                *f.records_by.entry(key.clone()).or_default() += 1;
            }
        }
        if let Some(c) = &s.case {
            *r.by_stage.entry(format!("{}:{}", c.workflow, c.state)).or_default() += 1;
            r.overdue += usize::from(c.overdue(now));
            if let (true, Some(opened), Some(closed)) = (c.closed, c.opened_at, c.since) {
                days.push((closed - opened).max(0) as f64 / DAY_MS as f64);
            }
        }
    }
    // Fill the gaps between the first and last period; not past MAX_PERIODS, which only a
    // device with its clock far off makes (its dates then show as they are, gaps and all).
    if let (Some(first), Some(last)) = (per.keys().next().copied(), per.keys().next_back().copied()) {
        let mut at = first;
        while at < last && per.len() < MAX_PERIODS {
            let next = per[&at].to;
            per.entry(next).or_insert_with(|| period.of(next));
            at = next;
        }
    }
    r.periods = per.into_values().collect();
    r.closed_cases = days.len();
    r.median_days_to_close = median(&mut days);
    r
}

pub fn status_code(s: Status) -> &'static str {
    match s {
        Status::Draft => "draft",
        Status::Complete => "complete",
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

//! The dashboard's counts over a fixed set of records: every grouping, the period boundaries
//! in China Standard Time (a record made at half past midnight on 1 December in China is
//! December's, though it is still November in UTC), empty periods between, overdue cases, the
//! median time to a result — and each count's selection keeps exactly the records counted.

use std::collections::BTreeMap;

use shared::case::CaseSummary;
use shared::form::RecordKind;
use shared::form::Tally;
use shared::record::Status;
use shared::report::{Period, Selection, report};
use shared::{DocumentId, RecordSummary};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Midnight of a date in China, in ms.
fn cst(date: &str) -> i64 {
    shared::cst::day_start(date).unwrap()
}

fn record(n: u8, kind: &str, created_at: i64, status: Status, category: Option<&str>, case: Option<CaseSummary>) -> RecordSummary {
    RecordSummary {
        id: DocumentId::from_random_bytes([n; 16]),
        kind: RecordKind::new(kind),
        form_id: kind.into(),
        form_version: 1,
        status,
        title: format!("R-{n}"),
        category: category.map(Into::into),
        created_at,
        updated_at: created_at,
        heads: vec![],
        org: Some("county-federation".into()),
        case: case.map(Box::new),
        figures: Default::default(),
        format: shared::record::SUMMARY_FORMAT,
    }
}

fn case(state: &str, since: i64, due: Option<i64>, opened_at: Option<i64>, closed: bool) -> CaseSummary {
    CaseSummary {
        workflow: "case".into(),
        state: state.into(),
        waiting_for: None,
        sender: Some("county-federation".into()),
        receiver: Some("county-procuratorate".into()),
        since: Some(since),
        due,
        void: 0,
        opened_at,
        closed,
    }
}

fn records() -> Vec<RecordSummary> {
    let now = cst("2027-01-10");
    vec![
        // 30 November, 23:59 in China.
        record(
            1,
            "intake",
            cst("2026-12-01") - 60_000,
            Status::Complete,
            Some("domestic_violence"),
            Some(case("recorded", 0, None, None, false)),
        ),
        // 1 December, 00:30 in China (still 30 November in UTC).
        record(
            2,
            "intake",
            cst("2026-12-01") + HOUR / 2,
            Status::Draft,
            Some("sexual_assault"),
            Some(case("transferred", cst("2026-12-02"), Some(now - DAY), Some(cst("2026-12-02")), false)),
        ),
        // Closed: transferred on 3 December, result on 13 December (10 days).
        record(
            3,
            "intake",
            cst("2026-12-03"),
            Status::Complete,
            Some("domestic_violence"),
            Some(case("result_reported", cst("2026-12-13"), None, Some(cst("2026-12-03")), true)),
        ),
        // Closed in 20 days; recorded in February (January empty between).
        record(
            4,
            "intake",
            cst("2027-02-01"),
            Status::Complete,
            None,
            Some(case("result_reported", cst("2027-02-21"), None, Some(cst("2027-02-01")), true)),
        ),
        // Transferred, not yet due.
        record(
            5,
            "intake",
            cst("2027-02-28") + 23 * HOUR,
            Status::Complete,
            Some("domestic_violence"),
            Some(case("transferred", cst("2027-03-01"), Some(now + DAY), Some(cst("2027-03-01")), false)),
        ),
        record(6, "mediation", cst("2026-12-15"), Status::Complete, Some("divorce"), None),
        record(7, "mediation", cst("2027-03-31") + 23 * HOUR, Status::Draft, Some("divorce"), None),
    ]
}

fn periods(r: &shared::report::Report) -> Vec<(&str, usize)> {
    r.periods.iter().map(|b| (b.key.as_str(), b.count)).collect()
}

#[test]
fn counts_by_month_with_the_day_turning_in_china_and_empty_months_between() {
    let all = records();
    let now = cst("2027-01-10");
    let intake = Selection { kind: Some("intake".into()), ..Selection::default() };
    let r = report(&all, &intake, Period::Month, now);
    assert_eq!(r.total, 5);
    assert_eq!(periods(&r), [("2026-11", 1), ("2026-12", 2), ("2027-01", 0), ("2027-02", 2)]);
    assert_eq!(r.by_status.get("complete"), Some(&4));
    assert_eq!(r.by_status.get("draft"), Some(&1));
    assert_eq!(r.by_category.get("domestic_violence"), Some(&3));
    assert_eq!(r.by_category.get(""), Some(&1), "no category yet");
    assert_eq!(r.by_stage.get("case:transferred"), Some(&2));
    assert_eq!(r.by_stage.get("case:result_reported"), Some(&2));
    assert_eq!(r.overdue, 1, "one transferred case is past its due date");
    assert_eq!((r.closed_cases, r.median_days_to_close), (2, Some(15.0)), "10 and 20 days");
}

#[test]
fn quarters_and_years_end_where_they_do_in_china() {
    let all = records();
    let now = cst("2027-01-10");
    let r = report(&all, &Selection::default(), Period::Quarter, now);
    assert_eq!(periods(&r), [("2026-Q4", 4), ("2027-Q1", 3)]);
    assert_eq!((r.by_kind["intake"], r.by_kind["mediation"]), (5, 2));
    let r = report(&all, &Selection::default(), Period::Year, now);
    assert_eq!(periods(&r), [("2026", 4), ("2027", 3)]);
    let q1 = Period::Quarter.of(cst("2027-02-14"));
    assert_eq!((q1.from, q1.to), (cst("2027-01-01"), cst("2027-04-01")));
    let dec = Period::Month.of(cst("2026-12-31") + 23 * HOUR);
    assert_eq!((dec.key.as_str(), dec.to), ("2026-12", cst("2027-01-01")), "December ends at midnight in China");
}

#[test]
fn a_clock_far_off_does_not_make_endless_periods() {
    let mut all = records();
    all.push(record(9, "intake", i64::MAX / 2, Status::Draft, None, None));
    all.push(record(10, "intake", i64::MIN / 2, Status::Draft, None, None));
    let r = report(&all, &Selection::default(), Period::Month, 0);
    assert_eq!(r.total, 9);
    assert!(r.periods.len() <= 1200 + 9, "{}", r.periods.len());
    assert_eq!(r.periods.iter().map(|b| b.count).sum::<usize>(), 9);
}

#[test]
fn a_date_range_and_kind_narrow_the_counts() {
    let all = records();
    let now = cst("2027-01-10");
    let dec = Selection { from: Some(cst("2026-12-01")), to: Some(cst("2027-01-01")), ..Selection::default() };
    let r = report(&all, &dec, Period::Month, now);
    assert_eq!(periods(&r), [("2026-12", 3)]);
    let mediation = dec.and(Selection { kind: Some("mediation".into()), ..Selection::default() });
    assert_eq!(report(&all, &mediation, Period::Month, now).by_category.get("divorce"), Some(&1));
    assert_eq!(report(&all, &Selection { kind: Some("training".into()), ..Selection::default() }, Period::Month, now), Default::default());
}

#[test]
fn every_count_opens_exactly_the_records_it_counts() {
    let all = records();
    let now = cst("2027-01-10");
    // A range that cuts December in two: December's bar opens the days counted, not the month.
    let base = Selection { kind: Some("intake".into()), from: Some(cst("2026-12-02")), ..Selection::default() };
    let r = report(&all, &base, Period::Month, now);
    let kept = |sel: Selection| all.iter().filter(|s| sel.keeps(s, now)).count();
    for b in &r.periods {
        assert_eq!(kept(base.and(Selection { from: Some(b.from), to: Some(b.to), ..Selection::default() })), b.count, "{}", b.key);
    }
    for (kind, n) in &report(&all, &Selection::default(), Period::Year, now).by_kind {
        assert_eq!(kept(Selection { kind: Some(kind.clone()), ..Selection::default() }), *n, "{kind}");
    }
    for (category, n) in &r.by_category {
        assert_eq!(kept(base.and(Selection { category: Some(category.clone()), ..Selection::default() })), *n, "{category}");
    }
    for (stage, n) in &r.by_stage {
        assert_eq!(kept(base.and(Selection { stage: Some(stage.clone()), ..Selection::default() })), *n, "{stage}");
    }
    assert_eq!(
        kept(base.and(Selection { status: Some(Status::Draft), ..Selection::default() })),
        r.by_status.get("draft").copied().unwrap_or(0)
    );
    assert_eq!(kept(base.and(Selection { overdue: true, ..Selection::default() })), r.overdue);
}

/// A training session's summary: hours, and attendees by organisation.
fn session(n: u8, created_at: i64, hours: f64, attendees: &[(&str, f64)]) -> RecordSummary {
    let mut s = record(n, "training", created_at, Status::Complete, None, None);
    if hours > 0.0 {
        s.figures.insert("hours".into(), Tally { n: hours, by: Default::default() });
    }
    if !attendees.is_empty() {
        let by: BTreeMap<String, f64> = attendees.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        s.figures.insert("attendees".into(), Tally { n: by.values().sum(), by });
    }
    s
}

#[test]
fn figures_add_up_over_the_selection_and_open_the_records_that_make_them() {
    let now = cst("2027-01-10");
    let all = [
        session(20, cst("2026-11-30"), 2.5, &[("县妇联", 12.0), ("县检察院", 3.0)]),
        session(21, cst("2026-12-01"), 1.5, &[("县妇联", 8.0)]),
        session(22, cst("2026-12-15"), 0.0, &[]),
        session(23, cst("2026-12-31"), 3.0, &[("县检察院", 5.0), ("", 1.0)]),
    ];
    let r = report(&all, &Selection::default(), Period::Month, now);
    let hours = &r.figures["hours"];
    assert_eq!((hours.sum.n, hours.records), (7.0, 3));
    let attendees = &r.figures["attendees"];
    assert_eq!(attendees.sum.n, 29.0);
    assert_eq!(attendees.sum.by.get("县妇联"), Some(&20.0));
    assert_eq!(attendees.sum.by.get("县检察院"), Some(&8.0));
    assert_eq!(attendees.records_by.get("县妇联"), Some(&2));

    // December in China only: the session of 30 November is not in it.
    let dec = Selection { from: Some(cst("2026-12-01")), to: Some(cst("2027-01-01")), ..Selection::default() };
    let d = report(&all, &dec, Period::Month, now);
    assert_eq!((d.figures["hours"].sum.n, d.figures["hours"].records), (4.5, 2));
    assert_eq!(d.figures["attendees"].sum.by.get("县检察院"), Some(&5.0));

    let kept = |sel: Selection| all.iter().filter(|s| sel.keeps(s, now)).count();
    for (id, f) in &r.figures {
        assert_eq!(kept(Selection { figure: Some((id.clone(), None)), ..Selection::default() }), f.records, "{id}");
        for (part, n) in &f.records_by {
            assert_eq!(kept(Selection { figure: Some((id.clone(), Some(part.clone()))), ..Selection::default() }), *n, "{id} {part}");
        }
    }
    assert_eq!(kept(dec.and(Selection { figure: Some(("hours".into(), None)), ..Selection::default() })), 2);
}

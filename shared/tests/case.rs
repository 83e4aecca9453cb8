//! The case workflow: every step from every state (allowed, or refused with the promised
//! reason), what the server admits, and replicas taking steps offline in random orders.

use std::collections::BTreeMap;

mod common;

use automerge::AutoCommit;
use proptest::prelude::*;
use shared::case::admit::{self, Sender, data};
use shared::case::workflow::{CASE, ENTRUSTMENT};
use shared::case::{self, CaseState, Facts, Log, Outcome, Refusal, derive};

const FED: &str = "fed";
const PROC: &str = "proc";
const COURT: &str = "court";
/// Another procuratorate (the city's): a transfer may go to either.
const CITY: &str = "city-proc";
const FACTS: Facts = Facts { consent_or_basis: true, minor_sexual_assault: true };

/// What each step must carry to pass its data checks.
fn good_data(step: &str) -> BTreeMap<String, String> {
    match step {
        "transfer" => data(&[("to_org", PROC), ("basis", "consent")]),
        "entrust" => data(&[("to_org", FED), ("subject", "custody"), ("due", "2027-01-31")]),
        "return" => data(&[("reason", "not_competent")]),
        "police_filing_supervised" => data(&[("date", "2026-12-01")]),
        "report_result" => data(&[("outcome", "prosecuted"), ("date", "2026-12-20")]),
        _ => BTreeMap::new(),
    }
}

/// A log of steps taken in order, each admitted by the server in that order.
fn admitted(steps: &[(&str, &str)]) -> Log {
    let mut log = Log::default();
    let mut prev = String::new();
    for (i, (step, org)) in steps.iter().enumerate() {
        let id = format!("e{i}");
        log.events.insert(
            id.clone(),
            case::Event {
                id: id.clone(),
                step: (*step).into(),
                by_user: "1".into(),
                by_org: (*org).into(),
                at: 1_000 * i as i64,
                prev: prev.clone(),
                data: good_data(step),
            },
        );
        // The server's clock, not the device's: deadlines count from it.
        log.received.insert(id.clone(), case::Receipt { seq: i as i64 + 1, at: 1_000 * i as i64 + 500_000, void: false });
        prev = id;
    }
    log
}

/// A state, the steps (and who took them) that reach it, what the sender and the receiver may
/// do there.
type Row = (&'static str, &'static [(&'static str, &'static str)], &'static [&'static str], &'static [&'static str]);

fn check(state: &CaseState, step: &str, org: &str) -> Result<(), Refusal> {
    state.check(step, org, FED, &good_data(step), FACTS).map(|_| ())
}

#[test]
fn every_case_step_from_every_state_is_allowed_or_refused_with_its_reason() {
    // How to reach each state, and what the sender (federation) and receiver (procuratorate)
    // may do there. Everything else is refused: by the wrong side, as "not yours"; by the
    // right side, as "wrong state".
    let table: &[Row] = &[
        ("recorded", &[], &["transfer"], &[]),
        ("transferred", &[("transfer", FED)], &["withdraw"], &["accept", "return"]),
        ("withdrawn", &[("transfer", FED), ("withdraw", FED)], &["transfer"], &[]),
        ("returned", &[("transfer", FED), ("return", PROC)], &["transfer"], &[]),
        ("accepted", &[("transfer", FED), ("accept", PROC)], &[], &["note", "police_filing_supervised", "report_result"]),
        ("result_reported", &[("transfer", FED), ("accept", PROC), ("report_result", PROC)], &[], &["reopen"]),
    ];
    assert_eq!(table.len(), CASE.states.len(), "every state is in the table");
    for (state, path, sender_may, receiver_may) in table {
        let now = derive(&CASE, &admitted(path));
        assert_eq!(now.state.id, *state, "{path:?}");
        assert!(now.void().next().is_none(), "{state}: the path itself is valid");
        for def in CASE.steps {
            for (org, may) in [(FED, sender_may), (PROC, receiver_may)] {
                let got = check(&now, def.id, org);
                if may.contains(&def.id) {
                    assert_eq!(got, Ok(()), "{state}: {org} may {}", def.id);
                    continue;
                }
                let right_side = match def.by {
                    case::Party::Sender => org == FED,
                    // There is a receiver only while the case is with one.
                    case::Party::Receiver => org == PROC && now.receiver.as_deref() == Some(PROC),
                };
                let expected = if right_side {
                    Refusal::WrongState { step: def.id, state: now.state.id }
                } else {
                    Refusal::NotYours { step: def.id, by: def.by }
                };
                assert_eq!(got, Err(expected), "{state}: {org} takes {}", def.id);
            }
            // A third organisation never takes a step on a case that has a sender.
            if now.sender.is_some() {
                assert!(matches!(check(&now, def.id, COURT), Err(Refusal::NotYours { .. })), "{state}: court {}", def.id);
            }
        }
    }
}

#[test]
fn every_entrustment_step_from_every_state_is_allowed_or_refused() {
    // The procuratorate entrusts the federation.
    let table: &[Row] = &[
        ("drafted", &[], &["entrust"], &[]),
        ("entrusted", &[("entrust", PROC)], &["withdraw"], &["accept", "decline"]),
        ("withdrawn", &[("entrust", PROC), ("withdraw", PROC)], &["entrust"], &[]),
        ("declined", &[("entrust", PROC), ("decline", FED)], &["entrust"], &[]),
        ("investigating", &[("entrust", PROC), ("accept", FED)], &[], &["submit_report"]),
        ("reported", &[("entrust", PROC), ("accept", FED), ("submit_report", FED)], &["acknowledge"], &[]),
        ("acknowledged", &[("entrust", PROC), ("accept", FED), ("submit_report", FED), ("acknowledge", PROC)], &[], &[]),
    ];
    assert_eq!(table.len(), ENTRUSTMENT.states.len());
    for (state, path, sender_may, receiver_may) in table {
        let mut log = admitted(path);
        for e in log.events.values_mut() {
            e.data = good_data(&e.step);
        }
        let now = derive(&ENTRUSTMENT, &log);
        assert_eq!(now.state.id, *state, "{path:?}");
        for def in ENTRUSTMENT.steps {
            for (org, may) in [(PROC, sender_may), (FED, receiver_may)] {
                let got = now.check(def.id, org, PROC, &good_data(def.id), Facts::default()).map(|_| ());
                assert_eq!(got.is_ok(), may.contains(&def.id), "{state}: {org} takes {}: {got:?}", def.id);
            }
        }
    }
    assert!(
        derive(&ENTRUSTMENT, &admitted(&[("entrust", PROC), ("accept", FED), ("submit_report", FED), ("acknowledge", PROC)])).state.closed
    );
}

#[test]
fn steps_check_their_data_and_the_record() {
    let recorded = derive(&CASE, &Log::default());
    let try_transfer = |d: &[(&str, &str)], facts: Facts| recorded.check("transfer", FED, FED, &data(d), facts).map(|_| ());
    assert_eq!(try_transfer(&[("basis", "consent")], FACTS), Err(Refusal::Missing("to_org")));
    assert_eq!(try_transfer(&[("to_org", FED), ("basis", "consent")], FACTS), Err(Refusal::ToSelf));
    assert_eq!(try_transfer(&[("to_org", PROC), ("basis", "because")], FACTS), Err(Refusal::BadValue("basis")));
    assert_eq!(try_transfer(&[("to_org", PROC)], FACTS), Err(Refusal::Missing("basis")));
    assert_eq!(
        try_transfer(&[("to_org", PROC), ("basis", "consent")], Facts { consent_or_basis: false, ..FACTS }),
        Err(Refusal::NeedsConsentOrBasis)
    );
    assert_eq!(try_transfer(&[("to_org", PROC), ("basis", "consent")], FACTS), Ok(()));
    // Only the owner opens a case.
    assert_eq!(
        recorded.check("transfer", COURT, FED, &good_data("transfer"), FACTS).map(|_| ()),
        Err(Refusal::NotYours { step: "transfer", by: case::Party::Sender })
    );

    let accepted = derive(&CASE, &admitted(&[("transfer", FED), ("accept", PROC)]));
    let police = |facts| accepted.check("police_filing_supervised", PROC, FED, &good_data("police_filing_supervised"), facts).map(|_| ());
    assert_eq!(police(Facts { minor_sexual_assault: false, ..FACTS }), Err(Refusal::NotMinorSexualAssault));
    assert_eq!(police(FACTS), Ok(()));
    let result = |d: &[(&str, &str)]| accepted.check("report_result", PROC, FED, &data(d), FACTS).map(|_| ());
    assert_eq!(result(&[("outcome", "prosecuted"), ("date", "2026-02-30")]), Err(Refusal::BadValue("date")));
    assert_eq!(result(&[("outcome", "won"), ("date", "2026-02-03")]), Err(Refusal::BadValue("outcome")));
    assert_eq!(result(&[("date", "2026-02-03")]), Err(Refusal::Missing("outcome")));
}

#[test]
fn deadlines_are_counted_from_the_servers_receipt_and_the_move_is_the_receivers() {
    let log = admitted(&[("transfer", FED)]);
    let now = derive(&CASE, &log);
    let received = log.received["e0"].at;
    assert_eq!(now.waiting_for(), Some(PROC));
    assert_eq!(now.due(), Some(received + 7 * 86_400_000));
    assert!(!now.overdue(received + 7 * 86_400_000));
    assert!(now.overdue(received + 7 * 86_400_000 + 1));
    let back = derive(&CASE, &admitted(&[("transfer", FED), ("return", PROC)]));
    assert_eq!((back.waiting_for(), back.receiver.as_deref()), (Some(FED), None));
    let closed = derive(&CASE, &admitted(&[("transfer", FED), ("accept", PROC), ("report_result", PROC)]));
    assert!(closed.state.closed);
    assert_eq!((closed.waiting_for(), closed.due()), (None, None));
}

#[test]
fn an_entrustment_is_due_on_the_day_it_asked_for_in_china_standard_time() {
    let investigating = derive(&ENTRUSTMENT, &admitted(&[("entrust", PROC), ("accept", FED)]));
    assert_eq!(investigating.state.id, "investigating");
    // good_data asks for 2027-01-31: due at its last millisecond in UTC+8.
    assert_eq!(investigating.due(), Some(1_801_411_199_999));
    // The procuratorate's own move (acknowledging) keeps the default deadline.
    let reported = derive(&ENTRUSTMENT, &admitted(&[("entrust", PROC), ("accept", FED), ("submit_report", FED)]));
    let since = reported.since.unwrap();
    assert_eq!(reported.due(), Some(since + 7 * 86_400_000));
}

// ----- the server's admission, on documents -----

const RECORD: [u8; 16] = [7; 16];

/// A case clue with consent recorded, as `Record::create` makes it.
fn intake() -> AutoCommit {
    common::intake(shared::DocumentId::from_random_bytes(RECORD))
}

const LI: Sender<'static> = Sender { user: "1", org: FED, owner: FED };
const WANG: Sender<'static> = Sender { user: "2", org: PROC, owner: FED };

/// One device's copy: takes a step as `by` would and hands the server its changes.
fn take(doc: &mut AutoCommit, by: Sender<'_>, step: &str, id: &str, at: i64) -> Result<case::Event, case::CaseError> {
    let event = case::take(doc, "intake", FED, step, id, by.user, by.org, at, good_data(step), None)?;
    doc.commit();
    Ok(event)
}

/// The server's register: what each organisation in these tests is.
fn org_kinds() -> admit::OrgKinds {
    [(FED, "federation"), (PROC, "procuratorate"), (COURT, "court"), (CITY, "procuratorate")]
        .into_iter()
        .map(|(o, k)| (o.into(), k.into()))
        .collect()
}

/// The server merges a device's copy and admits what it brought, or keeps its own copy.
fn sync_to_server(server: &mut AutoCommit, device: &mut AutoCommit, by: Sender<'_>, now: i64) -> Result<(), String> {
    let before = admit::before(server);
    let heads = server.get_heads();
    let mut next = server.fork();
    next.merge(device).unwrap();
    admit::admit(&mut next, &before, &heads, by, &org_kinds(), now)?;
    next.commit();
    *server = next;
    device.merge(server).unwrap();
    Ok(())
}

/// Who besides the owner may read the record, as the server derives it.
fn receiver(doc: &AutoCommit) -> Option<String> {
    admit::derived(doc).and_then(|s| s.receiver)
}

#[test]
fn the_server_admits_a_step_with_a_receipt_and_gives_or_takes_access() {
    let mut server = intake();
    let mut li = server.fork();
    take(&mut li, LI, "transfer", "t1", 10).unwrap();
    sync_to_server(&mut server, &mut li, LI, 50).unwrap();
    assert_eq!(receiver(&server).as_deref(), Some(PROC), "the receiver may read it");
    let log = case::log::read(&li);
    assert_eq!(log.received["t1"], case::Receipt { seq: 1, at: 50, void: false }, "the device hears when the server received it");

    let mut wang = server.fork();
    take(&mut wang, WANG, "return", "r1", 60).unwrap();
    sync_to_server(&mut server, &mut wang, WANG, 70).unwrap();
    assert_eq!(receiver(&server), None, "a return ends the receiver's access");
}

#[test]
fn the_server_refuses_forged_altered_and_out_of_turn_steps() {
    let mut server = intake();
    let mut li = server.fork();
    take(&mut li, LI, "transfer", "t1", 10).unwrap();
    sync_to_server(&mut server, &mut li, LI, 50).unwrap();

    // The federation writes "accepted by the procuratorate".
    let mut forger = server.fork();
    take(&mut forger, WANG, "accept", "a1", 60).unwrap();
    let err = sync_to_server(&mut server.clone(), &mut forger, LI, 70).unwrap_err();
    assert!(err.contains("another user's or organisation's"), "{err}");

    // The procuratorate, as itself, takes the federation's step.
    let mut wang = server.fork();
    let forged = case::Event {
        id: "w1".into(),
        step: "withdraw".into(),
        by_user: "2".into(),
        by_org: PROC.into(),
        at: 60,
        prev: "t1".into(),
        data: BTreeMap::new(),
    };
    case::log::append(&mut wang, &forged, None).unwrap();
    let err = sync_to_server(&mut server.clone(), &mut wang, WANG, 70).unwrap_err();
    assert!(err.contains("only the sending organisation"), "{err}");

    // A transfer to a court, or to an organisation the server does not know (a case clue goes
    // to a procuratorate): kept and numbered, so the record is not blocked, but void — the
    // receipt says the server did not count it, and nobody is given the record.
    for to in [COURT, "nobody"] {
        let mut fresh = intake();
        let mut other = fresh.fork();
        let mut d = good_data("transfer");
        d.insert("to_org".into(), to.into());
        case::take(&mut other, "intake", FED, "transfer", "t9", LI.user, LI.org, 10, d, None).unwrap();
        other.commit();
        sync_to_server(&mut fresh, &mut other, LI, 50).unwrap();
        let log = case::log::read(&fresh);
        assert!(log.received["t9"].void, "{to}");
        let now = derive(&CASE, &log);
        assert_eq!((now.state.id, now.receiver.as_deref()), ("recorded", None), "{to}: not transferred");
        assert_eq!(now.steps[0].outcome, case::Outcome::Void(Refusal::WrongReceiver), "{to}");
        // The device hears the same, and may transfer again, to the procuratorate.
        assert_eq!(derive(&CASE, &case::log::read(&other)).steps[0].outcome, case::Outcome::Void(Refusal::WrongReceiver));
        take(&mut other, LI, "transfer", "t10", 60).unwrap();
        sync_to_server(&mut fresh, &mut other, LI, 70).unwrap();
        assert_eq!(derive(&CASE, &case::log::read(&fresh)).receiver.as_deref(), Some(PROC), "{to}: then transferred");
    }

    // A result before acceptance.
    let mut early = server.fork();
    let result = case::Event {
        id: "x1".into(),
        step: "report_result".into(),
        by_user: "2".into(),
        by_org: PROC.into(),
        at: 60,
        prev: "t1".into(),
        data: good_data("report_result"),
    };
    case::log::append(&mut early, &result, None).unwrap();
    let err = sync_to_server(&mut server.clone(), &mut early, WANG, 70).unwrap_err();
    assert!(err.contains("present state"), "{err}");

    // A device rewrites a recorded step, or writes a receipt of its own.
    let mut rewrite = server.fork();
    let mut t1 = case::log::read(&rewrite).events["t1"].clone();
    t1.data.insert("to_org".into(), COURT.into());
    case::log::append(&mut rewrite, &t1, None).unwrap();
    let err = sync_to_server(&mut server.clone(), &mut rewrite, LI, 70).unwrap_err();
    assert!(err.contains("never changes") || err.contains("written over"), "{err}");
    let mut receipt = server.fork();
    take(&mut receipt, WANG, "accept", "a2", 60).unwrap();
    case::log::write_receipt(&mut receipt, "a2", case::Receipt { seq: 0, at: 0, void: false }).unwrap();
    let err = sync_to_server(&mut server.clone(), &mut receipt, WANG, 70).unwrap_err();
    assert!(err.contains("only the server") || err.contains("not a new step"), "{err}");

    // The server's copy is untouched by all of that.
    assert_eq!(derive(&CASE, &case::log::read(&server)).state.id, "transferred");
    assert_eq!(case::log::read(&server).events.len(), 1);
}

/// A device that replays its own change the way a hostile one would: the server's copy,
/// forked under a new actor, changed by `write`, and offered as `by`.
fn offered(server: &AutoCommit, by: Sender<'_>, write: impl FnOnce(&mut AutoCommit)) -> Result<(), String> {
    let mut server = server.clone();
    let mut device = server.fork();
    write(&mut device);
    sync_to_server(&mut server, &mut device, by, 900)
}

#[test]
fn the_server_refuses_writing_over_the_log_however_it_is_done() {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ReadDoc};
    let mut server = intake();
    let mut li = server.fork();
    take(&mut li, LI, "transfer", "t1", 10).unwrap();
    sync_to_server(&mut server, &mut li, LI, 50).unwrap();
    let step_in = |doc: &mut AutoCommit, id: &str| {
        take(doc, WANG, "accept", id, 60).unwrap();
    };

    // A concurrent value at `case` (a number, which would win on some devices and hide the log).
    let err = offered(&server, WANG, |d| {
        let mut rival = AutoCommit::new();
        for i in 0..50 {
            rival.put(ROOT, format!("k{i}"), i).unwrap();
        }
        rival.put(ROOT, "case", 1).unwrap();
        d.merge(&mut rival).unwrap();
        step_in(d, "a1");
    })
    .unwrap_err();
    assert!(err.contains("written over"), "{err}");
    // A new map put over `case.events`, or over a recorded step.
    let err = offered(&server, WANG, |d| {
        let case = d.get(ROOT, "case").unwrap().unwrap().1;
        d.put_object(&case, "events", ObjType::Map).unwrap();
    })
    .unwrap_err();
    assert!(err.contains("written over"), "{err}");
    let err = offered(&server, LI, |d| {
        let case = d.get(ROOT, "case").unwrap().unwrap().1;
        let events = d.get(&case, "events").unwrap().unwrap().1;
        d.put(&events, "t1", "gone").unwrap();
    })
    .unwrap_err();
    assert!(err.contains("written over"), "{err}");
    // A receipt of the device's own.
    let err = offered(&server, WANG, |d| {
        step_in(d, "a2");
        case::log::write_receipt(d, "a2", case::Receipt { seq: 9, at: 0, void: false }).unwrap();
    })
    .unwrap_err();
    assert!(err.contains("not a new step") || err.contains("only the server"), "{err}");
    // The record's kind changed under the log.
    let err = offered(&server, WANG, |d| {
        let meta = d.get(ROOT, "meta").unwrap().unwrap().1;
        d.put(&meta, "kind", "minutes").unwrap();
        step_in(d, "a3");
    })
    .unwrap_err();
    assert!(err.contains("kind"), "{err}");
    // Too many steps in one message.
    let err = offered(&server, WANG, |d| {
        step_in(d, "a4");
        for i in 0..admit::MAX_NEW_STEPS {
            take(d, WANG, "note", &format!("n{i}"), 70 + i as i64).unwrap();
        }
    })
    .unwrap_err();
    assert!(err.contains("too many steps"), "{err}");
    // After all of that the server's copy holds the one transfer.
    assert_eq!(case::log::read(&server).events.len(), 1);
    assert!(offered(&server, WANG, |d| step_in(d, "a5")).is_ok(), "an honest accept still goes in");
}

#[test]
fn words_written_with_a_step_cannot_be_changed_by_anyone_later() {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let mut server = intake();
    let mut li = server.fork();
    take(&mut li, LI, "transfer", "t1", 10).unwrap();
    sync_to_server(&mut server, &mut li, LI, 50).unwrap();
    let mut wang = server.fork();
    case::take(&mut wang, "intake", FED, "return", "r1", WANG.user, WANG.org, 60, good_data("return"), Some("不属于本院管辖")).unwrap();
    sync_to_server(&mut server, &mut wang, WANG, 70).unwrap();
    assert_eq!(case::log::texts(&server)["r1"], "不属于本院管辖");
    let err = offered(&server, LI, |d| {
        let case = d.get(automerge::ROOT, "case").unwrap().unwrap().1;
        let texts = d.get(&case, "texts").unwrap().unwrap().1;
        d.put(&texts, "r1", "检察院同意受理").unwrap();
    })
    .unwrap_err();
    assert!(err.contains("written over") || err.contains("words"), "{err}");
}

#[test]
fn a_step_is_checked_against_the_record_as_its_author_had_it() {
    // Device A transfers with consent recorded; device B of the same federation, offline
    // too, clears the consent and syncs first. A's transfer is still admitted (it was allowed
    // where A stood), so A's device is not stuck.
    let mut server = intake();
    let mut a = server.fork();
    let mut b = server.fork();
    take(&mut a, LI, "transfer", "t1", 10).unwrap();
    common::set_consent(&mut b, shared::DocumentId::from_random_bytes(RECORD), "refused", 20);
    sync_to_server(&mut server, &mut b, Sender { user: "3", org: FED, owner: FED }, 30).unwrap();
    sync_to_server(&mut server, &mut a, LI, 40).unwrap();
    assert_eq!(derive(&CASE, &case::log::read(&server)).state.id, "transferred");
    // A new transfer on the record as it stands now is refused on the device.
    let mut c = server.fork();
    assert!(take(&mut c, LI, "withdraw", "w1", 50).is_ok());
    sync_to_server(&mut server, &mut c, LI, 60).unwrap();
    assert!(matches!(take(&mut server.fork(), LI, "transfer", "t2", 70), Err(case::CaseError::Refused(Refusal::NeedsConsentOrBasis))));
}

#[test]
fn a_withdraw_and_an_accept_made_offline_resolve_by_the_servers_order_and_the_loser_is_shown() {
    for accept_first in [true, false] {
        let mut server = intake();
        let mut li = server.fork();
        take(&mut li, LI, "transfer", "t1", 10).unwrap();
        sync_to_server(&mut server, &mut li, LI, 50).unwrap();
        let mut wang = server.fork();
        // Both offline: the procuratorate accepts while the federation withdraws.
        take(&mut li, LI, "withdraw", "w1", 100).unwrap();
        take(&mut wang, WANG, "accept", "a1", 200).unwrap();
        let (first, second) = if accept_first { ((&mut wang, WANG), (&mut li, LI)) } else { ((&mut li, LI), (&mut wang, WANG)) };
        sync_to_server(&mut server, first.0, first.1, 300).unwrap();
        // Allowed where its author stood, so admitted; void after the other.
        sync_to_server(&mut server, second.0, second.1, 400).unwrap();
        li.merge(&mut server).unwrap();
        wang.merge(&mut server).unwrap();
        let states: Vec<CaseState> = [&li, &wang, &server].iter().map(|d| derive(&CASE, &case::log::read(d))).collect();
        assert!(states.iter().all(|s| s == &states[0]), "every copy derives the same");
        let s = &states[0];
        assert_eq!(s.state.id, if accept_first { "accepted" } else { "withdrawn" });
        let void: Vec<&str> = s.void().map(|st| st.event.step.as_str()).collect();
        assert_eq!(void, vec![if accept_first { "withdraw" } else { "accept" }], "the loser is kept for review");
        // The withdraw came too late; the accept came after the receiver lost the case.
        let reason = &s.void().next().unwrap().outcome;
        assert!(matches!(reason, Outcome::Void(Refusal::WrongState { .. } | Refusal::NotYours { .. })), "{reason:?}");
    }
}

// ----- replicas offline, in random orders -----

#[derive(Debug, Clone)]
enum Op {
    /// Replica `0` takes whichever allowed step `1` picks, on its own copy.
    Step(usize, usize),
    /// Replica `0` syncs with the server.
    Sync(usize),
    /// The federation's first device merges its second tab's stored changes (same account).
    Tabs,
    /// A federation device records consent as given (`true`) or refused.
    Consent(usize, bool),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..4usize, 0..8usize).prop_map(|(r, s)| Op::Step(r, s)),
            4 => (0..4usize).prop_map(Op::Sync),
            1 => Just(Op::Tabs),
            1 => (prop_oneof![Just(0usize), Just(1), Just(3)], any::<bool>()).prop_map(|(r, c)| Op::Consent(r, c)),
        ],
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Two federation devices (one with a second tab of the same account), and one
    /// procuratorate device take whatever their copy allows, offline, change the consent, merge
    /// tabs and sync in any order. Every honest message is admitted; after all sync, every copy
    /// derives the same state; no step is lost except the procuratorate's own after it lost
    /// the record (its device keeps them, the server will not take them).
    #[test]
    fn replicas_taking_steps_offline_converge_with_nothing_lost(ops in ops()) {
        let accounts = [LI, Sender { user: "3", org: FED, owner: FED }, WANG, LI];
        let mut server = intake();
        let mut replicas: Vec<AutoCommit> = (0..4).map(|_| server.fork()).collect();
        let mut taken = Vec::new();
        let mut clock = 0;
        let mut proc_cut_off = false;
        for op in ops.iter().chain([Op::Tabs].iter()).chain((0..4).map(Op::Sync).collect::<Vec<_>>().iter()) {
            clock += 10;
            match *op {
                Op::Step(r, pick) => {
                    let by = accounts[r];
                    let now = derive(&CASE, &case::log::read(&replicas[r]));
                    let allowed = now.allowed(by.org, FED, case::facts(&replicas[r]));
                    if allowed.is_empty() { continue }
                    let def = allowed[pick % allowed.len()];
                    let id = format!("s{clock}");
                    let mut d = good_data(def.id);
                    if def.id == "transfer" && pick % 3 == 0 {
                        d.insert("to_org".into(), CITY.into());
                    }
                    case::take(&mut replicas[r], "intake", FED, def.id, &id, by.user, by.org, clock, d, None).unwrap();
                    replicas[r].commit();
                    taken.push(id);
                }
                Op::Tabs => {
                    let mut other = replicas[3].clone();
                    replicas[0].merge(&mut other).unwrap();
                }
                Op::Consent(r, given) => common::set_consent(&mut replicas[r], shared::DocumentId::from_random_bytes(RECORD), if given { "given" } else { "refused" }, clock),
                Op::Sync(r) => {
                    // A device whose organisation lost the record keeps its copy but cannot sync.
                    let org = accounts[r].org;
                    if org == PROC && receiver(&server).as_deref() != Some(PROC) {
                        proc_cut_off = case::log::read(&server).events.values().any(|e| e.data.get("to_org").map(String::as_str) == Some(PROC));
                        continue;
                    }
                    // The second tab's changes reach the server only through the first tab.
                    if r == 3 { continue }
                    let admitted = sync_to_server(&mut server, &mut replicas[r], accounts[r], clock);
                    prop_assert!(admitted.is_ok(), "an honest device's steps are admitted: {:?}", admitted);
                    if org == PROC { proc_cut_off = false; }
                }
            }
        }
        let log = case::log::read(&server);
        let expected = derive(&CASE, &log);
        for (r, replica) in replicas.iter_mut().enumerate() {
            if accounts[r].org == PROC && expected.receiver.as_deref() != Some(PROC) { continue }
            replica.merge(&mut server).unwrap();
            prop_assert_eq!(&derive(&CASE, &case::log::read(replica)), &expected);
        }
        for id in &taken {
            if log.events.contains_key(id) {
                prop_assert!(log.received.contains_key(id), "step {} is numbered", id);
                continue;
            }
            let procs = case::log::read(&replicas[2]).events.get(id).is_some_and(|e| e.by_org == PROC);
            prop_assert!(procs && proc_cut_off, "step {} was lost", id);
        }
    }
}

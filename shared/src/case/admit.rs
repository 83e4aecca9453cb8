//! (Server.) What the server checks when a sync message brings steps, and what it records.
//!
//! A step is admitted only if it is the sender's own (its `by_user`/`by_org` are the account
//! whose connection sent it: actors are bound to accounts, so nobody else's change can carry
//! it) and its guard allowed it where its author stood: the steps the server had numbered up
//! to the event's `seen`, then the chain of its own unnumbered steps back through `prev` — what
//! the device held when it took it. (A device that under-states `seen` only makes its step
//! concurrent with more, which can void it, never apply it.) Recorded steps and receipts never change. An admitted step
//! gets the next receipt number, written into the document by the server; one its guard allowed
//! where its author stood but not after a concurrent step the server admitted first stays in
//! the log, void (see [`super::derive`]).

use std::collections::BTreeMap;

use automerge::{AutoCommit, ReadDoc};

use super::derive::{Facts, derive, ordered, replay};
use super::log::{self, Event, Log, Receipt};
use super::{facts, workflow};

/// Who may read the record after the message: organisations to add and to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessChanges {
    pub grant: Vec<String>,
    pub revoke: Vec<String>,
}

/// The account a connection belongs to, and the record's owner as the server knows it.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub user: &'a str,
    pub org: &'a str,
    pub owner: &'a str,
}

/// Checks the steps `doc` gained since `before` (the log read before the message was
/// applied), writes a receipt for each, and says whose access changes. An `Err` refuses the
/// whole message (the caller drops what it applied).
pub fn admit(doc: &mut AutoCommit, before: &Log, by: Sender<'_>, now: i64) -> Result<AccessChanges, String> {
    let after = log::read(doc);
    for (id, e) in &before.events {
        if after.events.get(id) != Some(e) {
            return Err(format!("step {id} was changed or removed: a recorded step never changes"));
        }
    }
    if after.received != before.received {
        return Err("only the server records when it received a step".into());
    }
    let mut new: Vec<&Event> = after.events.values().filter(|e| !before.events.contains_key(&e.id)).collect();
    if new.is_empty() {
        return Ok(AccessChanges::default());
    }
    let kind = kind(doc);
    let Some(wf) = workflow::for_kind(&kind) else {
        return Err(format!("records of kind {kind:?} have no workflow steps"));
    };
    let facts: Facts = facts(doc);
    // Each after the step it answers, so a device's offline run is admitted in its order.
    new.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let mut log = before.clone();
    let mut seq = log.received.values().map(|r| r.seq).max().unwrap_or(0);
    while !new.is_empty() {
        let i = new
            .iter()
            .position(|e| e.prev.is_empty() || log.received.contains_key(&e.prev))
            .ok_or_else(|| format!("step {} answers step {:?}, which the server does not have", new[0].id, new[0].prev))?;
        let e = new.remove(i);
        if e.by_user != by.user || e.by_org != by.org {
            return Err(format!("step {} is written as another user's or organisation's; a step is its sender's own", e.id));
        }
        let where_it_stood = replay(wf, view(&log, e));
        if let Err(refusal) = where_it_stood.check(&e.step, by.org, by.owner, &e.data, facts) {
            return Err(format!("step {} ({}) was refused: {refusal}", e.id, e.step));
        }
        seq += 1;
        let receipt = Receipt { seq, at: now };
        log::write_receipt(doc, &e.id, receipt).map_err(|err| err.to_string())?;
        log.events.insert(e.id.clone(), e.clone());
        log.received.insert(e.id.clone(), receipt);
    }
    let (was, is) = (derive(wf, before).receiver, derive(wf, &log).receiver);
    let mut changes = AccessChanges::default();
    if was != is {
        changes.revoke.extend(was.filter(|o| o != by.owner));
        changes.grant.extend(is.filter(|o| o != by.owner));
    }
    Ok(changes)
}

/// What `e`'s author held when it took it, in its replay order: the numbered steps up to
/// `seen`, then its chain of `prev`s that were not among them.
fn view(log: &Log, e: &Event) -> Vec<(Event, Option<Receipt>)> {
    let known = |id: &str| log.received.get(id).is_some_and(|r| r.seq <= e.seen);
    let numbered = Log {
        events: log.events.iter().filter(|(id, _)| known(id)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        received: log.received.iter().filter(|(_, r)| r.seq <= e.seen).map(|(k, r)| (k.clone(), *r)).collect(),
    };
    let mut out = ordered(&numbered);
    let mut chain = Vec::new();
    let mut at = e.prev.as_str();
    while let Some(p) = log.events.get(at).filter(|p| !known(&p.id) && chain.len() < log.events.len()) {
        chain.push((p.clone(), log.received.get(at).copied()));
        at = p.prev.as_str();
    }
    out.extend(chain.into_iter().rev());
    out
}

/// The record's kind as its meta says (the server has no other source).
fn kind(doc: &AutoCommit) -> String {
    let meta = match doc.get(automerge::ROOT, "meta") {
        Ok(Some((automerge::Value::Object(_), m))) => m,
        _ => return String::new(),
    };
    match doc.get(&meta, "kind") {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

/// Codes of `data` for a test or a caller: `[("to_org", "proc")]`.
pub fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

//! (Server.) What the server checks when a sync message brings steps, and what it records.
//!
//! A message may only add steps: nothing already in the log's structure changes (no value put
//! at the `case` key, its maps, a recorded step, a receipt or a text — not even one that loses
//! to the current value), no receipt comes from a client, and the record's kind stays. Each
//! new step must be its sender's own (its `by_user`/`by_org` are the account whose connection
//! sent it: actors are bound to accounts, so nobody else's change can carry it) and allowed
//! where its author stood: the log and the record's fields as of the change that wrote it,
//! replayed as that device replayed them. An admitted step gets the next receipt number,
//! written into the document by the server. One allowed where its author stood but not after a
//! concurrent step the server admitted first stays in the log, void (see [`super::derive`]).

use std::collections::BTreeMap;

use automerge::{AutoCommit, ChangeHash, ObjId, ReadDoc};

use super::derive::derive;
use super::log::{self, Event, Log, Receipt};
use super::workflow::Need;
use super::{facts_at, workflow};

/// At most this many new steps in one message, and in one record: a step is a person's act,
/// and replaying a long log for every step would let one message hold the server up.
pub const MAX_NEW_STEPS: usize = 32;
pub const MAX_STEPS: usize = 1_000;

/// What admission compares a message's result with, read before it was applied.
#[derive(Debug, Clone, Default)]
pub struct Before {
    log: Log,
    shape: BTreeMap<String, Vec<(ObjId, bool)>>,
    texts: BTreeMap<String, String>,
    kind: String,
}

/// The workflow whose steps give and end access to `doc`, if its kind has one: such a record is
/// shared by transferring (or entrusting) it, never by hand, so a consent guard cannot be
/// walked around and stored access always follows the derived receiver.
pub fn workflow_of(doc: &AutoCommit) -> Option<&'static workflow::Workflow> {
    workflow::for_kind(&kind(doc))
}

/// Reads what [`admit`] needs from the document before a message is applied.
pub fn before(doc: &AutoCommit) -> Before {
    Before { log: log::read(doc), shape: log::shape(doc), texts: log::texts(doc), kind: kind(doc) }
}

/// The account a connection belongs to, and the record's owner as the server knows it.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub user: &'a str,
    pub org: &'a str,
    pub owner: &'a str,
}

/// What each organisation the server knows is (id → one of [`workflow::ORG_KINDS`]): a step names as
/// receiver only an organisation of the kind it needs, as registered when the step arrives.
pub type OrgKinds = BTreeMap<String, String>;

/// Checks what `doc` gained since `before` (read before the message was applied; `heads`: the
/// document's heads then) and writes a receipt for each new step; returns the new steps as
/// `step id` (`transfer t1`, `return r1 void`), for the audit trail. An `Err` refuses the whole
/// message (the caller drops what it applied).
pub fn admit(
    doc: &mut AutoCommit,
    before: &Before,
    heads: &[ChangeHash],
    by: Sender<'_>,
    org_kinds: &OrgKinds,
    now: i64,
) -> Result<Vec<String>, String> {
    let after = log::read(doc);
    let shape = log::shape(doc);
    let changed = |what: &str| Err(format!("{what}: a message may only add steps"));
    for (place, values) in &before.shape {
        if shape.get(place) != Some(values) {
            return changed(&format!("the step log's {place} was written over"));
        }
    }
    for (place, values) in shape.iter().filter(|(p, _)| !before.shape.contains_key(*p)) {
        let single_map = values.len() == 1 && values[0].1;
        let ok = match place.split_once('/') {
            None => single_map,
            Some(("events", id)) => single_map && !before.log.events.contains_key(id),
            Some(("texts", id)) => {
                values.len() == 1 && !values[0].1 && after.events.get(id).is_some_and(|e| !before.log.events.contains_key(&e.id))
            }
            _ => false,
        };
        if !ok {
            return changed(&format!("{place} is not a new step of this message"));
        }
    }
    if after.received != before.log.received {
        return Err("only the server records when it received a step".into());
    }
    for (id, e) in &before.log.events {
        if after.events.get(id) != Some(e) {
            return Err(format!("step {id} was changed or removed: a recorded step never changes"));
        }
    }
    let texts = log::texts(doc);
    if before.texts.iter().any(|(id, t)| texts.get(id) != Some(t)) {
        return changed("the words of a recorded step were changed");
    }
    let mut new: Vec<&Event> = after.events.values().filter(|e| !before.log.events.contains_key(&e.id)).collect();
    if new.is_empty() {
        return Ok(Vec::new());
    }
    if !before.kind.is_empty() && kind(doc) != before.kind {
        return changed("the record's kind was changed");
    }
    if new.len() > MAX_NEW_STEPS || after.events.len() > MAX_STEPS {
        return Err(format!("too many steps ({} new, {} in all; at most {MAX_NEW_STEPS} and {MAX_STEPS})", new.len(), after.events.len()));
    }
    let kind = kind(doc);
    let Some(wf) = workflow::for_kind(&kind) else {
        return Err(format!("records of kind {kind:?} have no workflow steps"));
    };
    let changes = doc.get_changes(heads);
    // Numbered in the order their author took them: each after the step it answered.
    new.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let mut seq = before.log.received.values().map(|r| r.seq).max().unwrap_or(0);
    let mut admitted = Vec::new();
    while !new.is_empty() {
        let i = new.iter().position(|e| !new.iter().any(|o| o.id == e.prev)).unwrap_or(0);
        let e = new.remove(i);
        if e.by_user != by.user || e.by_org != by.org {
            return Err(format!("step {} is written as another user's or organisation's; a step is its sender's own", e.id));
        }
        // The change that wrote the step: what its author held then.
        let Some(written) = log::event_obj(doc, &e.id) else {
            return Err(format!("step {} is not where the log keeps steps", e.id));
        };
        let Some(change) = changes.iter().find(|c| wrote(c, &written)) else {
            return Err(format!("step {} came in no change of this message", e.id));
        };
        let at = [change.hash()];
        let mut held = log::read_at(doc, Some(&at));
        held.events.remove(&e.id);
        let where_it_stood = derive(wf, &held);
        if let Err(refusal) = where_it_stood.check(&e.step, by.org, by.owner, &e.data, facts_at(doc, Some(&at))) {
            return Err(format!("step {} ({}) was refused: {refusal}", e.id, e.step));
        }
        // Kept, numbered and void rather than refused: honest devices offer receivers from
        // their last copy of the register, which an administrator may since have changed.
        let void = wrong_receiver(wf, e, org_kinds);
        seq += 1;
        let receipt = Receipt { seq, at: now, void };
        log::write_receipt(doc, &e.id, receipt).map_err(|err| err.to_string())?;
        admitted.push(format!("{} {}{}", e.step, e.id, if void { " void" } else { "" }));
    }
    Ok(admitted)
}

/// Who may read a record because of its case, as a write to storage changes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessChanges {
    pub grant: Vec<String>,
    pub revoke: Vec<String>,
}

/// Where the case in `doc` stands (for a record of a kind with a workflow). The server gives
/// the record to its receiver, and takes it back, by this alone, so stored access follows the
/// derived state whatever order steps arrived in, on whichever instance.
pub fn derived(doc: &AutoCommit) -> Option<super::CaseState> {
    let wf = workflow::for_kind(&kind(doc))?;
    Some(derive(wf, &log::read(doc)))
}

/// Whether the receiver `e` names (if its step names one) is a registered organisation of the
/// kind the step goes to.
fn wrong_receiver(wf: &workflow::Workflow, e: &Event, org_kinds: &OrgKinds) -> bool {
    let needs = wf.step(&e.step).map(|s| s.needs).unwrap_or_default();
    needs.iter().any(|need| match need {
        Need::ToOrg { kind } => {
            let to = e.data.get("to_org").map(String::as_str).unwrap_or_default();
            org_kinds.get(to).map(String::as_str) != Some(*kind)
        }
        _ => false,
    })
}

/// Whether `change` holds the op `id` (an object the change created).
fn wrote(change: &automerge::Change, id: &ObjId) -> bool {
    match id {
        ObjId::Id(counter, actor, _) => change.actor_id() == actor && (change.start_op().get()..=change.max_op()).contains(counter),
        ObjId::Root => false,
    }
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

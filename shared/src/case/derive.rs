//! The one function that says where a case stands: app and server both run [`derive`] over
//! the same log, so every device shows the same state once it holds the same steps.
//!
//! Order: steps the server admitted, by its receipt number (ties, from two server instances,
//! by id); then steps it has not admitted yet (made on this device offline), each after the
//! step it answered (`prev`), ties by time then id. Each step is replayed against the state
//! the ones before it left: one its guard no longer allows (a withdraw that arrived after an
//! accept) is kept, marked [`Outcome::Void`] with the reason, and shown for a person to review.

use std::collections::{BTreeMap, BTreeSet};

use crate::i18n::L;

use super::log::{Event, Log, Receipt};
use super::workflow::{Need, Party, StateDef, StepDef, When, Workflow};

/// What the record says that a step's guard depends on (read by [`super::facts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub consent_or_basis: bool,
    pub minor_sexual_assault: bool,
}

/// Why a step may not be taken (or did not count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownStep(String),
    /// Only the sender (or the receiver) takes this step.
    NotYours {
        step: &'static str,
        by: Party,
    },
    /// Not from this state.
    WrongState {
        step: &'static str,
        state: &'static str,
    },
    Missing(&'static str),
    BadValue(&'static str),
    /// A transfer to the sender itself.
    ToSelf,
    NeedsConsentOrBasis,
    NotMinorSexualAssault,
    /// The server found the receiver not of the kind the step goes to (its receipt says so).
    WrongReceiver,
}

impl Refusal {
    pub fn text(&self) -> L {
        match self {
            Refusal::UnknownStep(_) => L::new("未知的步骤", "an unknown step"),
            Refusal::NotYours { by: Party::Sender, .. } => {
                L::new("只有移送方可以进行这一步", "only the sending organisation takes this step")
            }
            Refusal::NotYours { by: Party::Receiver, .. } => {
                L::new("只有接收方可以进行这一步", "only the receiving organisation takes this step")
            }
            Refusal::WrongState { .. } => L::new("案件当前状态下不能进行这一步", "this step cannot be taken in the case's present state"),
            Refusal::Missing(_) => L::new("缺少必填内容", "something required is missing"),
            Refusal::BadValue(_) => L::new("所填内容无效", "a value is not valid"),
            Refusal::ToSelf => L::new("不能移送给本单位", "a case cannot be transferred to its own organisation"),
            Refusal::NeedsConsentOrBasis => {
                L::new("需当事人同意；未成年人需记录法律依据", "needs the survivor's consent, or for a minor the legal basis recorded")
            }
            Refusal::NotMinorSexualAssault => L::new("仅适用于性侵未成年人案件", "only for sexual assault of a minor"),
            Refusal::WrongReceiver => L::new(
                "接收单位不是这一步所要求的单位类型，服务器未予计入",
                "the receiving organisation is not of the kind this step goes to; the server did not count it",
            ),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let detail = match self {
            Refusal::UnknownStep(s) => format!(" ({s})"),
            Refusal::NotYours { step, .. } | Refusal::WrongState { step, .. } => format!(" ({step})"),
            Refusal::Missing(k) | Refusal::BadValue(k) => format!(" ({k})"),
            _ => String::new(),
        };
        write!(f, "{}{detail}", self.text().en)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Kept in the log, but it did not count: shown for review with why.
    Void(Refusal),
}

/// One step in the order every device replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub event: Event,
    /// `None` until the server has admitted it.
    pub received: Option<Receipt>,
    pub outcome: Outcome,
    /// The state after it.
    pub state: &'static str,
}

impl Step {
    /// When it counts from: the server's receipt once there is one, else the device's clock.
    pub fn time(&self) -> i64 {
        self.received.map_or(self.event.at, |r| r.at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseState {
    pub workflow: &'static Workflow,
    pub state: &'static StateDef,
    /// The organisation that opened the case (its first transfer), once there is one.
    pub sender: Option<String>,
    /// The organisation it is with now; `None` before a transfer and after a return.
    pub receiver: Option<String>,
    /// Every organisation that was a receiver at some point.
    pub receivers: BTreeSet<String>,
    pub steps: Vec<Step>,
    /// When the present state began (ms), if a step led to it.
    pub since: Option<i64>,
    /// A due date the opening step named (`due`, as an entrustment does): the receiver's
    /// deadline instead of the default.
    pub asked_by: Option<String>,
}

const DAY_MS: i64 = 86_400_000;

impl CaseState {
    /// When the present state is due to end: the end of the day (China Standard Time) the
    /// opening step asked for, while the receiver is to move; else its default deadline (a
    /// setting) from when the state began.
    pub fn due(&self) -> Option<i64> {
        let deadline = self.state.deadline?;
        if self.state.waiting_for == Some(Party::Receiver)
            && let Some(day) = self.asked_by.as_deref().and_then(cst_day_end)
        {
            return Some(day);
        }
        Some(self.since? + i64::from(deadline.days) * DAY_MS)
    }

    pub fn overdue(&self, now: i64) -> bool {
        self.due().is_some_and(|d| now > d)
    }

    /// The organisation whose move it is, if anyone's.
    pub fn waiting_for(&self) -> Option<&str> {
        match self.state.waiting_for? {
            Party::Sender => self.sender.as_deref(),
            Party::Receiver => self.receiver.as_deref(),
        }
    }

    /// Steps that did not count, for a person to review.
    pub fn void(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| matches!(s.outcome, Outcome::Void(_)))
    }

    /// The last step (in replay order), whatever its outcome: what a new step answers.
    pub fn last_event(&self) -> &str {
        self.steps.last().map_or("", |s| s.event.id.as_str())
    }

    /// Whether `org` may take `step` now with `data`, given the record's `facts`; `owner` is
    /// the record's owning organisation, the only one that opens a case.
    pub fn check(
        &self,
        step: &str,
        org: &str,
        owner: &str,
        data: &BTreeMap<String, String>,
        facts: Facts,
    ) -> Result<&'static StepDef, Refusal> {
        // Until a first transfer names the sender, the sender is the record's owner.
        if let Some(def) = self.workflow.step(step).filter(|d| d.by == Party::Sender && self.sender.is_none() && org != owner) {
            return Err(Refusal::NotYours { step: def.id, by: Party::Sender });
        }
        let def = self.guard(step, org, data)?;
        match def.when {
            Some(When::ConsentOrBasis) if !facts.consent_or_basis => Err(Refusal::NeedsConsentOrBasis),
            Some(When::MinorSexualAssault) if !facts.minor_sexual_assault => Err(Refusal::NotMinorSexualAssault),
            _ => Ok(def),
        }
    }

    /// The steps `org` may take now (their data still to be given).
    pub fn allowed(&self, org: &str, owner: &str, facts: Facts) -> Vec<&'static StepDef> {
        self.workflow
            .steps
            .iter()
            .filter(|d| {
                d.from.contains(&self.state.id)
                    && self.party_ok(d, org, owner)
                    && match d.when {
                        Some(When::ConsentOrBasis) => facts.consent_or_basis,
                        Some(When::MinorSexualAssault) => facts.minor_sexual_assault,
                        None => true,
                    }
            })
            .collect()
    }

    fn party_ok(&self, def: &StepDef, org: &str, owner: &str) -> bool {
        match def.by {
            Party::Sender => self.sender.as_deref().unwrap_or(owner) == org,
            Party::Receiver => self.receiver.as_deref() == Some(org),
        }
    }

    /// The replay rule: who, from which state, with what data. No record facts: those are
    /// checked when a step is taken, and history does not change when a field does.
    fn guard(&self, step: &str, org: &str, data: &BTreeMap<String, String>) -> Result<&'static StepDef, Refusal> {
        let def = self.workflow.step(step).ok_or_else(|| Refusal::UnknownStep(step.to_owned()))?;
        let party_ok = match def.by {
            // Before a first transfer anyone who holds the record may be its sender; the
            // server admits the first only from the owner.
            Party::Sender => self.sender.as_deref().is_none_or(|s| s == org),
            Party::Receiver => self.receiver.as_deref() == Some(org),
        };
        if !party_ok {
            return Err(Refusal::NotYours { step: def.id, by: def.by });
        }
        if !def.from.contains(&self.state.id) {
            return Err(Refusal::WrongState { step: def.id, state: self.state.id });
        }
        for need in def.needs {
            match *need {
                Need::ToOrg { .. } => match data.get("to_org") {
                    None => return Err(Refusal::Missing("to_org")),
                    Some(to) if to.is_empty() => return Err(Refusal::Missing("to_org")),
                    Some(to) if to == org => return Err(Refusal::ToSelf),
                    Some(_) => {}
                },
                Need::Choice { key, choices } => match data.get(key) {
                    None => return Err(Refusal::Missing(key)),
                    Some(v) if !choices.contains(&v.as_str()) => return Err(Refusal::BadValue(key)),
                    Some(_) => {}
                },
                Need::Date { key } => match data.get(key) {
                    None => return Err(Refusal::Missing(key)),
                    Some(v) if !crate::form::date::is_iso_date(v) => return Err(Refusal::BadValue(key)),
                    Some(_) => {}
                },
            }
        }
        Ok(def)
    }

    /// Replays one step onto this state.
    fn apply(&mut self, event: Event, received: Option<Receipt>) {
        let guarded = match received {
            Some(r) if r.void => Err(Refusal::WrongReceiver),
            _ => self.guard(&event.step, &event.by_org, &event.data),
        };
        let outcome = match guarded {
            Ok(def) => {
                if def.opens {
                    self.sender.get_or_insert_with(|| event.by_org.clone());
                    self.asked_by = event.data.get("due").cloned();
                    let to = event.data.get("to_org").cloned().unwrap_or_default();
                    self.receivers.insert(to.clone());
                    self.receiver = Some(to);
                }
                if def.closes_access {
                    self.receiver = None;
                }
                if def.to != self.state.id || self.since.is_none() {
                    self.since = Some(received.map_or(event.at, |r| r.at));
                }
                self.state = self.workflow.state(def.to).unwrap_or(self.state);
                Outcome::Applied
            }
            Err(refusal) => Outcome::Void(refusal),
        };
        self.steps.push(Step { event, received, outcome, state: self.state.id });
    }
}

/// Where a case stands after every step in `log`.
pub fn derive(workflow: &'static Workflow, log: &Log) -> CaseState {
    replay(workflow, ordered(log))
}

/// The state at the start of a workflow.
pub fn initial(workflow: &'static Workflow) -> CaseState {
    CaseState {
        workflow,
        state: workflow.state(workflow.initial).unwrap_or(&workflow.states[0]),
        sender: None,
        receiver: None,
        receivers: BTreeSet::new(),
        steps: Vec::new(),
        since: None,
        asked_by: None,
    }
}

/// The last millisecond of `YYYY-MM-DD` in China Standard Time (UTC+8).
fn cst_day_end(date: &str) -> Option<i64> {
    Some(crate::cst::day_start(date)? + DAY_MS - 1)
}

pub(super) fn replay(workflow: &'static Workflow, steps: Vec<(Event, Option<Receipt>)>) -> CaseState {
    let mut state = initial(workflow);
    for (event, received) in steps {
        state.apply(event, received);
    }
    state
}

/// The log in replay order (see the module comment).
pub(super) fn ordered(log: &Log) -> Vec<(Event, Option<Receipt>)> {
    let mut admitted: Vec<(&Event, Receipt)> = log.events.values().filter_map(|e| log.received.get(&e.id).map(|r| (e, *r))).collect();
    admitted.sort_by(|(a, ra), (b, rb)| (ra.seq, &a.id).cmp(&(rb.seq, &b.id)));
    let mut out: Vec<(Event, Option<Receipt>)> = admitted.into_iter().map(|(e, r)| (e.clone(), Some(r))).collect();

    // The rest: each after the step it answered, if that is here; ties by time, then id.
    let mut placed: BTreeSet<String> = out.iter().map(|(e, _)| e.id.clone()).collect();
    let mut pending: Vec<&Event> = log.events.values().filter(|e| !log.received.contains_key(&e.id)).collect();
    pending.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|e| e.prev.is_empty() || placed.contains(&e.prev) || !log.events.contains_key(&e.prev))
            // A cycle of `prev`s (only a hostile peer writes one): break it at the earliest.
            .unwrap_or(0);
        let e = pending.remove(ready);
        placed.insert(e.id.clone());
        out.push((e.clone(), None));
    }
    out
}

//! Case work between organisations: a case clue transferred, accepted or returned, handled
//! and its result reported back; an entrustment asked, accepted, investigated and its report
//! acknowledged. Each step is an event appended to the record ([`log`]); where the case stands
//! is derived from the events by one function ([`derive`]) that app and server both run, so
//! no device stores a status another could set differently. The server checks every step as
//! it arrives ([`admit`]) and writes when it received it, which orders steps on every device.
//! Which steps exist, who takes them and their default deadlines are data ([`workflow`]).

pub mod admit;
mod derive;
pub mod log;
mod model;
pub mod workflow;

pub use derive::{CaseState, Facts, Outcome, Refusal, Step, derive, initial};
pub use log::{Event, Log, Receipt};
pub use workflow::{Party, StateDef, StepDef, Workflow};

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, Value};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where a case stands, as a record's summary keeps it: enough for an inbox and the list,
/// with no document loaded. Derived with the summary, never written into the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub workflow: String,
    pub state: String,
    /// The organisation whose move it is.
    pub waiting_for: Option<String>,
    pub sender: Option<String>,
    pub receiver: Option<String>,
    /// When the present state began, and when it is due to end (ms).
    pub since: Option<i64>,
    pub due: Option<i64>,
    /// Steps that did not count (concurrent ones), for review.
    pub void: usize,
    /// When the case was last opened (its latest transfer or entrustment that counted), for
    /// the time a case took. Absent from summaries stored before it existed.
    #[serde(default)]
    pub opened_at: Option<i64>,
    /// Whether the present state ends the case (a result reported back, a report acknowledged).
    #[serde(default)]
    pub closed: bool,
}

impl CaseSummary {
    pub fn of(s: &CaseState) -> CaseSummary {
        CaseSummary {
            workflow: s.workflow.id.to_owned(),
            state: s.state.id.to_owned(),
            waiting_for: s.waiting_for().map(str::to_owned),
            sender: s.sender.clone(),
            receiver: s.receiver.clone(),
            since: s.since,
            due: s.due(),
            void: s.void().count(),
            opened_at: s
                .steps
                .iter()
                .rev()
                .find(|st| st.outcome == Outcome::Applied && s.workflow.step(&st.event.step).is_some_and(|d| d.opens))
                .map(Step::time),
            closed: s.state.closed,
        }
    }

    pub fn overdue(&self, now: i64) -> bool {
        self.due.is_some_and(|d| now > d)
    }
}

#[derive(Debug, Error)]
pub enum CaseError {
    #[error("{0}")]
    Refused(Refusal),
    /// Something that is not a map where the log keeps one (only a hostile peer writes that).
    #[error("the record's step log is damaged ({0} is not a map)")]
    Malformed(&'static str),
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
}

/// Where the record in `doc` stands, if its kind follows a workflow.
pub fn state(doc: &AutoCommit, kind: &str) -> Option<CaseState> {
    Some(derive(workflow::for_kind(kind)?, &log::read(doc)))
}

/// Takes a step: checks it against where the case stands on this device (`owner`: the
/// record's owning organisation) and appends it, answering the last step seen.
/// The caller commits it (the app with `Record::commit_change`, stamping time and author).
#[allow(clippy::too_many_arguments)]
pub fn take(
    doc: &mut AutoCommit,
    kind: &str,
    owner: &str,
    step: &str,
    id: &str,
    by_user: &str,
    by_org: &str,
    at: i64,
    data: std::collections::BTreeMap<String, String>,
    text: Option<&str>,
) -> Result<Event, CaseError> {
    let wf = workflow::for_kind(kind).ok_or_else(|| CaseError::Refused(Refusal::UnknownStep(step.to_owned())))?;
    let now = derive(wf, &log::read(doc));
    now.check(step, by_org, owner, &data, facts(doc)).map_err(CaseError::Refused)?;
    let event = Event {
        id: id.to_owned(),
        step: step.to_owned(),
        by_user: by_user.to_owned(),
        by_org: by_org.to_owned(),
        at,
        prev: now.last_event().to_owned(),
        data,
    };
    log::append(doc, &event, text)?;
    Ok(event)
}

/// The record facts steps depend on, from an intake record's fields (`minor`, `consent`,
/// `legal_basis`, `incident_type`); every fact is false for other records.
pub fn facts(doc: &AutoCommit) -> Facts {
    facts_at(doc, None)
}

/// [`facts`] as of `heads` (`None`: now): the server checks a step against the record as its
/// author had it, not as other devices' later edits left it.
pub fn facts_at(doc: &AutoCommit, heads: Option<&[automerge::ChangeHash]>) -> Facts {
    let get = |obj: &automerge::ObjId, key: &str| match heads {
        Some(h) => doc.get_at(obj, key, h),
        None => doc.get(obj, key),
    };
    let fields = match get(&ROOT, "fields") {
        Ok(Some((Value::Object(ObjType::Map), f))) => f,
        _ => return Facts::default(),
    };
    let scalar = |key: &str| match get(&fields, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    };
    let text = |key: &str| scalar(key).and_then(|s| s.as_str().map(str::to_owned)).unwrap_or_default();
    let minor = matches!(scalar("minor"), Some(automerge::ScalarValue::Boolean(true)));
    Facts {
        consent_or_basis: if minor { !text("legal_basis").is_empty() } else { text("consent") == "given" },
        minor_sexual_assault: minor && text("incident_type") == "sexual_assault",
    }
}

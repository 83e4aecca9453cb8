//! The shapes of a workflow: states, steps, who takes them, what they carry, deadlines. Plain
//! data over `std` and `i18n` only, so the build script compiles this file in too and writes
//! the definitions in `shared/workflows/` as `static` values of these types.

use crate::i18n::L;

/// Which side of a case takes a step: the organisation that transfers it (the record's owner)
/// or the one it was transferred to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Sender,
    Receiver,
}

/// What a step's event must carry in its `data` (codes only: events are readable by the
/// server, which counts them, so nothing in them may identify a survivor; free text goes in
/// the record's `case.texts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `to_org`: the receiving organisation, not the sender, and one of kind `kind` (one of
    /// [`ORG_KINDS`]) — a case clue goes to a procuratorate, an entrustment to a federation.
    /// The kind is checked where organisations are known (the server's admission, the app's
    /// list of receivers); the derived state does not depend on it.
    ToOrg { kind: &'static str },
    /// `key` must be one of `choices`.
    Choice { key: &'static str, choices: &'static [&'static str] },
    /// `key` must be a date, `YYYY-MM-DD`.
    Date { key: &'static str },
}

/// What an organisation is, as the server's register says: what a step may name as receiver.
pub const ORG_KINDS: &[&str] = &["federation", "procuratorate", "court", "police", "other"];

/// A fact about the record a step depends on, read from its fields ([`super::Facts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Consent given, or the survivor is a minor and a legal basis is recorded.
    ConsentOrBasis,
    /// A minor and sexual assault.
    MinorSexualAssault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDef {
    pub id: &'static str,
    pub label: L,
    pub by: Party,
    /// States it may be taken from.
    pub from: &'static [&'static str],
    /// The state after it (the same state for a note).
    pub to: &'static str,
    pub needs: &'static [Need],
    /// A record fact the step requires when it is taken.
    pub when: Option<When>,
    /// The step names a new receiver (`to_org`), who may then read and write the record.
    pub opens: bool,
    /// The receiver loses access to the record.
    pub closes_access: bool,
    /// The step asks for free text in `case.texts` (a reason, a summary).
    pub text: Option<L>,
    /// Record fields (top-level ids) filled in the step's own form rather than the record's —
    /// a result's documents: attachments are record data, and no step carries them.
    pub fields: &'static [&'static str],
}

/// How long a state may last before its case is overdue: a setting, not a legal time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub days: u32,
    /// The setting's name, shown next to the date.
    pub setting: L,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateDef {
    pub id: &'static str,
    pub label: L,
    /// Who moves next (an inbox item for that side), if anyone.
    pub waiting_for: Option<Party>,
    pub deadline: Option<Deadline>,
    /// The case is over on both sides.
    pub closed: bool,
    /// Fields of the record (top-level ids) fixed in this state: they went out with a step —
    /// the questions with the entrustment, the findings with the report — and the other side
    /// acts on them as sent. The app shows them read-only.
    pub fixed: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workflow {
    pub id: &'static str,
    /// The record kind whose records follow it.
    pub kind: &'static str,
    pub initial: &'static str,
    pub states: &'static [StateDef],
    pub steps: &'static [StepDef],
    /// Fields of the record that are the receiver's to write (a result's documents, an
    /// investigation report). Once the case has a receiver, it writes only these and the
    /// sender writes all but these: neither changes what the other side wrote.
    pub receiver_fields: &'static [&'static str],
}

impl Workflow {
    pub fn state(&self, id: &str) -> Option<&'static StateDef> {
        self.states.iter().find(|s| s.id == id)
    }

    pub fn step(&self, id: &str) -> Option<&'static StepDef> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Whether `party` may write the record's field `id` (top level), as far as sides go.
    pub fn writes(&self, party: Party, id: &str) -> bool {
        self.receiver_fields.contains(&id) == (party == Party::Receiver)
    }

    /// Whether the record's field `id` is filled in a step's own form, not the record's.
    pub fn is_step_field(&self, id: &str) -> bool {
        self.steps.iter().any(|s| s.fields.contains(&id))
    }
}

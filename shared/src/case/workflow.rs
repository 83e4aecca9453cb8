//! The workflows as data: states, the steps between them, who may take each, what a step must
//! carry, and default deadlines. The derivation ([`super::derive`]) and the server's checks
//! ([`super::admit`]) read these tables and nothing else, so changing a deadline or who may
//! take a step is an edit here, not in the logic.

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
    /// `to_org`: the receiving organisation, not the sender.
    ToOrg,
    /// `key` must be one of `choices`.
    Choice { key: &'static str, choices: &'static [&'static str] },
    /// `key` must be a date, `YYYY-MM-DD`.
    Date { key: &'static str },
}

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workflow {
    pub id: &'static str,
    /// The record kind whose records follow it.
    pub kind: &'static str,
    pub initial: &'static str,
    pub states: &'static [StateDef],
    pub steps: &'static [StepDef],
}

impl Workflow {
    pub fn state(&self, id: &str) -> Option<&'static StateDef> {
        self.states.iter().find(|s| s.id == id)
    }

    pub fn step(&self, id: &str) -> Option<&'static StepDef> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// The workflow records of `kind` follow, if any.
pub fn for_kind(kind: &str) -> Option<&'static Workflow> {
    WORKFLOWS.iter().copied().find(|w| w.kind == kind)
}

pub fn find(id: &str) -> Option<&'static Workflow> {
    WORKFLOWS.iter().copied().find(|w| w.id == id)
}

pub static WORKFLOWS: &[&Workflow] = &[&CASE, &ENTRUSTMENT];

/// Outcomes a procuratorate reports back on a case clue.
pub const OUTCOMES: &[&str] =
    &["prosecuted", "public_interest_suit", "procuratorial_advice", "support_prosecution", "not_established", "other"];
/// Why a transfer may go ahead: consent, or for a minor the legal basis.
pub const BASES: &[&str] = &["consent", "mandatory_report", "other_law"];
/// Why a receiver returns a case clue.
pub const RETURN_REASONS: &[&str] = &["not_competent", "insufficient_material", "duplicate", "other"];
/// What an entrustment asks the federation to investigate.
pub const SUBJECTS: &[&str] = &["guardianship", "custody", "maintenance"];

const ACCEPT_DAYS: Deadline = Deadline { days: 7, setting: L::new("受理期限（本地设置）", "Time to accept (local setting)") };
const RESULT_DAYS: Deadline =
    Deadline { days: 60, setting: L::new("反馈期限（本地设置）", "Time to report back (local setting)") };
const REVIEW_DAYS: Deadline =
    Deadline { days: 7, setting: L::new("处理退回期限（本地设置）", "Time to act on a return (local setting)") };
const REPORT_DAYS: Deadline =
    Deadline { days: 30, setting: L::new("调查期限（本地设置）", "Time to investigate (local setting)") };
const ACK_DAYS: Deadline = Deadline { days: 7, setting: L::new("确认期限（本地设置）", "Time to acknowledge (local setting)") };

/// A case clue (an intake record): the federation transfers it to the procuratorate at the
/// same level, which accepts or returns it, handles it and reports the result back.
pub static CASE: Workflow = Workflow {
    id: "case",
    kind: "intake",
    initial: "recorded",
    states: &[
        StateDef { id: "recorded", label: L::new("已登记", "Recorded"), waiting_for: None, deadline: None, closed: false },
        StateDef {
            id: "transferred",
            label: L::new("已移送，待受理", "Transferred, awaiting acceptance"),
            waiting_for: Some(Party::Receiver),
            deadline: Some(ACCEPT_DAYS),
            closed: false,
        },
        StateDef { id: "withdrawn", label: L::new("已撤回", "Withdrawn"), waiting_for: None, deadline: None, closed: false },
        StateDef {
            id: "returned",
            label: L::new("已退回", "Returned"),
            waiting_for: Some(Party::Sender),
            deadline: Some(REVIEW_DAYS),
            closed: false,
        },
        StateDef {
            id: "accepted",
            label: L::new("已受理，办理中", "Accepted, in hand"),
            waiting_for: Some(Party::Receiver),
            deadline: Some(RESULT_DAYS),
            closed: false,
        },
        StateDef {
            id: "result_reported",
            label: L::new("已反馈结果，办结", "Result reported back, closed"),
            waiting_for: None,
            deadline: None,
            closed: true,
        },
    ],
    steps: &[
        StepDef {
            id: "transfer",
            label: L::new("移送检察院", "Transfer to the procuratorate"),
            by: Party::Sender,
            from: &["recorded", "withdrawn", "returned"],
            to: "transferred",
            needs: &[Need::ToOrg, Need::Choice { key: "basis", choices: BASES }],
            when: Some(When::ConsentOrBasis),
            opens: true,
            closes_access: false,
            text: None,
        },
        StepDef {
            id: "withdraw",
            label: L::new("撤回移送", "Withdraw the transfer"),
            by: Party::Sender,
            from: &["transferred"],
            to: "withdrawn",
            needs: &[],
            when: None,
            opens: false,
            closes_access: true,
            text: Some(L::new("撤回原因", "Why it is withdrawn")),
        },
        StepDef {
            id: "accept",
            label: L::new("受理", "Accept"),
            by: Party::Receiver,
            from: &["transferred"],
            to: "accepted",
            needs: &[],
            when: None,
            opens: false,
            closes_access: false,
            text: None,
        },
        StepDef {
            id: "return",
            label: L::new("退回", "Return"),
            by: Party::Receiver,
            from: &["transferred"],
            to: "returned",
            needs: &[Need::Choice { key: "reason", choices: RETURN_REASONS }],
            when: None,
            opens: false,
            closes_access: true,
            text: Some(L::new("退回说明", "Why it is returned")),
        },
        StepDef {
            id: "note",
            label: L::new("办理记录", "Handling note"),
            by: Party::Receiver,
            from: &["accepted"],
            to: "accepted",
            needs: &[],
            when: None,
            opens: false,
            closes_access: false,
            text: Some(L::new("办理情况", "What was done")),
        },
        StepDef {
            id: "police_filing_supervised",
            label: L::new("已监督公安机关立案", "Police filing supervised"),
            by: Party::Receiver,
            from: &["accepted"],
            to: "accepted",
            needs: &[Need::Date { key: "date" }],
            when: Some(When::MinorSexualAssault),
            opens: false,
            closes_access: false,
            text: None,
        },
        StepDef {
            id: "report_result",
            label: L::new("反馈办理结果", "Report the result back"),
            by: Party::Receiver,
            from: &["accepted"],
            to: "result_reported",
            needs: &[Need::Choice { key: "outcome", choices: OUTCOMES }, Need::Date { key: "date" }],
            when: None,
            opens: false,
            closes_access: false,
            text: Some(L::new("结果摘要", "Summary of the result")),
        },
        StepDef {
            id: "reopen",
            label: L::new("重新办理", "Reopen"),
            by: Party::Receiver,
            from: &["result_reported"],
            to: "accepted",
            needs: &[],
            when: None,
            opens: false,
            closes_access: false,
            text: Some(L::new("重新办理的原因", "Why it is reopened")),
        },
    ],
};

/// An entrustment: the procuratorate asks the federation to investigate guardianship, custody
/// conditions or maintenance for a case; the federation accepts, investigates and reports; the
/// procuratorate acknowledges the report.
pub static ENTRUSTMENT: Workflow = Workflow {
    id: "entrustment",
    kind: "entrustment",
    initial: "drafted",
    states: &[
        StateDef { id: "drafted", label: L::new("草拟中", "Being drafted"), waiting_for: None, deadline: None, closed: false },
        StateDef {
            id: "entrusted",
            label: L::new("已委托，待接受", "Entrusted, awaiting acceptance"),
            waiting_for: Some(Party::Receiver),
            deadline: Some(ACCEPT_DAYS),
            closed: false,
        },
        StateDef { id: "withdrawn", label: L::new("已撤回", "Withdrawn"), waiting_for: None, deadline: None, closed: false },
        StateDef {
            id: "declined", label: L::new("已拒绝", "Declined"), waiting_for: Some(Party::Sender), deadline: None, closed: false
        },
        StateDef {
            id: "investigating",
            label: L::new("调查中", "Under investigation"),
            waiting_for: Some(Party::Receiver),
            deadline: Some(REPORT_DAYS),
            closed: false,
        },
        StateDef {
            id: "reported",
            label: L::new("已提交调查报告，待确认", "Report submitted, awaiting acknowledgement"),
            waiting_for: Some(Party::Sender),
            deadline: Some(ACK_DAYS),
            closed: false,
        },
        StateDef {
            id: "acknowledged",
            label: L::new("已确认，办结", "Acknowledged, closed"),
            waiting_for: None,
            deadline: None,
            closed: true,
        },
    ],
    steps: &[
        StepDef {
            id: "entrust",
            label: L::new("委托妇联调查", "Entrust the federation"),
            by: Party::Sender,
            from: &["drafted", "withdrawn", "declined"],
            to: "entrusted",
            needs: &[Need::ToOrg, Need::Choice { key: "subject", choices: SUBJECTS }, Need::Date { key: "due" }],
            when: None,
            opens: true,
            closes_access: false,
            text: None,
        },
        StepDef {
            id: "withdraw",
            label: L::new("撤回委托", "Withdraw"),
            by: Party::Sender,
            from: &["entrusted"],
            to: "withdrawn",
            needs: &[],
            when: None,
            opens: false,
            closes_access: true,
            text: Some(L::new("撤回原因", "Why it is withdrawn")),
        },
        StepDef {
            id: "accept",
            label: L::new("接受委托", "Accept"),
            by: Party::Receiver,
            from: &["entrusted"],
            to: "investigating",
            needs: &[],
            when: None,
            opens: false,
            closes_access: false,
            text: None,
        },
        StepDef {
            id: "decline",
            label: L::new("拒绝委托", "Decline"),
            by: Party::Receiver,
            from: &["entrusted"],
            to: "declined",
            needs: &[],
            when: None,
            opens: false,
            closes_access: true,
            text: Some(L::new("拒绝原因", "Why it is declined")),
        },
        StepDef {
            id: "submit_report",
            label: L::new("提交调查报告", "Submit the investigation report"),
            by: Party::Receiver,
            from: &["investigating"],
            to: "reported",
            needs: &[],
            when: None,
            opens: false,
            closes_access: false,
            text: None,
        },
        StepDef {
            id: "acknowledge",
            label: L::new("确认收到报告", "Acknowledge the report"),
            by: Party::Sender,
            from: &["reported"],
            to: "acknowledged",
            needs: &[],
            when: None,
            opens: false,
            closes_access: false,
            text: None,
        },
    ],
};

/// How a code in a step's data reads: outcomes, bases, reasons, subjects.
pub fn code_label(code: &str) -> Option<L> {
    CODE_LABELS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

const CODE_LABELS: &[(&str, L)] = &[
    ("prosecuted", L::new("已提起公诉", "Prosecuted")),
    ("public_interest_suit", L::new("已提起公益诉讼", "Public-interest suit filed")),
    ("procuratorial_advice", L::new("已制发检察建议", "Procuratorial advice issued")),
    ("support_prosecution", L::new("已支持起诉", "Support for a civil suit given")),
    ("not_established", L::new("经审查不成立", "Not established on review")),
    ("other", L::new("其他", "Other")),
    ("consent", L::new("当事人同意移送", "The survivor consented")),
    ("mandatory_report", L::new("未成年人案件强制报告", "Mandatory report (minor)")),
    ("other_law", L::new("其他法律依据", "Another legal basis")),
    ("not_competent", L::new("不属于本院管辖", "Not this procuratorate's to handle")),
    ("insufficient_material", L::new("材料不足，需补充", "Material insufficient; more needed")),
    ("duplicate", L::new("重复移送", "Transferred twice")),
    ("guardianship", L::new("监护意愿与监护能力", "Guardianship: will and ability")),
    ("custody", L::new("抚养条件", "Custody conditions")),
    ("maintenance", L::new("抚养费、经济状况", "Maintenance and financial status")),
];

//! Form schemas: which fields a kind of record has, how each is entered and checked.
//!
//! This is the first cut, written as Rust data so the app can render any form generically;
//! the form-kit issue moves definitions into data files with the same shape.

use crate::i18n::L;
use crate::record::FieldValue;

/// A form definition: an id and version that every record made with it stores.
#[derive(Debug)]
pub struct Form {
    pub id: &'static str,
    pub version: u32,
    pub kind: RecordKind,
    pub title: L,
    pub fields: &'static [Field],
    /// The field whose value names the record in lists. It must never hold a person's name.
    pub title_field: &'static str,
    /// A select field whose choice labels the record in lists.
    pub category_field: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Intake,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Intake => "intake",
        }
    }

    pub fn parse(s: &str) -> Option<RecordKind> {
        match s {
            "intake" => Some(RecordKind::Intake),
            _ => None,
        }
    }

    pub fn label(self) -> L {
        match self {
            RecordKind::Intake => L::new("案件线索", "Case clue"),
        }
    }
}

#[derive(Debug)]
pub struct Field {
    pub id: &'static str,
    pub label: L,
    pub hint: Option<L>,
    pub ty: FieldType,
}

#[derive(Debug)]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Paragraphs, stored as an Automerge text object so concurrent edits merge.
    LongText,
    Integer { min: i64, max: i64 },
    YesNo,
    /// An ISO 8601 calendar date, `YYYY-MM-DD`.
    Date,
    SelectOne(&'static [Choice]),
}

#[derive(Debug)]
pub struct Choice {
    pub id: &'static str,
    pub label: L,
}

/// Why a value typed into a field cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("not a whole number")]
    NotInteger,
    #[error("out of range {min}..={max}")]
    OutOfRange { min: i64, max: i64 },
    #[error("not a date")]
    NotDate,
    #[error("not one of the choices")]
    UnknownChoice,
}

impl InputError {
    /// The message shown next to the field.
    pub fn message(&self) -> (String, String) {
        match self {
            InputError::NotInteger => ("请输入整数".into(), "Enter a whole number".into()),
            InputError::OutOfRange { min, max } => (
                format!("请输入 {min} 到 {max} 之间的数"),
                format!("Enter a number from {min} to {max}"),
            ),
            InputError::NotDate => ("请输入日期，格式为 年-月-日".into(), "Enter a date as YYYY-MM-DD".into()),
            InputError::UnknownChoice => ("请从列表中选择".into(), "Choose one of the options".into()),
        }
    }
}

impl Field {
    /// Turns what a person typed into a value for the document. Empty input clears the field.
    pub fn parse_input(&self, input: &str) -> Result<Option<FieldValue>, InputError> {
        let trimmed = input.trim();
        if trimmed.is_empty() && !matches!(self.ty, FieldType::LongText) {
            return Ok(None);
        }
        let value = match &self.ty {
            FieldType::Text => FieldValue::Text(input.to_owned()),
            FieldType::LongText => {
                if input.is_empty() {
                    return Ok(None);
                }
                FieldValue::LongText(input.to_owned())
            }
            FieldType::Integer { min, max } => {
                let n: i64 = trimmed.parse().map_err(|_| InputError::NotInteger)?;
                if n < *min || n > *max {
                    return Err(InputError::OutOfRange { min: *min, max: *max });
                }
                FieldValue::Int(n)
            }
            FieldType::YesNo => match trimmed {
                "yes" => FieldValue::Bool(true),
                "no" => FieldValue::Bool(false),
                _ => return Err(InputError::UnknownChoice),
            },
            FieldType::Date => {
                if !is_iso_date(trimmed) {
                    return Err(InputError::NotDate);
                }
                FieldValue::Date(trimmed.to_owned())
            }
            FieldType::SelectOne(choices) => {
                if !choices.iter().any(|c| c.id == trimmed) {
                    return Err(InputError::UnknownChoice);
                }
                FieldValue::Choice(trimmed.to_owned())
            }
        };
        Ok(Some(value))
    }
}

impl Form {
    pub fn field(&self, id: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.id == id)
    }
}

/// Every form this build knows, newest version of each.
pub fn forms() -> &'static [&'static Form] {
    static FORMS: [&Form; 1] = [&INTAKE_V1];
    &FORMS
}

pub fn find(id: &str, version: u32) -> Option<&'static Form> {
    forms().iter().copied().find(|f| f.id == id && f.version == version)
}

fn is_iso_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return false };
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return false;
    }
    let (y, m, d): (u32, u32, u32) = (y.parse().unwrap(), m.parse().unwrap(), d.parse().unwrap());
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

const CHANNELS: &[Choice] = &[
    Choice { id: "letter", label: L::new("来信", "Letter") },
    Choice { id: "call", label: L::new("来电", "Phone call") },
    Choice { id: "visit", label: L::new("来访", "Visit") },
    Choice { id: "referral", label: L::new("转介", "Referral") },
    Choice { id: "discovered", label: L::new("工作中发现", "Found in the course of work") },
];

const INCIDENT_TYPES: &[Choice] = &[
    Choice { id: "domestic_violence", label: L::new("家庭暴力", "Domestic violence") },
    Choice { id: "sexual_assault", label: L::new("性侵害", "Sexual assault") },
    Choice { id: "civil_rights", label: L::new("民事权益受侵害", "Violation of civil rights") },
    Choice { id: "administrative_rights", label: L::new("行政权益受侵害", "Violation of administrative rights") },
    Choice { id: "procuratorate_staff", label: L::new("涉检察人员信访", "Complaint about procuratorate staff") },
    Choice { id: "other", label: L::new("其他", "Other") },
];

const CONSENT: &[Choice] = &[
    Choice { id: "given", label: L::new("当事人已同意移送", "Survivor consented to transfer") },
    Choice { id: "refused", label: L::new("当事人不同意移送", "Survivor refused transfer") },
    Choice {
        id: "not_required",
        label: L::new("无需同意（未成年人强制报告）", "Not required (mandatory report for a minor)"),
    },
];

/// The intake (case clue) form, first cut.
pub static INTAKE_V1: Form = Form {
    id: "intake",
    version: 1,
    kind: RecordKind::Intake,
    title: L::new("案件线索登记", "Case clue intake"),
    title_field: "survivor_code",
    category_field: Some("incident_type"),
    fields: &[
        Field {
            id: "reporter",
            label: L::new("反映人", "Reported by"),
            hint: Some(L::new("来信、来电或来访的人，或转介单位", "Who wrote, called, visited or referred")),
            ty: FieldType::Text,
        },
        Field { id: "channel", label: L::new("反映渠道", "Channel"), hint: None, ty: FieldType::SelectOne(CHANNELS) },
        Field {
            id: "survivor_code",
            label: L::new("当事人编号", "Survivor code"),
            hint: Some(L::new("列表中只显示编号，不显示姓名", "Lists show this code, never a name")),
            ty: FieldType::Text,
        },
        Field {
            id: "survivor_age",
            label: L::new("当事人年龄", "Survivor's age"),
            hint: None,
            ty: FieldType::Integer { min: 0, max: 120 },
        },
        Field { id: "minor", label: L::new("是否未成年人", "Is a minor"), hint: None, ty: FieldType::YesNo },
        Field {
            id: "incident_type",
            label: L::new("线索类型", "Type of case"),
            hint: None,
            ty: FieldType::SelectOne(INCIDENT_TYPES),
        },
        Field { id: "incident_date", label: L::new("发生日期", "Date of incident"), hint: None, ty: FieldType::Date },
        Field { id: "incident_place", label: L::new("发生地点", "Place"), hint: None, ty: FieldType::Text },
        Field {
            id: "description",
            label: L::new("情况描述", "What happened"),
            hint: Some(L::new("只记录办案需要的内容", "Record only what the case needs")),
            ty: FieldType::LongText,
        },
        Field {
            id: "consent",
            label: L::new("移送同意", "Consent to transfer"),
            hint: None,
            ty: FieldType::SelectOne(CONSENT),
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: &str, input: &str, expect: Result<Option<FieldValue>, InputError>) {
        let f = INTAKE_V1.field(field).unwrap();
        assert_eq!(f.parse_input(input), expect, "field {field}, input {input:?}");
    }

    #[test]
    fn parses_and_rejects_input() {
        check("survivor_age", " 12 ", Ok(Some(FieldValue::Int(12))));
        check("survivor_age", "", Ok(None));
        check("survivor_age", "twelve", Err(InputError::NotInteger));
        check("survivor_age", "130", Err(InputError::OutOfRange { min: 0, max: 120 }));
        check("incident_date", "2024-02-29", Ok(Some(FieldValue::Date("2024-02-29".into()))));
        check("incident_date", "2023-02-29", Err(InputError::NotDate));
        check("incident_date", "29/02/2024", Err(InputError::NotDate));
        check("minor", "yes", Ok(Some(FieldValue::Bool(true))));
        check("minor", "maybe", Err(InputError::UnknownChoice));
        check("channel", "call", Ok(Some(FieldValue::Choice("call".into()))));
        check("channel", "fax", Err(InputError::UnknownChoice));
        check("reporter", "  ", Ok(None));
        check("description", "  a\n", Ok(Some(FieldValue::LongText("  a\n".into()))));
    }

    #[test]
    fn every_form_is_well_formed() {
        for form in forms() {
            assert!(form.field(form.title_field).is_some(), "{}: title field", form.id);
            if let Some(c) = form.category_field {
                assert!(matches!(form.field(c).unwrap().ty, FieldType::SelectOne(_)), "{}: category", form.id);
            }
            let mut ids: Vec<_> = form.fields.iter().map(|f| f.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), form.fields.len(), "{}: duplicate field ids", form.id);
        }
    }
}

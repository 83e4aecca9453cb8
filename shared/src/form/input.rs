//! Typed input: the one place text a person typed becomes a value, and where a stored value
//! is checked against its field's type. Only type errors live here (not a number, not a date,
//! out of the field's range, bad phone); whether a record is complete is `validate`'s job.

use std::collections::BTreeSet;

use crate::record::FieldValue;

use super::date::{canonical_date_time, is_iso_date};
use super::{Field, FieldType};

/// Why a value typed into a field cannot be stored, or why a stored value does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("not a whole number")]
    NotInteger,
    #[error("not a number")]
    NotNumber,
    #[error("more than {places} decimal places")]
    TooManyPlaces { places: u8 },
    #[error("out of the field's range")]
    OutOfRange { min: Option<String>, max: Option<String> },
    #[error("not a date")]
    NotDate,
    #[error("not a date and time")]
    NotDateTime,
    #[error("not one of the choices")]
    UnknownChoice,
    #[error("not a phone number")]
    NotPhone,
    #[error("this field is not typed in")]
    NotTyped,
    #[error("this kind of file is not accepted here")]
    NotAccepted,
    #[error("not a valid attachment reference")]
    BadAttachment,
    #[error("a value of another type")]
    WrongType,
}

impl InputError {
    /// The message shown next to the field, in Chinese and English.
    pub fn message(&self) -> (String, String) {
        let s = |zh: &str, en: &str| (zh.to_owned(), en.to_owned());
        match self {
            InputError::NotInteger => s("请输入整数", "Enter a whole number"),
            InputError::NotNumber => s("请输入数字", "Enter a number"),
            InputError::TooManyPlaces { places } => (format!("最多保留 {places} 位小数"), format!("Use at most {places} decimal places")),
            InputError::OutOfRange { min: Some(min), max: Some(max) } => {
                (format!("请输入 {min} 到 {max} 之间的数"), format!("Enter a number from {min} to {max}"))
            }
            InputError::OutOfRange { min: Some(min), max: None } => {
                (format!("请输入不小于 {min} 的数"), format!("Enter a number of at least {min}"))
            }
            InputError::OutOfRange { min: None, max } => (
                format!("请输入不大于 {} 的数", max.as_deref().unwrap_or("")),
                format!("Enter a number of at most {}", max.as_deref().unwrap_or("")),
            ),
            InputError::NotDate => s("请输入日期，格式为 年-月-日", "Enter a date as YYYY-MM-DD"),
            InputError::NotDateTime => s("请输入日期和时间，格式为 年-月-日 时:分", "Enter a date and time as YYYY-MM-DD HH:MM"),
            InputError::UnknownChoice => s("请从列表中选择", "Choose one of the options"),
            InputError::NotPhone => s("请输入有效的电话号码", "Enter a valid phone number"),
            InputError::NotTyped => s("此项不能直接输入文字", "This field is not filled in by typing"),
            InputError::NotAccepted => s("此处不接受这种文件", "This kind of file is not accepted here"),
            InputError::BadAttachment => s("附件信息不完整", "The attachment reference is incomplete"),
            InputError::WrongType => s("数据类型不符", "The stored value has the wrong type"),
        }
    }
}

impl Field {
    /// Turns what a person typed into a value for the document. Empty input clears the field.
    ///
    /// Full-width digits and punctuation (what a Chinese input method types) are read as
    /// their ASCII forms in numbers, dates and phone numbers.
    pub fn parse_input(&self, input: &str) -> Result<Option<FieldValue>, InputError> {
        let trimmed = input.trim();
        if trimmed.is_empty() && !matches!(self.ty, FieldType::LongText) {
            return Ok(None);
        }
        let narrow = to_ascii_forms(trimmed);
        let value = match &self.ty {
            FieldType::Text => FieldValue::Text(input.to_owned()),
            FieldType::LongText => {
                if input.is_empty() {
                    return Ok(None);
                }
                FieldValue::LongText(input.to_owned())
            }
            FieldType::Integer { min, max } => {
                let n: i64 = narrow.parse().map_err(|_| InputError::NotInteger)?;
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(InputError::OutOfRange { min: min.map(|m| m.to_string()), max: max.map(|m| m.to_string()) });
                }
                FieldValue::Int(n)
            }
            FieldType::Decimal { min, max, places } => {
                let (text, digits) = canonical_decimal(&narrow).ok_or(InputError::NotNumber)?;
                if digits > *places {
                    return Err(InputError::TooManyPlaces { places: *places });
                }
                let n: f64 = text.parse().map_err(|_| InputError::NotNumber)?;
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(InputError::OutOfRange { min: min.map(|m| m.to_string()), max: max.map(|m| m.to_string()) });
                }
                FieldValue::Decimal(text)
            }
            FieldType::YesNo => match trimmed {
                "yes" => FieldValue::Bool(true),
                "no" => FieldValue::Bool(false),
                _ => return Err(InputError::UnknownChoice),
            },
            FieldType::Date => {
                if !is_iso_date(&narrow) {
                    return Err(InputError::NotDate);
                }
                FieldValue::Date(narrow)
            }
            FieldType::DateTime => FieldValue::DateTime(canonical_date_time(&narrow).ok_or(InputError::NotDateTime)?),
            FieldType::SelectOne(choices) => {
                if !choices.iter().any(|c| c.id == trimmed) {
                    return Err(InputError::UnknownChoice);
                }
                FieldValue::Choice(trimmed.to_owned())
            }
            // Typed as choice ids separated by commas: the stand-in until the app has checkboxes.
            FieldType::SelectMany(choices) => {
                let mut set = BTreeSet::new();
                for id in trimmed.split([',', '，']).map(str::trim).filter(|s| !s.is_empty()) {
                    if !choices.iter().any(|c| c.id == id) {
                        return Err(InputError::UnknownChoice);
                    }
                    set.insert(id.to_owned());
                }
                FieldValue::Choices(set)
            }
            FieldType::Phone => FieldValue::Phone(canonical_phone(&narrow).ok_or(InputError::NotPhone)?),
            FieldType::Group(_) | FieldType::Attachment { .. } | FieldType::Signature => {
                return Err(InputError::NotTyped);
            }
        };
        Ok(Some(value))
    }

    /// Whether a value is of this field's type (whatever its content).
    pub fn fits(&self, value: &FieldValue) -> bool {
        matches!(
            (&self.ty, value),
            (FieldType::Text, FieldValue::Text(_))
                | (FieldType::LongText, FieldValue::LongText(_))
                | (FieldType::Integer { .. }, FieldValue::Int(_))
                | (FieldType::Decimal { .. }, FieldValue::Decimal(_))
                | (FieldType::Date, FieldValue::Date(_))
                | (FieldType::DateTime, FieldValue::DateTime(_))
                | (FieldType::YesNo, FieldValue::Bool(_))
                | (FieldType::SelectOne(_), FieldValue::Choice(_))
                | (FieldType::SelectMany(_), FieldValue::Choices(_))
                | (FieldType::Phone, FieldValue::Phone(_))
                | (FieldType::Group(_), FieldValue::Group(_))
                | (FieldType::Attachment { .. } | FieldType::Signature, FieldValue::Attachment(_))
        )
    }

    /// Checks a stored value against this field's type: a record made with an older version,
    /// or by another peer, may hold a value this version would not accept. A group's items
    /// are checked field by field by the caller.
    pub fn check_value(&self, value: &FieldValue) -> Result<(), InputError> {
        if !self.fits(value) {
            return Err(InputError::WrongType);
        }
        match (&self.ty, value) {
            (FieldType::SelectMany(choices), FieldValue::Choices(set)) => match set.iter().all(|id| choices.iter().any(|c| c.id == id)) {
                true => Ok(()),
                false => Err(InputError::UnknownChoice),
            },
            (FieldType::Attachment { accept }, FieldValue::Attachment(a)) => {
                if !a.is_well_formed() {
                    Err(InputError::BadAttachment)
                } else if !accept.is_empty() && !accept.iter().any(|p| mime_matches(p, &a.mime)) {
                    Err(InputError::NotAccepted)
                } else {
                    Ok(())
                }
            }
            (FieldType::Signature, FieldValue::Attachment(a)) => {
                if !a.is_well_formed() {
                    Err(InputError::BadAttachment)
                } else if !mime_matches("image/*", &a.mime) {
                    Err(InputError::NotAccepted)
                } else {
                    Ok(())
                }
            }
            (FieldType::Group(_) | FieldType::Text | FieldType::LongText | FieldType::YesNo, _) => Ok(()),
            // Everything else is typed text: it fits if typing it back in would be accepted.
            (_, v) => self.parse_input(&v.input_text()).map(|_| ()),
        }
    }
}

/// `image/*` matches `image/png`; anything else must match exactly (ignoring case).
pub(crate) fn mime_matches(pattern: &str, mime: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(major) => mime.split('/').next().is_some_and(|m| m.eq_ignore_ascii_case(major)),
        None => pattern.eq_ignore_ascii_case(mime),
    }
}

/// A decimal's canonical text (no `+`, no leading or trailing zeros: `"-01.50"` is `"-1.5"`)
/// and how many decimal places it has.
fn canonical_decimal(s: &str) -> Option<(String, u8)> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let zero = whole == "0" && frac.is_empty();
    let mut out = String::new();
    if negative && !zero {
        out.push('-');
    }
    out.push_str(whole);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some((out, u8::try_from(frac.len()).unwrap_or(u8::MAX)))
}

/// Digits with an optional leading `+`; spaces, dashes, dots and brackets are dropped.
/// Five digits is the shortest number worth keeping (the 12338 women's hotline), fifteen the
/// longest E.164 allows.
fn canonical_phone(s: &str) -> Option<String> {
    let (plus, rest) = match s.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", s),
    };
    let digits: String = rest.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    if !(5..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{plus}{digits}"))
}

/// Full-width digits and the punctuation numbers use, as typed by Chinese input methods.
fn to_ascii_forms(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '．' | '。' => '.',
            '－' | '—' => '-',
            '＋' => '+',
            '：' => ':',
            '（' => '(',
            '）' => ')',
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

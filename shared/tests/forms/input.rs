//! Per-keystroke parsing: type errors only, and the same value read back from its text.

use std::collections::BTreeSet;

use serde_json::json;
use shared::FieldValue;
use shared::form::InputError;

use super::support::{field, form, l};

fn check(path: &str, input: &str, expect: Result<Option<FieldValue>, InputError>) {
    let form = form(
        "t",
        1,
        json!([
            { "id": "age", "type": "integer", "label": l("年龄", "Age"), "min": 0, "max": 120 },
            { "id": "count", "type": "integer", "label": l("人数", "Count"), "min": 1 },
            { "id": "hours", "type": "decimal", "label": l("时长", "Hours"), "min": 0.5, "max": 24, "places": 1 },
            { "id": "day", "type": "date", "label": l("日期", "Date") },
            { "id": "at", "type": "date_time", "label": l("时间", "Time") },
            { "id": "minor", "type": "yes_no", "label": l("未成年", "Minor") },
            { "id": "channel", "type": "select_one", "label": l("渠道", "Channel"), "choices": [
                { "id": "call", "label": l("来电", "Call") }, { "id": "visit", "label": l("来访", "Visit") }] },
            { "id": "orgs", "type": "select_many", "label": l("单位", "Organisations"), "choices": [
                { "id": "court", "label": l("法院", "Court") }, { "id": "police", "label": l("公安", "Police") }] },
            { "id": "phone", "type": "phone", "label": l("电话", "Phone") },
            { "id": "note", "type": "text", "label": l("备注", "Note") },
            { "id": "story", "type": "long_text", "label": l("经过", "Story") },
            { "id": "file", "type": "attachment", "label": l("文件", "File") },
            { "id": "sign", "type": "signature", "label": l("签名", "Signature") },
            { "id": "people", "type": "group", "label": l("人员", "People"), "fields": [
                { "id": "name", "type": "text", "label": l("姓名", "Name") }] },
        ]),
    );
    let f = field(&form, path);
    assert_eq!(f.parse_input(input), expect, "field {path}, input {input:?}");
    // What was accepted reads back the same from its text.
    if let Ok(Some(v)) = &expect {
        assert_eq!(f.parse_input(&v.input_text()).as_ref(), Ok(&Some(v.clone())), "round trip of {v:?}");
    }
}

fn range(min: Option<&str>, max: Option<&str>) -> InputError {
    InputError::OutOfRange { min: min.map(Into::into), max: max.map(Into::into) }
}

#[test]
fn numbers() {
    check("age", " 12 ", Ok(Some(FieldValue::Int(12))));
    check("age", "１４", Ok(Some(FieldValue::Int(14))));
    check("age", "", Ok(None));
    check("age", "twelve", Err(InputError::NotInteger));
    check("age", "十四", Err(InputError::NotInteger));
    check("age", "130", Err(range(Some("0"), Some("120"))));
    check("count", "0", Err(range(Some("1"), None)));
    check("hours", "1.50", Ok(Some(FieldValue::Decimal("1.5".into()))));
    check("hours", "２．５", Ok(Some(FieldValue::Decimal("2.5".into()))));
    check("hours", "3", Ok(Some(FieldValue::Decimal("3".into()))));
    check("hours", "1.25", Err(InputError::TooManyPlaces { places: 1 }));
    check("hours", "0.2", Err(range(Some("0.5"), Some("24"))));
    check("hours", "1,5", Err(InputError::NotNumber));
    check("hours", "-", Err(InputError::NotNumber));
}

#[test]
fn dates_and_times() {
    check("day", "2024-02-29", Ok(Some(FieldValue::Date("2024-02-29".into()))));
    check("day", "2023-02-29", Err(InputError::NotDate));
    check("day", "29/02/2024", Err(InputError::NotDate));
    check("at", "2024-05-01T08:30", Ok(Some(FieldValue::DateTime("2024-05-01T08:30".into()))));
    check("at", "2024-05-01 08:30", Ok(Some(FieldValue::DateTime("2024-05-01T08:30".into()))));
    check("at", "2024-05-01T24:00", Err(InputError::NotDateTime));
    check("at", "2024-05-01", Err(InputError::NotDateTime));
}

#[test]
fn choices_and_yes_no() {
    check("minor", "yes", Ok(Some(FieldValue::Bool(true))));
    check("minor", "maybe", Err(InputError::UnknownChoice));
    check("channel", "call", Ok(Some(FieldValue::Choice("call".into()))));
    check("channel", "fax", Err(InputError::UnknownChoice));
    let both: BTreeSet<String> = ["court".into(), "police".into()].into();
    check("orgs", "police，court", Ok(Some(FieldValue::Choices(both))));
    check("orgs", "court, army", Err(InputError::UnknownChoice));
}

#[test]
fn phones() {
    check("phone", "138 0013 8000", Ok(Some(FieldValue::Phone("13800138000".into()))));
    check("phone", "+86 (931) 123-4567", Ok(Some(FieldValue::Phone("+869311234567".into()))));
    check("phone", "12338", Ok(Some(FieldValue::Phone("12338".into()))));
    check("phone", "110", Err(InputError::NotPhone));
    check("phone", "call me", Err(InputError::NotPhone));
}

#[test]
fn text_and_untyped_fields() {
    check("note", "  ", Ok(None));
    check("story", "  a\n", Ok(Some(FieldValue::LongText("  a\n".into()))));
    check("file", "photo.jpg", Err(InputError::NotTyped));
    check("sign", "x", Err(InputError::NotTyped));
    check("people", "x", Err(InputError::NotTyped));
}

/// The existing end-to-end test reads these exact messages.
#[test]
fn range_messages_in_both_languages() {
    assert_eq!(range(Some("0"), Some("120")).message(), ("请输入 0 到 120 之间的数".to_owned(), "Enter a number from 0 to 120".to_owned()));
    assert_eq!(InputError::NotInteger.message().0, "请输入整数");
}

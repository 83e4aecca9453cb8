//! "Mark complete": a record is a draft while it is written, and checked only when someone
//! says it is finished. Then every shown required field must have a value, every value must
//! fit its type (an older version or another peer may have stored one that no longer does),
//! and every constraint of a shown, filled-in field must hold.

use crate::i18n::L;
use crate::record::{FieldValue, Values};

use super::condition::Scope;
use super::{Field, Form, InputError};

/// One reason a record cannot be marked complete.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The field of the form (for a group's sub-field: the group).
    pub field: &'static str,
    /// Within a group: which item, and which of its fields.
    pub item: Option<ItemAt>,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAt {
    pub id: String,
    pub field: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProblemKind {
    /// A required field that is shown has no value.
    Missing,
    /// The stored value does not fit the field's type.
    Invalid(InputError),
    /// A constraint does not hold; its message says why.
    Constraint(L),
}

impl Problem {
    /// The message shown next to the field, in Chinese and English.
    pub fn message(&self) -> (String, String) {
        match &self.kind {
            ProblemKind::Missing => ("此项为必填项".into(), "This field is required".into()),
            ProblemKind::Invalid(e) => e.message(),
            ProblemKind::Constraint(l) => (l.zh.into(), l.en.into()),
        }
    }
}

impl Form {
    /// Everything that stops `values` from being marked complete with this form; empty when
    /// it may be.
    pub fn check(&self, values: &Values) -> Vec<Problem> {
        let scope = Scope { fields: self.fields, values, item: None };
        let mut problems = Vec::new();
        for field in self.fields {
            if !scope.shown(field) {
                continue;
            }
            let at = |kind| Problem { field: field.id, item: None, kind };
            check_field(field, values.get(field.id), &scope, &mut |kind| problems.push(at(kind)));
            if let Some(FieldValue::Group(items)) = values.get(field.id) {
                for item in items {
                    let scope = Scope { fields: self.fields, values, item: Some((field.sub_fields(), &item.values)) };
                    for sub in field.sub_fields() {
                        if !scope.shown(sub) {
                            continue;
                        }
                        let at = |kind| Problem { field: field.id, item: Some(ItemAt { id: item.id.clone(), field: sub.id }), kind };
                        check_field(sub, item.values.get(sub.id), &scope, &mut |kind| problems.push(at(kind)));
                    }
                }
            }
        }
        problems
    }

    /// Whether skip logic shows this field of the record.
    pub fn is_shown(&self, field: &Field, values: &Values) -> bool {
        Scope { fields: self.fields, values, item: None }.shown(field)
    }

    /// Whether skip logic shows this field of one group item (the group itself shown or not).
    pub fn is_shown_in_item(&self, group: &Field, sub: &Field, item: &Values, values: &Values) -> bool {
        Scope { fields: self.fields, values, item: Some((group.sub_fields(), item)) }.shown(sub)
    }
}

fn check_field(field: &Field, value: Option<&FieldValue>, scope: &Scope, report: &mut dyn FnMut(ProblemKind)) {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        if field.required {
            report(ProblemKind::Missing);
        }
        return;
    };
    if let Err(e) = field.check_value(value) {
        report(ProblemKind::Invalid(e));
        return;
    }
    for c in field.constraints {
        if !scope.holds(&c.check) {
            report(ProblemKind::Constraint(c.message));
        }
    }
}

//! Evaluating conditions ([`Condition`]): skip logic (`show_if`) and constraints both use
//! them, so one evaluator decides both on both sides.

use std::cmp::Ordering;

use crate::record::{FieldValue, Values};

use super::{Comparison, Condition, Field, FieldRef, Literal};

impl Condition {
    /// Whether the condition holds. `value` gives a referenced field's value, `None` for an
    /// unset or hidden field.
    pub fn holds<'v>(&self, value: &dyn Fn(FieldRef) -> Option<&'v FieldValue>) -> bool {
        match self {
            Condition::Compare { field, op } => op.holds(value(*field)),
            Condition::All(cs) => cs.iter().all(|c| c.holds(value)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(value)),
            Condition::Not(c) => !c.holds(value),
        }
    }
}

impl Comparison {
    fn holds(&self, value: Option<&FieldValue>) -> bool {
        let value = value.filter(|v| !v.is_empty());
        match self {
            Comparison::IsSet(set) => value.is_some() == *set,
            Comparison::Equals(l) => value.is_some_and(|v| order(v, l) == Some(Ordering::Equal)),
            Comparison::NotEquals(l) => value.is_none_or(|v| order(v, l) != Some(Ordering::Equal)),
            Comparison::LessThan(l) => value.and_then(|v| order(v, l)) == Some(Ordering::Less),
            Comparison::GreaterThan(l) => value.and_then(|v| order(v, l)) == Some(Ordering::Greater),
            Comparison::Includes(choice) => matches!(value, Some(FieldValue::Choices(set)) if set.contains(*choice)),
        }
    }
}

/// How a value compares with a literal; `None` when they cannot be compared.
fn order(value: &FieldValue, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (FieldValue::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (FieldValue::Int(n), Literal::Number(b)) => (*n as f64).partial_cmp(b),
        (FieldValue::Decimal(s), Literal::Number(b)) => s.parse::<f64>().ok()?.partial_cmp(b),
        (v, Literal::Text(b)) => Some(v.as_str()?.cmp(b)),
        _ => None,
    }
}

/// Where conditions are evaluated: a record's values, and within a group, one item's.
/// Hidden fields read as unset, so hiding a question also hides what depends on it.
pub(crate) struct Scope<'a> {
    pub fields: &'a [Field],
    pub values: &'a Values,
    pub item: Option<(&'a [Field], &'a Values)>,
}

/// Definitions are checked for cycles; this bound only keeps a hand-built form from
/// recursing forever.
const MAX_DEPTH: u32 = 64;

impl<'a> Scope<'a> {
    pub fn shown(&self, field: &Field) -> bool {
        self.shown_at(field, 0)
    }

    pub fn holds(&self, condition: &Condition) -> bool {
        condition.holds(&|r| self.value_at(r, 1))
    }

    fn shown_at(&self, field: &Field, depth: u32) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match &field.show_if {
            None => true,
            Some(c) => c.holds(&|r| self.value_at(r, depth + 1)),
        }
    }

    fn value_at(&self, r: FieldRef, depth: u32) -> Option<&'a FieldValue> {
        if r.in_item {
            let (fields, values) = self.item?;
            let field = fields.iter().find(|f| f.id == r.id)?;
            if !self.shown_at(field, depth) {
                return None;
            }
            values.get(r.id)
        } else {
            let top = Scope { fields: self.fields, values: self.values, item: None };
            let field = self.fields.iter().find(|f| f.id == r.id)?;
            if !top.shown_at(field, depth) {
                return None;
            }
            self.values.get(r.id)
        }
    }
}

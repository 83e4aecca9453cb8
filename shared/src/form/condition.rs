//! Conditions: comparisons on fields' values combined with all/any/not. Skip logic
//! (`show_if`) and constraints both use them, so one evaluator decides both on both sides.

use std::cmp::Ordering;

use crate::record::{FieldValue, Values};

use super::Field;

#[derive(Debug)]
pub enum Condition {
    Compare { field: FieldRef, op: Comparison },
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

/// The field a comparison reads: a sibling in the same group item, or a field of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    pub id: &'static str,
    pub in_item: bool,
}

#[derive(Debug)]
pub enum Comparison {
    /// The field is set and equal to the literal.
    Equals(Literal),
    /// The field is unset or different: "not equal to yes" holds for an unanswered question.
    NotEquals(Literal),
    /// Numbers by value, dates and date-times by their ISO text (which sorts by time).
    LessThan(Literal),
    GreaterThan(Literal),
    /// `true`: the field has a value (a select-many with at least one choice, a group with
    /// at least one item); `false`: it has none.
    IsSet(bool),
    /// A select-many field includes this choice.
    Includes(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Bool(bool),
    Number(f64),
    Text(&'static str),
}

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

    /// Every field the condition reads.
    pub fn refs(&self) -> Vec<FieldRef> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs(&self, out: &mut Vec<FieldRef>) {
        match self {
            Condition::Compare { field, .. } => out.push(*field),
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.collect_refs(out)),
            Condition::Not(c) => c.collect_refs(out),
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

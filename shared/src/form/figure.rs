//! Working out a form's [`Figure`]s from one record's values, for its summary.
//!
//! Skip logic applies as everywhere: a hidden field counts as unset, so a mediation whose
//! outcome hides the agreement text, or a group item whose field is hidden, adds nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::{FieldValue, Values};

use super::condition::Scope;
use super::{FigureRule, Form};

/// One figure of one record (in a summary), or of many added up (in a report): `n`, and for
/// a figure over group items, how many items have each value of its `by` field (`""`: none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub n: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by: BTreeMap<String, f64>,
}

impl Tally {
    fn of(n: f64) -> Tally {
        Tally { n, by: BTreeMap::new() }
    }

    /// Adds another tally to this one.
    pub fn add(&mut self, other: &Tally) {
        self.n += other.n;
        for (k, v) in &other.by {
            *self.by.entry(k.clone()).or_default() += v;
        }
    }

    /// Whether the record adds anything to the figure (or, with `by`, to that part of it).
    pub fn counts(&self, by: Option<&str>) -> bool {
        match by {
            None => self.n != 0.0,
            Some(key) => self.by.get(key).is_some_and(|v| *v != 0.0),
        }
    }
}

impl Form {
    /// Every figure of the form for a record with these values, by figure id; a figure the
    /// record adds nothing to is left out (summaries stay small).
    pub fn tally(&self, values: &Values) -> BTreeMap<String, Tally> {
        let scope = Scope { fields: self.fields, values, item: None };
        let shown = |id: &str| self.field(id).filter(|f| scope.shown(f)).and_then(|f| values.get(f.id));
        let mut out = BTreeMap::new();
        for figure in self.figures {
            let tally = match &figure.rule {
                FigureRule::Records => Tally::of(1.0),
                FigureRule::CountIf(condition) => Tally::of(if scope.holds(condition) { 1.0 } else { 0.0 }),
                FigureRule::Sum(id) => Tally::of(shown(id).and_then(number).unwrap_or(0.0)),
                FigureRule::Items { group, by } => {
                    let Some(FieldValue::Group(items)) = shown(group) else { continue };
                    let mut tally = Tally::of(items.len() as f64);
                    if let (Some(by), Some(g)) = (by, self.field(group)) {
                        let sub = g.sub_fields().iter().find(|f| f.id == *by);
                        for item in items {
                            let item_scope = Scope { fields: self.fields, values, item: Some((g.sub_fields(), &item.values)) };
                            let key = sub
                                .filter(|f| item_scope.shown(f))
                                .and_then(|f| item.values.get(f.id))
                                .and_then(FieldValue::as_str)
                                .map(|s| s.trim().to_owned())
                                .unwrap_or_default();
                            *tally.by.entry(key).or_default() += 1.0;
                        }
                    }
                    tally
                }
            };
            if tally.n != 0.0 {
                out.insert(figure.id.to_owned(), tally);
            }
        }
        out
    }
}

/// A number field's value; one a buggy peer stored as "NaN" or "inf" counts as unset rather
/// than turning every sum it joins into nonsense.
fn number(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Int(n) => Some(*n as f64),
        FieldValue::Decimal(s) => s.parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

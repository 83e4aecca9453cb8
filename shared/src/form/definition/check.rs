//! The checks a definition's types cannot express, and building the domain types.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::form::date::{canonical_date_time, is_iso_date};
use crate::form::{Choice, Comparison, Condition, Constraint, Field, FieldKind, FieldRef, FieldType, Figure, FigureRule, Form, Literal};
use crate::i18n::L;

use super::{ConditionDef, DefinitionError, DefinitionProblem, FieldDef, FormDef, LabelDef};

/// Checks one form, naming it (and the field at fault) in every error.
pub(super) struct Checker<'d> {
    pub file: &'d str,
    pub form: &'d str,
    pub version: u32,
}

/// Which fields a condition may name: a group item's siblings first, then the record's.
#[derive(Clone, Copy)]
struct Names<'d> {
    top: &'d [FieldDef],
    siblings: Option<&'d [FieldDef]>,
}

impl<'d> Names<'d> {
    fn resolve(&self, id: &str) -> Option<(FieldRef, &'d FieldDef)> {
        let sibling = self.siblings.and_then(|s| s.iter().find(|f| f.id == id));
        if let Some(f) = sibling {
            return Some((FieldRef { id: leak(id), in_item: true }, f));
        }
        let f = self.top.iter().find(|f| f.id == id)?;
        Some((FieldRef { id: leak(id), in_item: false }, f))
    }
}

impl Checker<'_> {
    pub fn err(&self, field: Option<&str>, problem: DefinitionProblem) -> DefinitionError {
        let (file, form, field) = (self.file.to_owned(), self.form.to_owned(), field.map(str::to_owned));
        DefinitionError::Invalid { file, form, version: self.version, field, problem: Box::new(problem) }
    }

    pub fn form(&self, def: &FormDef) -> Result<Form, DefinitionError> {
        for id in [&def.id, &def.kind] {
            if !is_id(id) {
                return Err(self.err(None, DefinitionProblem::BadId(id.clone())));
            }
        }
        if def.version == 0 {
            return Err(self.err(None, DefinitionProblem::BadVersion));
        }
        let kind_label = self.label(&def.kind_label, "kind_label", None)?;
        let title = self.label(&def.title, "title", None)?;
        let names = Names { top: &def.fields, siblings: None };
        let fields = self.fields(&def.fields, "", names)?;
        self.no_cycles(fields, "")?;
        for group in fields.iter().filter(|f| !f.sub_fields().is_empty()) {
            self.no_cycles(group.sub_fields(), &format!("{}.", group.id))?;
        }

        let title_field = fields
            .iter()
            .find(|f| f.id == def.title_field)
            .ok_or_else(|| self.err(None, DefinitionProblem::NoSuchField { which: "title_field", field: def.title_field.clone() }))?;
        let kind = title_field.ty.kind();
        if !matches!(kind, FieldKind::Text | FieldKind::SelectOne | FieldKind::Date) {
            return Err(self.err(None, DefinitionProblem::BadTitleType { field: def.title_field.clone(), kind }));
        }
        if title_field.personal {
            return Err(self.err(None, DefinitionProblem::PersonalTitle(def.title_field.clone())));
        }
        let title_field = title_field.id;
        let category_field = match &def.category_field {
            None => None,
            Some(id) => {
                let f = fields
                    .iter()
                    .find(|f| f.id == id)
                    .ok_or_else(|| self.err(None, DefinitionProblem::NoSuchField { which: "category_field", field: id.clone() }))?;
                if f.ty.kind() != FieldKind::SelectOne {
                    return Err(self.err(None, DefinitionProblem::BadCategory(id.clone())));
                }
                Some(f.id)
            }
        };
        let figures = self.figures(def, fields, names)?;
        Ok(Form {
            id: leak(&def.id),
            version: def.version,
            kind: leak(&def.kind),
            kind_label,
            title,
            fields,
            title_field,
            category_field,
            figures,
        })
    }

    fn figures(&self, def: &FormDef, fields: &'static [Field], names: Names) -> Result<&'static [Figure], DefinitionError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for f in &def.figures {
            let bad = |message: &str| self.err(None, DefinitionProblem::BadFigure { figure: f.id.clone(), message: message.into() });
            if !is_id(&f.id) {
                return Err(self.err(None, DefinitionProblem::BadId(f.id.clone())));
            }
            if !seen.insert(f.id.as_str()) {
                return Err(bad("duplicate figure id"));
            }
            let field = |id: &str| fields.iter().find(|x| x.id == id).ok_or_else(|| bad(&format!("\"{id}\" is not a field of the form")));
            let rule = match (f.records, &f.count_if, &f.sum, &f.items) {
                (true, None, None, None) => FigureRule::Records,
                (false, Some(c), None, None) => FigureRule::CountIf(self.condition(c, "count_if", &format!("figures.{}", f.id), names)?),
                (false, None, Some(id), None) => {
                    let target = field(id)?;
                    if !matches!(target.ty.kind(), FieldKind::Integer | FieldKind::Decimal) {
                        return Err(bad(&format!("sum needs an integer or decimal field; \"{id}\" is {}", target.ty.kind())));
                    }
                    FigureRule::Sum(target.id)
                }
                (false, None, None, Some(id)) => {
                    let group = field(id)?;
                    if group.ty.kind() != FieldKind::Group {
                        return Err(bad(&format!("items needs a group; \"{id}\" is {}", group.ty.kind())));
                    }
                    let by = match &f.by {
                        None => None,
                        Some(by) => {
                            let sub = group
                                .sub_fields()
                                .iter()
                                .find(|x| x.id == by)
                                .ok_or_else(|| bad(&format!("group \"{id}\" has no field \"{by}\"")))?;
                            if !matches!(sub.ty.kind(), FieldKind::Text | FieldKind::SelectOne) {
                                return Err(bad(&format!("by needs a text or select_one field; \"{by}\" is {}", sub.ty.kind())));
                            }
                            // Figures are kept in summaries and shown on the dashboard: never a name.
                            if sub.personal {
                                return Err(bad(&format!("by \"{by}\" is personal; figures must never count by it")));
                            }
                            Some(sub.id)
                        }
                    };
                    FigureRule::Items { group: group.id, by }
                }
                _ => return Err(bad("give exactly one of records, count_if, sum, items")),
            };
            if f.by.is_some() && !matches!(rule, FigureRule::Items { .. }) {
                return Err(bad("by goes only with items"));
            }
            out.push(Figure { id: leak(&f.id), label: self.label(&f.label, &format!("figure {} label", f.id), None)?, rule });
        }
        Ok(out.leak())
    }

    fn fields(&self, defs: &[FieldDef], prefix: &str, names: Names) -> Result<&'static [Field], DefinitionError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for def in defs {
            let path = format!("{prefix}{}", def.id);
            if !seen.insert(def.id.as_str()) {
                return Err(self.err(Some(&path), DefinitionProblem::DuplicateField(def.id.clone())));
            }
            out.push(self.field(def, &path, names)?);
        }
        Ok(out.leak())
    }

    fn field(&self, def: &FieldDef, path: &str, names: Names) -> Result<Field, DefinitionError> {
        let at = Some(path);
        let err = |problem| self.err(at, problem);
        if !is_id(&def.id) {
            return Err(err(DefinitionProblem::BadId(def.id.clone())));
        }
        if names.siblings.is_some() && def.id == "id" {
            return Err(err(DefinitionProblem::ReservedId));
        }
        let kind = def.ty;
        let misplaced = |param| err(DefinitionProblem::Misplaced { param, kind });
        let numeric = matches!(kind, FieldKind::Integer | FieldKind::Decimal);
        let params: [(&'static str, bool, bool); 6] = [
            ("min", def.min.is_some(), numeric),
            ("max", def.max.is_some(), numeric),
            ("places", def.places.is_some(), kind == FieldKind::Decimal),
            ("choices", def.choices.is_some(), matches!(kind, FieldKind::SelectOne | FieldKind::SelectMany)),
            ("fields", def.fields.is_some(), kind == FieldKind::Group),
            ("accept", def.accept.is_some(), kind == FieldKind::Attachment),
        ];
        if let Some((param, _, _)) = params.iter().find(|(_, given, applies)| *given && !applies) {
            return Err(misplaced(*param));
        }
        if let (Some(min), Some(max)) = (def.min, def.max)
            && min > max
        {
            return Err(err(DefinitionProblem::MinAboveMax { min, max }));
        }

        let ty = match kind {
            FieldKind::Text => FieldType::Text,
            FieldKind::LongText => FieldType::LongText,
            FieldKind::Integer => {
                let whole = |which, v: Option<f64>| match v {
                    Some(v) if v.fract() != 0.0 || v.abs() > 9e15 => Err(err(DefinitionProblem::NotWhole { which, value: v })),
                    v => Ok(v.map(|v| v as i64)),
                };
                FieldType::Integer { min: whole("min", def.min)?, max: whole("max", def.max)? }
            }
            FieldKind::Decimal => {
                let places = def.places.unwrap_or(2);
                if places > 6 {
                    return Err(err(DefinitionProblem::TooManyPlaces(places)));
                }
                FieldType::Decimal { min: def.min, max: def.max, places }
            }
            FieldKind::Date => FieldType::Date,
            FieldKind::DateTime => FieldType::DateTime,
            FieldKind::YesNo => FieldType::YesNo,
            FieldKind::SelectOne => FieldType::SelectOne(self.choices(def, path)?),
            FieldKind::SelectMany => FieldType::SelectMany(self.choices(def, path)?),
            FieldKind::Phone => FieldType::Phone,
            FieldKind::Group => {
                if names.siblings.is_some() {
                    return Err(err(DefinitionProblem::NestedGroup));
                }
                let subs = def.fields.as_deref().unwrap_or_default();
                if subs.is_empty() {
                    return Err(err(DefinitionProblem::EmptyGroup));
                }
                let inner = Names { top: names.top, siblings: Some(subs) };
                FieldType::Group(self.fields(subs, &format!("{path}."), inner)?)
            }
            FieldKind::Attachment => {
                let accept = def.accept.as_deref().unwrap_or_default();
                if let Some(bad) = accept.iter().find(|a| !is_mime_pattern(a)) {
                    return Err(err(DefinitionProblem::BadAccept(bad.clone())));
                }
                FieldType::Attachment { accept: accept.iter().map(|a| leak(a)).collect::<Vec<_>>().leak() }
            }
            FieldKind::Signature => FieldType::Signature,
        };

        let show_if = match &def.show_if {
            None => None,
            Some(c) => Some(self.condition(c, "show_if", path, names)?),
        };
        let mut constraints = Vec::new();
        for (i, c) in def.constraints.iter().enumerate() {
            let at = format!("constraint {}", i + 1);
            constraints.push(Constraint {
                check: self.condition(&c.check, &at, path, names)?,
                message: self.label(&c.message, &format!("{at} message"), Some(path))?,
            });
        }
        Ok(Field {
            id: leak(&def.id),
            label: self.label(&def.label, "label", Some(path))?,
            hint: match &def.hint {
                None => None,
                Some(h) => Some(self.label(h, "hint", Some(path))?),
            },
            ty,
            required: def.required,
            personal: def.personal,
            show_if,
            constraints: constraints.leak(),
        })
    }

    fn choices(&self, def: &FieldDef, path: &str) -> Result<&'static [Choice], DefinitionError> {
        let defs = def.choices.as_deref().unwrap_or_default();
        if defs.is_empty() {
            return Err(self.err(Some(path), DefinitionProblem::NoChoices(def.ty)));
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for c in defs {
            if !is_id(&c.id) {
                return Err(self.err(Some(path), DefinitionProblem::BadId(c.id.clone())));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(self.err(Some(path), DefinitionProblem::DuplicateChoice(c.id.clone())));
            }
            let label = self.label(&c.label, &format!("choice \"{}\" label", c.id), Some(path))?;
            out.push(Choice { id: leak(&c.id), label });
        }
        Ok(out.leak())
    }

    fn label(&self, def: &LabelDef, what: &str, field: Option<&str>) -> Result<L, DefinitionError> {
        let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(leak);
        let zh = text(&def.zh).ok_or_else(|| self.err(field, DefinitionProblem::NoChinese(what.into())))?;
        let en = text(&def.en).ok_or_else(|| self.err(field, DefinitionProblem::NoEnglish(what.into())))?;
        Ok(L::new(zh, en))
    }

    /// `at` says where the condition is (`show_if`, `constraint 2`), `path` which field has it.
    fn condition(&self, def: &ConditionDef, at: &str, path: &str, names: Names) -> Result<Condition, DefinitionError> {
        let bad = |message: String| self.err(Some(path), DefinitionProblem::BadCondition { at: at.into(), message });
        let ops: [(&str, bool); 9] = [
            ("equals", def.equals.is_some()),
            ("not_equals", def.not_equals.is_some()),
            ("less_than", def.less_than.is_some()),
            ("greater_than", def.greater_than.is_some()),
            ("is_set", def.is_set.is_some()),
            ("includes", def.includes.is_some()),
            ("all", def.all.is_some()),
            ("any", def.any.is_some()),
            ("not", def.not.is_some()),
        ];
        let given: Vec<&str> = ops.iter().filter(|(_, g)| *g).map(|(name, _)| *name).collect();
        let [op] = given.as_slice() else {
            let names: Vec<&str> = ops.iter().map(|(n, _)| *n).collect();
            return Err(bad(format!("give exactly one of {}", names.join(", "))));
        };
        let list = |cs: &Vec<ConditionDef>| -> Result<&'static [Condition], DefinitionError> {
            if cs.is_empty() {
                return Err(bad(format!("\"{op}\" needs at least one condition")));
            }
            Ok(cs.iter().map(|c| self.condition(c, at, path, names)).collect::<Result<Vec<_>, _>>()?.leak())
        };
        let combined = match (&def.all, &def.any, &def.not) {
            (Some(cs), _, _) => Some(Condition::All(list(cs)?)),
            (_, Some(cs), _) => Some(Condition::Any(list(cs)?)),
            (_, _, Some(c)) => Some(Condition::Not(Box::leak(Box::new(self.condition(c, at, path, names)?)))),
            _ => None,
        };
        if let Some(c) = combined {
            if def.field.is_some() {
                return Err(bad(format!("\"field\" does not go with \"{op}\"")));
            }
            return Ok(c);
        }

        let Some(id) = &def.field else {
            return Err(bad(format!("\"{op}\" needs \"field\"")));
        };
        let (field, target) =
            names.resolve(id).ok_or_else(|| self.err(Some(path), DefinitionProblem::UnknownField { at: at.into(), field: id.clone() }))?;
        let kind = target.ty;
        let misfit = |shown: String| bad(format!("{op} {shown} does not fit the {kind} field \"{id}\""));
        let has_choice = |choice: &str| target.choices.iter().flatten().any(|c| c.id == choice);
        let unknown_choice = |choice: &str| {
            self.err(Some(path), DefinitionProblem::UnknownChoice { at: at.into(), field: id.clone(), choice: choice.into() })
        };

        let literal = |v: &Value, ordered: bool| -> Result<Literal, DefinitionError> {
            let lit = match v {
                Value::Bool(b) => Literal::Bool(*b),
                Value::Number(n) => Literal::Number(n.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => Literal::Text(leak(s)),
                other => return Err(misfit(other.to_string())),
            };
            let fits = match (&lit, kind) {
                (Literal::Bool(_), FieldKind::YesNo) => !ordered,
                (Literal::Number(_), FieldKind::Integer | FieldKind::Decimal) => true,
                (Literal::Text(s), FieldKind::Date) => is_iso_date(s),
                (Literal::Text(s), FieldKind::DateTime) => canonical_date_time(s).as_deref() == Some(*s),
                (Literal::Text(_), FieldKind::Text | FieldKind::LongText | FieldKind::Phone) => !ordered,
                (Literal::Text(s), FieldKind::SelectOne) if !ordered => {
                    if !has_choice(s) {
                        return Err(unknown_choice(s));
                    }
                    true
                }
                _ => false,
            };
            if !fits {
                return Err(misfit(v.to_string()));
            }
            Ok(lit)
        };

        let op = match def {
            ConditionDef { equals: Some(v), .. } => Comparison::Equals(literal(v, false)?),
            ConditionDef { not_equals: Some(v), .. } => Comparison::NotEquals(literal(v, false)?),
            ConditionDef { less_than: Some(v), .. } => Comparison::LessThan(literal(v, true)?),
            ConditionDef { greater_than: Some(v), .. } => Comparison::GreaterThan(literal(v, true)?),
            ConditionDef { is_set: Some(b), .. } => Comparison::IsSet(*b),
            ConditionDef { includes: Some(choice), .. } => {
                if kind != FieldKind::SelectMany {
                    return Err(misfit(format!("\"{choice}\"")));
                }
                if !has_choice(choice) {
                    return Err(unknown_choice(choice));
                }
                Comparison::Includes(leak(choice))
            }
            _ => unreachable!("exactly one operator was given"),
        };
        Ok(Condition::Compare { field, op })
    }

    /// Skip logic must not go round in circles: a field shown only when it is itself filled
    /// in (a required one could never be asked for), or two fields each shown only when the
    /// other is.
    fn no_cycles(&self, fields: &[Field], prefix: &str) -> Result<(), DefinitionError> {
        let in_item = !prefix.is_empty();
        let deps = |f: &Field| -> Vec<&'static str> {
            let refs = f.show_if.as_ref().map(Condition::refs).unwrap_or_default();
            refs.into_iter().filter(|r| r.in_item == in_item).map(|r| r.id).collect()
        };
        for f in fields {
            if deps(f).contains(&f.id) {
                return Err(self.err(Some(&format!("{prefix}{}", f.id)), DefinitionProblem::SelfReference));
            }
        }
        // Depth-first search; `path` is the chain being explored, `done` what has no cycle.
        fn visit<'f>(
            id: &'static str,
            fields: &'f [Field],
            deps: &dyn Fn(&Field) -> Vec<&'static str>,
            path: &mut Vec<&'static str>,
            done: &mut BTreeSet<&'static str>,
        ) -> Option<Vec<&'static str>> {
            if let Some(start) = path.iter().position(|p| *p == id) {
                let mut cycle = path[start..].to_vec();
                cycle.push(id);
                return Some(cycle);
            }
            if done.contains(id) {
                return None;
            }
            let field = fields.iter().find(|f| f.id == id)?;
            path.push(id);
            for next in deps(field) {
                if let Some(cycle) = visit(next, fields, deps, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            done.insert(id);
            None
        }
        let mut done = BTreeSet::new();
        for f in fields {
            if let Some(cycle) = visit(f.id, fields, &deps, &mut Vec::new(), &mut done) {
                let shown: Vec<String> = cycle.iter().map(|id| format!("\"{prefix}{id}\"")).collect();
                let at = format!("{prefix}{}", cycle[0]);
                return Err(self.err(Some(&at), DefinitionProblem::Cycle(shown.join(" → "))));
            }
        }
        Ok(())
    }
}

fn is_mime_pattern(s: &str) -> bool {
    let token = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b".+-".contains(&b);
    let part = |p: &str| !p.is_empty() && p.bytes().all(token);
    match s.split_once('/') {
        Some((major, minor)) => part(major) && (minor == "*" || part(minor)),
        None => false,
    }
}

/// Strings (and, with `Vec::leak`, lists) of a checked form live as long as the process:
/// see the module comment of `definition`.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn is_id(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase()) && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

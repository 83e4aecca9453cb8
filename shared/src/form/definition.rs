//! The definition file format, and turning one file into a checked [`Form`].
//!
//! This is the code `shared/build/main.rs` runs on every file in `shared/forms/` (it compiles
//! this module in with `#[path]`), so a definition is checked once, when the crate is built, and
//! the checked forms become `static` data. The library has it only with the `definitions`
//! feature, for tests that read definitions of their own.
//!
//! The `*Def` types mirror `shared/forms/form.schema.json` key for key (a test keeps them
//! honest) and refuse unknown keys, so a typo in a definition is an error, not a silently
//! missing rule. They stay at the edge: [`Form::from_json`] checks everything a type cannot
//! say (ids, labels in both languages, references in conditions, ranges) and builds the
//! domain types.
//!
//! Strings and lists of a checked form are leaked into `'static`, the lifetime of the built-in
//! forms (see `model`): the build script and tests parse a handful of forms per process.

mod check;

use serde::Deserialize;
use serde_json::Value;

use check::Checker;

use super::{Field, FieldKind, Form};

/// One form definition file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// Lets editors find the schema; ignored here.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    pub id: String,
    pub version: u32,
    pub kind: String,
    pub kind_label: LabelDef,
    pub title: LabelDef,
    pub title_field: String,
    #[serde(default)]
    pub category_field: Option<String>,
    pub fields: Vec<FieldDef>,
    #[serde(default)]
    pub figures: Vec<FigureDef>,
}

/// A figure the dashboard adds up: exactly one of `records`, `count_if`, `sum` or `items`
/// (with `by`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureDef {
    pub id: String,
    pub label: LabelDef,
    /// `true`: every record counts.
    #[serde(default)]
    pub records: bool,
    #[serde(default)]
    pub count_if: Option<ConditionDef>,
    #[serde(default)]
    pub sum: Option<String>,
    #[serde(default)]
    pub items: Option<String>,
    #[serde(default)]
    pub by: Option<String>,
}

/// A text in both languages. Both keys are optional to serde so that a missing one gets
/// this module's error (which says which label), not serde's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelDef {
    #[serde(default)]
    pub zh: Option<String>,
    #[serde(default)]
    pub en: Option<String>,
}

/// A field. Type parameters (`min`, `choices`, `fields`, …) sit beside `type` rather than in a
/// nested object: flatter files are easier to write by hand, and a parameter on the wrong type
/// is reported by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub id: String,
    #[serde(rename = "type")]
    pub ty: FieldKind,
    pub label: LabelDef,
    #[serde(default)]
    pub hint: Option<LabelDef>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub personal: bool,
    #[serde(default)]
    pub show_if: Option<ConditionDef>,
    #[serde(default)]
    pub constraints: Vec<ConstraintDef>,
    /// integer, decimal
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// decimal: most digits after the point (default 2)
    #[serde(default)]
    pub places: Option<u8>,
    /// select_one, select_many
    #[serde(default)]
    pub choices: Option<Vec<ChoiceDef>>,
    /// group
    #[serde(default)]
    pub fields: Option<Vec<FieldDef>>,
    /// attachment: MIME patterns
    #[serde(default)]
    pub accept: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceDef {
    pub id: String,
    pub label: LabelDef,
}

/// Exactly one of: a comparison (`field` with one operator), `all`, `any` or `not`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionDef {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub not_equals: Option<Value>,
    #[serde(default)]
    pub less_than: Option<Value>,
    #[serde(default)]
    pub greater_than: Option<Value>,
    #[serde(default)]
    pub is_set: Option<bool>,
    #[serde(default)]
    pub includes: Option<String>,
    #[serde(default)]
    pub all: Option<Vec<ConditionDef>>,
    #[serde(default)]
    pub any: Option<Vec<ConditionDef>>,
    #[serde(default)]
    pub not: Option<Box<ConditionDef>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintDef {
    pub check: ConditionDef,
    pub message: LabelDef,
}

/// Why a definition file cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DefinitionError {
    /// Not JSON, or no readable `id` and `version` to name the form by.
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file}: holds form \"{form}\" v{version}, so it must be named {expected}")]
    FileName { file: String, form: String, version: u32, expected: String },
    /// The problem is boxed to keep every `Result` that carries this error small.
    #[error("{file}: form \"{form}\" v{version}{}: {problem}", field_part(.field))]
    Invalid { file: String, form: String, version: u32, field: Option<String>, problem: Box<DefinitionProblem> },
}

/// What is wrong with a form or one of its fields.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DefinitionProblem {
    /// A key or value serde refused: unknown keys, wrong JSON types, missing keys.
    #[error("{0}")]
    Shape(String),
    #[error("{0} has no Chinese text")]
    NoChinese(String),
    #[error("{0} has no English text")]
    NoEnglish(String),
    #[error("id \"{0}\" must start with a lower-case letter and use only a-z, 0-9 and _")]
    BadId(String),
    #[error("version must be 1 or more")]
    BadVersion,
    #[error("duplicate field id \"{0}\"")]
    DuplicateField(String),
    #[error("duplicate choice id \"{0}\"")]
    DuplicateChoice(String),
    #[error("a {0} field needs at least one choice")]
    NoChoices(FieldKind),
    #[error("a group needs at least one field")]
    EmptyGroup,
    #[error("a group cannot contain another group")]
    NestedGroup,
    #[error("\"id\" is reserved for the item id in a group")]
    ReservedId,
    #[error("`{param}` does not apply to a {kind} field")]
    Misplaced { param: &'static str, kind: FieldKind },
    #[error("min {min} is greater than max {max}")]
    MinAboveMax { min: f64, max: f64 },
    #[error("{which} {value} is not a whole number")]
    NotWhole { which: &'static str, value: f64 },
    #[error("places {0} is more than 6")]
    TooManyPlaces(u8),
    #[error("accept \"{0}\" is not a MIME type such as image/* or application/pdf")]
    BadAccept(String),
    #[error("{at} refers to unknown field \"{field}\"")]
    UnknownField { at: String, field: String },
    #[error("show_if refers to the field itself")]
    SelfReference,
    #[error("show_if conditions form a cycle: {0}")]
    Cycle(String),
    #[error("{at}: {message}")]
    BadCondition { at: String, message: String },
    #[error("{at}: field \"{field}\" has no choice \"{choice}\"")]
    UnknownChoice { at: String, field: String, choice: String },
    #[error("{which} \"{field}\" is not a field of the form")]
    NoSuchField { which: &'static str, field: String },
    #[error("title_field \"{field}\" is a {kind} field; it must be text, select_one or date")]
    BadTitleType { field: String, kind: FieldKind },
    #[error("title_field \"{0}\" is personal; lists must never show it")]
    PersonalTitle(String),
    #[error("category_field \"{0}\" must be a select_one field")]
    BadCategory(String),
    #[error("figure \"{figure}\": {message}")]
    BadFigure { figure: String, message: String },
    #[error("kind changed from \"{old}\" in v{version}")]
    KindChanged { old: String, version: u32 },
    #[error("type changed from {old} in v{version} to {new}; give the new meaning a new field id")]
    TypeChanged { old: FieldKind, version: u32, new: FieldKind },
}

impl Form {
    /// Reads and checks one definition; `file` names it in errors.
    pub fn from_json(file: &str, source: &str) -> Result<Form, DefinitionError> {
        parse(file, source)
    }
}

/// Reads and checks a set of definition files (`(file name, contents)`), as the build does
/// with `shared/forms/`: each file on its own, its name against the form it holds, and every
/// version of a form against every older one. The forms come back sorted by id, then version.
///
/// Every error is reported, not just the first, so one build names every broken file.
pub fn load(sources: &[(&str, &str)]) -> Result<Vec<Form>, Vec<DefinitionError>> {
    let mut forms = Vec::new();
    let mut errors = Vec::new();
    for (file, source) in sources {
        match Form::from_json(file, source) {
            Ok(form) => {
                let expected = file_name(&form);
                if *file == expected {
                    forms.push(form);
                } else {
                    let (form, version) = (form.id.to_owned(), form.version);
                    errors.push(DefinitionError::FileName { file: (*file).to_owned(), form, version, expected });
                }
            }
            Err(e) => errors.push(e),
        }
    }
    forms.sort_by(|a, b| (a.id, a.version).cmp(&(b.id, b.version)));
    // Every pair, not only neighbours: a field dropped in v2 may come back in v3.
    for (i, newer) in forms.iter().enumerate() {
        for older in forms[..i].iter().filter(|o| o.id == newer.id) {
            if let Err(e) = check_compatible(older, newer) {
                errors.push(e);
            }
        }
    }
    if errors.is_empty() { Ok(forms) } else { Err(errors) }
}

/// Reads and checks one definition; `file` names it in every error.
fn parse(file: &str, source: &str) -> Result<Form, DefinitionError> {
    let unreadable = |message: String| DefinitionError::Unreadable { file: file.to_owned(), message };
    let raw: Value = serde_json::from_str(source).map_err(|e| unreadable(format!("not valid JSON: {e}")))?;
    let def = FormDef::deserialize(&raw);
    let id = raw.get("id").and_then(Value::as_str);
    let version = raw.get("version").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
    let (Some(id), Some(version)) = (id, version) else {
        return Err(unreadable(match def {
            Err(e) => e.to_string(),
            Ok(_) => "needs a string `id` and a whole-number `version`".into(),
        }));
    };
    let checker = Checker { file, form: id, version };
    match def {
        Ok(def) => checker.form(&def),
        Err(e) => {
            // serde does not say where inside `fields` it stopped; find the field it refused.
            let (field, message) = match raw.get("fields").and_then(|f| locate(f, "")) {
                Some((path, message)) => (Some(path), message),
                None => (None, e.to_string()),
            };
            Err(checker.err(field.as_deref(), DefinitionProblem::Shape(message)))
        }
    }
}

/// Checks that `newer` can open records made with `older`: same kind, and every field id
/// the two share keeps its type (a record stores values by field id, so a new meaning needs
/// a new id).
pub fn check_compatible(older: &Form, newer: &Form) -> Result<(), DefinitionError> {
    let file = file_name(newer);
    let checker = Checker { file: &file, form: newer.id, version: newer.version };
    if older.kind != newer.kind {
        let problem = DefinitionProblem::KindChanged { old: older.kind.into(), version: older.version };
        return Err(checker.err(None, problem));
    }
    compare_fields(&checker, older.version, older.fields, newer.fields, "")
}

fn compare_fields(checker: &Checker, version: u32, old: &[Field], new: &[Field], prefix: &str) -> Result<(), DefinitionError> {
    for n in new {
        let Some(o) = old.iter().find(|o| o.id == n.id) else { continue };
        let path = format!("{prefix}{}", n.id);
        let (old_kind, new_kind) = (o.ty.kind(), n.ty.kind());
        if old_kind != new_kind {
            let problem = DefinitionProblem::TypeChanged { old: old_kind, version, new: new_kind };
            return Err(checker.err(Some(&path), problem));
        }
        compare_fields(checker, version, o.sub_fields(), n.sub_fields(), &format!("{path}."))?;
    }
    Ok(())
}

/// The path (`attendees.name`) and serde's message for the first field serde refuses.
fn locate(fields: &Value, prefix: &str) -> Option<(String, String)> {
    for (i, f) in fields.as_array()?.iter().enumerate() {
        if let Err(e) = FieldDef::deserialize(f) {
            let name = f.get("id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("#{}", i + 1));
            let path = format!("{prefix}{name}");
            return f.get("fields").and_then(|sub| locate(sub, &format!("{path}."))).or(Some((path, e.to_string())));
        }
    }
    None
}

/// The file a form must be in: `intake.v2.json`.
fn file_name(form: &Form) -> String {
    format!("{}.v{}.json", form.id, form.version)
}

fn field_part(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!(", field \"{f}\"")).unwrap_or_default()
}

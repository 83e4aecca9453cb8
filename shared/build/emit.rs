//! Checked forms written out as Rust: `static` data in the types of `form::model`.
//!
//! Every value is taken apart field by field (no `..`), so a field added to the model does not
//! compile here until it is written out too; a test compares the compiled-in forms with the
//! same files parsed at run time.

use crate::form::{Choice, Comparison, Condition, Constraint, Field, FieldRef, FieldType, Figure, FigureRule, Form, Literal};
use crate::i18n::L;

/// The contents of `$OUT_DIR/forms.rs`: `FORMS`, in the order given.
pub fn forms(forms: &[Form]) -> String {
    let mut out = String::from("// Written by shared/build/main.rs from shared/forms/*.json: do not edit.\n\n");
    out.push_str("#[allow(unused_imports)]\n");
    out.push_str(
        "use crate::form::{Choice, Comparison, Condition, Constraint, Field, FieldRef, FieldType, Figure, FigureRule, Form, Literal};\n",
    );
    out.push_str("#[allow(unused_imports)]\nuse crate::i18n::L;\n\n");
    out.push_str("/// Every form definition in `shared/forms/`, sorted by id, then version.\n");
    out.push_str(&format!("pub(super) static FORMS: &[Form] = {};\n", forms.rust()));
    out
}

/// A Rust expression that builds the value in a `static`.
pub(crate) trait Rust {
    fn rust(&self) -> String;
}

impl Rust for str {
    fn rust(&self) -> String {
        // Debug output is a string literal with Rust's escapes.
        format!("{self:?}")
    }
}

impl<T: Rust + ?Sized> Rust for &T {
    fn rust(&self) -> String {
        (**self).rust()
    }
}

/// Every slice in the model is a `&'static [T]`.
impl<T: Rust> Rust for [T] {
    fn rust(&self) -> String {
        let items: Vec<String> = self.iter().map(Rust::rust).collect();
        format!("&[{}]", items.join(",\n"))
    }
}

impl<T: Rust> Rust for Option<T> {
    fn rust(&self) -> String {
        match self {
            Some(v) => format!("Some({})", v.rust()),
            None => "None".into(),
        }
    }
}

impl Rust for bool {
    fn rust(&self) -> String {
        self.to_string()
    }
}

impl Rust for u8 {
    fn rust(&self) -> String {
        self.to_string()
    }
}

impl Rust for u32 {
    fn rust(&self) -> String {
        self.to_string()
    }
}

impl Rust for i64 {
    fn rust(&self) -> String {
        self.to_string()
    }
}

impl Rust for f64 {
    fn rust(&self) -> String {
        // Debug output reads back as the same number and always has a `.` or an exponent, so
        // it is an f64 literal. JSON has no NaN or infinity.
        assert!(self.is_finite(), "{self} in a definition");
        format!("{self:?}")
    }
}

impl Rust for L {
    fn rust(&self) -> String {
        let L { zh, en } = self;
        format!("L {{ zh: {}, en: {} }}", zh.rust(), en.rust())
    }
}

impl Rust for Form {
    fn rust(&self) -> String {
        let Form { id, version, kind, kind_label, title, fields, title_field, category_field, figures } = self;
        format!(
            "Form {{ id: {}, version: {}, kind: {}, kind_label: {}, title: {}, title_field: {}, category_field: {},\nfields: {},\nfigures: {} }}",
            id.rust(),
            version.rust(),
            kind.rust(),
            kind_label.rust(),
            title.rust(),
            title_field.rust(),
            category_field.rust(),
            fields.rust(),
            figures.rust(),
        )
    }
}

impl Rust for Figure {
    fn rust(&self) -> String {
        let Figure { id, label, rule } = self;
        let rule = match rule {
            FigureRule::Records => "FigureRule::Records".into(),
            FigureRule::CountIf(c) => format!("FigureRule::CountIf({})", c.rust()),
            FigureRule::Sum(field) => format!("FigureRule::Sum({})", field.rust()),
            FigureRule::Items { group, by } => format!("FigureRule::Items {{ group: {}, by: {} }}", group.rust(), by.rust()),
        };
        format!("Figure {{ id: {}, label: {}, rule: {rule} }}", id.rust(), label.rust())
    }
}

impl Rust for Field {
    fn rust(&self) -> String {
        let Field { id, label, hint, ty, required, personal, show_if, constraints } = self;
        format!(
            "Field {{ id: {}, label: {}, hint: {}, ty: {}, required: {}, personal: {}, show_if: {}, constraints: {} }}",
            id.rust(),
            label.rust(),
            hint.rust(),
            ty.rust(),
            required.rust(),
            personal.rust(),
            show_if.rust(),
            constraints.rust(),
        )
    }
}

impl Rust for FieldType {
    fn rust(&self) -> String {
        match self {
            FieldType::Text => "FieldType::Text".into(),
            FieldType::LongText => "FieldType::LongText".into(),
            FieldType::Integer { min, max } => format!("FieldType::Integer {{ min: {}, max: {} }}", min.rust(), max.rust()),
            FieldType::Decimal { min, max, places } => {
                format!("FieldType::Decimal {{ min: {}, max: {}, places: {} }}", min.rust(), max.rust(), places.rust())
            }
            FieldType::Date => "FieldType::Date".into(),
            FieldType::DateTime => "FieldType::DateTime".into(),
            FieldType::YesNo => "FieldType::YesNo".into(),
            FieldType::SelectOne(choices) => format!("FieldType::SelectOne({})", choices.rust()),
            FieldType::SelectMany(choices) => format!("FieldType::SelectMany({})", choices.rust()),
            FieldType::Phone => "FieldType::Phone".into(),
            FieldType::Group(fields) => format!("FieldType::Group({})", fields.rust()),
            FieldType::Attachment { accept } => format!("FieldType::Attachment {{ accept: {} }}", accept.rust()),
            FieldType::Signature => "FieldType::Signature".into(),
        }
    }
}

impl Rust for Choice {
    fn rust(&self) -> String {
        let Choice { id, label } = self;
        format!("Choice {{ id: {}, label: {} }}", id.rust(), label.rust())
    }
}

impl Rust for Constraint {
    fn rust(&self) -> String {
        let Constraint { check, message } = self;
        format!("Constraint {{ check: {}, message: {} }}", check.rust(), message.rust())
    }
}

impl Rust for Condition {
    fn rust(&self) -> String {
        match self {
            Condition::Compare { field, op } => format!("Condition::Compare {{ field: {}, op: {} }}", field.rust(), op.rust()),
            Condition::All(cs) => format!("Condition::All({})", cs.rust()),
            Condition::Any(cs) => format!("Condition::Any({})", cs.rust()),
            Condition::Not(c) => format!("Condition::Not(&{})", c.rust()),
        }
    }
}

impl Rust for FieldRef {
    fn rust(&self) -> String {
        let FieldRef { id, in_item } = self;
        format!("FieldRef {{ id: {}, in_item: {} }}", id.rust(), in_item.rust())
    }
}

impl Rust for Comparison {
    fn rust(&self) -> String {
        match self {
            Comparison::Equals(l) => format!("Comparison::Equals({})", l.rust()),
            Comparison::NotEquals(l) => format!("Comparison::NotEquals({})", l.rust()),
            Comparison::LessThan(l) => format!("Comparison::LessThan({})", l.rust()),
            Comparison::GreaterThan(l) => format!("Comparison::GreaterThan({})", l.rust()),
            Comparison::IsSet(set) => format!("Comparison::IsSet({})", set.rust()),
            Comparison::Includes(choice) => format!("Comparison::Includes({})", choice.rust()),
        }
    }
}

impl Rust for Literal {
    fn rust(&self) -> String {
        match self {
            Literal::Bool(b) => format!("Literal::Bool({})", b.rust()),
            Literal::Number(n) => format!("Literal::Number({})", n.rust()),
            Literal::Text(s) => format!("Literal::Text({})", s.rust()),
        }
    }
}

//! `shared/forms/form.schema.json` says what the Rust definition types accept: the same keys
//! for every object, the same field type names, the same required keys. The key lists come
//! from serde itself (what `Deserialize` asks a deserializer for), so neither side can drift.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;
use shared::form::definition::{ChoiceDef, ConditionDef, ConstraintDef, FieldDef, FigureDef, FormDef, LabelDef};
use shared::form::{FieldKind, Form};

fn schema() -> Value {
    serde_json::from_str(include_str!("../../forms/form.schema.json")).unwrap()
}

/// The keys of a struct (or the variant names of an enum) as serde deserializes them.
fn serde_names<T: Deserialize<'static>>() -> BTreeSet<&'static str> {
    let mut names = Names(&[]);
    let _ = T::deserialize(&mut names);
    names.0.iter().copied().collect()
}

fn schema_keys(object: &Value) -> BTreeSet<&str> {
    assert_eq!(object["additionalProperties"], Value::Bool(false), "unknown keys must be refused: {object}");
    object["properties"].as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn every_object_has_the_same_keys_in_schema_and_code() {
    let schema = schema();
    let defs = &schema["$defs"];
    assert_eq!(schema_keys(&schema), serde_names::<FormDef>(), "form");
    assert_eq!(schema_keys(&defs["field"]), serde_names::<FieldDef>(), "field");
    assert_eq!(schema_keys(&defs["label"]), serde_names::<LabelDef>(), "label");
    assert_eq!(schema_keys(&defs["choice"]), serde_names::<ChoiceDef>(), "choice");
    assert_eq!(schema_keys(&defs["condition"]), serde_names::<ConditionDef>(), "condition");
    assert_eq!(schema_keys(&defs["constraint"]), serde_names::<ConstraintDef>(), "constraint");
    assert_eq!(schema_keys(&defs["figure"]), serde_names::<FigureDef>(), "figure");
}

#[test]
fn every_field_type_is_in_schema_and_code() {
    let schema = schema();
    let in_schema: BTreeSet<&str> =
        schema["$defs"]["field"]["properties"]["type"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(in_schema, serde_names::<FieldKind>());
    for name in in_schema {
        let kind: FieldKind = serde_json::from_value(Value::String(name.into())).unwrap();
        assert_eq!(kind.as_str(), name);
    }
}

/// A form with only the schema's required keys is accepted, and leaving out any one of them
/// is refused: the code requires exactly what the schema does.
#[test]
fn the_required_keys_agree() {
    let schema = schema();
    let required =
        |object: &Value| -> Vec<String> { object["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect() };
    let minimal = serde_json::json!({
        "id": "t", "version": 1, "kind": "t",
        "kind_label": { "zh": "测试", "en": "Test" }, "title": { "zh": "测试", "en": "Test" },
        "title_field": "topic",
        "fields": [{ "id": "topic", "type": "text", "label": { "zh": "主题", "en": "Topic" } }],
    });
    let keys: BTreeSet<String> = minimal.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, required(&schema).into_iter().collect());
    Form::from_json("t.v1.json", &minimal.to_string()).unwrap();
    for key in required(&schema) {
        let mut without = minimal.clone();
        without.as_object_mut().unwrap().remove(&key);
        assert!(Form::from_json("t.v1.json", &without.to_string()).is_err(), "form without {key}");
    }
    for key in required(&schema["$defs"]["field"]) {
        let mut without = minimal.clone();
        without["fields"][0].as_object_mut().unwrap().remove(&key);
        assert!(Form::from_json("t.v1.json", &without.to_string()).is_err(), "field without {key}");
    }
}

#[test]
fn bundled_definitions_point_editors_at_the_schema() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/forms")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "form.schema.json" {
            continue;
        }
        let def: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(def["$schema"], "./form.schema.json", "{name}");
    }
}

/// A deserializer that only records the names `Deserialize` hands it.
struct Names(&'static [&'static str]);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for &mut Names {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, fields: &'static [&'static str], _: V) -> Result<V::Value, Stop> {
        self.0 = fields;
        Err(Stop)
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _: &'static str, variants: &'static [&'static str], _: V) -> Result<V::Value, Stop> {
        self.0 = variants;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

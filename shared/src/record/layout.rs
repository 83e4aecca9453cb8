//! Which fields to show for a record: the newest version of its form, plus what the record
//! holds that this version no longer asks for. A field dropped in a newer version keeps its
//! value, shown read-only, rather than vanishing from a record someone wrote.

use automerge::ReadDoc;

use crate::form::{self, Field, Form};

use super::value::FieldValue;
use super::{Record, RecordError, codec};

#[derive(Debug, Clone)]
pub struct Layout<'f> {
    /// The form to edit with: the newest version of the record's form this build knows.
    pub current: &'f Form,
    /// The version the record was made with, if this build knows it (a newer app may have
    /// made it).
    pub made_with: Option<&'f Form>,
    /// Fields of `current` that `made_with` did not have.
    pub added: Vec<&'f Field>,
    /// Values of fields `current` no longer has, each with the newest version that had the
    /// field: shown read-only.
    pub retired: Vec<Retired<'f>>,
    /// Values no known version has a field for (from a newer app): key and readable text.
    pub unknown: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Retired<'f> {
    pub field: &'f Field,
    pub version: u32,
    pub value: FieldValue,
}

impl Record {
    /// The layout with the forms this build embeds.
    pub fn layout(&self) -> Result<Layout<'static>, RecordError> {
        let meta = self.meta()?;
        self.layout_in(form::versions(&meta.form_id))
    }

    /// The layout with the given versions of the record's form (other forms are ignored).
    pub fn layout_in<'f>(&self, versions: &'f [Form]) -> Result<Layout<'f>, RecordError> {
        let meta = self.meta()?;
        let mut versions: Vec<&'f Form> = versions.iter().filter(|f| f.id == meta.form_id).collect();
        versions.sort_by_key(|f| std::cmp::Reverse(f.version));
        let current = *versions.first().ok_or(RecordError::UnknownForm(meta.form_id.clone(), meta.form_version))?;
        let made_with = versions.iter().copied().find(|f| f.version == meta.form_version);
        let added = match made_with {
            Some(old) => current.fields.iter().filter(|f| old.field(f.id).is_none()).collect(),
            None => Vec::new(),
        };

        let mut retired = Vec::new();
        let mut unknown = Vec::new();
        if let Some(fields) = self.fields_obj() {
            for key in self.doc.keys(&fields) {
                if current.field(&key).is_some() {
                    continue;
                }
                let known = versions.iter().find_map(|f| f.field(&key).map(|field| (f.version, field)));
                match known {
                    Some((version, field)) => {
                        if let Some(value) = codec::read(&self.doc, &fields, field) {
                            retired.push(Retired { field, version, value });
                        }
                    }
                    None => {
                        let Ok(Some((value, id))) = self.doc.get(&fields, key.as_str()) else { continue };
                        let text = codec::raw_text(&self.doc, &value, &id, 0);
                        if !text.is_empty() {
                            unknown.push((key, text));
                        }
                    }
                }
            }
        }
        Ok(Layout { current, made_with, added, retired, unknown })
    }
}

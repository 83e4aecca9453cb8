//! Forms as data: definition files and their errors, the bundled forms, the JSON Schema,
//! typed input, validation and skip logic, merges per field type, and form versions.
//! One test binary, so the crate is linked once.

mod bundled;
mod definition;
mod figures;
mod input;
mod merge;
mod schema;
mod support;
mod validation;
mod versions;

//! liaison's browser app: Leptos (client-side rendering) compiled to WebAssembly.
//!
//! Architecture invariant: only this crate knows the DOM and the browser's storage. Record
//! rules (fields, validation, the document layout) come from `shared`, so the server applies
//! the same ones.

mod api;
pub mod attachments;
mod components;
mod context;
pub mod engine;
mod pages;
pub mod platform;
mod signing;
mod split;
pub mod storage;
mod text;

pub use context::App;

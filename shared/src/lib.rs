//! liaison's network-free core, compiled by both the browser app and the server.
//!
//! Architecture invariant: this crate does no I/O. It knows no socket, no file, no DOM, no
//! clock and no random source; callers pass time and random bytes in. That keeps every rule
//! here testable on a simulated network and identical on both sides.

pub mod agreement;
pub mod api;
pub mod case;
pub mod cst;
pub mod doc_id;
pub mod export;
pub mod form;
pub mod i18n;
pub mod image_meta;
pub mod record;
pub mod report;
pub mod storage_key;
pub mod sync;

pub use doc_id::{DocumentId, DocumentIdError};
pub use record::{FieldValue, Record, RecordError, RecordMeta, RecordSummary};

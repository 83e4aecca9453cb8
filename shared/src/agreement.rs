//! Work-mechanism agreements: clauses two or more organisations draft together (offline, on
//! both sides at once), proposals that freeze one version for signature, Ed25519 signatures
//! over a canonical statement, and the agreement's status derived from all of that.
//!
//! Everything lives under the document's root key `agreement` (a map):
//!
//! | key | value |
//! | --- | --- |
//! | `title`, `preamble` | text, edited with splices |
//! | `effective_date`, `term` | strings (`YYYY-MM-DD`; free text such as "三年") |
//! | `parties` | map: organisation id → `true` (adding and removing merge) |
//! | `clauses` | map: clause id → map `{position, heading, body}`; heading and body are text |
//! | `proposals` | map: proposal id → map `{heads, content, by_user, by_org, at}` |
//! | `signatures` | map: signature id → map `{proposal, user, org, key, at, signature}` |
//!
//! Clauses sit in a map keyed by id with a sortable `position` string, not in a list: moving a
//! clause sets its position (last writer wins), so two parties reordering offline can never
//! duplicate or lose one, and two parties adding clauses both keep theirs.
//!
//! Nothing here stores a status: [`status`] derives it from proposals, signatures, the key
//! directory and the content now, and app and server run the same function.

mod content;
mod draft;
mod order;
mod signing;
mod status;

pub use content::{CONTENT_TAG, Clause, Content, ContentHash};
pub use draft::{
    TextField, Version, add_clause, add_party, clauses, content, content_at, edit_clause, history, init, move_clause, proposals, propose,
    remove_clause, remove_party, set_text, signatures, title, write_proposal, write_signature,
};
pub use order::{between, sort_key};
pub use signing::{
    AgreementSignature, KeyBinding, KeyDirectory, PROPOSAL_TAG, Proposal, SIGNATURE_TAG, SignatureFault, key_id, parse_public_key,
    proposal_id, statement, verify, verify_bytes,
};
pub use status::{AgreementStatus, Invalid, PartyState, State, status};

use thiserror::Error;

/// The record kind (and form id) of agreements: `shared/forms/agreement.v1.json` holds the
/// fields beside the text (reference number, contacts, annexes).
pub const KIND: &str = "agreement";

/// Why an agreement could not be read or changed.
#[derive(Debug, Error)]
pub enum AgreementError {
    #[error("this record is not an agreement (no `agreement` map)")]
    NotAnAgreement,
    #[error("no clause {0}")]
    NoSuchClause(String),
    #[error("a clause {0} exists already")]
    DuplicateClause(String),
    #[error("the document does not have version {0} (yet)")]
    UnknownVersion(String),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
}

//! The HTTP API's request and response bodies, shared so that server and app cannot drift
//! apart. Plain data: no behaviour, no I/O.

use serde::{Deserialize, Serialize};

/// A signed-in person. The organisation decides what they may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub org_id: String,
    pub org_name: String,
    /// The organisation's administrator (set with the server's `user set-role`): sees who
    /// read or changed its records. A member does not.
    #[serde(default)]
    pub admin: bool,
}

/// `POST /api/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The answer to a login: the session the app keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub expires_at: i64,
    pub user: User,
}

/// One document in the change feed (`GET /api/docs?since=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub id: String,
    pub seq: i64,
    /// The document's heads as hex change hashes, sorted: equal heads mean nothing to sync.
    pub heads: Vec<String>,
    /// Whether the asking organisation owns it (and so may share it).
    pub owned: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feed {
    pub docs: Vec<FeedEntry>,
    /// Ask again with `since` set to this to get only what changes next.
    pub last_seq: i64,
    /// More entries wait; ask again at once.
    pub more: bool,
    /// Records the organisation read and no longer may (a share withdrawn, a case returned or
    /// withdrawn) since `since`: a device drops its copy, so what was about a survivor leaves
    /// the devices of those it was taken from.
    #[serde(default)]
    pub gone: Vec<String>,
}

/// `POST /api/docs/{id}/share`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareRequest {
    pub org: String,
}

/// `GET /api/docs/{id}/access`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocAccess {
    pub owner: bool,
    pub shared_with: Vec<String>,
}

/// `POST /api/keys`: a device registers the public half of its signing key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRequest {
    /// The 32 bytes of an Ed25519 public key, in hex.
    pub public_key: String,
}

/// One entry of `GET /api/keys`, the directory signatures are verified against: which user of
/// which organisation a device key speaks for, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKey {
    /// [`crate::agreement::key_id`] of the public key.
    pub key_id: String,
    /// 32 bytes, hex.
    pub public_key: String,
    pub user_id: i64,
    pub username: String,
    pub org_id: String,
    /// Milliseconds since the epoch.
    pub added_at: i64,
    /// When it stops (or stopped) speaking for the user: its session's expiry, or sooner when
    /// its device signed out or an administrator revoked it. Signatures the server receives
    /// from then on do not count.
    pub revoked_at: Option<i64>,
}

/// `POST /api/docs/{id}/signatures`: one party's signature over a proposal of an agreement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureRequest {
    pub proposal: crate::agreement::Proposal,
    pub signature: crate::agreement::AgreementSignature,
}

/// One entry of `GET /api/docs/{id}/signatures`: a signature the server accepted and keeps
/// (append-only), with the time it received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedSignature {
    pub proposal: crate::agreement::Proposal,
    pub signature: crate::agreement::AgreementSignature,
    pub received_at: i64,
}

/// One entry of `GET /api/docs/{id}/actors`: the account whose connection first sent a change
/// by this Automerge actor to the document. The server refuses that actor's changes from any
/// other account, so this, not `meta.actors` (which devices write), is who made them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorBinding {
    /// The actor id, hex, as Automerge prints it.
    pub actor: String,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub org_id: String,
    /// When the server first received a change by it (ms since the epoch).
    pub bound_at: i64,
}

/// `GET /api/orgs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    /// What it is (one of [`crate::case::workflow::ORG_KINDS`]): who a case step may go to.
    #[serde(default)]
    pub kind: String,
}

/// The largest attachment the server accepts (a phone photo after downscaling is well under
/// this); the app refuses bigger files before reading them.
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// One row of `GET /api/audit`: who did what, when, to which record — ids and codes only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    /// Ms since the epoch.
    pub at: i64,
    /// `sign_in`, `sign_in_failed`, `read`, `created`, `write`, `share`, `unshare`,
    /// `download`, `sign`, `step`, `export`, `print`.
    pub action: String,
    pub username: String,
    pub org: Option<String>,
    pub doc: Option<String>,
    /// A code or count (the organisation a share went to), never words someone wrote.
    pub detail: String,
    /// The device, where the action came from one: its sync peer id, or the id it reports.
    #[serde(default)]
    pub device: Option<String>,
}

/// `GET /api/audit?doc=&user=&from=&to=&before=`: the newest rows first; `more` when older
/// ones match too (ask again with `before` = the last row's `seq`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub more: bool,
}

/// `POST /api/audit/events`: something a device did that the server cannot see, for the
/// audit trail — an export or a print, reported when it happened or, offline, later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedEvent {
    /// `export` or `print`.
    pub action: String,
    /// `csv`, `xlsx` or `print`.
    pub format: String,
    /// How many records it held.
    pub count: u32,
    /// Whether fields marked personal were included; then `reason` says why.
    pub personal: bool,
    #[serde(default)]
    pub reason: String,
    /// When the device did it (ms since the epoch, its clock).
    pub at: i64,
    /// The device's id.
    pub device: String,
}

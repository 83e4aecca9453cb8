//! The audit trail: who did what to which record, when — append-only and tamper-evident.
//!
//! A row names the account, organisation, device and document, never a field's contents, so
//! nothing identifying a survivor is in it (GBVIMS: every access audited, need to know). Each
//! row carries the SHA-256 of the previous row's hash and its own content: editing or
//! removing a row breaks the chain from there, and [`verify`] names the first broken row.
//! (Removing the newest rows leaves a shorter chain that still verifies; copying the newest
//! hash somewhere else, such as a printed report, closes that.)

use crate::store::{Store, StoreError};

/// What is recorded. More actions join as their features log them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    /// A record was given to a sync connection (read).
    Read,
    /// A record was created by a sync connection.
    Created,
    /// A sync connection changed a record (`detail`: how many changes, counted per minute).
    Write,
    /// A case step was admitted (`detail`: the step and its id, ` void` if it did not count).
    Step,
    /// An attachment of a record was downloaded (`detail`: the first 12 hex of its hash).
    Download,
    /// A signature on an agreement was accepted (`detail`: the proposal id).
    Sign,
    /// The owner shared a record with the organisation in `detail`, or withdrew the share.
    Share,
    Unshare,
    /// Records exported to a file, reported by the device (`detail`: format, count, and the
    /// reason when personal fields were included).
    Export,
    /// Records printed, reported by the device.
    Print,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::Read => "read",
            Action::Created => "created",
            Action::Write => "write",
            Action::Step => "step",
            Action::Download => "download",
            Action::Sign => "sign",
            Action::Share => "share",
            Action::Unshare => "unshare",
            Action::Export => "export",
            Action::Print => "print",
        }
    }
}

/// One row to append; the store gives it its number, time order and hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub at: i64,
    pub action: String,
    pub account: Option<i64>,
    /// The username given (a failed sign-in has no account), cut to 64 characters.
    pub username: String,
    pub org: Option<String>,
    pub device: Option<String>,
    pub doc: Option<String>,
    /// Codes and counts only ("3 changes"), never words someone wrote.
    pub detail: String,
}

impl Entry {
    pub fn new(action: Action, at: i64) -> Entry {
        Entry { at, action: action.as_str().to_owned(), ..Entry::default() }
    }

    /// `action` by `user` (account, username, organisation), now.
    pub fn by(action: Action, user: &shared::api::User) -> Entry {
        Entry {
            account: Some(user.id),
            username: user.username.clone(),
            org: Some(user.org_id.clone()),
            ..Entry::new(action, crate::now_ms())
        }
    }
}

/// What an administrator narrows the audit view to; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Filter {
    /// One record's id.
    pub doc: Option<String>,
    /// One person's username.
    pub user: Option<String>,
    /// From this time on (ms since the epoch)…
    pub from: Option<i64>,
    /// …and before this one.
    pub to: Option<i64>,
    /// Rows numbered below this (the next page).
    pub before: Option<i64>,
    /// Only rows of other organisations' people (on the records this one owns).
    #[serde(default)]
    pub others: bool,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub seq: i64,
    pub entry: Entry,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of the first row's predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash a row with this content, after `prev_hash`, must carry.
pub fn row_hash(prev_hash: &str, seq: i64, e: &Entry) -> String {
    // JSON of an array: a fixed order and unambiguous separation of every field.
    let content =
        serde_json::json!(["liaison.audit/1", prev_hash, seq, e.at, e.action, e.account, e.username, e.org, e.device, e.doc, e.detail]);
    shared::storage_key::chunk_hash(content.to_string().as_bytes())
}

/// Appends a row. A failure is logged and does not fail what was being audited: a sign-in
/// must not depend on the audit table, but its absence shows in the log.
pub async fn record(store: &dyn Store, mut entry: Entry) {
    entry.username = entry.username.chars().take(64).collect();
    if let Err(e) = store.audit_append(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "an audit row could not be written");
    }
}

/// The row for an export or print a device reports, or why it is refused.
pub fn reported(user: &shared::api::User, e: &shared::api::ReportedEvent) -> Result<Entry, &'static str> {
    let action = match (e.action.as_str(), e.format.as_str()) {
        ("export", "csv" | "xlsx") => Action::Export,
        ("print", "print") => Action::Print,
        _ => return Err("an event is an export (csv or xlsx) or a print"),
    };
    let reason = e.reason.trim();
    if e.personal && !shared::export::REASONS.iter().any(|(code, _)| *code == reason) {
        return Err("an export with personal fields needs its reason, one of the listed codes");
    }
    if e.device.is_empty() || e.device.len() > 64 {
        return Err("the device id is 1 to 64 characters");
    }
    let (y, m, d) = shared::cst::date_of(e.at);
    let minutes = (e.at.saturating_add(8 * 3_600_000)).rem_euclid(86_400_000) / 60_000;
    let mut detail =
        format!("{} {} records, on the device {y:04}-{m:02}-{d:02} {:02}:{:02}", e.format, e.count, minutes / 60, minutes % 60);
    if e.personal {
        detail.push_str(&format!("; personal fields included: {reason}"));
    }
    Ok(Entry { device: Some(e.device.clone()), detail, ..Entry::by(action, user) })
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("audit row {seq} is broken: {why}")]
    Broken { seq: i64, why: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Walks the whole chain; `Ok(rows)` when every row holds.
pub async fn verify(store: &dyn Store) -> Result<u64, VerifyError> {
    const PAGE: i64 = 1000;
    let (mut prev, mut last_seq, mut count) = (GENESIS.to_owned(), 0, 0u64);
    loop {
        let rows = store.audit_rows(last_seq, PAGE).await?;
        for row in &rows {
            if row.prev_hash != prev {
                return Err(VerifyError::Broken { seq: row.seq, why: "it does not follow the row before it (one was changed or removed)" });
            }
            if row_hash(&row.prev_hash, row.seq, &row.entry) != row.hash {
                return Err(VerifyError::Broken { seq: row.seq, why: "its content does not match its hash (it was changed)" });
            }
            prev.clone_from(&row.hash);
            last_seq = row.seq;
            count += 1;
        }
        if (rows.len() as i64) < PAGE {
            return Ok(count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_the_chain_go_into_the_hash() {
        let e = Entry { account: Some(3), org: Some("fed".into()), ..Entry::new(Action::SignIn, 1_000) };
        let h = row_hash(GENESIS, 1, &e);
        assert_eq!(h.len(), 64);
        assert_ne!(h, row_hash(GENESIS, 2, &e), "its number");
        assert_ne!(h, row_hash(&h, 1, &e), "its predecessor");
        for changed in [
            Entry { at: 1_001, ..e.clone() },
            Entry { action: "sign_in_failed".into(), ..e.clone() },
            Entry { account: None, ..e.clone() },
            Entry { username: "x".into(), ..e.clone() },
            Entry { org: Some("proc".into()), ..e.clone() },
            Entry { device: Some("d".into()), ..e.clone() },
            Entry { doc: Some("d".into()), ..e.clone() },
            Entry { detail: "1".into(), ..e.clone() },
        ] {
            assert_ne!(h, row_hash(GENESIS, 1, &changed), "{changed:?}");
        }
    }
}

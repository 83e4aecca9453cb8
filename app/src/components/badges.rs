//! The two facts every record shows in the list and on its page: draft or complete, and
//! whether the server has it.

use shared::DocumentId;
use shared::i18n::L;
use shared::record::Status;

use crate::engine::Engine;
use crate::text;

/// Where a record stands with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// The server acknowledged this record's latest changes.
    OnServer,
    /// Changes the server does not have yet (offline, not signed in, or on their way).
    Pending,
    /// The server answered `doc-unavailable`: this organisation has no access to it there.
    Refused,
    /// The server refused this record alone, saying why (too large, bad data, its storage
    /// failed); it stays on this device and is offered again.
    Rejected,
}

impl SyncState {
    /// Of record `id` with `heads` (sorted hex, as in its summary).
    pub fn of(engine: &Engine, id: DocumentId, heads: &[String]) -> SyncState {
        match engine.refusal(id) {
            Some(None) => return SyncState::Refused,
            Some(Some(_)) => return SyncState::Rejected,
            None => {}
        }
        if engine.on_server(id, heads) { SyncState::OnServer } else { SyncState::Pending }
    }

    /// For tests and styles: `on-server`, `pending`, `refused`, `rejected`.
    pub fn code(self) -> &'static str {
        match self {
            SyncState::OnServer => "on-server",
            SyncState::Pending => "pending",
            SyncState::Refused => "refused",
            SyncState::Rejected => "rejected",
        }
    }

    pub fn label(self) -> L {
        match self {
            SyncState::OnServer => text::ON_SERVER,
            SyncState::Pending => text::NOT_ON_SERVER,
            SyncState::Refused => text::REFUSED,
            SyncState::Rejected => text::REJECTED,
        }
    }
}

pub fn status_code(status: Status) -> &'static str {
    match status {
        Status::Draft => "draft",
        Status::Complete => "complete",
    }
}

pub fn status_label(status: Status) -> L {
    match status {
        Status::Draft => text::DRAFT,
        Status::Complete => text::COMPLETE,
    }
}

//! The two facts every record shows in the list and on its page: draft or complete, and
//! whether the server has it.

use shared::RecordSummary;
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
}

impl SyncState {
    pub fn of(engine: &Engine, summary: &RecordSummary) -> SyncState {
        if engine.refused(summary.id) {
            SyncState::Refused
        } else if engine.on_server(summary) {
            SyncState::OnServer
        } else {
            SyncState::Pending
        }
    }

    /// For tests and styles: `on-server`, `pending`, `refused`.
    pub fn code(self) -> &'static str {
        match self {
            SyncState::OnServer => "on-server",
            SyncState::Pending => "pending",
            SyncState::Refused => "refused",
        }
    }

    pub fn label(self) -> L {
        match self {
            SyncState::OnServer => text::ON_SERVER,
            SyncState::Pending => text::NOT_ON_SERVER,
            SyncState::Refused => text::REFUSED,
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

//! The sync endpoint: WebSocket connections (`socket`) feeding one hub task (`hub`) that runs
//! the shared sync node, checks access and persists changes through group commit.

pub mod hub;
pub mod socket;

pub use hub::Hub;

//! The automerge-repo sync protocol, version "1", with no I/O.
//!
//! `wire` encodes and decodes the messages exactly as automerge-repo's JS peers do; `node`
//! is the protocol state machine that both the browser client and the server run: the caller
//! feeds it events (a connection opened, bytes arrived, storage answered) with the current
//! time, and carries out the actions it returns (send bytes, load or persist a document).

pub mod client;
pub mod node;
pub mod wire;

pub use node::{Action, ConnId, Event, Node, NodeConfig, Role, Verdict};
pub use wire::{Message, PeerId, PeerMetadata, WireError};

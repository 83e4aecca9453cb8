//! What the benches share: the light client (`client`), the servers they start (`servers`),
//! process figures read from `/proc` (`stats`) and a throwaway PostgreSQL cluster (`postgres`,
//! the server tests' own file). Each bench includes it with `mod common;`; the
//! file is `common/mod.rs` because Cargo would take a `benches/common.rs` for a bench of its own.

// Each bench uses only part of this.
#![allow(dead_code)]

pub mod client;
pub mod servers;
pub mod stats;

#[path = "../../tests/it/pg/cluster.rs"]
pub mod postgres;

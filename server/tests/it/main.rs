//! The server over real sockets (HTTP with reqwest, sync with tokio-tungstenite, and the same
//! shared sync node the browser runs as the client) and its routes through `oneshot`.

#[macro_use]
mod harness;
mod audit;
mod auth;
mod blobs;
mod instances;
mod pg;
mod routes;
mod sync;

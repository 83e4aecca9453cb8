//! One WebSocket connection: authenticated at the upgrade, binary frames to the hub, frames
//! from the hub to the peer, and the limits (frame size, messages per second) enforced here.
//!
//! Messages beyond the rate are not refused but read later: the socket's receive window fills
//! and the peer slows down. Closing instead would put a client with thousands of records to
//! sync into a loop of reconnecting and being closed again.

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use shared::sync::Message;

use super::hub::Outgoing;
use crate::auth::{Authed, SyncAuthed};
use crate::{AppState, now_ms};

/// The largest frame a peer may send; a first sync of a large record fits well within it.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Messages per second per connection, sustained, and the burst allowed above that.
const RATE_PER_SECOND: f64 = 2_000.0;
const BURST: f64 = 20_000.0;

/// Told to a peer whose token expired while its socket was open.
pub const SESSION_EXPIRED: &str = "the session has expired; sign in again";

pub async fn sync_get(State(state): State<AppState>, SyncAuthed(authed): SyncAuthed, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES).max_frame_size(MAX_FRAME_BYTES).on_upgrade(move |socket| serve(socket, state, authed))
}

async fn serve(socket: WebSocket, state: AppState, authed: Authed) {
    let Authed { user, token, expires_at } = authed;
    // The token was checked once, at the upgrade; the socket must not outlive it.
    let expiry = tokio::time::Instant::now() + std::time::Duration::from_millis(expires_at.saturating_sub(now_ms()).max(0) as u64);
    let (conn, mut outgoing) = state.hub.connect(user, &token).await;
    let (mut sink, mut stream) = socket.split();
    let mut bucket = TokenBucket::new();
    let mut throttled = false;
    let reason = loop {
        let wait = bucket.wait();
        if wait.is_some() && !throttled {
            tracing::warn!(conn = conn.0, "peer sends faster than {RATE_PER_SECOND} messages/s; reading slower");
        }
        throttled = wait.is_some();
        tokio::select! {
            _ = tokio::time::sleep_until(expiry) => break Some(SESSION_EXPIRED.to_owned()),
            // Frames to the peer keep flowing while its messages wait.
            _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
            incoming = stream.next(), if wait.is_none() => match incoming {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    bucket.take();
                    state.hub.received(conn, bytes.to_vec()).await;
                }
                Some(Ok(WsMessage::Text(_))) => break Some("text frames are not part of the protocol; send binary CBOR".to_owned()),
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                Some(Ok(WsMessage::Close(_))) | None => break None,
                Some(Err(e)) => break Some(format!("unreadable frame: {e}")),
            },
            out = outgoing.recv() => match out {
                Some(Outgoing::Frame(bytes)) => {
                    if sink.send(WsMessage::Binary(bytes.into())).await.is_err() {
                        break None;
                    }
                }
                Some(Outgoing::Close(reason)) => {
                    let _ = sink.send(WsMessage::Close(Some(CloseFrame { code: 1008, reason: truncate(&reason).into() }))).await;
                    break None;
                }
                None => break None,
            },
        }
    };
    if let Some(reason) = reason {
        tracing::info!(conn = conn.0, %reason, "closing sync connection");
        let _ = sink.send(WsMessage::Binary(Message::Error { message: reason.clone() }.encode().into())).await;
        let _ = sink.send(WsMessage::Close(Some(CloseFrame { code: 1008, reason: truncate(&reason).into() }))).await;
    }
    state.hub.disconnected(conn).await;
}

/// A close frame's reason may hold at most 123 bytes.
fn truncate(reason: &str) -> String {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// Messages per second, with a burst: enough for a first sync of thousands of documents, not
/// for a flood.
struct TokenBucket {
    tokens: f64,
    last: std::time::Instant,
}

impl TokenBucket {
    fn new() -> TokenBucket {
        TokenBucket { tokens: BURST, last: std::time::Instant::now() }
    }

    /// How long until the next message may be read; `None`: now.
    fn wait(&mut self) -> Option<std::time::Duration> {
        let now = std::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * RATE_PER_SECOND).min(BURST);
        self.last = now;
        (self.tokens < 1.0).then(|| std::time::Duration::from_secs_f64((1.0 - self.tokens) / RATE_PER_SECOND))
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

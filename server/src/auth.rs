//! Who is asking: the bearer token from the `Authorization` header, checked against the
//! database on every request.
//!
//! Only the WebSocket upgrade ([`SyncAuthed`]) also takes the token from a `token` query
//! parameter, because browsers cannot set headers on a WebSocket. Anywhere else a token in a
//! URL would end up in logs, browser history and proxies, so it is refused there.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;

use crate::accounts::{self, User};
use crate::error::AppError;
use crate::{AppState, now_ms};

/// A request from a signed-in user (token in the `Authorization` header).
pub struct Authed {
    pub user: User,
    pub token: String,
    /// When the token stops being accepted, in ms since the epoch.
    pub expires_at: i64,
}

/// The sync upgrade from a signed-in user: the header, or the `token` query parameter.
pub struct SyncAuthed(pub Authed);

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(AppError::Unauthenticated)?;
        check(state, token).await
    }
}

impl FromRequestParts<AppState> for SyncAuthed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .or_else(|| Query::<TokenQuery>::try_from_uri(&parts.uri).ok().and_then(|q| q.0.token))
            .ok_or(AppError::Unauthenticated)?;
        check(state, token).await.map(SyncAuthed)
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

async fn check(state: &AppState, token: String) -> Result<Authed, AppError> {
    let (user, expires_at) = accounts::user_for_token(&*state.store, &token, now_ms()).await?.ok_or(AppError::Unauthenticated)?;
    Ok(Authed { user, token, expires_at })
}

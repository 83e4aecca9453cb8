//! Who is asking: the bearer token from `Authorization`, or from a `token` query parameter
//! (browsers cannot set headers on a WebSocket), checked against the database on every request.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;

use crate::accounts::{self, User};
use crate::error::AppError;
use crate::{now_ms, AppState};

/// A request from a signed-in user.
pub struct Authed {
    pub user: User,
    pub token: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let from_header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let token = match from_header {
            Some(t) => t,
            None => Query::<TokenQuery>::try_from_uri(&parts.uri).ok().and_then(|q| q.0.token).ok_or(AppError::Unauthenticated)?,
        };
        let t = token.clone();
        let user = state.db.call(move |c| accounts::user_for_token(c, &t, now_ms())).await?.ok_or(AppError::Unauthenticated)?;
        Ok(Authed { user, token })
    }
}

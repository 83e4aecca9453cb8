//! The one place where server errors become HTTP replies. Bodies are JSON `{ "error": … }`
//! with a message a person can act on; internal details go to the log, not the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::blobs::BlobError;
use crate::signatures::SignatureError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadLogin,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("too many wrong passwords; try again in {retry_after_s} s")]
    TooManyAttempts { retry_after_s: u64 },
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
            StoreError::Conflict(why) => AppError::Conflict(why),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<SignatureError> for AppError {
    fn from(e: SignatureError) -> Self {
        match e {
            SignatureError::NotFound => AppError::NotFound(e.to_string()),
            SignatureError::NotYours | SignatureError::NotAParty(_) => AppError::Forbidden(e.to_string()),
            SignatureError::UnknownVersion | SignatureError::IdTaken => AppError::Conflict(e.to_string()),
            SignatureError::NotAnAgreement | SignatureError::AlteredProposal | SignatureError::Invalid(_) => {
                AppError::BadRequest(e.to_string())
            }
            SignatureError::Store(s) => s.into(),
        }
    }
}

impl From<BlobError> for AppError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::TooLarge(_) => AppError::TooLarge(e.to_string()),
            BlobError::WrongOffset { .. } | BlobError::SizeChanged { .. } | BlobError::NotReferenced => AppError::Conflict(e.to_string()),
            BlobError::PastEnd | BlobError::HashMismatch | BlobError::BadHash => AppError::BadRequest(e.to_string()),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        AppError::BadRequest(e.body_text())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::Unauthenticated | AppError::BadLogin => StatusCode::UNAUTHORIZED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyAttempts { retry_after_s } => {
                let body = Json(serde_json::json!({ "error": self.to_string(), "retry_after_s": retry_after_s }));
                return (StatusCode::TOO_MANY_REQUESTS, [(axum::http::header::RETRY_AFTER, retry_after_s.to_string())], body)
                    .into_response();
            }
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

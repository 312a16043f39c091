//! The one error type of the HTTP API and its mapping to status codes.
//!
//! 4xx bodies say what was wrong with the request; 5xx bodies stay generic and the detail
//! is logged once, here, where it is turned into a response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid session.
    #[error("not logged in")]
    Unauthorized,
    /// Wrong username or password.
    #[error("wrong username or password")]
    BadCredentials,
    /// A PBX webhook's token or signature was refused; the text says which.
    #[error("{0}")]
    WebhookAuth(&'static str),
    /// Logged in, but not allowed to do this.
    #[error("not allowed")]
    Forbidden,
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is malformed or a value is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// The body is not JSON (no `Content-Type: application/json`).
    #[error("{0}")]
    NotJson(String),
    /// The body is larger than the server accepts.
    #[error("{0}")]
    TooLarge(String),
    /// The server is busy with other requests of this kind; try again shortly.
    #[error("{0}")]
    Busy(&'static str),
    /// The request conflicts with stored data.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("internal error")]
    Store(#[from] store::Error),
    /// Something else on the server failed.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized | ApiError::BadCredentials | ApiError::WebhookAuth(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::Store(store::Error::NotFound(_)) => {
                StatusCode::NOT_FOUND
            }
            ApiError::BadRequest(_) | ApiError::Store(store::Error::Reference(_)) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NotJson(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Conflict(_)
            | ApiError::Store(store::Error::Conflict(_) | store::Error::Stale(_)) => {
                StatusCode::CONFLICT
            }
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            ApiError::Store(
                err @ (store::Error::NotFound(_)
                | store::Error::Conflict(_)
                | store::Error::Stale(_)
                | store::Error::Reference(_)),
            ) => err.to_string(),
            ApiError::Store(err) => {
                tracing::error!(error = %err, "request failed in the database");
                self.to_string()
            }
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                self.to_string()
            }
            _ => self.to_string(),
        };
        (status, Json(ringside_protocol::ApiError { error: message })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(err: ApiError) -> (StatusCode, String) {
        let response = err.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn client_errors_explain_and_server_errors_do_not() {
        let cases = [
            (ApiError::Unauthorized, 401, r#"{"error":"not logged in"}"#),
            (
                ApiError::BadCredentials,
                401,
                r#"{"error":"wrong username or password"}"#,
            ),
            (
                ApiError::NotFound("interaction"),
                404,
                r#"{"error":"interaction not found"}"#,
            ),
            (
                ApiError::BadRequest("notes: at most 4000 characters".into()),
                400,
                r#"{"error":"notes: at most 4000 characters"}"#,
            ),
            (
                ApiError::Store(store::Error::Conflict("username")),
                409,
                r#"{"error":"username is already in use"}"#,
            ),
            (
                ApiError::WebhookAuth("bad signature"),
                401,
                r#"{"error":"bad signature"}"#,
            ),
            (
                ApiError::TooLarge("the body is larger than 16384 bytes".into()),
                413,
                r#"{"error":"the body is larger than 16384 bytes"}"#,
            ),
            (
                ApiError::Store(store::Error::Stale("customer")),
                409,
                r#"{"error":"the customer was changed by someone else; reload it and make the change again"}"#,
            ),
            (
                ApiError::Store(store::Error::Reference("organisation")),
                400,
                r#"{"error":"no such organisation"}"#,
            ),
            (
                ApiError::Internal("disk /var/lib/x full".into()),
                500,
                r#"{"error":"internal error"}"#,
            ),
        ];

        for (err, status, body) in cases {
            assert_eq!(
                body_of(err).await,
                (StatusCode::from_u16(status).unwrap(), body.into())
            );
        }
    }
}

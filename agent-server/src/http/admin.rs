//! Admin endpoints for PBX webhooks: tokens and the block list. Every handler here
//! answers 403 to anyone but an admin.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::api::json_body;
use super::{ApiError, AppState, CurrentUser};
use crate::store::{Role, UserRecord};
use crate::webhook::admin::{self, Error as AdminError};

fn require_admin(user: &UserRecord) -> Result<(), ApiError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> ApiError {
        match err {
            AdminError::Invalid(reason) => ApiError::BadRequest(reason.into()),
            AdminError::Store(err) => ApiError::Store(err),
        }
    }
}

/// One token as admins see it (never the token itself).
#[derive(Serialize)]
pub(super) struct TokenView {
    id: i64,
    name: String,
    format: String,
    signed: bool,
    created_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

pub(super) async fn list_tokens(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    require_admin(&user)?;
    let tokens = state.store.pbx_tokens().await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                format: t.format,
                signed: t.secret.is_some(),
                created_at_ms: t.created_at_ms,
                revoked_at_ms: t.revoked_at_ms,
            })
            .collect(),
    ))
}

/// `POST /api/v1/admin/pbx-tokens`.
#[derive(Deserialize)]
pub(super) struct NewTokenRequest {
    name: String,
    format: String,
    secret: Option<SecretString>,
}

/// The answer to a created token: the only time the token is shown.
#[derive(Serialize)]
pub(super) struct NewTokenView {
    id: i64,
    token: String,
    path: String,
}

pub(super) async fn create_token(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Json<NewTokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<NewTokenView>), ApiError> {
    require_admin(&user)?;
    let request = json_body(body).map_err(|err| match err {
        ApiError::BadRequest(_) => {
            ApiError::BadRequest("the body must be JSON with a name and a format".into())
        }
        other => other,
    })?;
    let created =
        admin::create_token(&state.store, &request.name, &request.format, request.secret).await?;
    let token = created.token.expose_secret().to_owned();
    let path = format!("/api/v1/pbx/{}/{token}", request.format.trim());
    tracing::info!(
        user.id = user.id.0,
        pbx.id = created.id,
        "PBX token created over the API"
    );
    Ok((
        StatusCode::CREATED,
        Json(NewTokenView {
            id: created.id,
            token,
            path,
        }),
    ))
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    require_admin(&user)?;
    let Path(id) = path.map_err(|_| ApiError::BadRequest("the id must be a number".into()))?;
    state
        .store
        .revoke_pbx_token(id, crate::ingest::now_ms())
        .await?;
    tracing::info!(user.id = user.id.0, pbx.id = id, "PBX token revoked");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list_blocked(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<String>>, ApiError> {
    require_admin(&user)?;
    Ok(Json(state.store.blocked_numbers().await?))
}

/// `POST /api/v1/admin/blocked-numbers`.
#[derive(Deserialize)]
pub(super) struct BlockRequest {
    number: String,
}

/// A number as the block list holds it.
#[derive(Serialize)]
pub(super) struct BlockedView {
    number: String,
}

pub(super) async fn block(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Json<BlockRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<BlockedView>), ApiError> {
    require_admin(&user)?;
    let request = json_body(body)?;
    let number = admin::block(&state.store, &request.number, state.settings.default_region).await?;
    Ok((StatusCode::CREATED, Json(BlockedView { number })))
}

pub(super) async fn unblock(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    require_admin(&user)?;
    let Path(number) = path.map_err(|_| ApiError::BadRequest("bad number".into()))?;
    admin::unblock(&state.store, &number, state.settings.default_region).await?;
    Ok(StatusCode::NO_CONTENT)
}

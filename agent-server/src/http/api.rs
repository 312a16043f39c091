//! REST handlers: login, logout, the current user, wrap-up, health and metrics.

use std::sync::atomic::Ordering;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use ringside_protocol::{InteractionId, LoginRequest, Me, WrapUp, NOTES_MAX_CHARS};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::{ApiError, AppState, CurrentUser};
use crate::auth;
use crate::config::Settings;
use crate::ingest::now_ms;
use crate::store::{InteractionRecord, Role, UserRecord};

/// Longest username or password looked at; longer ones cannot match and are refused
/// before argon2 spends time on them.
const CREDENTIAL_MAX_CHARS: usize = 256;

/// What the console knows about the logged-in user.
pub fn me_of(user: &UserRecord, settings: &Settings) -> Me {
    Me {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        extension: user.extension.clone(),
        role: user.role.as_str().into(),
        dispositions: settings.dispositions.clone(),
    }
}

pub(super) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value)
        .map_err(|rejection| match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::NotJson(rejection.body_text()),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge("the body is too large".into()),
            _ => ApiError::BadRequest(rejection.body_text()),
        })
}

pub(super) fn id_in_path(path: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::BadRequest("the id must be a number".into()))
}

/// Logins being checked at once at most; each argon2 check takes 19 MiB and a core for
/// a while, so strangers must not be able to start thousands.
pub const LOGIN_SLOTS: usize = 4;

/// How long a login waits for a free slot before it is answered 503.
const LOGIN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<(CookieJar, Json<Me>), ApiError> {
    // The serde message would repeat what was sent (a password, say): give a fixed one.
    let request = json_body(body).map_err(|err| match err {
        ApiError::BadRequest(_) => {
            ApiError::BadRequest("the body must be JSON with a username and a password".into())
        }
        other => other,
    })?;
    if request.username.chars().count() > CREDENTIAL_MAX_CHARS
        || request.password.chars().count() > CREDENTIAL_MAX_CHARS
    {
        return Err(ApiError::BadRequest("username or password too long".into()));
    }
    if request.username.contains('\0') || request.password.contains('\0') {
        state.metrics.login_failures.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::BadCredentials);
    }
    let Ok(Ok(_slot)) = tokio::time::timeout(LOGIN_WAIT, state.login_slots.acquire()).await else {
        state.metrics.logins_busy.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::Busy(
            "too many logins at once; try again in a moment",
        ));
    };

    let user = state.store.user_by_username(&request.username).await?;
    // Unknown users are checked against a decoy hash so both answers take as long.
    let hash = user
        .as_ref()
        .map_or(auth::DECOY_HASH.to_owned(), |u| u.password_hash.clone());
    let password = SecretString::from(request.password);
    let matches = auth::verify_password(password, hash)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            state.metrics.login_failures.fetch_add(1, Ordering::Relaxed);
            tracing::info!("login refused");
            return Err(ApiError::BadCredentials);
        }
    };

    let token = auth::new_session_token();
    let now = now_ms();
    let lifetime_ms = i64::from(state.settings.session_hours) * 3_600_000;
    state
        .store
        .create_session(
            &auth::token_hash(token.expose_secret()),
            user.id,
            now,
            now + lifetime_ms,
        )
        .await?;
    tracing::info!(user.id = user.id.0, "login");

    let cookie = Cookie::build((auth::SESSION_COOKIE, token.expose_secret().to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(time_span(lifetime_ms))
        .build();
    Ok((jar.add(cookie), Json(me_of(&user, &state.settings))))
}

fn time_span(ms: i64) -> time::Duration {
    time::Duration::milliseconds(ms)
}

pub(super) async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode), ApiError> {
    if let Some(token) = jar.get(auth::SESSION_COOKIE) {
        state
            .store
            .delete_session(&auth::token_hash(token.value()))
            .await?;
    }
    let expired = Cookie::build((auth::SESSION_COOKIE, "")).path("/").build();
    Ok((jar.remove(expired), StatusCode::NO_CONTENT))
}

pub(super) async fn me(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Json<Me> {
    Json(me_of(&user, &state.settings))
}

/// Whether `user` may see and annotate `record`: its own agent, or a supervisor or admin.
pub(super) fn may_annotate(user: &UserRecord, record: &InteractionRecord) -> bool {
    record.agent == Some(user.id) || matches!(user.role, Role::Admin | Role::Supervisor)
}

pub(super) async fn wrap_up(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<WrapUp>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id = id_in_path(path)?;
    let wrap = json_body(body)?;
    if wrap.notes.contains('\0') {
        return Err(ApiError::BadRequest(
            "notes: must not contain NUL characters".into(),
        ));
    }
    if wrap.notes.chars().count() > NOTES_MAX_CHARS {
        return Err(ApiError::BadRequest(format!(
            "notes: at most {NOTES_MAX_CHARS} characters"
        )));
    }
    let disposition = wrap.disposition.as_deref().filter(|d| !d.is_empty());
    if let Some(code) = disposition {
        if !state.settings.dispositions.iter().any(|d| d.code == code) {
            // The code is not echoed: it could be anything, of any length.
            return Err(ApiError::BadRequest(
                "disposition: not one of the configured codes".into(),
            ));
        }
    }

    let id = InteractionId(id);
    let record = state
        .store
        .interaction(id)
        .await?
        .ok_or(ApiError::NotFound("interaction"))?;
    if !may_annotate(&user, &record) {
        return Err(ApiError::Forbidden);
    }
    state
        .store
        .save_wrap_up(id, &wrap.notes, disposition, now_ms())
        .await?;
    if let Some(agent) = record.agent {
        state
            .hub
            .update_wrap_up(agent, &record.call_id, &wrap.notes, disposition);
    }
    tracing::info!(interaction.id = id.0, user.id = user.id.0, "wrap-up saved");
    Ok(StatusCode::NO_CONTENT)
}

/// One interaction as the API shows it.
#[derive(Serialize)]
pub(super) struct InteractionView {
    id: i64,
    call_id: String,
    customer_id: Option<i64>,
    agent_id: Option<i64>,
    direction: &'static str,
    caller_number: Option<String>,
    called_number: String,
    ringing_at_ms: i64,
    answered_at_ms: Option<i64>,
    ended_at_ms: Option<i64>,
    wait_seconds: Option<i64>,
    talk_seconds: Option<i64>,
    outcome: Option<&'static str>,
    notes: String,
    disposition: Option<String>,
    /// The call's start was never reported: a later webhook event created it.
    start_unseen: bool,
    /// The queue a PBX webhook said the call waited in.
    queue: Option<String>,
}

pub(super) async fn interaction(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<InteractionView>, ApiError> {
    let id = id_in_path(path)?;
    let record = state
        .store
        .interaction(InteractionId(id))
        .await?
        .ok_or(ApiError::NotFound("interaction"))?;
    if !may_annotate(&user, &record) {
        return Err(ApiError::Forbidden);
    }
    Ok(Json(InteractionView {
        id: record.id.0,
        call_id: record.call_id.0,
        customer_id: record.customer.map(|c| c.0),
        agent_id: record.agent.map(|a| a.0),
        direction: record.direction.as_str(),
        caller_number: record.caller_number,
        called_number: record.called_number,
        ringing_at_ms: record.ringing_at_ms,
        answered_at_ms: record.answered_at_ms,
        ended_at_ms: record.ended_at_ms,
        wait_seconds: record.wait_seconds,
        talk_seconds: record.talk_seconds,
        outcome: record.outcome.map(|o| o.as_str()),
        notes: record.notes,
        disposition: record.disposition,
        start_unseen: record.start_unseen,
        queue: record.queue,
    }))
}

pub(super) async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(err) => {
            tracing::warn!(error = %err, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
        }
    }
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

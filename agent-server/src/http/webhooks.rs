//! `POST /api/v1/pbx/{format}/{token}`: a PBX's call event.
//!
//! Order of checks, each refusal counted under
//! `ringside_webhook_requests_total{format,result}` and logged with the PBX's id at
//! most: the format in the path (404), the body size (413, [`MAX_BODY_BYTES`]), the
//! token (401; a token works for its own format only), the signature when the PBX has a
//! secret (401), the body (400, naming the field). Then a `newCall` from a blocked
//! number is refused in the format's own terms (2xx with a reject), and anything else
//! is queued for the webhook task and answered at once. When that queue is full
//! (the call service is behind), requests wait for room instead of being dropped.
//!
//! Limitation: every request looks its token up in the database (one indexed query); a
//! cache of live tokens would save it at high rates, at the cost of revocations taking
//! effect a little later.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

use super::{ApiError, AppState};
use crate::auth;
use crate::ingest::now_ms;
use crate::metrics::WebhookResult;
use crate::webhook::formats::{self, PbxDirection};
use crate::webhook::signature::{self, SignatureError, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::webhook::state::pbx_number;
use crate::webhook::{Format, PbxEvent, PbxEventKind, ResolvedEvent, MAX_BODY_BYTES};

/// A refused webhook: what is counted, and what is answered.
struct Refusal {
    result: WebhookResult,
    error: ApiError,
}

impl Refusal {
    fn new(result: WebhookResult, error: ApiError) -> Refusal {
        Refusal { result, error }
    }
}

/// What an accepted webhook is answered.
enum Reply {
    Accepted { new_call: bool },
    Rejected,
}

pub(super) async fn receive(
    State(state): State<AppState>,
    Path((format, token)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let format = Format::from_word(&format);
    let outcome = accept(&state, format, &token, &headers, body).await;
    let (result, response) = match outcome {
        Ok((pbx, reply)) => {
            let result = match reply {
                Reply::Accepted { .. } => WebhookResult::Accepted,
                Reply::Rejected => WebhookResult::Blocked,
            };
            tracing::debug!(pbx.id = pbx, result = result.as_str(), "webhook taken");
            let format = format.unwrap_or(Format::Ringside);
            (result, answer(format, reply, &headers, &uri))
        }
        Err(refusal) => {
            tracing::info!(
                format = format.map_or("unknown", Format::as_str),
                result = refusal.result.as_str(),
                reason = %refusal.error,
                "webhook refused"
            );
            (refusal.result, refusal.error.into_response())
        }
    };
    state.metrics.webhooks.count(format, result);
    response
}

async fn accept(
    state: &AppState,
    format: Option<Format>,
    token: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(i64, Reply), Refusal> {
    let format = format.ok_or_else(|| {
        Refusal::new(
            WebhookResult::BadFormat,
            ApiError::NotFound("webhook format"),
        )
    })?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::new(
                WebhookResult::TooLarge,
                ApiError::TooLarge(format!("the body is larger than {MAX_BODY_BYTES} bytes")),
            )
        } else {
            Refusal::new(
                WebhookResult::BadBody,
                ApiError::BadRequest("the body could not be read".into()),
            )
        }
    })?;
    let bad_token = || {
        Refusal::new(
            WebhookResult::BadToken,
            ApiError::WebhookAuth("unknown or revoked token"),
        )
    };
    if token.len() > 128 {
        return Err(bad_token());
    }
    let pbx = state
        .store
        .pbx_token_by_hash(&auth::token_hash(token))
        .await
        .map_err(|err| Refusal::new(WebhookResult::Failed, ApiError::Store(err)))?
        .ok_or_else(bad_token)?;
    if pbx.format != format.as_str() {
        return Err(Refusal::new(
            WebhookResult::BadToken,
            ApiError::WebhookAuth("this token is for another format"),
        ));
    }
    if let Some(secret) = &pbx.secret {
        let header_text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        signature::verify(
            secret.expose_secret().as_bytes(),
            header_text(TIMESTAMP_HEADER),
            header_text(SIGNATURE_HEADER),
            &body,
            now_ms() / 1000,
        )
        .map_err(|err| {
            let result = match err {
                SignatureError::Stale => WebhookResult::Stale,
                SignatureError::Missing | SignatureError::Mismatch => WebhookResult::BadSignature,
            };
            let reason = match err {
                SignatureError::Missing => "signature required",
                SignatureError::Stale => "timestamp too old or in the future",
                SignatureError::Mismatch => "bad signature",
            };
            Refusal::new(result, ApiError::WebhookAuth(reason))
        })?;
    }

    let event = match format {
        Format::Ringside => formats::parse_ringside(&body),
        Format::Zammad => formats::parse_zammad(&body, is_json(headers, &body)),
        Format::Sipgate => formats::parse_sipgate(&body),
    }
    .map_err(|err| {
        Refusal::new(
            WebhookResult::BadBody,
            ApiError::BadRequest(err.to_string()),
        )
    })?;

    let resolved = resolve(state, pbx.id, event)
        .await
        .map_err(|err| Refusal::new(WebhookResult::Failed, ApiError::Store(err)))?;
    let new_call = resolved.event.kind == PbxEventKind::NewCall;
    let blocked = resolved.blocked;
    state.webhooks.send(resolved).await.map_err(|_| {
        Refusal::new(
            WebhookResult::Failed,
            ApiError::Busy("the server is shutting down"),
        )
    })?;
    state.metrics.webhook_events.fetch_add(1, Ordering::Relaxed);
    let reply = if blocked && new_call {
        Reply::Rejected
    } else {
        Reply::Accepted { new_call }
    };
    Ok((pbx.id, reply))
}

/// Whether a Zammad body is JSON: its content type says so, or it looks like an object.
fn is_json(headers: &HeaderMap, body: &[u8]) -> bool {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    declared || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Finds the agents the event names and checks the caller against the block list.
///
/// Limitation: an agent is popped through their extension, so a user without one whom a
/// webhook names is left out (the call still rings the others and is logged); letting
/// the call service pop users by id would lift it.
async fn resolve(
    state: &AppState,
    pbx: i64,
    event: PbxEvent,
) -> Result<ResolvedEvent, crate::store::Error> {
    let store = &state.store;
    let mut agent_extensions = Vec::new();
    for name in &event.agents {
        if let Some(extension) = store
            .user_named_by_pbx(name)
            .await?
            .and_then(|u| u.extension)
        {
            if !agent_extensions.contains(&extension) {
                agent_extensions.push(extension);
            }
        }
    }
    let mut answering_extension = None;
    for name in &event.answering {
        answering_extension = store
            .user_named_by_pbx(name)
            .await?
            .and_then(|u| u.extension);
        if answering_extension.is_some() {
            break;
        }
    }
    let inbound = event.direction != Some(PbxDirection::Outbound);
    let mut blocked = false;
    // Every inbound event is checked, not only `newCall`: an answer or hangup for a call
    // never seen starting would otherwise start a blocked caller's call.
    if inbound {
        if let Some(from) = &event.from {
            let number =
                crate::phone::normalise_or_keep(&pbx_number(from), state.settings.default_region);
            blocked = number.starts_with('+') && store.is_blocked(&number).await?;
        }
    }
    Ok(ResolvedEvent {
        pbx,
        event,
        agent_extensions,
        answering_extension,
        blocked,
        received_ms: now_ms(),
    })
}

/// The answer in the format's own terms.
fn answer(format: Format, reply: Reply, headers: &HeaderMap, uri: &Uri) -> Response {
    match format {
        // Zammad's generic CTI answers `{}`, or tells the PBX to refuse the call.
        Format::Zammad | Format::Ringside => {
            let body = match reply {
                Reply::Accepted { .. } => serde_json::json!({}),
                Reply::Rejected => serde_json::json!({"action": "reject", "reason": "busy"}),
            };
            axum::Json(body).into_response()
        }
        // sipgate sends `answer` and `hangup` only to the URLs the `newCall` answer
        // names; they are this same URL.
        Format::Sipgate => {
            let body = match reply {
                Reply::Accepted { new_call: true } => match own_url(headers, uri) {
                    Some(url) => format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                         <Response onAnswer=\"{url}\" onHangup=\"{url}\"/>\n"
                    ),
                    None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n".into(),
                },
                Reply::Accepted { new_call: false } => {
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n".into()
                }
                Reply::Rejected => "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                     <Response><Reject reason=\"busy\"/></Response>\n"
                    .into(),
            };
            ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
        }
    }
}

/// The URL the PBX posted to, as it sees it: behind a reverse proxy from
/// `X-Forwarded-Proto` and `X-Forwarded-Host`, else from `Host` over plain HTTP. Only
/// characters that need no XML escaping are let through.
fn own_url(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = match text("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let host = text("x-forwarded-host").or_else(|| text("host"))?;
    let url = format!("{scheme}://{host}{}", uri.path());
    let safe = url
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ":/.-_~%[]".contains(c));
    safe.then_some(url)
}

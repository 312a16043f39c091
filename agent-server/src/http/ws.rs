//! The console websocket at [`ringside_protocol::WS_PATH`].
//!
//! The socket is authenticated by the session cookie at upgrade time, and only upgraded
//! when the browser's `Origin` names this server (a page elsewhere cannot ride on the
//! agent's cookie). The server sends [`ringside_protocol::ServerMessage`] frames queued by the
//! [`crate::hub::Hub`]; the console may send [`ClientMessage`]s. A ping every 30 seconds
//! keeps proxies from closing an idle socket.
//!
//! Limitation: the session is checked when the socket opens, not again while it stays
//! open, so a session that expires or is revoked keeps receiving pops until the socket next
//! reconnects. Checking it on each ping would close that gap.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use ringside_protocol::ClientMessage;

use super::api::me_of;
use super::{ApiError, AppState, CurrentUser};
use crate::ingest::now_ms;
use crate::store::UserRecord;

/// Largest frame a console may send; its messages are a few dozen bytes.
const MAX_CLIENT_FRAME: usize = 16 * 1024;

/// Interval of keep-alive pings.
const PING_EVERY: Duration = Duration::from_secs(30);

pub(super) async fn upgrade(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if !same_origin(&headers) {
        return Err(ApiError::Forbidden);
    }
    Ok(ws
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| console_session(socket, state, user)))
}

/// True when there is no `Origin` (not a browser) or it names the `Host` asked for.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest == host)
}

async fn console_session(socket: WebSocket, state: AppState, user: UserRecord) {
    let me = me_of(&user, &state.settings);
    let mut attached = state.hub.attach(user.id, me, now_ms());
    tracing::info!(user.id = user.id.0, "console connected");
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();

    loop {
        tokio::select! {
            frame = attached.rx.recv() => {
                // `None`: the hub dropped this console as too slow; close so it reconnects.
                let Some(frame) = frame else { break };
                if sink.send(Message::Text(frame)).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => handle_client(&state, &user, text.as_str()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            () = state.shutdown.cancelled() => {
                let _ = sink.send(Message::Close(None)).await;
                break;
            }
        }
    }

    state.hub.detach(user.id, attached.id);
    tracing::info!(user.id = user.id.0, "console disconnected");
}

fn handle_client(state: &AppState, user: &UserRecord, text: &str) {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Dismiss { call_id }) => state.hub.dismiss(user.id, &call_id),
        Err(err) => {
            // serde's message quotes the offending value, which may be a number or a name:
            // log only the kind of fault and where it is.
            tracing::debug!(
                user.id = user.id.0,
                fault = ?err.classify(),
                column = err.column(),
                size_bytes = text.len(),
                "unreadable console message ignored"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn only_this_servers_pages_may_open_the_socket() {
        assert!(same_origin(&headers(
            Some("http://127.0.0.1:8080"),
            "127.0.0.1:8080"
        )));
        assert!(same_origin(&headers(
            Some("https://cti.example"),
            "cti.example"
        )));
        assert!(same_origin(&headers(None, "127.0.0.1:8080")));
        assert!(!same_origin(&headers(
            Some("http://evil.example"),
            "127.0.0.1:8080"
        )));
        assert!(!same_origin(&headers(
            Some("http://127.0.0.1:8080.evil"),
            "127.0.0.1:8080"
        )));
        assert!(!same_origin(&headers(Some("null"), "127.0.0.1:8080")));
    }
}

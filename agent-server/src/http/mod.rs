//! The HTTP side: REST API, console websocket, the built console's files, health and
//! metrics.
//!
//! Routes:
//! - `POST /api/v1/login`, `POST /api/v1/logout`, `GET /api/v1/me`
//! - `PUT /api/v1/interactions/{id}/wrap-up`: the agent's notes and disposition
//! - `GET /api/v1/interactions/{id}`: one logged call
//! - `PUT /api/v1/interactions/{id}/customer`: the customer the call was with
//! - customers and organisations (see [`customers`]): `GET|POST /api/v1/customers`,
//!   `GET|PUT|DELETE /api/v1/customers/{id}`, `POST /api/v1/customers/{id}/restore`,
//!   `GET /api/v1/customers/{id}/interactions`, the same for `/api/v1/organisations`
//!   (without interactions), `GET /api/v1/trash`, `GET /api/v1/admin/unparseable-numbers`
//! - `GET /api/v1/ws`: the console websocket (see [`ws`])
//! - `POST /api/v1/pbx/{format}/{token}`: a PBX's call event (see [`crate::webhook`])
//! - `/api/v1/admin/pbx-tokens`, `/api/v1/admin/blocked-numbers`: webhook tokens and
//!   the block list, for admins
//! - `GET /healthz`, `GET /metrics`
//! - everything else: files of the built console from `ui_dir`

mod admin;
pub mod api;
pub mod customers;
mod error;
mod webhooks;
mod ws;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::{any, delete, get, post, put};
use axum::Router;
use axum_extra::extract::CookieJar;
use tokio_util::sync::CancellationToken;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::ApiError;

use crate::auth;
use crate::config::Settings;
use crate::hub::Hub;
use crate::ingest::now_ms;
use crate::metrics::Metrics;
use crate::store::{Store, UserRecord};

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Pop delivery.
    pub hub: Arc<Hub>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// Fires when the server shuts down; websockets close on it.
    pub shutdown: CancellationToken,
    /// Bounds the password checks running at once (see [`api::LOGIN_SLOTS`]).
    pub login_slots: Arc<tokio::sync::Semaphore>,
    /// Where accepted PBX webhooks go (the webhook task).
    pub webhooks: tokio::sync::mpsc::Sender<crate::webhook::ResolvedEvent>,
}

/// The user behind the request's session cookie; rejects with 401 when there is none.
pub struct CurrentUser(pub UserRecord);

impl<S> FromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(auth::SESSION_COOKIE)
            .ok_or(ApiError::Unauthorized)?;
        let user = state
            .store
            .session_user(&auth::token_hash(token.value()), now_ms())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(CurrentUser(user))
    }
}

/// Content-Security-Policy of every answer: only this origin's scripts (the wasm console
/// needs `wasm-unsafe-eval`), no framing.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Builds the router with every route; used by `serve` and by tests without a port.
pub fn router(state: AppState) -> Router {
    let index = state.settings.ui_dir.join("index.html");
    let console = ServeDir::new(&state.settings.ui_dir)
        .fallback(get(console_missing).with_state(index.exists()));

    Router::new()
        .route("/api/v1/login", post(api::login))
        .route("/api/v1/logout", post(api::logout))
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/interactions/{id}", get(api::interaction))
        .route("/api/v1/interactions/{id}/wrap-up", put(api::wrap_up))
        .route(
            "/api/v1/interactions/{id}/customer",
            put(customers::choose_customer),
        )
        .route(
            "/api/v1/customers",
            get(customers::search_customers).post(customers::create_customer),
        )
        .route(
            "/api/v1/customers/{id}",
            get(customers::customer)
                .put(customers::update_customer)
                .delete(customers::delete_customer),
        )
        .route(
            "/api/v1/customers/{id}/restore",
            post(customers::restore_customer),
        )
        .route(
            "/api/v1/customers/{id}/interactions",
            get(customers::customer_interactions),
        )
        .route(
            "/api/v1/organisations",
            get(customers::search_organisations).post(customers::create_organisation),
        )
        .route(
            "/api/v1/organisations/{id}",
            get(customers::organisation)
                .put(customers::update_organisation)
                .delete(customers::delete_organisation),
        )
        .route(
            "/api/v1/organisations/{id}/restore",
            post(customers::restore_organisation),
        )
        .route("/api/v1/trash", get(customers::trash))
        .route(
            "/api/v1/admin/unparseable-numbers",
            get(customers::unparseable_numbers),
        )
        .route(ringside_protocol::WS_PATH, get(ws::upgrade))
        .route(
            "/api/v1/pbx/{format}/{token}",
            post(webhooks::receive).layer(DefaultBodyLimit::max(crate::webhook::MAX_BODY_BYTES)),
        )
        .route(
            "/api/v1/admin/pbx-tokens",
            get(admin::list_tokens).post(admin::create_token),
        )
        .route("/api/v1/admin/pbx-tokens/{id}", delete(admin::revoke_token))
        .route(
            "/api/v1/admin/blocked-numbers",
            get(admin::list_blocked).post(admin::block),
        )
        .route(
            "/api/v1/admin/blocked-numbers/{number}",
            delete(admin::unblock),
        )
        .route("/api/v1/{*rest}", any(api_unknown))
        .route("/healthz", get(api::health))
        .route("/metrics", get(api::metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback_service(console)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}

async fn api_unknown() -> ApiError {
    ApiError::NotFound("API endpoint")
}

async fn method_not_allowed() -> impl IntoResponse {
    let body = ringside_protocol::ApiError {
        error: "method not allowed here".into(),
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
}

async fn console_missing(
    axum::extract::State(built): axum::extract::State<bool>,
) -> impl IntoResponse {
    if built {
        (StatusCode::NOT_FOUND, Html("<h1>Not found</h1>"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(
                "<h1>The agent console is not built</h1><p>Run <code>scripts/build-ui</code>, \
                 or start the service with <code>scripts/run serve</code>, which builds it.</p>",
            ),
        )
    }
}

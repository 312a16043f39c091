//! The REST client of the console: session calls and wrap-up saves, same origin, JSON.
//!
//! Every call goes through the browser's `fetch` with the session cookie, which the server
//! sets HttpOnly at login, so this module never sees the session token. Answers outside 2xx
//! carry an `ApiError` body whose reason becomes the [`Error`] text. The websocket lives in
//! [`crate::ws`].

use ringside_protocol::{
    ApiError, ChooseCustomer, Customer, CustomerId, CustomerInput, InteractionId, LoginRequest, Me,
    WrapUp,
};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

use crate::{Error, Result};

/// Fetches the logged-in user.
///
/// # Errors
///
/// [`Error::Unauthorized`] without a valid session; other variants when the server cannot be
/// reached or fails.
pub async fn me() -> Result<Me> {
    let response = send("GET", "/api/v1/me", None).await?;
    read_json(&response).await
}

/// Logs in and returns the user; the server sets the session cookie.
///
/// # Errors
///
/// [`Error::Unauthorized`] with the server's reason when the credentials are refused.
pub async fn login(request: &LoginRequest) -> Result<Me> {
    let body = serde_json::to_string(request).map_err(|_| Error::BadAnswer)?;
    let response = send("POST", "/api/v1/login", Some(body)).await?;
    read_json(&response).await
}

/// Ends the session on the server.
///
/// # Errors
///
/// When the server cannot be reached or refuses; the caller leaves the console anyway.
pub async fn logout() -> Result<()> {
    send("POST", "/api/v1/logout", None).await.map(drop)
}

/// Saves the notes and disposition of an interaction.
///
/// # Errors
///
/// The server's reason when it refuses the wrap-up (too long, unknown disposition, not the
/// agent's call), or a network error.
pub async fn save_wrap_up(interaction: InteractionId, wrap_up: &WrapUp) -> Result<()> {
    let path = format!("/api/v1/interactions/{interaction}/wrap-up");
    let body = serde_json::to_string(wrap_up).map_err(|_| Error::BadAnswer)?;
    send("PUT", &path, Some(body)).await.map(drop)
}

/// Puts the call logged as `interaction` on `customer`'s record: the agent's pick from a
/// shared number's list, or a contact just created from an unknown caller's pop.
///
/// # Errors
///
/// The server's reason when it refuses (no such customer, not the agent's call), or a
/// network error.
pub async fn choose_customer(interaction: InteractionId, customer: CustomerId) -> Result<()> {
    let path = format!("/api/v1/interactions/{interaction}/customer");
    let body = serde_json::to_string(&ChooseCustomer {
        customer_id: customer,
    })
    .map_err(|_| Error::BadAnswer)?;
    send("PUT", &path, Some(body)).await.map(drop)
}

/// Creates a customer record and returns it.
///
/// # Errors
///
/// The server's reason when it refuses the input (an invalid number, say), or a network
/// error.
pub async fn create_customer(input: &CustomerInput) -> Result<Customer> {
    let body = serde_json::to_string(input).map_err(|_| Error::BadAnswer)?;
    let response = send("POST", "/api/v1/customers", Some(body)).await?;
    read_json(&response).await
}

/// Sends one request and turns any status outside 2xx into an [`Error`].
async fn send(method: &str, path: &str, body: Option<String>) -> Result<Response> {
    let window = web_sys::window().ok_or(Error::NoBrowser)?;

    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some(body) = &body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(path, &init).map_err(|_| Error::Unreachable)?;
    let headers = request.headers();
    let accept = headers.set("Accept", "application/json");
    let content_type = match body {
        Some(_) => headers.set("Content-Type", "application/json"),
        None => Ok(()),
    };
    accept.and(content_type).map_err(|_| Error::Unreachable)?;

    let answer = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| Error::Unreachable)?;
    let response: Response = answer.dyn_into().map_err(|_| Error::BadAnswer)?;
    if response.ok() {
        return Ok(response);
    }

    let status = response.status();
    let message = match read_json::<ApiError>(&response).await {
        Ok(body) => body.error,
        Err(_) => format!("the server answered with status {status}"),
    };
    Err(if status == 401 {
        Error::Unauthorized { message }
    } else {
        Error::Rejected { status, message }
    })
}

/// Reads a response body as JSON.
async fn read_json<T: DeserializeOwned>(response: &Response) -> Result<T> {
    let text = response.text().map_err(|_| Error::BadAnswer)?;
    let text = JsFuture::from(text).await.map_err(|_| Error::Unreachable)?;
    let text = text.as_string().ok_or(Error::BadAnswer)?;
    serde_json::from_str(&text).map_err(|_| Error::BadAnswer)
}

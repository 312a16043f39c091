//! `agent-ui`: the Ringside agent console, a Leptos app that runs in the agent's browser.
//!
//! The agent logs in, and the console then shows a card (a *pop*) for every call that rings
//! their extension: who calls, what the customer record says, a running timer, and a form
//! for the wrap-up notes and disposition. It talks to `agent-server` on the same origin only.
//!
//! Layout:
//! - [`api`]: REST calls (session, wrap-up) through the browser's `fetch`;
//! - [`ws`]: the self-reconnecting websocket that delivers pops;
//! - [`pops`]: list order, timer, wording and draft rules, as plain functions with host tests;
//! - [`ui`]: the Leptos components (login page, console, pop card);
//! - [`error`]: what a failed request means, in words for the agent.
//!
//! The message types come from `ringside-protocol`, shared with the server. The console
//! stores nothing in the browser: the session is an HttpOnly cookie set by the server, and
//! pops and typed notes live in memory only.

pub mod api;
pub mod error;
pub mod pops;
pub mod ui;
pub mod ws;

pub use error::{Error, Result};

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point called by the wasm-bindgen glue once the module is loaded: mounts the app.
#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(ui::App);
}

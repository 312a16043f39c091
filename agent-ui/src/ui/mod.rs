//! The console's Leptos components and the session state that picks the page.
//!
//! [`App`] asks the server who is logged in and shows either the [`login::LoginPage`] or the
//! [`console::ConsolePage`]. Each page owns its own state; the only thing they share is the
//! session, switched through callbacks. Element ids and classes named in the end-to-end
//! contract (`#login-*`, `#agent-*`, `#ws-status`, `article.pop` and its `.pop-*` parts) are
//! part of the interface and must not be renamed.

pub mod console;
pub mod login;
pub mod pop_card;

use leptos::{prelude::*, task::spawn_local};
use ringside_protocol::Me;

use crate::api;

/// Which page the console shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Session {
    /// Waiting for the first `GET /api/v1/me`.
    Checking,
    /// Nobody is logged in; the login page shows, with an optional notice saying why.
    LoggedOut {
        /// Why the agent sees the login page, when it is not the first visit.
        notice: Option<String>,
    },
    /// The agent is logged in.
    LoggedIn(Me),
}

/// The root component: checks the session once, then shows the page that fits it.
#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(Session::Checking);

    spawn_local(async move {
        let next = match api::me().await {
            Ok(me) => Session::LoggedIn(me),
            Err(err) if err.is_unauthorized() => Session::LoggedOut { notice: None },
            Err(err) => Session::LoggedOut {
                notice: Some(err.to_string()),
            },
        };
        session.set(next);
    });

    let on_login = Callback::new(move |me: Me| session.set(Session::LoggedIn(me)));
    let on_logout = Callback::new(move |()| session.set(Session::LoggedOut { notice: None }));
    let on_expired = Callback::new(move |()| {
        let notice = Some("your session has expired, please log in again".to_owned());
        session.set(Session::LoggedOut { notice });
    });

    move || match session.get() {
        Session::Checking => view! { <p class="loading">"Loading…"</p> }.into_any(),
        Session::LoggedOut { notice } => view! { <login::LoginPage on_login notice /> }.into_any(),
        Session::LoggedIn(me) => {
            view! { <console::ConsolePage me on_logout on_expired /> }.into_any()
        }
    }
}

//! The login page: username, password, and the server's reason when it refuses.

use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use ringside_protocol::{LoginRequest, Me};

use crate::api;

/// The login form. Calls `on_login` with the user once the server accepts the credentials.
///
/// `notice` explains why the page shows, for example after the session expired.
#[component]
pub fn LoginPage(
    /// Called with the logged-in user after a successful login.
    on_login: Callback<Me>,
    /// A line shown above the form, if any.
    notice: Option<String>,
) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);

        let request = LoginRequest {
            username: username.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            let result = api::login(&request).await;
            busy.try_set(false);
            match result {
                Ok(me) => on_login.run(me),
                Err(err) => {
                    password.try_set(String::new());
                    error.try_set(Some(err.to_string()));
                }
            }
        });
    };

    view! {
        <main class="login">
            <form class="card login-card" on:submit=submit>
                <h1>"Ringside"</h1>
                <p class="login-sub">"Agent console"</p>
                {notice.map(|text| view! { <p class="login-notice">{text}</p> })}
                <label for="login-username">"Username"</label>
                <input
                    id="login-username"
                    type="text"
                    autocomplete="username"
                    autofocus
                    required
                    prop:value=move || username.get()
                    on:input=move |ev| username.set(event_target_value(&ev))
                />
                <label for="login-password">"Password"</label>
                <input
                    id="login-password"
                    type="password"
                    autocomplete="current-password"
                    required
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                <button id="login-submit" type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Logging in…" } else { "Log in" }}
                </button>
                {move || {
                    error
                        .get()
                        .map(|text| view! { <p id="login-error" role="alert">{text}</p> })
                }}
            </form>
        </main>
    }
}

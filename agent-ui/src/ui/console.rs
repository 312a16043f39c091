//! The agent console: header with the agent and connection state, and the list of pops.
//!
//! This component owns the [`Connection`] and the pop list. Each entry holds its pop in a
//! signal of its own, so an update of a known call reaches just that card and the card's
//! local state (the agent's unsaved notes) survives it. New calls are placed by
//! [`pops::place`]; `PopRemoved` and the agent's Dismiss drop the card.
//!
//! Dismissed calls are remembered for the rest of the page's life, so that the server
//! re-sending the pop after a reconnect does not bring the card back; a Dismiss that could
//! not be sent while offline is sent after the next greeting.

use std::collections::HashSet;

use leptos::{prelude::*, task::spawn_local};
use ringside_protocol::{CallId, ClientMessage, Me, Pop, ServerMessage};

use crate::{
    api,
    pops::{self, Listed, Placement},
    ui::pop_card::PopCard,
    ws::{Connection, Event, Status},
};

/// One card of the list: the call, its latest pop, and when the console first showed it.
#[derive(Clone)]
pub struct PopEntry {
    /// The call the card is for.
    pub call_id: CallId,
    /// When the call started ringing, for ordering.
    pub ringing_at_ms: i64,
    /// Browser time (ms since the epoch) when the first message for this call arrived.
    pub shown_at_ms: i64,
    /// The latest pop the server sent for this call.
    pub pop: ArcRwSignal<Pop>,
}

impl Listed for PopEntry {
    fn call_id(&self) -> &CallId {
        &self.call_id
    }

    fn ringing_at_ms(&self) -> i64 {
        self.ringing_at_ms
    }
}

/// How far the server's clock is ahead of the browser's, in milliseconds, as measured by
/// the last greeting.
static CLOCK_OFFSET_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The server's clock as far as the browser can tell: the browser clock corrected by the
/// offset the last greeting showed. Call timers run on it, so a browser whose clock is
/// wrong still shows true ringing and talk times.
pub fn server_now_ms() -> i64 {
    now_ms() + CLOCK_OFFSET_MS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The browser's clock, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    // Date.now() is a whole number of milliseconds, well inside i64.
    js_sys::Date::now() as i64
}

/// The console page of a logged-in agent.
#[component]
pub fn ConsolePage(
    /// The user as the login or `GET /api/v1/me` returned it; the websocket greeting
    /// refreshes it.
    me: Me,
    /// Called after the agent logged out.
    on_logout: Callback<()>,
    /// Called when the server no longer accepts the session.
    on_expired: Callback<()>,
) -> impl IntoView {
    let me = RwSignal::new(me);
    let status = RwSignal::new(Status::Reconnecting);
    let pops = RwSignal::new(Vec::<PopEntry>::new());
    let dismissed = StoredValue::new(HashSet::<CallId>::new());
    let unsent = StoredValue::new(Vec::<CallId>::new());
    let connection = StoredValue::new_local(None::<Connection>);

    let send = move |message: &ClientMessage| {
        connection.try_with_value(|c| c.as_ref().is_some_and(|c| c.send(message))) == Some(true)
    };

    let on_message = move |message: ServerMessage| match message {
        ServerMessage::Hello {
            me: fresh,
            pops: current,
            server_time_ms,
        } => {
            CLOCK_OFFSET_MS.store(
                server_time_ms - now_ms(),
                std::sync::atomic::Ordering::Relaxed,
            );
            me.try_set(fresh);
            // The greeting lists every live pop: a ringing or answered card that is not among
            // them ended and was removed while the console was away. Ended cards stay until
            // the agent dismisses them, since the agent may still be writing the wrap-up.
            let live: HashSet<CallId> = current.iter().map(|p| p.call_id.clone()).collect();
            pops.try_update(|list| {
                list.retain(|entry| {
                    live.contains(&entry.call_id) || entry.pop.with_untracked(pops::is_ended)
                })
            });
            for pop in current {
                if dismissed.try_with_value(|d| d.contains(&pop.call_id)) == Some(false) {
                    receive(pops, pop);
                }
            }
            let waiting = unsent.try_update_value(std::mem::take).unwrap_or_default();
            for call_id in waiting {
                let message = ClientMessage::Dismiss {
                    call_id: call_id.clone(),
                };
                if !send(&message) {
                    unsent.try_update_value(|u| u.push(call_id));
                }
            }
        }
        ServerMessage::Pop { pop } => {
            if dismissed.try_with_value(|d| d.contains(&pop.call_id)) == Some(false) {
                receive(pops, pop);
            }
        }
        ServerMessage::PopRemoved { call_id } => {
            // Limitation: the card goes even when the agent has typed notes in it that are
            // not saved, because the draft lives in the card and the console cannot ask it.
            // The server removes pops well after the call ends, so this bites only an agent
            // who leaves a wrap-up unsaved that long; keeping edited cards until dismissed
            // would lift it.
            pops.try_update(|list| list.retain(|entry| entry.call_id != call_id));
        }
    };
    let on_event = move |event: Event| match event {
        Event::Status(next) => {
            status.try_set(next);
        }
        Event::SessionExpired => on_expired.run(()),
        Event::Message(message) => on_message(*message),
    };
    connection.set_value(Some(Connection::open(on_event)));
    on_cleanup(move || {
        connection.try_with_value(|c| c.as_ref().map(Connection::shutdown));
    });

    let on_dismiss = Callback::new(move |call_id: CallId| {
        pops.update(|list| list.retain(|entry| entry.call_id != call_id));
        dismissed.update_value(|d| {
            d.insert(call_id.clone());
        });
        let message = ClientMessage::Dismiss {
            call_id: call_id.clone(),
        };
        if !send(&message) {
            unsent.update_value(|u| u.push(call_id));
        }
    });

    let logout = move |_| {
        // Stop first, so that the server closing the socket is not taken for an expiry.
        connection.with_value(|c| c.as_ref().map(Connection::shutdown));
        spawn_local(async move {
            // The console is left whatever the answer; a failed logout only leaves a
            // session on the server that expires by itself.
            let _ = api::logout().await;
            on_logout.run(());
        });
    };

    let dispositions = Signal::derive(move || me.with(|m| m.dispositions.clone()));
    let extension = move || {
        me.with(|m| m.extension.clone())
            .unwrap_or("no extension".into())
    };

    view! {
        <header class="topbar">
            <span class="brand">"Ringside"</span>
            <span class="agent">
                <span id="agent-name">{move || me.with(|m| m.display_name.clone())}</span>
                <span class="agent-ext-label">"Ext."</span>
                <span id="agent-extension">{extension}</span>
            </span>
            <span
                id="ws-status"
                class=move || format!("ws-status ws-{}", status.get().as_str())
                title="Live connection to the server"
            >
                {move || status.get().as_str()}
            </span>
            <button id="logout" type="button" on:click=logout>
                "Log out"
            </button>
        </header>
        <main class="console">
            <Show when=move || pops.with(Vec::is_empty)>
                <p class="empty">"No calls right now. A card appears here when your phone rings."</p>
            </Show>
            <For
                each=move || pops.get()
                key=|entry| entry.call_id.clone()
                children=move |entry| view! { <PopCard entry dispositions on_dismiss /> }
            />
        </main>
    }
}

/// Puts a pop from the server into the list: updates a known call, inserts a new one.
fn receive(pops: RwSignal<Vec<PopEntry>>, pop: Pop) {
    let Some(placement) =
        pops.try_with_untracked(|list| pops::place(list, &pop.call_id, pop.ringing_at_ms))
    else {
        return;
    };

    match placement {
        Placement::Update(index) => {
            // Only the card's own signal changes, so the list (and its DOM) stays as it is.
            let target = pops.with_untracked(|list| list.get(index).map(|e| e.pop.clone()));
            if let Some(target) = target {
                target.set(pop);
            }
        }
        Placement::Insert(index) => {
            let entry = PopEntry {
                call_id: pop.call_id.clone(),
                ringing_at_ms: pop.ringing_at_ms,
                shown_at_ms: now_ms(),
                pop: ArcRwSignal::new(pop),
            };
            pops.update(|list| list.insert(index, entry));
        }
    }
}

//! The console's websocket to the server: connect, read pops, reconnect on loss.
//!
//! One [`Connection`] per logged-in console. It opens [`WS_PATH`] on the page's own host
//! (`wss:` when the page came over `https:`), turns each text frame into a
//! [`ServerMessage`] and hands it, with every change of connection [`Status`], to the
//! callback given at [`Connection::open`]. What the messages mean for the screen is the
//! console component's business.
//!
//! After any close or error it waits ([`backoff`]) and reconnects by itself. Before waiting
//! it asks `GET /api/v1/me`: a 401 means the session expired, which no retry can mend, so it
//! reports [`Event::SessionExpired`] and stops instead.

pub mod backoff;

use std::{cell::RefCell, rc::Rc};

use leptos::prelude::{set_timeout_with_handle, TimeoutHandle};
use ringside_protocol::{ClientMessage, ServerMessage, WS_PATH};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::api;
use backoff::Backoff;

/// Whether the console currently has a live connection, as `#ws-status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The websocket is open.
    Connected,
    /// The websocket is closed or not open yet; a new attempt is pending or under way.
    Reconnecting,
}

impl Status {
    /// The word the status element shows: `connected` or `reconnecting`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Connected => "connected",
            Status::Reconnecting => "reconnecting",
        }
    }
}

/// What a [`Connection`] reports to its owner.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The connection opened or was lost.
    Status(Status),
    /// The server sent a message (boxed: a pop is large beside the other variants).
    Message(Box<ServerMessage>),
    /// The server no longer accepts the session; the connection has stopped for good.
    SessionExpired,
}

/// The websocket URL for a page loaded with `protocol` (`http:` or `https:`) from `host`.
pub fn url_for(protocol: &str, host: &str) -> String {
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}{WS_PATH}")
}

/// A self-reconnecting websocket to the server; it stops on [`Connection::shutdown`].
pub struct Connection {
    shared: Rc<RefCell<Shared>>,
}

type Listener = Rc<dyn Fn(Event)>;

struct Shared {
    url: String,
    socket: Option<Socket>,
    backoff: Backoff,
    retry: Option<TimeoutHandle>,
    stopped: bool,
    listener: Listener,
}

/// An open (or opening) socket with the JS callbacks that must live as long as it does.
struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Detach first: the browser must never call a closure that has been freed.
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        // Closing a socket that is already closed is a no-op, and failure changes nothing.
        let _ = self.ws.close();
    }
}

impl Connection {
    /// Connects to the server of the current page and reports to `listener` from then on.
    ///
    /// It starts in [`Status::Reconnecting`] until the socket opens; the listener is not called
    /// before this function returns.
    pub fn open(listener: impl Fn(Event) + 'static) -> Self {
        let url = web_sys::window()
            .map(|w| w.location())
            .and_then(|loc| Some(url_for(&loc.protocol().ok()?, &loc.host().ok()?)))
            .unwrap_or_else(|| WS_PATH.to_owned());

        let shared = Rc::new(RefCell::new(Shared {
            url,
            socket: None,
            backoff: Backoff::new(),
            retry: None,
            stopped: false,
            listener: Rc::new(listener),
        }));
        connect(&shared);
        Connection { shared }
    }

    /// Sends `message` if the socket is open; returns whether it was handed to the browser.
    pub fn send(&self, message: &ClientMessage) -> bool {
        let Ok(text) = serde_json::to_string(message) else {
            return false;
        };
        let shared = self.shared.borrow();
        match &shared.socket {
            Some(socket) if socket.ws.ready_state() == WebSocket::OPEN => {
                socket.ws.send_with_str(&text).is_ok()
            }
            _ => false,
        }
    }

    /// Closes the socket and cancels any pending retry; no event is reported afterwards.
    pub fn shutdown(&self) {
        let (socket, retry) = {
            let mut shared = self.shared.borrow_mut();
            shared.stopped = true;
            (shared.socket.take(), shared.retry.take())
        };
        if let Some(retry) = retry {
            retry.clear();
        }
        drop(socket);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // A pending reconnection check holds the shared state alive; without this it would
        // open a socket for a console that no longer exists.
        self.shutdown();
    }
}

/// Reports `event` to the listener, holding no borrow while the listener runs.
fn emit(shared: &Rc<RefCell<Shared>>, event: Event) {
    let listener = {
        let shared = shared.borrow();
        if shared.stopped {
            return;
        }
        Rc::clone(&shared.listener)
    };
    listener(event);
}

/// Opens a new socket, or schedules a retry when the browser refuses to create one.
fn connect(shared: &Rc<RefCell<Shared>>) {
    let url = {
        let mut state = shared.borrow_mut();
        if state.stopped {
            return;
        }
        state.retry = None;
        state.url.clone()
    };

    let Ok(ws) = WebSocket::new(&url) else {
        schedule_retry(shared);
        return;
    };

    let weak = Rc::downgrade(shared);
    let on_open = Closure::<dyn FnMut()>::new(move || {
        if let Some(shared) = weak.upgrade() {
            emit(&shared, Event::Status(Status::Connected));
        }
    });

    let weak = Rc::downgrade(shared);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let parsed = event.data().as_string().map(|t| serde_json::from_str(&t));
        match parsed {
            Some(Ok(message)) => {
                if matches!(message, ServerMessage::Hello { .. }) {
                    // The server greeted us, so the session and the server are fine.
                    shared.borrow_mut().backoff.reset();
                }
                emit(&shared, Event::Message(Box::new(message)));
            }
            // The frame's content may be personal data, so only the fact is logged.
            _ => leptos::logging::warn!("ignored a websocket frame the console cannot read"),
        }
    });

    let weak = Rc::downgrade(shared);
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
        if let Some(shared) = weak.upgrade() {
            lost(shared);
        }
    });

    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));

    let socket = Socket {
        ws,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    };
    let previous = shared.borrow_mut().socket.replace(socket);
    drop(previous);
}

/// Handles a closed socket: report it, then either give up on an expired session or retry.
fn lost(shared: Rc<RefCell<Shared>>) {
    // The socket is kept until the check below is done: its close callback is what is
    // running now, and freeing a closure from inside its own call is best avoided.
    let socket = shared.borrow_mut().socket.take();
    emit(&shared, Event::Status(Status::Reconnecting));

    leptos::task::spawn_local(async move {
        let expired = matches!(api::me().await, Err(e) if e.is_unauthorized());
        drop(socket);
        if shared.borrow().stopped {
            return;
        }
        if expired {
            emit(&shared, Event::SessionExpired);
            shared.borrow_mut().stopped = true;
        } else {
            schedule_retry(&shared);
        }
    });
}

/// Arms the timer of the next connection attempt.
fn schedule_retry(shared: &Rc<RefCell<Shared>>) {
    let delay = shared.borrow_mut().backoff.next_delay();
    let weak = Rc::downgrade(shared);
    let handle = set_timeout_with_handle(
        move || {
            if let Some(shared) = weak.upgrade() {
                connect(&shared);
            }
        },
        delay,
    );

    match handle {
        Ok(handle) => shared.borrow_mut().retry = Some(handle),
        // Without timers the page is unusable anyway; say so once in the browser console.
        Err(_) => leptos::logging::error!("could not schedule a websocket reconnection"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_follows_the_page_protocol() {
        assert_eq!(
            url_for("http:", "pbx.local:8080"),
            "ws://pbx.local:8080/api/v1/ws"
        );
        assert_eq!(
            url_for("https:", "cti.example.org"),
            "wss://cti.example.org/api/v1/ws"
        );
    }

    #[test]
    fn status_words_are_the_documented_hooks() {
        assert_eq!(Status::Connected.as_str(), "connected");
        assert_eq!(Status::Reconnecting.as_str(), "reconnecting");
    }
}

//! Screen-pop delivery: which consoles are open, and which pops each agent has now.
//!
//! The hub keeps, per agent, the live pops (ringing, answered, and ended ones still in
//! wrap-up) and the open consoles. Publishing a pop stores it and sends it to every
//! console of that agent; a console that attaches (or re-attaches after a drop) first gets
//! every live pop of its agent, in ringing order, so a reconnect never loses a call.
//!
//! Each message is serialised once and shared by all consoles. Every console has a bounded
//! queue of [`CONSOLE_QUEUE`] messages: a console that falls that far behind is detached
//! (its socket closes, the browser reconnects and gets the current pops again) and counted
//! in [`Metrics::ws_dropped_slow`], so one stuck browser never delays the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use ringside_protocol::{CallId, CallState, CustomerCard, Me, Pop, ServerMessage, UserId};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// Messages a console may have queued before it is dropped as too slow.
pub const CONSOLE_QUEUE: usize = 64;

/// Most live pops one agent has at once. No phone rings on that many calls; past it a
/// flood (or a broken PBX) would only grow every greeting, so the oldest ended pop, or
/// failing that the oldest pop, is forgotten and counted.
pub const MAX_POPS_PER_AGENT: usize = CONSOLE_QUEUE;

/// Identifies one open console (one browser tab).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConsoleId(u64);

struct LivePop {
    pop: Pop,
    frame: Utf8Bytes,
    /// Set when the call ended: the pop is forgotten `wrapup_keep_ms` later.
    ended_at_ms: Option<i64>,
}

struct Console {
    id: ConsoleId,
    tx: mpsc::Sender<Utf8Bytes>,
}

#[derive(Default)]
struct Agent {
    consoles: Vec<Console>,
    pops: Vec<LivePop>,
}

/// The pop hub; share it as `Arc<Hub>`.
pub struct Hub {
    agents: Mutex<HashMap<UserId, Agent>>,
    next_console: AtomicU64,
    metrics: Arc<Metrics>,
    wrapup_keep_ms: i64,
}

/// What a console gets when it attaches.
pub struct Attached {
    /// Its id, for [`Hub::detach`].
    pub id: ConsoleId,
    /// Frames to send, starting with the agent's live pops.
    pub rx: mpsc::Receiver<Utf8Bytes>,
}

impl Hub {
    /// A hub that keeps ended pops for `wrapup_keep_ms` after the call ends.
    pub fn new(metrics: Arc<Metrics>, wrapup_keep_ms: i64) -> Hub {
        Hub {
            agents: Mutex::new(HashMap::new()),
            next_console: AtomicU64::new(1),
            metrics,
            wrapup_keep_ms,
        }
    }

    /// Registers a console of `agent` and queues its greeting: `me`, the agent's live pops
    /// and the server time `now_ms`.
    pub fn attach(&self, agent: UserId, me: Me, now_ms: i64) -> Attached {
        let id = ConsoleId(self.next_console.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = mpsc::channel(CONSOLE_QUEUE);
        let mut agents = self.lock();
        let entry = agents.entry(agent).or_default();

        // Under the lock: no pop can be published between the snapshot and the registration.
        let pops = entry.pops.iter().map(|p| p.pop.clone()).collect();
        let hello = ServerMessage::Hello {
            me,
            pops,
            server_time_ms: now_ms,
        };
        // Cannot fail: the channel is new and empty.
        let _ = tx.try_send(frame_of(&hello));
        entry.consoles.push(Console { id, tx });
        self.metrics.ws_consoles.fetch_add(1, Ordering::Relaxed);
        Attached { id, rx }
    }

    /// Unregisters a console (its socket closed).
    pub fn detach(&self, agent: UserId, console: ConsoleId) {
        let mut agents = self.lock();
        if let Some(entry) = agents.get_mut(&agent) {
            let before = entry.consoles.len();
            entry.consoles.retain(|c| c.id != console);
            let removed = (before - entry.consoles.len()) as u64;
            self.metrics
                .ws_consoles
                .fetch_sub(removed, Ordering::Relaxed);
            if entry.consoles.is_empty() && entry.pops.is_empty() {
                agents.remove(&agent);
            }
        }
    }

    /// Stores `pop` as `agent`'s current pop for its call and sends it to their consoles.
    pub fn publish(&self, agent: UserId, pop: Pop) {
        let frame = frame_of(&ServerMessage::Pop { pop: pop.clone() });
        let ended_at_ms = match pop.state {
            CallState::Ended(_) => pop.ended_at_ms.or(Some(pop.ringing_at_ms)),
            _ => None,
        };
        let mut agents = self.lock();
        let entry = agents.entry(agent).or_default();
        match entry.pops.iter_mut().find(|p| p.pop.call_id == pop.call_id) {
            Some(live) => {
                live.pop = pop;
                live.frame = frame.clone();
                live.ended_at_ms = ended_at_ms;
            }
            None => {
                if entry.pops.len() >= MAX_POPS_PER_AGENT {
                    let oldest_ended = entry.pops.iter().position(|p| p.ended_at_ms.is_some());
                    entry.pops.remove(oldest_ended.unwrap_or(0));
                    self.metrics.pops_evicted.fetch_add(1, Ordering::Relaxed);
                }
                entry.pops.push(LivePop {
                    pop,
                    frame: frame.clone(),
                    ended_at_ms,
                });
            }
        }
        self.send(entry, frame);
    }

    /// Updates the notes and disposition shown on a live pop, if there is one.
    pub fn update_wrap_up(
        &self,
        agent: UserId,
        call: &CallId,
        notes: &str,
        disposition: Option<&str>,
    ) {
        let mut agents = self.lock();
        let Some(entry) = agents.get_mut(&agent) else {
            return;
        };
        let Some(live) = entry.pops.iter_mut().find(|p| &p.pop.call_id == call) else {
            return;
        };
        live.pop.notes = notes.to_owned();
        live.pop.disposition = disposition.map(str::to_owned);
        live.frame = frame_of(&ServerMessage::Pop {
            pop: live.pop.clone(),
        });
        let frame = live.frame.clone();
        self.send(entry, frame);
    }

    /// Shows `card` as the customer of the agent's pop of `call` (an agent put the call on
    /// that record), and sends the changed pop to their consoles.
    pub fn update_customer(&self, agent: UserId, call: &CallId, card: CustomerCard) {
        let mut agents = self.lock();
        let Some(entry) = agents.get_mut(&agent) else {
            return;
        };
        let Some(live) = entry.pops.iter_mut().find(|p| &p.pop.call_id == call) else {
            return;
        };
        live.pop.customer = Some(card);
        live.frame = frame_of(&ServerMessage::Pop {
            pop: live.pop.clone(),
        });
        let frame = live.frame.clone();
        self.send(entry, frame);
    }

    /// Forgets a pop the agent closed, and tells their other consoles.
    pub fn dismiss(&self, agent: UserId, call: &CallId) {
        let mut agents = self.lock();
        let Some(entry) = agents.get_mut(&agent) else {
            return;
        };
        let before = entry.pops.len();
        // Only ended pops can be dismissed: a ringing call must stay visible.
        entry
            .pops
            .retain(|p| &p.pop.call_id != call || p.ended_at_ms.is_none());
        if entry.pops.len() < before {
            let frame = frame_of(&ServerMessage::PopRemoved {
                call_id: call.clone(),
            });
            self.send(entry, frame);
        }
    }

    /// Forgets ended pops whose wrap-up time is over at `now_ms`; returns how many.
    pub fn sweep(&self, now_ms: i64) -> usize {
        let mut agents = self.lock();
        let mut removed = 0;
        let keep_ms = self.wrapup_keep_ms;
        for entry in agents.values_mut() {
            let (kept, expired): (Vec<LivePop>, Vec<LivePop>) = std::mem::take(&mut entry.pops)
                .into_iter()
                .partition(|p| p.ended_at_ms.is_none_or(|ended| now_ms - ended < keep_ms));
            entry.pops = kept;
            removed += expired.len();
            // Open consoles drop the card too, so a busy agent's page does not grow all day.
            for live in expired {
                let call_id = live.pop.call_id;
                self.send(entry, frame_of(&ServerMessage::PopRemoved { call_id }));
            }
        }
        agents.retain(|_, a| !a.consoles.is_empty() || !a.pops.is_empty());
        removed
    }

    /// The live pops of `agent`, oldest first.
    pub fn pops_of(&self, agent: UserId) -> Vec<Pop> {
        self.lock()
            .get(&agent)
            .map(|a| a.pops.iter().map(|p| p.pop.clone()).collect())
            .unwrap_or_default()
    }

    /// Number of open consoles of `agent`.
    pub fn consoles_of(&self, agent: UserId) -> usize {
        self.lock().get(&agent).map_or(0, |a| a.consoles.len())
    }

    fn send(&self, entry: &mut Agent, frame: Utf8Bytes) {
        let metrics = &self.metrics;
        entry
            .consoles
            .retain(|console| match console.tx.try_send(frame.clone()) {
                Ok(()) => {
                    metrics.pops_sent.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // Dropping the sender ends the console's socket task; it reconnects.
                    metrics.ws_dropped_slow.fetch_add(1, Ordering::Relaxed);
                    metrics.ws_consoles.fetch_sub(1, Ordering::Relaxed);
                    tracing::warn!(console.id = console.id.0, "console too slow, disconnected");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    metrics.ws_consoles.fetch_sub(1, Ordering::Relaxed);
                    false
                }
            });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Agent>> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.agents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn frame_of(message: &ServerMessage) -> Utf8Bytes {
    serde_json::to_string(message)
        .expect("protocol messages always serialise")
        .into()
}

#[cfg(test)]
mod tests {
    use ringside_protocol::{Caller, Direction, InteractionId, Outcome};

    use super::*;

    const ANN: UserId = UserId(1);

    fn hub() -> Hub {
        Hub::new(Arc::new(Metrics::default()), 60_000)
    }

    fn hello() -> Me {
        Me {
            id: ANN,
            username: "ann".into(),
            display_name: "Ann".into(),
            extension: Some("2001".into()),
            role: "agent".into(),
            dispositions: vec![],
        }
    }

    fn pop(call: &str, state: CallState) -> Pop {
        Pop {
            call_id: CallId(call.into()),
            interaction_id: InteractionId(1),
            direction: Direction::Inbound,
            state,
            caller: Caller::Withheld,
            called: "2001".into(),
            ringing_at_ms: 1_000,
            answered_at_ms: None,
            ended_at_ms: matches!(state, CallState::Ended(_)).then_some(5_000),
            customer: None,
            candidates: Vec::new(),
            colleague: None,
            notes: String::new(),
            disposition: None,
        }
    }

    fn decode(frame: Utf8Bytes) -> ServerMessage {
        serde_json::from_str(frame.as_str()).unwrap()
    }

    #[tokio::test]
    async fn every_console_of_the_agent_gets_the_pop() {
        let hub = hub();
        let mut a = hub.attach(ANN, hello(), 7);
        let mut b = hub.attach(ANN, hello(), 7);
        let mut other = hub.attach(UserId(2), hello(), 7);
        for rx in [&mut a.rx, &mut b.rx, &mut other.rx] {
            assert!(matches!(
                decode(rx.recv().await.unwrap()),
                ServerMessage::Hello { .. }
            ));
        }

        hub.publish(ANN, pop("c1", CallState::Ringing));

        for rx in [&mut a.rx, &mut b.rx] {
            let ServerMessage::Pop { pop } = decode(rx.recv().await.unwrap()) else {
                panic!()
            };
            assert_eq!(pop.call_id.0, "c1");
        }
        assert!(other.rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_reconnecting_console_gets_the_current_pops_again() {
        let hub = hub();
        hub.publish(ANN, pop("c1", CallState::Ringing));
        hub.publish(ANN, pop("c1", CallState::Answered));
        hub.publish(ANN, pop("c2", CallState::Ringing));

        let mut console = hub.attach(ANN, hello(), 7);

        let ServerMessage::Hello {
            pops,
            server_time_ms,
            ..
        } = decode(console.rx.recv().await.unwrap())
        else {
            panic!("expected the greeting")
        };
        let listed: Vec<(&str, CallState)> = pops
            .iter()
            .map(|p| (p.call_id.0.as_str(), p.state))
            .collect();
        assert_eq!(
            listed,
            vec![("c1", CallState::Answered), ("c2", CallState::Ringing)]
        );
        assert_eq!(server_time_ms, 7);
        assert!(console.rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_slow_console_is_dropped_and_the_others_keep_receiving() {
        let hub = hub();
        let mut slow = hub.attach(ANN, hello(), 7);
        let mut fast = hub.attach(ANN, hello(), 7);
        let _ = fast.rx.recv().await;

        for n in 0..CONSOLE_QUEUE + 5 {
            hub.publish(ANN, pop(&format!("c{n}"), CallState::Ringing));
            assert!(fast.rx.recv().await.is_some());
        }

        assert_eq!(hub.consoles_of(ANN), 1);
        assert_eq!(hub.metrics.ws_dropped_slow.load(Ordering::Relaxed), 1);
        let mut drained = 0;
        while slow.rx.recv().await.is_some() {
            drained += 1;
        }
        assert_eq!(drained, CONSOLE_QUEUE);
    }

    #[tokio::test]
    async fn an_agent_never_holds_more_than_the_cap_of_pops() {
        let hub = hub();
        hub.publish(ANN, pop("ended", CallState::Ended(Outcome::Busy)));
        for n in 0..MAX_POPS_PER_AGENT + 3 {
            hub.publish(ANN, pop(&format!("c{n}"), CallState::Ringing));
        }

        let pops = hub.pops_of(ANN);

        assert_eq!(pops.len(), MAX_POPS_PER_AGENT);
        assert!(
            pops.iter().all(|p| p.call_id.0 != "ended"),
            "the ended pop goes first"
        );
        assert_eq!(
            pops.last().unwrap().call_id.0,
            format!("c{}", MAX_POPS_PER_AGENT + 2)
        );
        assert_eq!(hub.metrics.pops_evicted.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn ended_pops_stay_for_wrap_up_then_go() {
        let hub = hub();
        hub.publish(ANN, pop("c1", CallState::Ended(Outcome::Completed)));
        hub.publish(ANN, pop("c2", CallState::Ringing));

        let mut console = hub.attach(ANN, hello(), 7);
        console.rx.recv().await.unwrap();

        assert_eq!(hub.sweep(5_000 + 59_999), 0);
        assert_eq!(hub.sweep(5_000 + 60_000), 1);
        let removed = decode(console.rx.recv().await.unwrap());
        assert_eq!(
            removed,
            ServerMessage::PopRemoved {
                call_id: CallId("c1".into())
            }
        );

        let left: Vec<String> = hub.pops_of(ANN).into_iter().map(|p| p.call_id.0).collect();
        assert_eq!(left, vec!["c2".to_string()]);
    }

    #[tokio::test]
    async fn only_ended_pops_can_be_dismissed() {
        let hub = hub();
        hub.publish(ANN, pop("ringing", CallState::Ringing));
        hub.publish(ANN, pop("done", CallState::Ended(Outcome::Abandoned)));
        let mut console = hub.attach(ANN, hello(), 7);
        console.rx.recv().await.unwrap();

        hub.dismiss(ANN, &CallId("ringing".into()));
        hub.dismiss(ANN, &CallId("done".into()));

        let left: Vec<String> = hub.pops_of(ANN).into_iter().map(|p| p.call_id.0).collect();
        assert_eq!(left, vec!["ringing".to_string()]);
        let removed = decode(console.rx.recv().await.unwrap());
        assert_eq!(
            removed,
            ServerMessage::PopRemoved {
                call_id: CallId("done".into())
            }
        );
    }

    #[tokio::test]
    async fn saved_notes_show_on_the_live_pop() {
        let hub = hub();
        hub.publish(ANN, pop("c1", CallState::Answered));

        hub.update_wrap_up(
            ANN,
            &CallId("c1".into()),
            "called about invoice",
            Some("resolved"),
        );

        let pops = hub.pops_of(ANN);
        assert_eq!(pops[0].notes, "called about invoice");
        assert_eq!(pops[0].disposition.as_deref(), Some("resolved"));
    }
}

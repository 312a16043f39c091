//! The call service: turns tracker events into pops and interaction rows.
//!
//! For each call that starts ringing it finds the agent (the user whose extension is
//! called), looks the caller up in the CRM, opens the interaction row and publishes the
//! pop; `answered` and `ended` update both. A call whose called extension is nobody's but
//! whose caller is an agent's extension is that agent's outbound call: the pop then shows
//! the called party's record.
//!
//! A forked call (one call ringing several phones, `Offered` events) pops every agent it
//! rings, found by extension as for the first. When one answers, the interaction is
//! assigned to that agent and every other agent's pop ends as `answered_elsewhere`: the
//! log holds one call, answered by one agent. The answering agent is the one whose
//! extension the tracker names in `Answered { by }`; when it names none that rang here,
//! the agent of the called extension keeps the call, and failing that the only agent
//! popped. A transferred call's row records the Call-ID it continues
//! (`transferred_from`), and the transferring agent's pop ends as `transferred`.
//!
//! Limitation: the tracker reports no end per branch, so an agent whose phone stopped
//! ringing on its own (busy, or a serial fork moving on) keeps a ringing pop until the
//! call is answered or ends; an `Offered`-end event per target would lift it.
//!
//! [`run`] spreads the events over [`SHARDS`] worker tasks by Call-ID, each with its own
//! [`CallService`]: the events of one call go to one worker, in order, so they never
//! overtake each other, while different calls wait on the database side by side.
//!
//! PBX webhooks feed the same workers (see [`crate::webhook`]); the dispatcher passes
//! both sources through one [`Correlator`] so a call both report is one call.
//!
//! Limitation: the events of different calls may be handled out of their arrival order
//! (a transfer's new call may pop before the old call's pop ends as `transferred`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringside_protocol::{
    CallId, CallState, Caller, Candidate, Colleague, CustomerCard, CustomerId, Direction,
    InteractionId, MatchReason, Outcome, Pop, UserId,
};
use ringside_sip::identity::{CallerId, Masked};
use ringside_sip::tracker::{CallEvent, CallEventKind, EndCause};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::correlate::{Correlator, Source};
use crate::hub::Hub;
use crate::lookup::{self, Found, LookupRules};
use crate::metrics::Metrics;
use crate::phone;
use crate::store::{self, CustomerRecord, NewInteraction, Store};

/// Worker tasks [`run`] spreads calls over; matches the SQLite connection pool.
pub const SHARDS: usize = 4;

/// Events waiting for one worker; when it is full the dispatcher waits, which in turn
/// lets the tracker's event queue fill.
const SHARD_QUEUE: usize = 4096;

/// How many earlier interactions a pop lists.
pub const RECENT_ON_POP: i64 = 5;

/// Most customers a pop lists for a shared number; the rest are found by searching.
pub const MAX_CANDIDATES: usize = 10;

struct LiveCall {
    interaction: InteractionId,
    agent: Option<UserId>,
    /// Other agents the call rings (forks), in the order they were offered it.
    offered: Vec<UserId>,
    pop: Pop,
}

/// Most agents one call pops; the tracker offers a call to at most 8 targets.
const MAX_OFFERED: usize = 8;

/// When and how a call started.
struct Start {
    at_ms: i64,
    /// Created by a later event; its start was never reported.
    unseen: bool,
}

/// Owns the calls in progress; feed it with [`CallService::handle`] or [`run`].
pub struct CallService {
    store: Store,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    rules: LookupRules,
    live: HashMap<CallId, LiveCall>,
}

/// A short, stable reference to a call for logs: Call-IDs often embed an IP address.
pub fn call_ref(call: &CallId) -> String {
    let digest = Sha256::digest(call.0.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn outcome_of(cause: EndCause) -> Outcome {
    match cause {
        EndCause::Completed => Outcome::Completed,
        EndCause::Abandoned => Outcome::Abandoned,
        EndCause::Busy => Outcome::Busy,
        EndCause::Rejected => Outcome::Rejected,
        EndCause::Failed => Outcome::Failed,
        EndCause::AnsweredElsewhere => Outcome::AnsweredElsewhere,
        EndCause::Transferred => Outcome::Transferred,
    }
}

impl CallService {
    /// A service with no calls in progress, looking callers up with the default rules
    /// for `region` (see [`CallService::with_lookup`]).
    pub fn new(
        store: Store,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        region: phonenumber::country::Id,
    ) -> CallService {
        CallService {
            store,
            hub,
            metrics,
            rules: LookupRules::for_region(region),
            live: HashMap::new(),
        }
    }

    /// The same service, looking callers up with `rules`.
    pub fn with_lookup(mut self, rules: LookupRules) -> CallService {
        self.rules = rules;
        self
    }

    async fn card(
        &self,
        customer: CustomerRecord,
        matched_by: MatchReason,
        call: &CallId,
    ) -> Result<CustomerCard, store::Error> {
        customer_card(&self.store, customer, matched_by, call).await
    }

    /// Shows the customer the interaction is on now, when an agent put it on another
    /// record while the call went on (`PUT /api/v1/interactions/{id}/customer`).
    async fn follow_choice(
        &self,
        call: &CallId,
        pop: &mut Pop,
        customer: Option<CustomerId>,
    ) -> Result<(), store::Error> {
        let Some(id) = customer else {
            return Ok(());
        };
        if pop.customer.as_ref().map(|c| c.id) == Some(id) {
            return Ok(());
        }
        if let Some(record) = self.store.customer(id).await? {
            pop.customer = Some(self.card(record, MatchReason::Chosen, call).await?);
        }
        Ok(())
    }

    /// Calls in progress.
    pub fn live_calls(&self) -> usize {
        self.live.len()
    }

    /// Applies one tracker event.
    ///
    /// # Errors
    /// [`store::Error`] when the database fails; the event is then lost for the log, and the
    /// caller counts it.
    pub async fn handle(&mut self, event: CallEvent) -> Result<(), store::Error> {
        self.handle_marked(event, Marks::default()).await
    }

    /// Applies one event, as [`CallService::handle`] does, with what a PBX webhook adds
    /// ([`Marks`]): `start_unseen` marks the interaction a `Ringing` opens as created by a
    /// later event of its call, and a queue is written on the call's interaction.
    ///
    /// # Errors
    /// As [`CallService::handle`].
    pub async fn handle_marked(
        &mut self,
        event: CallEvent,
        marks: Marks,
    ) -> Result<(), store::Error> {
        let call = CallId(event.call_id);
        let start_unseen = marks.start_unseen;
        // Only a webhook naming a queue needs the Call-ID after the event (SIP events
        // carry none), so only then is it cloned.
        let Some(queue) = marks.queue else {
            return self
                .apply_event(call, event.at_ms, event.kind, start_unseen)
                .await;
        };
        // Written before the event, which may end the call and forget it, or else after
        // it: a `Ringing` opens the row.
        if self.live.contains_key(&call) {
            self.record_queue(&call, &queue).await?;
            return self
                .apply_event(call, event.at_ms, event.kind, start_unseen)
                .await;
        }
        let handled = self
            .apply_event(call.clone(), event.at_ms, event.kind, start_unseen)
            .await;
        self.record_queue(&call, &queue).await?;
        handled
    }

    async fn record_queue(&self, call: &CallId, queue: &str) -> Result<(), store::Error> {
        match self.live.get(call) {
            Some(live) => {
                self.store
                    .set_interaction_queue(live.interaction, queue)
                    .await
            }
            None => Ok(()),
        }
    }

    async fn apply_event(
        &mut self,
        call: CallId,
        at_ms: i64,
        kind: CallEventKind,
        start_unseen: bool,
    ) -> Result<(), store::Error> {
        match kind {
            CallEventKind::Ringing {
                caller,
                called,
                transferred_from,
            } => {
                let from = transferred_from.map(CallId);
                let started = Start {
                    at_ms,
                    unseen: start_unseen,
                };
                self.ringing(call, caller, called, from, started).await
            }
            CallEventKind::Offered { target } => self.offered(&call, &target).await,
            CallEventKind::Answered { by } => self.answered(&call, by, at_ms).await,
            CallEventKind::Transferred { attended, .. } => {
                if let Some(live) = self.live.get(&call) {
                    tracing::info!(interaction.id = %live.interaction, attended, "call transferred");
                }
                Ok(())
            }
            CallEventKind::Ended { cause, .. } => self.ended(&call, outcome_of(cause), at_ms).await,
        }
    }

    /// Pops one more agent for a call that rings several (a fork).
    async fn offered(&mut self, call: &CallId, target: &str) -> Result<(), store::Error> {
        let Some(live) = self.live.get(call) else {
            tracing::debug!(call.r#ref = %call_ref(call), "offer for a call not ringing here");
            return Ok(());
        };
        if live.pop.state != CallState::Ringing {
            return Ok(());
        }
        let Some(user) = self.store.user_by_extension(target).await? else {
            return Ok(());
        };
        let Some(live) = self.live.get_mut(call) else {
            return Ok(());
        };
        let known = live.agent == Some(user.id) || live.offered.contains(&user.id);
        if known || live.offered.len() >= MAX_OFFERED {
            return Ok(());
        }
        live.offered.push(user.id);
        tracing::info!(
            interaction.id = %live.interaction,
            agent.id = user.id.0,
            "call offered to another agent"
        );
        self.hub.publish(user.id, live.pop.clone());
        Ok(())
    }

    async fn ringing(
        &mut self,
        call: CallId,
        caller: CallerId,
        called: String,
        transferred_from: Option<CallId>,
        started: Start,
    ) -> Result<(), store::Error> {
        let at_ms = started.at_ms;
        if self.live.contains_key(&call) {
            return Ok(());
        }
        let region = self.rules.region;
        let caller_number = match &caller {
            CallerId::Number(raw) => Some(phone::normalise_or_keep(raw, region)),
            CallerId::Withheld => None,
        };

        // Both parties' extensions in one query: the called party's user takes the call;
        // failing that, a calling user makes it an outbound call.
        let raw_caller = match &caller {
            CallerId::Number(raw) => raw.as_str(),
            CallerId::Withheld => called.as_str(),
        };
        let users = self.store.users_by_extensions(&called, raw_caller).await?;
        let holder = |number: &str| {
            users
                .iter()
                .find(|user| user.extension.as_deref() == Some(number))
                .cloned()
        };
        let called_user = holder(&called);
        let caller_user = match &caller {
            CallerId::Number(raw) => holder(raw),
            CallerId::Withheld => None,
        };

        let mut direction = Direction::Inbound;
        let mut other_raw = match &caller {
            CallerId::Number(raw) => Some(raw.as_str()),
            CallerId::Withheld => None,
        };
        let mut other_party = caller_number.clone();
        let mut colleague = None;
        let agent = match (called_user, caller_user) {
            (Some(agent), caller_user) => {
                // A colleague's internal extension: pop the colleague, not a lookup.
                colleague = caller_user.and_then(|user| {
                    Some(Colleague {
                        extension: user.extension?,
                        id: user.id,
                        display_name: user.display_name,
                    })
                });
                Some(agent)
            }
            (None, Some(agent)) => {
                direction = Direction::Outbound;
                other_raw = Some(called.as_str());
                other_party = Some(phone::normalise_or_keep(&called, region));
                Some(agent)
            }
            (None, None) => None,
        };

        // Withheld callers and colleagues are never looked up.
        let found = match other_raw.filter(|_| colleague.is_none()) {
            Some(raw) => lookup::find(&self.store, &self.rules, raw).await?,
            None => Found::Unknown,
        };
        let (matched_by, mut customers) = match found {
            Found::Customers { reason, customers } => (Some(reason), customers),
            Found::Unknown => (None, Vec::new()),
        };
        customers.truncate(MAX_CANDIDATES);
        let candidates: Vec<Candidate> = if customers.len() > 1 {
            customers
                .iter()
                .map(|c| Candidate {
                    id: c.id,
                    name: c.name.clone(),
                    organisation: c.organisation.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let customer = customers.into_iter().next();

        let agent_id = agent.as_ref().map(|a| a.id);
        let new = NewInteraction {
            call_id: &call,
            customer: customer.as_ref().map(|c| c.id),
            agent: agent_id,
            direction,
            caller_number: other_party.as_deref(),
            called_number: &called,
            ringing_at_ms: at_ms,
            transferred_from: transferred_from.as_ref(),
            matched_by,
        };
        let interaction = match self.store.open_interaction(new).await {
            Ok(id) if started.unseen => {
                self.store.mark_start_unseen(id).await?;
                id
            }
            Ok(id) => id,
            // The call is still open on its row (the same call seen again): keep logging
            // there. A reused call id of an ended call gets a row of its own instead.
            Err(store::Error::Conflict(_)) => match self.store.interaction_by_call(&call).await? {
                Some(existing) if existing.ended_at_ms.is_none() => existing.id,
                _ => return Err(store::Error::Conflict("call id")),
            },
            Err(err) => return Err(err),
        };

        let card = match (customer, matched_by) {
            (Some(c), Some(reason)) => Some(self.card(c, reason, &call).await?),
            _ => None,
        };
        tracing::info!(
            call.r#ref = %call_ref(&call),
            interaction.id = %interaction,
            agent.id = ?agent_id.map(|a| a.0),
            customer.id = ?card.as_ref().map(|c| c.id.0),
            matched_by = matched_by.map_or("none", MatchReason::as_str),
            candidates = candidates.len(),
            colleague.id = ?colleague.as_ref().map(|c| c.id.0),
            direction = direction.as_str(),
            transferred_from = ?transferred_from.as_ref().map(call_ref),
            "call ringing"
        );
        tracing::debug!(
            interaction.id = %interaction,
            caller = %other_party.as_deref().map_or("withheld".into(), |n| Masked(n).to_string()),
            "caller identified"
        );

        let pop = Pop {
            call_id: call.clone(),
            interaction_id: interaction,
            direction,
            state: CallState::Ringing,
            caller: other_party.map_or(Caller::Withheld, Caller::Number),
            called,
            ringing_at_ms: at_ms,
            answered_at_ms: None,
            ended_at_ms: None,
            customer: card,
            candidates,
            colleague,
            notes: String::new(),
            disposition: None,
        };
        if let Some(agent) = agent_id {
            self.hub.publish(agent, pop.clone());
        }
        self.live.insert(
            call,
            LiveCall {
                interaction,
                agent: agent_id,
                offered: Vec::new(),
                pop,
            },
        );
        Ok(())
    }

    async fn answered(
        &mut self,
        call: &CallId,
        by: Option<String>,
        at_ms: i64,
    ) -> Result<(), store::Error> {
        let answerer = match by.as_deref() {
            Some(by) => self.store.user_by_extension(by).await?.map(|u| u.id),
            None => None,
        };
        let Some(live) = self.live.get_mut(call) else {
            tracing::debug!(call.r#ref = %call_ref(call), "answer for a call not ringing here");
            return Ok(());
        };
        // A call both a SIP mirror and a webhook report is answered twice; the first
        // answer stands.
        if live.pop.state == CallState::Answered {
            return Ok(());
        }
        let rang_here = |agent: &UserId| live.agent == Some(*agent) || live.offered.contains(agent);
        let answerer = match answerer.filter(rang_here) {
            Some(agent) => Some(agent),
            None if live.agent.is_none() && live.offered.len() == 1 => {
                live.offered.first().copied()
            }
            None => live.agent,
        };
        let others: Vec<UserId> = live
            .agent
            .iter()
            .chain(&live.offered)
            .copied()
            .filter(|agent| Some(*agent) != answerer)
            .collect();
        if answerer != live.agent {
            if let Some(agent) = answerer {
                self.store
                    .assign_agent(live.interaction, agent, at_ms)
                    .await?;
            }
        }
        live.agent = answerer;
        live.offered.clear();

        // The agents who rang in vain see their card end now, not when the call does.
        let mut elsewhere = live.pop.clone();
        elsewhere.state = CallState::Ended(Outcome::AnsweredElsewhere);
        elsewhere.ended_at_ms = Some(at_ms);
        for agent in &others {
            self.hub.publish(*agent, elsewhere.clone());
        }

        let record = self
            .store
            .answer_interaction(live.interaction, at_ms)
            .await?;
        let mut pop = live.pop.clone();
        self.follow_choice(call, &mut pop, record.customer).await?;
        let Some(live) = self.live.get_mut(call) else {
            return Ok(());
        };
        live.pop = pop;
        live.pop.state = CallState::Answered;
        live.pop.answered_at_ms = Some(at_ms);
        // Notes may have been saved while it rang; the pop must not show them as gone.
        live.pop.notes = record.notes;
        live.pop.disposition = record.disposition;
        tracing::info!(
            interaction.id = %live.interaction,
            agent.id = ?live.agent.map(|a| a.0),
            answered_elsewhere = others.len(),
            "call answered"
        );
        if let Some(agent) = live.agent {
            self.hub.publish(agent, live.pop.clone());
        }
        Ok(())
    }

    async fn ended(
        &mut self,
        call: &CallId,
        outcome: Outcome,
        at_ms: i64,
    ) -> Result<(), store::Error> {
        let Some(mut live) = self.live.remove(call) else {
            tracing::debug!(call.r#ref = %call_ref(call), "end of a call not ringing here");
            return Ok(());
        };
        let record = self
            .store
            .close_interaction(live.interaction, at_ms, outcome)
            .await?;
        let mut pop = live.pop.clone();
        self.follow_choice(call, &mut pop, record.customer).await?;
        live.pop = pop;
        live.pop.state = CallState::Ended(outcome);
        live.pop.ended_at_ms = Some(at_ms);
        // Notes saved during the call are on the row; show them on the final pop.
        live.pop.notes = record.notes;
        live.pop.disposition = record.disposition;
        tracing::info!(
            interaction.id = %live.interaction,
            outcome = outcome.as_str(),
            wait_seconds = record.wait_seconds.unwrap_or(0),
            talk_seconds = record.talk_seconds.unwrap_or(0),
            "call ended"
        );
        // Agents a fork still rang when the call ended (unanswered) see the same end.
        for agent in live.agent.iter().chain(&live.offered) {
            self.hub.publish(*agent, live.pop.clone());
        }
        Ok(())
    }
}

/// The pop card of `customer`, with its latest interactions except the call `call`.
///
/// # Errors
/// [`store::Error`] when the database fails.
pub async fn customer_card(
    store: &Store,
    customer: CustomerRecord,
    matched_by: MatchReason,
    call: &CallId,
) -> Result<CustomerCard, store::Error> {
    Ok(CustomerCard {
        recent: store
            .recent_interactions(customer.id, call, RECENT_ON_POP)
            .await?,
        id: customer.id,
        name: customer.name,
        organisation: customer.organisation,
        matched_by,
    })
}

/// Which worker handles `call`: the same one for every event of that call.
fn shard_of(call: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    call.hash(&mut hasher);
    // The remainder is below SHARDS, so it fits a usize.
    usize::try_from(hasher.finish() % SHARDS as u64).unwrap_or(0)
}

/// An event of a call reported by a PBX webhook, on its way to the call service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCallEvent {
    /// The event, in the tracker's terms.
    pub event: CallEvent,
    /// On a `Ringing`: the call's start was never reported, a later event created it.
    pub start_unseen: bool,
    /// The queue the PBX said the call waits in, sent once per call.
    pub queue: Option<String>,
}

/// What a PBX webhook adds to a call event; SIP events carry none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// On a `Ringing`: the call's start was never reported, a later event created it.
    pub start_unseen: bool,
    /// The queue the call waits in, to write on its interaction.
    pub queue: Option<String>,
}

/// How often the dispatcher lets the [`Correlator`] forget old entries.
const CORRELATOR_SWEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Applies events from the SIP tracker (`events`) and from PBX webhooks (`webhooks`)
/// until both channels close or `shutdown` fires, on [`SHARDS`] workers (see the module
/// documentation); returns once every worker has finished. Every event passes
/// `correlator` first, so that a call both sources report is one call.
pub async fn run(
    service: CallService,
    mut events: mpsc::Receiver<CallEvent>,
    mut webhooks: mpsc::Receiver<WebhookCallEvent>,
    mut correlator: Correlator,
    shutdown: CancellationToken,
) {
    let mut workers = tokio::task::JoinSet::new();
    let mut queues = Vec::with_capacity(SHARDS);
    for _ in 0..SHARDS {
        let (tx, rx) = mpsc::channel(SHARD_QUEUE);
        let worker = CallService::new(
            service.store.clone(),
            service.hub.clone(),
            service.metrics.clone(),
            service.rules.region,
        )
        .with_lookup(service.rules.clone());
        workers.spawn(run_worker(worker, rx, shutdown.clone()));
        queues.push(tx);
    }
    drop(service);

    let mut sweep = tokio::time::interval(CORRELATOR_SWEEP);
    let (mut sip_open, mut webhooks_open) = (true, true);
    while sip_open || webhooks_open {
        let (source, event, marks) = tokio::select! {
            event = events.recv(), if sip_open => match event {
                Some(event) => (Source::Sip, event, Marks::default()),
                None => { sip_open = false; continue }
            },
            marked = webhooks.recv(), if webhooks_open => match marked {
                Some(marked) => {
                    let marks = Marks { start_unseen: marked.start_unseen, queue: marked.queue };
                    (Source::Webhook, marked.event, marks)
                }
                None => { webhooks_open = false; continue }
            },
            _ = sweep.tick() => {
                correlator.expire(crate::ingest::now_ms());
                continue;
            }
            () = shutdown.cancelled() => break,
        };
        let Some(event) = correlator.route(source, event, crate::ingest::now_ms()) else {
            continue;
        };
        let Some(queue) = queues.get(shard_of(&event.call_id)) else {
            break;
        };
        tokio::select! {
            sent = queue.send((event, marks)) => if sent.is_err() { break },
            () = shutdown.cancelled() => break,
        }
    }

    // Closing the queues lets each worker finish what it holds, then stop.
    drop(queues);
    while workers.join_next().await.is_some() {}
}

/// One worker: applies the events of its share of the calls, one at a time.
async fn run_worker(
    mut service: CallService,
    mut events: mpsc::Receiver<(CallEvent, Marks)>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = shutdown.cancelled() => None,
        };
        let Some((event, marks)) = event else {
            break;
        };
        if let Err(err) = service.handle_marked(event, marks).await {
            service
                .metrics
                .call_event_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %err, "call event could not be stored");
        }
        // Counted once handled, so a reader of the counter finds the event's effects.
        service.metrics.call_events.fetch_add(1, Ordering::Relaxed);
    }
    tracing::debug!(live = service.live_calls(), "call worker stopped");
}

//! The tracker on real recordings of every call shape (`tests/fixtures/shapes/`, see its
//! README): each fixture is fed through one tracker in file order with its capture times,
//! and the events of each Call-ID must be exactly those the README expects. Each fixture
//! is then replayed with every call's datagrams shuffled (seeded), and the outcome of
//! each call (answered or not, end cause) must not change where the shape allows it.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use ringside_sip::{
    decode_datagram, hep, CallEvent, CallEventKind, CallerId, HepPacket, SipMessage, Tracker,
};

const CALLER: &str = "+31201234567";

/// How far an event may be from the time the README gives, in milliseconds.
const TOLERANCE_MS: i64 = 300;

const FIXTURES: &[(&str, &[u8])] = &[
    (
        "fork-answered",
        include_bytes!("fixtures/shapes/fork-answered.hep"),
    ),
    (
        "fork-all-busy",
        include_bytes!("fixtures/shapes/fork-all-busy.hep"),
    ),
    (
        "decline-603",
        include_bytes!("fixtures/shapes/decline-603.hep"),
    ),
    (
        "hold-resume",
        include_bytes!("fixtures/shapes/hold-resume.hep"),
    ),
    (
        "refer-blind",
        include_bytes!("fixtures/shapes/refer-blind.hep"),
    ),
    (
        "refer-attended",
        include_bytes!("fixtures/shapes/refer-attended.hep"),
    ),
    (
        "redirect-302",
        include_bytes!("fixtures/shapes/redirect-302.hep"),
    ),
    (
        "cancel-race",
        include_bytes!("fixtures/shapes/cancel-race.hep"),
    ),
];

/// The decoded datagrams of one fixture, in file order.
fn load(name: &str) -> Vec<(HepPacket, SipMessage)> {
    let (_, dump) = FIXTURES.iter().find(|(n, _)| *n == name).unwrap();
    hep::dump_records(dump)
        .map(|record| decode_datagram(record.unwrap()).unwrap())
        .collect()
}

/// An event in plain words, with the numbers unmasked (the `Debug` form masks them).
fn describe(kind: &CallEventKind) -> String {
    match kind {
        CallEventKind::Ringing {
            caller,
            called,
            transferred_from,
        } => {
            let caller = match caller {
                CallerId::Number(number) => number.as_str(),
                CallerId::Withheld => "withheld",
            };
            let from = transferred_from.as_deref().unwrap_or("-");
            format!("ringing {caller} -> {called}, transferred from {from}")
        }
        CallEventKind::Offered { target } => format!("offered {target}"),
        CallEventKind::Answered { by } => format!("answered by {}", by.as_deref().unwrap_or("-")),
        CallEventKind::Transferred { to, attended } => {
            format!("transferred to {to}, attended {attended}")
        }
        CallEventKind::Ended {
            cause,
            hangup_by,
            timed_out,
        } => {
            let by = hangup_by.map_or("-", |side| side.as_str());
            format!("ended {}, by {by}, timed out {timed_out}", cause.as_str())
        }
    }
}

/// Feeds datagrams in the given order with their capture times; events by Call-ID.
fn feed(
    tracker: &mut Tracker,
    datagrams: &[(HepPacket, SipMessage)],
) -> BTreeMap<String, Vec<CallEvent>> {
    let mut calls: BTreeMap<String, Vec<CallEvent>> = BTreeMap::new();
    for (packet, message) in datagrams {
        for event in tracker.observe(message, packet.timestamp_ms()) {
            calls.entry(event.call_id.clone()).or_default().push(event);
        }
    }
    calls
}

/// The events of one call in plain words.
fn words(events: &[CallEvent]) -> Vec<String> {
    events.iter().map(|e| describe(&e.kind)).collect()
}

/// Milliseconds from the call's first event to its `index`th.
fn after_start(events: &[CallEvent], index: usize) -> i64 {
    events[index].at_ms - events[0].at_ms
}

fn assert_near(what: &str, got_ms: i64, want_ms: i64) {
    assert!(
        (got_ms - want_ms).abs() <= TOLERANCE_MS,
        "{what}: {got_ms} ms, expected about {want_ms} ms"
    );
}

/// Every fixture through one tracker, in file order.
fn replay_all() -> (Tracker, BTreeMap<String, Vec<CallEvent>>) {
    let mut tracker = Tracker::default();
    let mut calls = BTreeMap::new();
    for (name, _) in FIXTURES {
        calls.extend(feed(&mut tracker, &load(name)));
    }
    (tracker, calls)
}

fn call<'a>(calls: &'a BTreeMap<String, Vec<CallEvent>>, call_id: &str) -> &'a [CallEvent] {
    calls
        .get(call_id)
        .unwrap_or_else(|| panic!("no events for {call_id}"))
}

#[test]
fn every_recorded_call_is_tracked_and_ends_by_a_message() {
    let (mut tracker, calls) = replay_all();

    let expected: BTreeSet<&str> = [
        "fork-answered-1@127.0.0.1",
        "fork-all-busy-1@127.0.0.1",
        "decline-603-1@127.0.0.1",
        "hold-resume-1@127.0.0.1",
        "refer-blind-1@127.0.0.1",
        "refer-blind-transfer-1@127.0.0.1",
        "refer-attended-1@127.0.0.1",
        "refer-attended-consult-1@127.0.0.1",
        "refer-attended-transfer-1@127.0.0.1",
        "redirect-302-1@127.0.0.1",
        "cancel-race-1@127.0.0.1",
    ]
    .into_iter()
    .collect();
    let seen: BTreeSet<&str> = calls.keys().map(String::as_str).collect();
    assert_eq!(seen, expected);

    // Every call ended by a message: no call is left for a timer.
    assert_eq!(tracker.active_calls(), 0);
    let last_ms = calls.values().flatten().map(|e| e.at_ms).max().unwrap();
    assert!(tracker.expire(last_ms + 1_000).is_empty());
}

#[test]
fn fork_answered_offers_all_three_and_is_answered_by_2002() {
    let (_, calls) = replay_all();
    let events = call(&calls, "fork-answered-1@127.0.0.1");

    assert_eq!(
        words(events),
        [
            format!("ringing {CALLER} -> 2100, transferred from -"),
            "offered 2001".to_owned(),
            "offered 2002".to_owned(),
            "offered 2003".to_owned(),
            "answered by 2002".to_owned(),
            "ended completed, by caller, timed out false".to_owned(),
        ]
    );
    // The offers to 2001 and 2003 are not withdrawn by an event of this call: the
    // `Answered { by: 2002 }` tells the server that every other target rang in vain.
    assert_near(
        "fork-answered: answer after the INVITE",
        after_start(events, 4),
        1_000,
    );
    assert_near(
        "fork-answered: end after the INVITE",
        after_start(events, 5),
        2_000,
    );
}

#[test]
fn fork_all_busy_ends_busy_once_the_last_branch_refused_and_is_never_answered() {
    let (_, calls) = replay_all();
    let events = call(&calls, "fork-all-busy-1@127.0.0.1");

    assert_eq!(
        words(events),
        [
            format!("ringing {CALLER} -> 2100, transferred from -"),
            "offered 2001".to_owned(),
            "offered 2002".to_owned(),
            "offered 2003".to_owned(),
            "ended busy, by -, timed out false".to_owned(),
        ]
    );
    assert_near(
        "fork-all-busy: end after the INVITE",
        after_start(events, 4),
        900,
    );
}

#[test]
fn decline_603_ends_rejected_after_a_second_of_ringing() {
    let (_, calls) = replay_all();
    let events = call(&calls, "decline-603-1@127.0.0.1");

    assert_eq!(
        words(events),
        [
            format!("ringing {CALLER} -> 2001, transferred from -"),
            "ended rejected, by -, timed out false".to_owned(),
        ]
    );
    assert_near(
        "decline-603: end after the INVITE",
        after_start(events, 1),
        1_000,
    );
}

#[test]
fn hold_resume_is_one_call_answered_once_and_completed_by_the_caller() {
    let (_, calls) = replay_all();
    let events = call(&calls, "hold-resume-1@127.0.0.1");

    // The hold and resume re-INVITEs and the UPDATE change nothing the events show.
    assert_eq!(
        words(events),
        [
            format!("ringing {CALLER} -> 2001, transferred from -"),
            "answered by 2001".to_owned(),
            "ended completed, by caller, timed out false".to_owned(),
        ]
    );
    assert_near(
        "hold-resume: answer after the INVITE",
        after_start(events, 1),
        500,
    );
    assert_near(
        "hold-resume: end after the INVITE",
        after_start(events, 2),
        2_800,
    );
}

#[test]
fn refer_blind_transfers_call_1_to_2003_and_call_2_links_back() {
    let (_, calls) = replay_all();
    let first = call(&calls, "refer-blind-1@127.0.0.1");
    let second = call(&calls, "refer-blind-transfer-1@127.0.0.1");

    assert_eq!(
        words(first),
        [
            format!("ringing {CALLER} -> 2001, transferred from -"),
            "answered by 2001".to_owned(),
            "transferred to 2003, attended false".to_owned(),
            "ended transferred, by callee, timed out false".to_owned(),
        ]
    );
    assert_near("refer-blind: call 1 answer", after_start(first, 1), 500);
    assert_near(
        "refer-blind: REFER after the answer",
        first[2].at_ms - first[1].at_ms,
        800,
    );

    assert_eq!(
        words(second),
        [
            format!("ringing {CALLER} -> 2003, transferred from refer-blind-1@127.0.0.1"),
            "answered by 2003".to_owned(),
            "ended completed, by caller, timed out false".to_owned(),
        ]
    );
    assert!(
        second[0].at_ms >= first[2].at_ms,
        "call 2 rings after the REFER"
    );
    assert_near("refer-blind: call 2 answer", after_start(second, 1), 500);
    assert_near(
        "refer-blind: call 2 talk",
        second[2].at_ms - second[1].at_ms,
        1_500,
    );
}

#[test]
fn refer_attended_chains_the_original_the_consultation_and_the_replacing_call() {
    let (_, calls) = replay_all();
    let first = call(&calls, "refer-attended-1@127.0.0.1");
    let consult = call(&calls, "refer-attended-consult-1@127.0.0.1");
    let third = call(&calls, "refer-attended-transfer-1@127.0.0.1");

    assert_eq!(
        words(first),
        [
            format!("ringing {CALLER} -> 2001, transferred from -"),
            "answered by 2001".to_owned(),
            "transferred to 2003, attended true".to_owned(),
            "ended transferred, by callee, timed out false".to_owned(),
        ]
    );
    assert_near("refer-attended: call 1 answer", after_start(first, 1), 500);
    assert_near(
        "refer-attended: REFER after the answer",
        first[2].at_ms - first[1].at_ms,
        2_500,
    );

    // The consultation is an internal call from agent 2001's second line; the Replaces
    // INVITE of call 3 moves it to 2003's new call, and 2003 clears it (callee's BYE).
    assert_eq!(
        words(consult),
        [
            "ringing 2001 -> 2003, transferred from -".to_owned(),
            "answered by 2003".to_owned(),
            "transferred to 2003, attended true".to_owned(),
            "ended transferred, by callee, timed out false".to_owned(),
        ]
    );
    assert_near(
        "refer-attended: consultation answer",
        after_start(consult, 1),
        400,
    );

    assert_eq!(
        words(third),
        [
            format!("ringing {CALLER} -> 2003, transferred from refer-attended-1@127.0.0.1"),
            "answered by 2003".to_owned(),
            "ended completed, by caller, timed out false".to_owned(),
        ]
    );
    assert_near(
        "refer-attended: call 3 answered at once",
        after_start(third, 1),
        0,
    );
    assert_near(
        "refer-attended: call 3 talk",
        third[2].at_ms - third[1].at_ms,
        1_500,
    );
    assert_eq!(
        consult[2].at_ms, third[0].at_ms,
        "replaced when call 3 rings"
    );
}

#[test]
fn redirect_302_is_one_call_answered_by_2002() {
    let (_, calls) = replay_all();
    let events = call(&calls, "redirect-302-1@127.0.0.1");

    // 2001 forwards without ringing, so only the retried INVITE's target is offered.
    assert_eq!(
        words(events),
        [
            format!("ringing {CALLER} -> 2001, transferred from -"),
            "offered 2002".to_owned(),
            "answered by 2002".to_owned(),
            "ended completed, by caller, timed out false".to_owned(),
        ]
    );
    assert_near(
        "redirect-302: offer after the INVITE",
        after_start(events, 1),
        300,
    );
    assert_near(
        "redirect-302: answer after the INVITE",
        after_start(events, 2),
        800,
    );
    assert_near(
        "redirect-302: talk",
        events[3].at_ms - events[2].at_ms,
        1_000,
    );
}

#[test]
fn cancel_race_is_answered_then_completed_not_abandoned() {
    let (_, calls) = replay_all();
    let events = call(&calls, "cancel-race-1@127.0.0.1");

    assert_eq!(
        words(events),
        [
            format!("ringing {CALLER} -> 2001, transferred from -"),
            "answered by 2001".to_owned(),
            "ended completed, by caller, timed out false".to_owned(),
        ]
    );
    assert_near(
        "cancel-race: answer after the INVITE",
        after_start(events, 1),
        800,
    );
    assert_near(
        "cancel-race: hang-up after the answer",
        events[2].at_ms - events[1].at_ms,
        300,
    );
}

/// A small seeded generator (xorshift64) so that every shuffle can be replayed.
struct Shuffler(u64);

impl Shuffler {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % u64::try_from(bound).unwrap()).unwrap()
    }

    /// Shuffles each call's datagrams among the places that call holds in the file, so
    /// calls keep their order relative to each other; capture times travel with them.
    fn shuffle_calls(&mut self, datagrams: &mut [(HepPacket, SipMessage)]) {
        let ids: Vec<String> = datagrams.iter().map(|(_, m)| m.call_id.clone()).collect();
        for id in ids.iter().collect::<BTreeSet<_>>() {
            let places: Vec<usize> = (0..ids.len()).filter(|&i| &ids[i] == id).collect();
            for k in (1..places.len()).rev() {
                let j = self.below(k + 1);
                datagrams.swap(places[k], places[j]);
            }
        }
    }
}

/// What a call came to: whether it was answered, and its end cause (with `(timer)` when a
/// timer ended it). Calls still open after the last datagram are ended by `expire`.
fn outcomes(datagrams: &[(HepPacket, SipMessage)]) -> BTreeMap<String, (bool, String)> {
    let mut tracker = Tracker::default();
    let mut calls = feed(&mut tracker, datagrams);
    for event in tracker.expire(i64::MAX / 4) {
        calls.entry(event.call_id.clone()).or_default().push(event);
    }
    calls
        .into_iter()
        .map(|(id, events)| {
            let answered = events
                .iter()
                .any(|e| matches!(e.kind, CallEventKind::Answered { .. }));
            let end = events.iter().find_map(|e| match &e.kind {
                CallEventKind::Ended {
                    cause, timed_out, ..
                } => Some(format!(
                    "{}{}",
                    cause.as_str(),
                    if *timed_out { " (timer)" } else { "" }
                )),
                _ => None,
            });
            (id, (answered, end.unwrap_or_default()))
        })
        .collect()
}

const SEEDS: std::ops::RangeInclusive<u64> = 1..=64;

/// Replays `name` with every seed; `check` gets the file-order outcome and a shuffled one.
fn for_each_shuffle(name: &str, check: impl Fn(u64, &(bool, String), &(bool, String))) {
    let datagrams = load(name);
    let recorded = outcomes(&datagrams);
    for seed in SEEDS {
        let mut shuffled = datagrams.clone();
        Shuffler::new(seed).shuffle_calls(&mut shuffled);
        let got = outcomes(&shuffled);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            recorded.keys().collect::<Vec<_>>(),
            "{name}, seed {seed}: calls"
        );
        for (id, want) in &recorded {
            check(seed, want, &got[id]);
        }
    }
}

#[test]
fn single_dialog_shapes_keep_their_outcome_in_any_order() {
    // A call answered once and hung up, a single refusal, a redirect and a CANCEL that
    // loses to the 200: every order of their datagrams gives the same outcome.
    for name in ["decline-603", "hold-resume", "redirect-302", "cancel-race"] {
        for_each_shuffle(name, |seed, want, got| {
            assert_eq!(got, want, "{name}, seed {seed}");
            assert!(!got.1.ends_with("(timer)"), "{name}, seed {seed}");
        });
    }
}

#[test]
fn fork_answered_in_any_order_is_answered_and_completed_or_hit_by_an_early_branch_487() {
    // Limitation: a branch's 487 mirrored before any message of the caller's leg (the
    // fewest Vias) cannot be told from the caller's own final, so in such an order the
    // forked call ends abandoned unanswered; remembering a final for a moment before
    // acting would lift it. Every other order keeps the recorded outcome.
    let abandoned = std::cell::Cell::new(0);
    for_each_shuffle("fork-answered", |seed, want, got| {
        assert_eq!(want, &(true, "completed".to_owned()));
        if got != want {
            assert_eq!(got, &(false, "abandoned".to_owned()), "seed {seed}");
            abandoned.set(abandoned.get() + 1);
        }
    });
    assert!(
        abandoned.get() < SEEDS.count() / 4,
        "{} abandoned",
        abandoned.get()
    );
}

#[test]
fn fork_all_busy_in_any_order_ends_busy_unanswered() {
    // The proxy's one 486 to the caller may be mirrored before the branches' own 486s,
    // and a branch's 180 or INVITE copy after its 486: the call still ends busy at the
    // last refusal, never by a timer.
    for_each_shuffle("fork-all-busy", |seed, want, got| {
        assert_eq!(want, &(false, "busy".to_owned()));
        assert_eq!(got, want, "seed {seed}");
    });
}

#[test]
fn transfers_in_any_order_answer_every_call() {
    // Limitation: a transfer is a matter of order. The BYE that leaves the transferred
    // dialog means "transferred" only after the REFER; mirrored before it, it is a plain
    // hang-up and the call ends completed. So a shuffled transfer keeps every call
    // answered, and each end cause is the recorded one or completed.
    for name in ["refer-blind", "refer-attended"] {
        for_each_shuffle(name, |seed, want, got| {
            assert!(want.0 && got.0, "{name}, seed {seed}: answered");
            assert!(
                got.1 == want.1 || got.1 == "completed",
                "{name}, seed {seed}: {} instead of {}",
                got.1,
                want.1
            );
        });
    }
}

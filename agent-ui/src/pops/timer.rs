//! The call timer on a pop card: which span of the call it measures and how it reads.
//!
//! While a call rings the timer shows the ringing time, while it is answered the talk time,
//! and once it has ended the total time from the first ring to the end. Rendering and the
//! one-second tick belong to the card component; this module only computes.

use ringside_protocol::{CallState, Pop};

/// Milliseconds the timer of `pop` shows at wall-clock time `now_ms`.
///
/// The server's clock and the browser's may disagree by a little, so a span that would come
/// out negative reads as zero instead.
pub fn elapsed_ms(pop: &Pop, now_ms: i64) -> i64 {
    let span = match pop.state {
        CallState::Ringing => now_ms - pop.ringing_at_ms,
        CallState::Answered => now_ms - pop.answered_at_ms.unwrap_or(pop.ringing_at_ms),
        CallState::Ended(_) => pop.ended_at_ms.unwrap_or(now_ms) - pop.ringing_at_ms,
    };
    span.max(0)
}

/// Formats a span as `m:ss` below an hour and `h:mm:ss` from an hour on (`0:07`, `1:02:03`).
///
/// Partial seconds are dropped; negative spans read as `0:00`.
pub fn format_elapsed(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    let (hours, minutes, seconds) = (total / 3600, (total / 60) % 60, total % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pops::tests::pop;
    use ringside_protocol::Outcome;

    #[test]
    fn short_spans_read_as_minutes_and_seconds() {
        assert_eq!(format_elapsed(0), "0:00");
        assert_eq!(format_elapsed(7_000), "0:07");
        assert_eq!(format_elapsed(7_999), "0:07");
        assert_eq!(format_elapsed(62_000), "1:02");
        assert_eq!(format_elapsed(3_599_000), "59:59");
    }

    #[test]
    fn spans_from_an_hour_on_show_hours() {
        assert_eq!(format_elapsed(3_600_000), "1:00:00");
        assert_eq!(format_elapsed(3_723_000), "1:02:03");
        assert_eq!(format_elapsed(36_000_000 + 59_000), "10:00:59");
    }

    #[test]
    fn negative_spans_read_as_zero() {
        assert_eq!(format_elapsed(-5_000), "0:00");
    }

    #[test]
    fn ringing_counts_from_the_first_ring() {
        let p = pop("a", 1_000, CallState::Ringing);

        assert_eq!(elapsed_ms(&p, 8_000), 7_000);
    }

    #[test]
    fn answered_counts_talk_time_only() {
        let mut p = pop("a", 1_000, CallState::Answered);
        p.answered_at_ms = Some(5_000);

        assert_eq!(elapsed_ms(&p, 9_000), 4_000);
    }

    #[test]
    fn ended_shows_the_total_and_stops() {
        let mut p = pop("a", 1_000, CallState::Ended(Outcome::Completed));
        p.answered_at_ms = Some(5_000);
        p.ended_at_ms = Some(61_000);

        assert_eq!(elapsed_ms(&p, 100_000), 60_000);
        assert_eq!(elapsed_ms(&p, 200_000), 60_000);
    }

    #[test]
    fn a_browser_clock_behind_the_server_reads_zero() {
        let p = pop("a", 10_000, CallState::Ringing);

        assert_eq!(elapsed_ms(&p, 9_000), 0);
    }
}

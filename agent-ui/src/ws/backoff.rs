//! The wait between websocket reconnection attempts.
//!
//! Exponential backoff: the first retry waits [`Backoff::FIRST`], each further failure
//! doubles the wait up to [`Backoff::MAX`], and a connection that the server greets resets it.
//! The cap keeps a console that lost the server for a while back within ten seconds of the
//! server's return, while a hundred consoles do not hammer a restarting server.

use std::time::Duration;

/// The delay to wait before the next reconnection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    /// Wait before the first retry after a connection was lost.
    pub const FIRST: Duration = Duration::from_secs(1);
    /// Longest wait between two attempts.
    pub const MAX: Duration = Duration::from_secs(10);

    /// A backoff whose next wait is [`Backoff::FIRST`].
    pub fn new() -> Self {
        Backoff { next: Self::FIRST }
    }

    /// Returns the wait before the next attempt and doubles the one after it, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(Self::MAX);
        delay
    }

    /// Starts again from [`Backoff::FIRST`], after a connection has proved healthy.
    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(backoff: &mut Backoff) -> u64 {
        backoff.next_delay().as_secs()
    }

    #[test]
    fn waits_double_from_one_second_up_to_ten() {
        let mut backoff = Backoff::new();

        let waits: Vec<u64> = (0..7).map(|_| secs(&mut backoff)).collect();

        assert_eq!(waits, [1, 2, 4, 8, 10, 10, 10]);
    }

    #[test]
    fn reset_starts_again_from_one_second() {
        let mut backoff = Backoff::new();
        for _ in 0..5 {
            backoff.next_delay();
        }

        backoff.reset();

        assert_eq!(secs(&mut backoff), 1);
        assert_eq!(secs(&mut backoff), 2);
    }
}

//! Bounded polling: every wait in the harness has a deadline and says what it waited for.
//!
//! Real processes and a real browser do not tell us when they are ready, so the harness
//! asks again every [`POLL_INTERVAL`] until [`until`]'s deadline passes.

use std::future::Future;
use std::time::Duration;

use anyhow::bail;
use tokio::time::Instant;

/// Pause between two probes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Calls `probe` every [`POLL_INTERVAL`] until it returns `Some`, for at most `timeout`.
///
/// `what` completes the sentence "timed out after N ms waiting for ...".
///
/// # Errors
/// The first error `probe` returns, or a timeout naming `what`.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!(
                "timed out after {} ms waiting for {what}",
                timeout.as_millis()
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn returns_the_first_value_found() {
        let mut calls = 0;
        let found = until("the third probe", Duration::from_secs(1), || {
            calls += 1;
            let answer = (calls == 3).then_some(calls);
            async move { Ok(answer) }
        })
        .await;
        assert_eq!(found.ok(), Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_the_subject() {
        let err = until("nothing", Duration::from_millis(100), || async {
            Ok(None::<()>)
        })
        .await
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("timed out after 100 ms waiting for nothing")
        );
    }
}

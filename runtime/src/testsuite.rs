//! Test helpers: deadline-bounded polls instead of sleeps.

use std::future::Future;
use std::time::Duration;

/// Polls `cond` every millisecond until it returns true or `timeout` passes.
///
/// # Errors
/// A message naming `what` if the deadline passed first.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut cond: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

//! Per-user rate limits, one governor limiter per user, sized by the tier
//! ([`Tier::requests_per_hour`]: Free 10, Advanced 50, Premium 200, Tester 100, Admin 1000,
//! Developer 10000). A user may spend the whole hour's allowance at once; then requests
//! refill one at a time, evenly over the hour. A refused request learns how long to wait
//! (the API's `Retry-After`).
//!
//! The clock is a parameter, so tests drive time by hand instead of sleeping.

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use reporunner_protocols::access::Tier;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

/// What a user's limiter was made for: its tier and its requests an hour.
type Allowance = (Tier, u32);

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// A request over the limit: when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit reached ({per_hour} requests an hour for the {tier} tier): retry in {} s", retry_after.as_secs())]
pub struct OverLimit {
    /// The tier.
    pub tier: Tier,
    /// Its requests an hour.
    pub per_hour: u32,
    /// How long until one more request is allowed, rounded up to whole seconds.
    pub retry_after: Duration,
}

/// The requests an hour a user of `tier` may make under a business client's `cap`: the
/// tier's allowance, lowered (never raised) by the cap, and at least 1.
pub fn allowance(tier: Tier, cap: Option<u32>) -> u32 {
    cap.map_or(tier.requests_per_hour(), |c| {
        c.clamp(1, tier.requests_per_hour())
    })
}

/// Every user's limiter. See the module docs.
pub struct RateLimits<C: Clock = MonotonicClock> {
    clock: C,
    /// By user: the tier the limiter was made for, and the limiter.
    users: Mutex<HashMap<String, (Allowance, Limiter<C>)>>,
}

impl<C: Clock> std::fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimits { .. }")
    }
}

impl Default for RateLimits<MonotonicClock> {
    fn default() -> Self {
        Self::with_clock(MonotonicClock)
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    /// Limits that read time from `clock`.
    pub fn with_clock(clock: C) -> Self {
        Self {
            clock,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `user`, of `tier`. A user whose tier changed starts afresh with
    /// the new tier's allowance.
    ///
    /// # Errors
    /// [`OverLimit`] when the user has no request left now.
    pub fn check(&self, user: &str, tier: Tier) -> Result<(), OverLimit> {
        self.check_within(user, tier, None)
    }

    /// Counts one request of `user`, of `tier`, whose allowance is at most `cap` requests
    /// an hour (a business client's own limit); a changed tier or cap starts afresh.
    ///
    /// # Errors
    /// [`OverLimit`] when the user has no request left now.
    pub fn check_within(&self, user: &str, tier: Tier, cap: Option<u32>) -> Result<(), OverLimit> {
        let per_hour = allowance(tier, cap);
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let entry = users
            .entry(user.to_string())
            .or_insert_with(|| ((tier, per_hour), self.limiter(per_hour)));
        if entry.0 != (tier, per_hour) {
            *entry = ((tier, per_hour), self.limiter(per_hour));
        }
        entry.1.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            OverLimit {
                tier,
                per_hour,
                retry_after: Duration::from_secs(
                    wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                ),
            }
        })
    }

    fn limiter(&self, per_hour: u32) -> Limiter<C> {
        let n = NonZeroU32::new(per_hour).unwrap_or(NonZeroU32::MIN);
        RateLimiter::direct_with_clock(Quota::per_hour(n), self.clock.clone())
    }
}

/// Something that counts users' requests against their tier's allowance: the HTTP API
/// takes one, so tests can hand it [`RateLimits`] on a clock they drive.
pub trait Limit: Send + Sync + std::fmt::Debug + 'static {
    /// Counts one request of `user`, of `tier`.
    ///
    /// # Errors
    /// [`OverLimit`] when the user has no request left now.
    fn check(&self, user: &str, tier: Tier) -> Result<(), OverLimit> {
        self.check_within(user, tier, None)
    }

    /// Counts one request of `user`, of `tier`, allowed at most `cap` requests an hour.
    ///
    /// # Errors
    /// [`OverLimit`] when the user has no request left now.
    fn check_within(&self, user: &str, tier: Tier, cap: Option<u32>) -> Result<(), OverLimit>;
}

impl<C> Limit for RateLimits<C>
where
    C: Clock + Clone + Send + Sync + 'static,
    C::Instant: Send + Sync,
{
    fn check_within(&self, user: &str, tier: Tier, cap: Option<u32>) -> Result<(), OverLimit> {
        RateLimits::check_within(self, user, tier, cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn each_tier_gets_its_hourly_allowance_then_a_retry_after_and_refills_with_time() {
        for tier in Tier::ALL {
            let clock = FakeRelativeClock::default();
            let limits = RateLimits::with_clock(clock.clone());
            let n = tier.requests_per_hour();
            for i in 0..n {
                assert_eq!(limits.check("u", tier), Ok(()), "{tier}: request {i}");
            }
            let over = limits.check("u", tier).unwrap_err();
            assert_eq!(over.tier, tier);
            let interval = Duration::from_secs(3600) / n;
            assert!(
                over.retry_after >= interval
                    && over.retry_after <= interval + Duration::from_secs(1),
                "{tier}: {over:?}, interval {interval:?}"
            );
            // Another user is not affected.
            assert_eq!(limits.check("other", tier), Ok(()));
            // Time passes: exactly one more request.
            clock.advance(interval);
            assert_eq!(limits.check("u", tier), Ok(()), "{tier} refilled");
            assert!(limits.check("u", tier).is_err());
            // A whole hour: the whole allowance again.
            clock.advance(Duration::from_secs(3600));
            for _ in 0..n {
                assert_eq!(limits.check("u", tier), Ok(()));
            }
            assert!(limits.check("u", tier).is_err());
        }
    }

    #[test]
    fn a_cap_lowers_the_allowance_but_never_raises_it() {
        let limits = RateLimits::with_clock(FakeRelativeClock::default());
        for _ in 0..3 {
            limits.check_within("u", Tier::Admin, Some(3)).unwrap();
        }
        let over = limits.check_within("u", Tier::Admin, Some(3)).unwrap_err();
        assert_eq!(over.per_hour, 3);
        for _ in 0..10 {
            limits.check_within("f", Tier::Free, Some(500)).unwrap();
        }
        assert!(limits.check_within("f", Tier::Free, Some(500)).is_err());
    }

    #[test]
    fn a_new_tier_gets_the_new_allowance() {
        let limits = RateLimits::with_clock(FakeRelativeClock::default());
        for _ in 0..10 {
            limits.check("u", Tier::Free).unwrap();
        }
        assert!(limits.check("u", Tier::Free).is_err());
        assert_eq!(limits.check("u", Tier::Advanced), Ok(()));
        let e = limits.check("x", Tier::Free).map(|_| ());
        assert_eq!(e, Ok(()));
        let msg = {
            for _ in 0..9 {
                limits.check("x", Tier::Free).unwrap();
            }
            limits.check("x", Tier::Free).unwrap_err().to_string()
        };
        assert!(
            msg.starts_with(
                "rate limit reached (10 requests an hour for the free tier): retry in 360 s"
            ),
            "{msg}"
        );
    }
}

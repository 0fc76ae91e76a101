//! Exponential backoff with jitter between restarts of a child that keeps failing.

use std::time::Duration;

/// How long a supervisor waits before restarting a child that failed again.
///
/// The first restart after a stable period is immediate, as in OTP: a one-off crash costs
/// microseconds. Each further restart in a row waits `initial × multiplier^(n-1)`, capped at
/// `max`, then spread by ±`jitter` so that children failing together do not restart in
/// lock-step. A child that stayed up for `reset_after` starts again from an immediate restart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay before the second restart in a row.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// The growth factor between restarts in a row; at least 1.
    pub multiplier: f64,
    /// The relative spread applied to each delay, from 0 (none) to 1.
    pub jitter: f64,
    /// How long a child must run for its failures to stop counting as "in a row".
    pub reset_after: Duration,
}

impl Default for Backoff {
    /// 50 ms doubling to at most 10 s, ±20 % jitter, reset after 30 s of stable running.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.2,
            reset_after: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// A backoff that always restarts at once.
    pub fn none() -> Self {
        Self {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            multiplier: 1.0,
            jitter: 0.0,
            reset_after: Duration::ZERO,
        }
    }

    /// Returns the delay before restart number `attempt` in a row (0 is the first), before
    /// jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        if attempt == 0 || self.initial.is_zero() {
            return Duration::ZERO;
        }
        let factor = self.multiplier.max(1.0).powi((attempt - 1).min(64) as i32);
        let secs = (self.initial.as_secs_f64() * factor).min(self.max.as_secs_f64());
        Duration::try_from_secs_f64(secs).unwrap_or(self.max)
    }

    /// Returns the delay before restart number `attempt` in a row, with jitter drawn from
    /// `unit`, a number in `[-1, 1]`. The result never exceeds `max × (1 + jitter)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.base_delay(attempt);
        if base.is_zero() || self.jitter <= 0.0 {
            return base;
        }
        let spread = 1.0 + self.jitter.clamp(0.0, 1.0) * unit.clamp(-1.0, 1.0);
        Duration::try_from_secs_f64(base.as_secs_f64() * spread).unwrap_or(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_restart_is_immediate_then_grows_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
            multiplier: 2.0,
            jitter: 0.0,
            reset_after: Duration::from_secs(1),
        };
        let delays: Vec<u128> = (0..7).map(|n| b.base_delay(n).as_millis()).collect();
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 100, 100]);
        assert_eq!(b.base_delay(u32::MAX), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let b = Backoff::default();
        for unit in [-1.0, -0.5, 0.0, 0.5, 1.0, 7.0] {
            let d = b.delay(3, unit).as_secs_f64();
            let base = b.base_delay(3).as_secs_f64();
            assert!(
                d >= base * 0.8 - 1e-9 && d <= base * 1.2 + 1e-9,
                "{d} vs {base}"
            );
        }
        assert_eq!(Backoff::none().delay(5, 1.0), Duration::ZERO);
    }
}

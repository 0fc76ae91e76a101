//! Restart intensity: at most N restarts in T, as in OTP.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The most restarts a supervisor may make within a sliding period.
///
/// One more than `max_restarts` within `period` means the children cannot be kept alive
/// here: the supervisor stops them all and fails, so its own supervisor decides (OTP's
/// escalation). kameo instead stops restarting the one child, which hides the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartIntensity {
    /// The most restarts allowed within `period`.
    pub max_restarts: u32,
    /// The length of the sliding window.
    pub period: Duration,
}

impl Default for RestartIntensity {
    /// 3 restarts in 5 seconds, Elixir's default. OTP's 1 in 5 s is too strict for agents
    /// that fail on external causes.
    fn default() -> Self {
        Self {
            max_restarts: 3,
            period: Duration::from_secs(5),
        }
    }
}

/// The restarts made within the current window.
#[derive(Debug, Default)]
pub(crate) struct RestartLog {
    times: VecDeque<Instant>,
}

impl RestartLog {
    /// Records a restart at `now`. Returns false when it is one too many for `intensity`.
    pub(crate) fn record(&mut self, intensity: &RestartIntensity, now: Instant) -> bool {
        while let Some(&first) = self.times.front() {
            if now.duration_since(first) >= intensity.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        self.times.len() as u64 <= u64::from(intensity.max_restarts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_n_restarts_per_window_and_forgets_old_ones() {
        let i = RestartIntensity {
            max_restarts: 2,
            period: Duration::from_secs(10),
        };
        let mut log = RestartLog::default();
        let t0 = Instant::now();
        assert!(log.record(&i, t0));
        assert!(log.record(&i, t0 + Duration::from_secs(1)));
        assert!(!log.record(&i, t0 + Duration::from_secs(2)));
        // Later, the first two have left the window.
        let mut log = RestartLog::default();
        assert!(log.record(&i, t0));
        assert!(log.record(&i, t0 + Duration::from_secs(1)));
        assert!(log.record(&i, t0 + Duration::from_secs(11)));
    }

    #[test]
    fn zero_means_no_restart_at_all() {
        let i = RestartIntensity {
            max_restarts: 0,
            period: Duration::from_secs(1),
        };
        assert!(!RestartLog::default().record(&i, Instant::now()));
    }
}

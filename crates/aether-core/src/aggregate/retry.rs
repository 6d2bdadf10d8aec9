//! Retrying commands on version conflicts: [`RetryPolicy`], [`Backoff`],
//! [`Jitter`] and a shared [`CircuitBreaker`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::error::VersionConflict;

/// How long to wait before the next attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Backoff {
    /// Retry at once (the "simple retry": fine for low contention).
    None,
    /// Always the same delay.
    Fixed(Duration),
    /// `initial * multiplier^(retry - 1)`, capped at `max`.
    Exponential {
        /// The delay before the first retry.
        initial: Duration,
        /// The factor applied per retry (≥ 1).
        multiplier: f64,
        /// The longest delay.
        max: Duration,
    },
    /// Adaptive: proportional to the *version gap* of the conflict (how many
    /// events others committed since this attempt loaded the aggregate):
    /// `per_version * gap`, capped at `max`. A hot aggregate backs off more.
    VersionGap {
        /// The delay per version the aggregate moved.
        per_version: Duration,
        /// The longest delay.
        max: Duration,
    },
}

/// Randomisation of the backoff delay, so that conflicting writers do not
/// retry in lock-step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// The exact delay.
    None,
    /// Uniform in `[0, delay]` (AWS "full jitter").
    #[default]
    Full,
    /// Uniform in `[delay / 2, delay]` (AWS "equal jitter").
    Equal,
}

impl Jitter {
    /// Applies the jitter to `delay`.
    pub fn apply(self, delay: Duration) -> Duration {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return delay;
        }
        let mut rng = rand::rng();
        match self {
            Self::None => delay,
            Self::Full => Duration::from_nanos(rng.random_range(0..=nanos)),
            Self::Equal => {
                Duration::from_nanos(nanos / 2 + rng.random_range(0..=nanos - nanos / 2))
            }
        }
    }
}

/// How [`super::Repository::execute`] retries a command whose append met a
/// version conflict.
///
/// On a conflict the repository catches up by reading only the events after
/// the version it had loaded (the conflict says the aggregate moved), decides
/// again and appends again, up to `max_attempts` attempts in all. Then it
/// gives up with [`super::ExecuteError::ConflictsExhausted`], handing the
/// command back (for example to a [`super::DeferredCommands`] queue).
#[derive(Debug, Clone)]
#[must_use]
pub struct RetryPolicy {
    /// Attempts in all, including the first (`1` = no retry; `0` acts as `1`).
    pub max_attempts: u32,
    /// The delay before each retry.
    pub backoff: Backoff,
    /// Randomisation of that delay.
    pub jitter: Jitter,
    /// Give up at once when a conflict shows the aggregate moved by more than
    /// this many versions (it is too hot to win by retrying). `None` = no limit.
    pub max_version_gap: Option<u64>,
    /// Also retry appends that failed transiently ([`crate::Error::is_transient`]).
    /// Safe: a retry first reads the tail and recognises the command's own
    /// events if the failed append did happen. A failed load or catch-up read
    /// is not retried: it is returned at once as [`super::ExecuteError::Store`].
    pub retry_transient: bool,
    /// A breaker shared by every clone of this policy; `None` = no breaker.
    pub circuit_breaker: Option<CircuitBreaker>,
}

impl Default for RetryPolicy {
    /// Up to 10 attempts, exponential backoff from 2 ms (×2, at most 500 ms)
    /// with full jitter, no gap limit, transient failures retried, no breaker.
    fn default() -> Self {
        Self {
            max_attempts: 10,
            backoff: Backoff::Exponential {
                initial: Duration::from_millis(2),
                multiplier: 2.0,
                max: Duration::from_millis(500),
            },
            jitter: Jitter::Full,
            max_version_gap: None,
            retry_transient: true,
            circuit_breaker: None,
        }
    }
}

impl RetryPolicy {
    /// A single attempt: a conflict is returned at once.
    pub fn no_retry() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Up to `max_attempts` attempts with no delay in between.
    pub fn immediate(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            backoff: Backoff::None,
            jitter: Jitter::None,
            ..Self::default()
        }
    }

    /// Up to `max_attempts` attempts with exponential backoff (×2 from
    /// `initial`, at most `max`) and full jitter.
    pub fn exponential(max_attempts: u32, initial: Duration, max: Duration) -> Self {
        Self {
            max_attempts,
            backoff: Backoff::Exponential {
                initial,
                multiplier: 2.0,
                max,
            },
            jitter: Jitter::Full,
            ..Self::default()
        }
    }

    /// Up to `max_attempts` attempts, waiting `per_version` for each version
    /// the aggregate moved (at most `max`), with equal jitter.
    pub fn version_gap(max_attempts: u32, per_version: Duration, max: Duration) -> Self {
        Self {
            max_attempts,
            backoff: Backoff::VersionGap { per_version, max },
            jitter: Jitter::Equal,
            ..Self::default()
        }
    }

    /// Returns self with `jitter`.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Returns self with a version-gap limit.
    pub fn with_max_version_gap(mut self, gap: u64) -> Self {
        self.max_version_gap = Some(gap);
        self
    }

    /// Returns self with `breaker` (clones share its state).
    pub fn with_circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.circuit_breaker = Some(breaker);
        self
    }

    /// The number of versions the aggregate moved past the one the attempt
    /// had loaded (at least 1 for a real conflict).
    pub fn version_gap_of(conflict: &VersionConflict) -> u64 {
        conflict
            .current
            .saturating_sub(conflict.attempted.saturating_sub(1))
            .max(1)
    }

    /// Whether to retry after `attempt` (1-based) failed with `conflict`.
    pub fn should_retry(&self, attempt: u32, conflict: &VersionConflict) -> bool {
        attempt < self.max_attempts.max(1)
            && self
                .max_version_gap
                .is_none_or(|max| Self::version_gap_of(conflict) <= max)
    }

    /// The delay before the retry that follows failed attempt `attempt`
    /// (1-based), jitter included; `conflict` is `None` for a transient
    /// store failure (gap-adaptive backoff then assumes a gap of 1).
    pub fn delay(&self, attempt: u32, conflict: Option<&VersionConflict>) -> Duration {
        let base = match self.backoff {
            Backoff::None => Duration::ZERO,
            Backoff::Fixed(d) => d,
            Backoff::Exponential {
                initial,
                multiplier,
                max,
            } => {
                let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
                let factor = multiplier.max(1.0).powi(exp);
                let secs = (initial.as_secs_f64() * factor).min(max.as_secs_f64());
                Duration::try_from_secs_f64(secs).unwrap_or(max)
            }
            Backoff::VersionGap { per_version, max } => {
                let gap = conflict.map_or(1, Self::version_gap_of);
                per_version
                    .saturating_mul(u32::try_from(gap).unwrap_or(u32::MAX))
                    .min(max)
            }
        };
        self.jitter.apply(base)
    }
}

/// The state of a [`CircuitBreaker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitState {
    /// Commands run.
    Closed,
    /// Commands are refused until the cool-down ends.
    Open,
    /// The cool-down ended: one trial command runs; its outcome closes or
    /// re-opens the breaker.
    HalfOpen,
}

/// Settings of a [`CircuitBreaker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreakerConfig {
    /// Consecutive failed executions (conflicts exhausted, store failures)
    /// that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before a trial.
    pub cool_down: Duration,
}

impl Default for CircuitBreakerConfig {
    /// 5 failures, 1 second.
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(1),
        }
    }
}

#[derive(Debug)]
struct BreakerInner {
    failures: u32,
    opened_at: Option<Instant>,
    /// When the running half-open trial was let through, if one is running.
    trial_started: Option<Instant>,
}

/// A circuit breaker for command execution, shared by clones: after
/// `failure_threshold` consecutive failed executions it refuses commands for
/// `cool_down` (they fail fast with [`super::ExecuteError::CircuitOpen`],
/// handing the command back), then lets one trial through.
///
/// A domain rejection counts as a success: the store and the aggregate work.
/// A trial that never reports back (its future was dropped) is given up
/// after another `cool_down`, and a new trial is let through.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: CircuitBreakerConfig,
    inner: Arc<Mutex<BreakerInner>>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: CircuitBreakerConfig) -> Self {
        Self {
            config,
            inner: Arc::new(Mutex::new(BreakerInner {
                failures: 0,
                opened_at: None,
                trial_started: None,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerInner> {
        // A poisoned lock only means a panic elsewhere; the counters stay usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current state.
    pub fn state(&self) -> CircuitState {
        let inner = self.lock();
        match inner.opened_at {
            None => CircuitState::Closed,
            Some(t) if t.elapsed() >= self.config.cool_down => CircuitState::HalfOpen,
            Some(_) => CircuitState::Open,
        }
    }

    /// Asks to run a command: `Ok(())` to go ahead, or `Err(wait)` with the
    /// time left until a trial is allowed.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        let mut inner = self.lock();
        match inner.opened_at {
            None => Ok(()),
            Some(t) => {
                let elapsed = t.elapsed();
                if elapsed < self.config.cool_down {
                    return Err(self.config.cool_down - elapsed);
                }
                // A trial older than the cool-down was abandoned (a dropped
                // future never settles): let a new one through rather than
                // refusing every command for ever.
                if let Some(started) = inner.trial_started
                    && started.elapsed() < self.config.cool_down
                {
                    return Err(self.config.cool_down.min(Duration::from_millis(10)));
                }
                inner.trial_started = Some(Instant::now());
                Ok(())
            }
        }
    }

    /// Records a successful execution: closes the breaker.
    pub fn record_success(&self) {
        let mut inner = self.lock();
        inner.failures = 0;
        inner.opened_at = None;
        inner.trial_started = None;
    }

    /// Records a failed execution: opens the breaker at the threshold, or
    /// re-opens it after a failed trial.
    pub fn record_failure(&self) {
        let mut inner = self.lock();
        inner.failures = inner.failures.saturating_add(1);
        if inner.trial_started.is_some() || inner.failures >= self.config.failure_threshold.max(1) {
            inner.opened_at = Some(Instant::now());
        }
        inner.trial_started = None;
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new(CircuitBreakerConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ActorId;

    fn conflict(attempted: u64, current: u64) -> VersionConflict {
        VersionConflict {
            actor_id: ActorId::new("a").unwrap(),
            attempted,
            current,
        }
    }

    #[test]
    fn exponential_grows_and_caps() {
        let p = RetryPolicy::exponential(10, Duration::from_millis(10), Duration::from_millis(50))
            .with_jitter(Jitter::None);
        let d: Vec<_> = (1..=5).map(|a| p.delay(a, None).as_millis()).collect();
        assert_eq!(d, vec![10, 20, 40, 50, 50]);
    }

    #[test]
    fn gap_adaptive_backoff_and_gap_limit() {
        let p = RetryPolicy::version_gap(5, Duration::from_millis(3), Duration::from_millis(20))
            .with_jitter(Jitter::None)
            .with_max_version_gap(10);
        // Loaded 4, tried 5, the aggregate is at 9: it moved 5 versions.
        assert_eq!(RetryPolicy::version_gap_of(&conflict(5, 9)), 5);
        assert_eq!(p.delay(1, Some(&conflict(5, 9))), Duration::from_millis(15));
        assert_eq!(
            p.delay(1, Some(&conflict(5, 40))),
            Duration::from_millis(20)
        );
        assert!(p.should_retry(1, &conflict(5, 9)));
        assert!(!p.should_retry(1, &conflict(5, 40)));
        assert!(!p.should_retry(5, &conflict(5, 6)));
    }

    #[test]
    fn jitter_stays_in_range() {
        let d = Duration::from_millis(100);
        for _ in 0..200 {
            assert!(Jitter::Full.apply(d) <= d);
            let e = Jitter::Equal.apply(d);
            assert!(e >= d / 2 && e <= d);
        }
        assert_eq!(Jitter::None.apply(d), d);
        assert_eq!(Jitter::Full.apply(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn no_retry_and_zero_attempts_mean_one_attempt() {
        assert!(!RetryPolicy::no_retry().should_retry(1, &conflict(2, 2)));
        assert!(!RetryPolicy::immediate(0).should_retry(1, &conflict(2, 2)));
        assert!(RetryPolicy::immediate(2).should_retry(1, &conflict(2, 2)));
    }

    #[test]
    fn breaker_opens_cools_down_and_closes() {
        let b = CircuitBreaker::new(CircuitBreakerConfig {
            failure_threshold: 2,
            cool_down: Duration::from_millis(30),
        });
        assert!(b.try_acquire().is_ok());
        b.record_failure();
        assert_eq!(b.state(), CircuitState::Closed);
        b.record_failure();
        assert_eq!(b.state(), CircuitState::Open);
        assert!(b.try_acquire().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert!(b.try_acquire().is_ok(), "one trial");
        assert!(b.try_acquire().is_err(), "only one trial at a time");
        b.record_failure();
        assert_eq!(b.state(), CircuitState::Open, "a failed trial re-opens");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.clone().try_acquire().is_ok(), "clones share state");
        b.record_success();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    /// Regression: a half-open trial whose execution was cancelled never
    /// calls `record_*`; the breaker used to refuse every command for ever.
    #[test]
    fn abandoned_trial_does_not_wedge_the_breaker() {
        let b = CircuitBreaker::new(CircuitBreakerConfig {
            failure_threshold: 1,
            cool_down: Duration::from_millis(100),
        });
        b.record_failure();
        std::thread::sleep(Duration::from_millis(120));
        assert!(b.try_acquire().is_ok(), "the trial");
        // The trial's future is dropped here: no record_success/failure.
        assert!(b.try_acquire().is_err(), "still one trial at a time");
        std::thread::sleep(Duration::from_millis(120));
        assert!(b.try_acquire().is_ok(), "an abandoned trial is replaced");
        b.record_success();
        assert_eq!(b.state(), CircuitState::Closed);
    }
}

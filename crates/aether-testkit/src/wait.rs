//! Waiting for a condition: [`eventually`] and [`Wait`].
//!
//! A distributed test often has to wait for something that happens in the
//! background (a map converges, a leader is elected, an actor passivates, a
//! projection commits). Sleeping "long enough" is slow when the machine is
//! fast and flaky when it is slow; polling a condition with a deadline is
//! neither. This is the one polling loop the workspace's tests use.
//!
//! The condition is an async closure (`async || ...`), so it may read local
//! state or ask a server. What it returns says whether it holds ([`Check`]):
//!
//! | the condition returns | holds when | hands back | on timeout, the message shows |
//! |---|---|---|---|
//! | `bool` | `true` | `()` | that it was still `false` |
//! | `Option<T>` | `Some(t)` | `t` | that it was still `None` |
//! | `Result<T, E: Debug>` | `Ok(t)` | `t` | the last `Err(e)`: what was observed instead |
//!
//! A `Result` is how a condition reports what it saw: return `Err(observed)`
//! while it does not hold, and the timeout message names that last
//! observation.
//!
//! # Example
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::Duration;
//!
//! use aether_testkit::{Wait, eventually};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let counter = AtomicU64::new(0);
//! let ticker = async {
//!     for _ in 0..3 {
//!         tokio::time::sleep(Duration::from_millis(5)).await;
//!         counter.fetch_add(1, Ordering::Relaxed);
//!     }
//! };
//! let waiter = async {
//!     // A `bool` condition.
//!     eventually("the first tick", Duration::from_secs(5), async || {
//!         counter.load(Ordering::Relaxed) >= 1
//!     })
//!     .await;
//!     // A `Result` condition: `Err` carries what was observed meanwhile, and it
//!     // is what a timeout would print. `Ok` is handed back.
//!     Wait::new("three ticks", Duration::from_secs(5))
//!         .every(Duration::from_millis(1))
//!         .until(async || match counter.load(Ordering::Relaxed) {
//!             n @ 3.. => Ok(n),
//!             n => Err(format!("{n} ticks")),
//!         })
//!         .await
//! };
//! let ((), ticks) = tokio::join!(ticker, waiter);
//! assert_eq!(ticks, 3);
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

/// How often a condition is checked unless [`Wait::every`] says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(10);

/// Checks `condition` every 10 ms until it holds and returns what it hands
/// back; panics after `timeout`, naming `what` and the last observation.
///
/// Shorthand for `Wait::new(what, timeout).until(condition)`; see [`Wait`]
/// for the details and the [module docs](self) for what a condition may
/// return.
///
/// # Panics
///
/// If the condition does not hold within `timeout`. The message reads
/// `timed out after {timeout:?} waiting for {what} ({n} checks); last
/// observed: {observation}`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, rx) = tokio::sync::watch::channel(None);
/// tokio::spawn(async move {
///     tokio::time::sleep(Duration::from_millis(5)).await;
///     tx.send(Some("leader-a")).unwrap();
///     std::future::pending::<()>().await; // keep the sender alive
/// });
/// let leader = aether_testkit::eventually("a leader", Duration::from_secs(5), async || {
///     *rx.borrow()
/// })
/// .await;
/// assert_eq!(leader, "leader-a");
/// # }
/// ```
pub async fn eventually<C: Check>(
    what: impl fmt::Display,
    timeout: Duration,
    condition: impl AsyncFnMut() -> C,
) -> C::Value {
    Wait::new(what, timeout).until(condition).await
}

/// A wait for a condition, with a timeout and a polling interval.
///
/// [`until`](Self::until) checks the condition at once, then every
/// [`every`](Self::every) (10 ms by default) until it holds; a check that
/// does not finish by the deadline counts as not holding. The first check
/// always runs, even with a zero timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use aether_testkit::Wait;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let started = tokio::time::Instant::now();
/// let elapsed = Wait::new("50 ms to pass", Duration::from_secs(5))
///     .every(Duration::from_millis(20))
///     .until(async || {
///         let elapsed = started.elapsed();
///         if elapsed >= Duration::from_millis(50) { Ok(elapsed) } else { Err(elapsed) }
///     })
///     .await;
/// assert!(elapsed >= Duration::from_millis(50));
///
/// // `try_until` returns the timeout instead of panicking.
/// let timed_out = Wait::new("never", Duration::from_millis(30))
///     .try_until(async || false)
///     .await
///     .unwrap_err();
/// assert_eq!(timed_out.last_observed(), "false");
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a wait does nothing until `until` or `try_until` is awaited"]
pub struct Wait {
    what: String,
    timeout: Duration,
    every: Duration,
}

impl Wait {
    /// A wait for `what` (named in the timeout message) of at most `timeout`.
    pub fn new(what: impl fmt::Display, timeout: Duration) -> Self {
        Wait {
            what: what.to_string(),
            timeout,
            every: DEFAULT_INTERVAL,
        }
    }

    /// Checks the condition every `interval` (10 ms by default). Use a longer
    /// one for a condition that asks a server.
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = interval;
        self
    }

    /// Checks `condition` until it holds and returns what it hands back.
    ///
    /// # Panics
    ///
    /// If it does not hold within the timeout, with the message of
    /// [`TimedOut`]'s `Display`.
    pub async fn until<C: Check>(self, condition: impl AsyncFnMut() -> C) -> C::Value {
        match self.try_until(condition).await {
            Ok(value) => value,
            Err(timed_out) => panic!("{timed_out}"),
        }
    }

    /// Like [`until`](Self::until), but returns the timeout as an error
    /// instead of panicking.
    ///
    /// # Errors
    ///
    /// [`TimedOut`] if the condition did not hold within the timeout: it
    /// names what was awaited and the last observation.
    pub async fn try_until<C: Check>(
        self,
        mut condition: impl AsyncFnMut() -> C,
    ) -> Result<C::Value, TimedOut> {
        let deadline = Instant::now() + self.timeout;
        let mut checks = 0u64;
        loop {
            checks += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let observed = match tokio::time::timeout(remaining, condition()).await {
                Ok(outcome) => match outcome.check() {
                    Ok(value) => return Ok(value),
                    Err(observed) => observed,
                },
                Err(_) => format!("the check did not finish within the {:?} left", remaining),
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(TimedOut {
                    what: self.what,
                    timeout: self.timeout,
                    checks,
                    last_observed: observed,
                });
            }
            tokio::time::sleep_until((now + self.every).min(deadline)).await;
        }
    }
}

/// What a condition returns: whether it holds, and then the value to hand
/// back, or else what was observed instead (for the timeout message).
///
/// Implemented for `bool`, `Option<T>` and `Result<T, E>` (with `E: Debug`);
/// see the [module docs](self).
pub trait Check {
    /// What a wait hands back once the condition holds.
    type Value;

    /// `Ok` with the value if the condition holds, else `Err` with a
    /// description of what was observed.
    ///
    /// # Errors
    ///
    /// The observation, when the condition does not hold.
    fn check(self) -> Result<Self::Value, String>;
}

impl Check for bool {
    type Value = ();

    fn check(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("false".to_owned())
        }
    }
}

impl<T> Check for Option<T> {
    type Value = T;

    fn check(self) -> Result<T, String> {
        self.ok_or_else(|| "None".to_owned())
    }
}

impl<T, E: fmt::Debug> Check for Result<T, E> {
    type Value = T;

    fn check(self) -> Result<T, String> {
        self.map_err(|observed| format!("{observed:?}"))
    }
}

/// A condition that did not hold in time: what was awaited, for how long,
/// how often it was checked and what the last check observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedOut {
    what: String,
    timeout: Duration,
    checks: u64,
    last_observed: String,
}

impl TimedOut {
    /// What was awaited (the name given to the wait).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// How long the wait lasted.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many times the condition was checked.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// What the last check observed: `false`, `None`, or the `Debug` form of
    /// the last `Err`.
    pub fn last_observed(&self) -> &str {
        &self.last_observed
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {} ({} checks); last observed: {}",
            self.timeout, self.what, self.checks, self.last_observed
        )
    }
}

impl std::error::Error for TimedOut {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bool_condition_waits_until_true() {
        let calls = AtomicU32::new(0);
        eventually("three calls", Duration::from_secs(1), async || {
            calls.fetch_add(1, Ordering::Relaxed) == 2
        })
        .await;
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_option_condition_hands_back_its_value() {
        let mut n = 0;
        let got = eventually("n = 4", Duration::from_secs(1), async || {
            n += 1;
            (n == 4).then_some(n * 10)
        })
        .await;
        assert_eq!(got, 40);
    }

    #[tokio::test(start_paused = true)]
    async fn a_result_condition_reports_its_last_observation() {
        let mut n = 0;
        let err = Wait::new("n to reach 1000", Duration::from_millis(100))
            .try_until(async || {
                n += 1;
                if n >= 1000 {
                    Ok(n)
                } else {
                    Err(format!("n = {n}"))
                }
            })
            .await
            .unwrap_err();
        // Checks at 0, 10, ..., 100 ms.
        assert_eq!(err.checks(), 11);
        assert_eq!(err.last_observed(), "\"n = 11\"");
        assert_eq!(err.what(), "n to reach 1000");
        assert_eq!(
            err.to_string(),
            "timed out after 100ms waiting for n to reach 1000 (11 checks); \
             last observed: \"n = 11\""
        );
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "timed out after 50ms waiting for the flag (6 checks); \
                               last observed: false")]
    async fn until_panics_naming_what_was_awaited() {
        eventually("the flag", Duration::from_millis(50), async || false).await;
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "last observed: None")]
    async fn an_option_that_stays_none_says_so() {
        eventually("a value", Duration::from_millis(50), async || None::<u8>).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_hangs_is_cut_at_the_deadline() {
        let err = Wait::new("a hanging check", Duration::from_millis(50))
            .try_until(async || std::future::pending::<bool>().await)
            .await
            .unwrap_err();
        assert_eq!(err.checks(), 1);
        assert!(
            err.last_observed().contains("did not finish"),
            "{}",
            err.last_observed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_interval_is_honoured_and_the_first_check_is_immediate() {
        let start = Instant::now();
        let mut seen = Vec::new();
        Wait::new("three checks", Duration::from_secs(5))
            .every(Duration::from_millis(100))
            .until(async || {
                seen.push(start.elapsed());
                seen.len() == 3
            })
            .await;
        assert_eq!(
            seen,
            [0, 100, 200].map(Duration::from_millis).to_vec(),
            "checks at once, then every 100 ms"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_timeout_still_checks_once() {
        eventually("already true", Duration::ZERO, async || true).await;
        let err = Wait::new("false", Duration::ZERO)
            .try_until(async || false)
            .await
            .unwrap_err();
        assert_eq!(err.checks(), 1);
    }
}

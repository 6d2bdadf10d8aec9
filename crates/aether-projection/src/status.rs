//! What a running projection reports: [`Status`], its [`State`] and the
//! [`Progress`] of a catch-up or rebuild.

use std::time::{Duration, Instant};

use aether_core::{LogCursor, LogPosition};

/// What a runner is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Loading its position and subscribing.
    Starting,
    /// Waiting for the projection's lease (another instance is active).
    Standby,
    /// Reading stored events, behind the head of the log.
    CatchingUp,
    /// At the head of the log, handling events as they are appended.
    Live,
    /// The handler failed on the event at `position`; retrying it.
    Retrying {
        /// The event being retried.
        position: LogPosition,
        /// Failed attempts so far.
        attempt: u32,
        /// The last error.
        error: String,
    },
    /// The log or the checkpoint store failed; starting again shortly from
    /// the last handled position.
    Reconnecting {
        /// Why.
        error: String,
    },
    /// Stopped at the event at `position`, which the handler could not apply
    /// (after its retries) or which is malformed. Nothing after it was
    /// handled; restart the runner after fixing the cause.
    Failed {
        /// The failing event.
        position: LogPosition,
        /// The handler's last error.
        error: String,
    },
    /// Stopped on request.
    Stopped,
}

/// A snapshot of a runner's progress.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Status {
    /// What it is doing.
    pub state: State,
    /// The last position handled (or passed by the filter); `None` before
    /// the first.
    pub position: Option<LogPosition>,
    /// Where the projection stands in every partition of the log: what a
    /// restart resumes after.
    pub cursor: LogCursor,
    /// Events given to the handler since the runner started.
    pub handled: u64,
    /// Log entries read since the last subscription opened.
    pub read: u64,
    /// Entries the log held after the start position when the last
    /// subscription opened.
    pub backlog: u64,
    /// Entries behind the head at the last entry read (the lag).
    pub behind: u64,
    /// The lease token while this instance is the active one (with leases).
    pub lease_token: Option<u64>,
    /// When the last subscription opened.
    pub since: Instant,
}

impl Status {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Starting,
            position: None,
            cursor: LogCursor::new(),
            handled: 0,
            read: 0,
            backlog: 0,
            behind: 0,
            lease_token: None,
            since: Instant::now(),
        }
    }

    /// Whether it is at the head of the log.
    pub fn is_live(&self) -> bool {
        self.state == State::Live
    }

    /// Whether it stopped at a failing event.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed { .. })
    }

    /// The progress of the current catch-up (or rebuild).
    pub fn progress(&self) -> Progress {
        let elapsed = self.since.elapsed();
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.read as f64 / secs
        } else {
            0.0
        };
        Progress::new(self.read, self.read + self.behind, rate, elapsed)
    }
}

/// How far a catch-up has got.
///
/// ```
/// use std::time::Duration;
/// use aether_projection::Progress;
/// let p = Progress::new(250, 1000, 50.0, Duration::from_secs(5));
/// assert_eq!(p.fraction(), 0.25);
/// assert_eq!(p.eta, Some(Duration::from_secs(15)));
/// assert_eq!(p.bar(8), "[##      ] 250/1000 entries, 50/s, 15s left");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Entries read.
    pub done: u64,
    /// Entries to read in all (grows while events are appended).
    pub total: u64,
    /// Entries per second so far.
    pub rate: f64,
    /// Time left at that rate.
    pub eta: Option<Duration>,
    /// Time since the catch-up began.
    pub elapsed: Duration,
}

impl Progress {
    /// `done` of `total` at `rate` per second after `elapsed`.
    pub fn new(done: u64, total: u64, rate: f64, elapsed: Duration) -> Self {
        let left = total.saturating_sub(done);
        Self {
            done,
            total,
            rate,
            eta: (rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate)),
            elapsed,
        }
    }

    /// `done / total` in `0.0..=1.0` (1 when there is nothing to do).
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0)
        }
    }

    /// A one-line text bar `width` cells wide, for a terminal.
    pub fn bar(&self, width: usize) -> String {
        let filled = ((self.fraction() * width as f64).round() as usize).min(width);
        let eta = self
            .eta
            .map_or_else(|| "-".to_string(), |d| format!("{}s", d.as_secs()));
        format!(
            "[{}{}] {}/{} entries, {:.0}/s, {eta} left",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.done,
            self.total,
            self.rate
        )
    }
}

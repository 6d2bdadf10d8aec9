//! The global log: every event of a store in one order, for the read side
//! (projections, process managers, audit).
//!
//! Per actor a store keeps events in version order; the global log puts all
//! actors' events into **one total order** consistent with each actor's, and
//! gives each event a stable [`LogPosition`]. On JetStream that order is the
//! event stream's sequence; on the in-memory store the order of appends.
//!
//! An [`EventLog`] subscription reads what is stored from a position on, then
//! follows new appends live, in one stream: there is no switch between a
//! "catch-up" and a "live" phase where an event could be missed or repeated.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::id::ActorId;
use crate::store::MalformedEvent;

/// Where an event sits in a store's global log.
///
/// Ordered by `sequence`, then `index`. `sequence` numbers the log's entries
/// (on JetStream: the stream sequence of the stored message); `index` is the
/// event's place inside its entry (an atomic append of several events is one
/// entry), `0` for the first.
///
/// Written as `sequence.index`:
///
/// ```
/// use aether_core::LogPosition;
/// let p = LogPosition::new(42, 1);
/// assert_eq!(p.to_string(), "42.1");
/// assert_eq!("42.1".parse::<LogPosition>().unwrap(), p);
/// assert!(LogPosition::new(42, 0) < p && p < LogPosition::new(43, 0));
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct LogPosition {
    /// The entry's sequence in the log, from 1.
    pub sequence: u64,
    /// The event's index inside the entry, from 0.
    pub index: u32,
}

impl LogPosition {
    /// The position of event `index` of entry `sequence`.
    pub const fn new(sequence: u64, index: u32) -> Self {
        Self { sequence, index }
    }
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.sequence, self.index)
    }
}

impl FromStr for LogPosition {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid_input(format!("{s:?} is not a log position (sequence.index)"));
        let (seq, idx) = s.split_once('.').ok_or_else(bad)?;
        Ok(Self::new(
            seq.parse().map_err(|_| bad())?,
            idx.parse().map_err(|_| bad())?,
        ))
    }
}

/// Which actors' events a subscription reads: all, or those of some actor
/// types (a filter the backend applies, on JetStream by subject).
///
/// ```
/// use aether_core::{ActorId, LogSelection};
/// let orders = LogSelection::actor_types(["order"]);
/// assert!(orders.admits(&ActorId::new("order-1").unwrap()));
/// assert!(!orders.admits(&ActorId::new("cart-1").unwrap()));
/// assert!(LogSelection::all().admits(&ActorId::new("cart-1").unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSelection {
    types: Vec<String>,
}

impl LogSelection {
    /// Every actor.
    pub fn all() -> Self {
        Self::default()
    }

    /// The actors of these types ([`ActorId::actor_type`]). An empty list
    /// selects every actor.
    pub fn actor_types<S: Into<String>>(types: impl IntoIterator<Item = S>) -> Self {
        let mut types: Vec<String> = types.into_iter().map(Into::into).collect();
        types.sort();
        types.dedup();
        Self { types }
    }

    /// The selected actor types; empty when every actor is selected.
    pub fn types(&self) -> &[String] {
        &self.types
    }

    /// Whether `actor`'s events are selected.
    pub fn admits(&self, actor: &ActorId) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == actor.actor_type())
    }
}

/// One entry of a subscription: an event, or a stored entry that could not be
/// decoded (reported, never skipped silently), at its position.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogEntry {
    /// Where it sits in the log.
    pub position: LogPosition,
    /// The event, or why the stored bytes are not one.
    pub event: std::result::Result<Event, MalformedEvent>,
    /// How many log entries of the selection followed this one when it was
    /// read (0 = the subscriber is at the head): the subscriber's lag, and
    /// with the entries done so far, the progress of a catch-up.
    pub behind: u64,
}

impl LogEntry {
    /// An entry at `position` holding `event`, `behind` entries from the head.
    pub fn new(
        position: LogPosition,
        event: std::result::Result<Event, MalformedEvent>,
        behind: u64,
    ) -> Self {
        Self {
            position,
            event,
            behind,
        }
    }
}

/// How many entries a store hands a subscription at once, at most.
pub const LOG_CHUNK: usize = 256;

/// Chunks a subscription buffers ahead of its reader before the store waits
/// (backpressure, never a drop).
const CHUNKS_AHEAD: usize = 8;

/// A live subscription to an [`EventLog`]: entries in log order, first the
/// stored ones, then new ones as they are appended. It ends only with an
/// error (the backend failed or went away); dropping it stops the reading.
///
/// The store reads ahead on a task of its own (up to a few thousand entries),
/// so decoding overlaps with the reader's work, and waits when the reader
/// falls behind.
#[derive(Debug)]
pub struct LogSubscription {
    chunks: mpsc::Receiver<Result<Vec<LogEntry>>>,
    buffer: VecDeque<LogEntry>,
    backlog: u64,
}

/// The sending side of a [`LogSubscription`], for store implementations.
#[derive(Debug, Clone)]
pub struct LogFeed {
    chunks: mpsc::Sender<Result<Vec<LogEntry>>>,
}

impl LogSubscription {
    /// A subscription and the feed its store writes to; `backlog` is how many
    /// selected entries the log held after the start position when it opened.
    pub fn channel(backlog: u64) -> (Self, LogFeed) {
        let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
        (
            Self {
                chunks: rx,
                buffer: VecDeque::new(),
                backlog,
            },
            LogFeed { chunks: tx },
        )
    }

    /// How many selected entries were stored after the start position when
    /// the subscription opened (what a catch-up has to read).
    pub fn backlog(&self) -> u64 {
        self.backlog
    }

    /// The next entry already read ahead, without waiting (`None`: call
    /// [`Self::next`]). Lets a consumer skip its own waiting machinery while
    /// a chunk is buffered.
    pub fn try_next(&mut self) -> Option<LogEntry> {
        self.buffer.pop_front()
    }

    /// The next entry: waits for one to be appended when the subscriber is at
    /// the head. An error means the subscription is over (the backend failed
    /// or the store was dropped); subscribe again from the last position to
    /// go on.
    pub async fn next(&mut self) -> Result<LogEntry> {
        loop {
            if let Some(entry) = self.buffer.pop_front() {
                return Ok(entry);
            }
            match self.chunks.recv().await {
                Some(Ok(chunk)) => self.buffer.extend(chunk),
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(Error::unavailable(
                        "the log subscription ended: its store stopped reading",
                    ));
                }
            }
        }
    }
}

impl LogFeed {
    /// Hands a chunk of entries to the subscriber, waiting while it is
    /// behind. `false` when the subscriber is gone (stop reading).
    pub async fn send(&self, entries: Vec<LogEntry>) -> bool {
        entries.is_empty() || self.chunks.send(Ok(entries)).await.is_ok()
    }

    /// Ends the subscription with `error`.
    pub async fn fail(&self, error: Error) {
        let _ = self.chunks.send(Err(error)).await;
    }

    /// Whether the subscriber is gone.
    pub fn is_closed(&self) -> bool {
        self.chunks.is_closed()
    }

    /// Resolves once the subscriber is gone.
    pub async fn closed(&self) {
        self.chunks.closed().await
    }
}

/// A store's global log: every event of the store in **one total order**
/// consistent with each actor's version order, each at a stable
/// [`LogPosition`] (on JetStream the event stream's sequence; on the
/// in-memory store the order of appends). A subscription reads what is
/// stored from a position on, then follows new appends live, in one stream:
/// there is no switch between a catch-up and a live phase where an event
/// could be missed or repeated.
///
/// Implemented by the in-memory and the JetStream event stores; both pass
/// the same conformance tests (`aether-testkit`'s `conformance::log`).
pub trait EventLog: Send + Sync {
    /// Every selected event stored **after** `after` (from the log's start
    /// when `None`), in log order, then every one appended later, live.
    fn subscribe(
        &self,
        selection: LogSelection,
        after: Option<LogPosition>,
    ) -> impl Future<Output = Result<LogSubscription>> + Send;

    /// The log's last position now (`None` when empty).
    fn head(&self) -> impl Future<Output = Result<Option<LogPosition>>> + Send;
}

impl<L: EventLog + ?Sized> EventLog for std::sync::Arc<L> {
    fn subscribe(
        &self,
        selection: LogSelection,
        after: Option<LogPosition>,
    ) -> impl Future<Output = Result<LogSubscription>> + Send {
        (**self).subscribe(selection, after)
    }

    fn head(&self) -> impl Future<Output = Result<Option<LogPosition>>> + Send {
        (**self).head()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_order() {
        assert!("1".parse::<LogPosition>().is_err());
        assert!("a.b".parse::<LogPosition>().is_err());
        assert!("1.-1".parse::<LogPosition>().is_err());
        let p: LogPosition = "7.0".parse().unwrap();
        assert_eq!(p, LogPosition::new(7, 0));
        assert!(LogPosition::new(7, 9) < LogPosition::new(8, 0));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<LogPosition>(&json).unwrap(), p);
    }

    #[test]
    fn selections_dedupe_and_admit() {
        let s = LogSelection::actor_types(["b", "a", "b"]);
        assert_eq!(s.types(), ["a", "b"]);
        assert!(s.admits(&ActorId::new("a-1").unwrap()));
        assert!(!s.admits(&ActorId::new("c-1").unwrap()));
    }

    #[tokio::test]
    async fn subscription_reads_chunks_in_order_then_reports_the_end() {
        let (mut sub, feed) = LogSubscription::channel(3);
        assert_eq!(sub.backlog(), 3);
        let a = ActorId::new("a-1").unwrap();
        let entry = |s| {
            LogEntry::new(
                LogPosition::new(s, 0),
                Ok(Event::new(a.clone(), s, "T", serde_json::json!(s))),
                3 - s,
            )
        };
        assert!(feed.send(vec![entry(1), entry(2)]).await);
        assert!(feed.send(Vec::new()).await);
        assert!(feed.send(vec![entry(3)]).await);
        drop(feed);
        for s in 1..=3 {
            assert_eq!(sub.next().await.unwrap().position.sequence, s);
        }
        assert!(sub.next().await.unwrap_err().is_transient());
    }
}

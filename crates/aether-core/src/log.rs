//! The global log: every event of a store, for the read side (projections,
//! process managers, audit).
//!
//! Per actor a store keeps events in version order. The global log is one or
//! more **partitions**, each an ordered log holding whole actors (on
//! JetStream: one stream each); each event has a stable [`LogPosition`]
//! (partition, sequence, index). A subscription reads every selected
//! partition and hands the entries over in **one order consistent with every
//! actor's and every partition's order**, and a reader's place is a
//! [`LogCursor`]: one position per partition, from which a later
//! subscription resumes with no gap and no repeat. Across partitions the
//! order is that of arrival, not of causality (see `docs/guarantees.md`).
//!
//! An [`EventLog`] subscription reads what is stored from a cursor on, then
//! follows new appends live, in one stream: there is no switch between a
//! "catch-up" and a "live" phase where an event could be missed or repeated.

mod cursor;
mod position;

pub use cursor::LogCursor;
pub use position::LogPosition;

use std::collections::VecDeque;
use std::future::Future;
use std::ops::Range;

use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::id::ActorId;
use crate::store::MalformedEvent;

/// Which actors' events a subscription reads: all, or those of some actor
/// types (a filter the backend applies, on JetStream by subject), of every
/// partition or of a range of partitions (so several readers can share a
/// partitioned log, each reading its range).
///
/// ```
/// use aether_core::{ActorId, LogSelection};
/// let orders = LogSelection::actor_types(["order"]);
/// assert!(orders.admits(&ActorId::new("order-1").unwrap()));
/// assert!(!orders.admits(&ActorId::new("cart-1").unwrap()));
/// assert!(LogSelection::all().admits(&ActorId::new("cart-1").unwrap()));
///
/// // The first half of a log of 8 partitions.
/// let half = LogSelection::all().in_partitions(0..4);
/// assert!(half.admits_partition(3) && !half.admits_partition(4));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSelection {
    types: Vec<String>,
    partitions: Option<Range<u16>>,
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
        Self {
            types,
            partitions: None,
        }
    }

    /// Only the partitions in `range` (of the log's partitions; a range past
    /// them selects nothing there). Every partition when not called.
    #[must_use]
    pub fn in_partitions(mut self, range: Range<u16>) -> Self {
        self.partitions = Some(range);
        self
    }

    /// The selected range of partitions; `None` when every partition is
    /// selected.
    pub fn partitions(&self) -> Option<Range<u16>> {
        self.partitions.clone()
    }

    /// Whether partition `partition` is selected.
    pub fn admits_partition(&self, partition: u16) -> bool {
        self.partitions
            .as_ref()
            .is_none_or(|r| r.contains(&partition))
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
    /// with the entries done so far, the progress of a catch-up. Of a
    /// partitioned log, the sum over the partitions of the entries after the
    /// last one read from each.
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
    start: Option<LogCursor>,
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
                start: None,
            },
            LogFeed { chunks: tx },
        )
    }

    /// The same subscription, reading after `cursor`: for a store that
    /// started it after another cursor than the one asked for (one of an
    /// earlier layout of the log, translated to the current layout).
    #[must_use]
    pub fn starting_at(mut self, cursor: LogCursor) -> Self {
        self.start = Some(cursor);
        self
    }

    /// Where the subscription reads from when the store translated the
    /// cursor it was given (see [`Self::starting_at`]): a reader keeping its
    /// own cursor goes on from this one. `None`: from the cursor given.
    pub fn start(&self) -> Option<&LogCursor> {
        self.start.as_ref()
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

/// A store's global log: every event of the store in one or more
/// partitions, each an ordered log of whole actors, each event at a stable
/// [`LogPosition`] (on JetStream a partition is a stream and the sequence its
/// stream sequence; the in-memory store has one partition, in the order of
/// appends). A subscription reads what is stored after a [`LogCursor`] (one
/// position per partition), then follows new appends live, in one stream:
/// there is no switch between a catch-up and a live phase where an event
/// could be missed or repeated.
///
/// The entries of a subscription come in **one order consistent with every
/// actor's version order and every partition's order**; how the partitions
/// interleave is the order of arrival, and may differ from one subscription
/// to the next. A subscription resumed from the cursor of the entries read
/// so far reads every later entry exactly once.
///
/// Implemented by the in-memory and the JetStream event stores; both pass
/// the same conformance tests (`aether-testkit`'s `conformance::log`).
pub trait EventLog: Send + Sync {
    /// Every selected event stored **after** `after` (a [`LogCursor`], or
    /// one [`LogPosition`], or `None` for the log's start), in log order,
    /// then every one appended later, live.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `after` does not fit the log: a position
    /// of another layout epoch (the namespace was repartitioned since: see
    /// `docs/operations.md` for translating checkpoints) or of a partition
    /// the log does not have; otherwise the backend's errors
    /// ([`Error::Unavailable`] when it does not answer).
    fn subscribe(
        &self,
        selection: LogSelection,
        after: impl Into<LogCursor> + Send,
    ) -> impl Future<Output = Result<LogSubscription>> + Send;

    /// The log's last position in every partition now (empty when the log
    /// is empty): a subscription after it reads only later appends.
    fn head(&self) -> impl Future<Output = Result<LogCursor>> + Send;
}

impl<L: EventLog + ?Sized> EventLog for std::sync::Arc<L> {
    fn subscribe(
        &self,
        selection: LogSelection,
        after: impl Into<LogCursor> + Send,
    ) -> impl Future<Output = Result<LogSubscription>> + Send {
        (**self).subscribe(selection, after)
    }

    fn head(&self) -> impl Future<Output = Result<LogCursor>> + Send {
        (**self).head()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! [`EventLog`] for [`JetStreamEventStore`]: the event streams themselves are
//! the global log. Partition `k` is the stream of partition `k` (the one
//! stream of an unpartitioned namespace is partition 0); its entry `n` is the
//! message at stream sequence `n`, whose events (one, or the lines of an
//! atomic append) are at indexes 0, 1, ...
//!
//! A subscription is one consumer per selected partition, filtered to the
//! selected actor types and started at the entry holding the cursor's
//! position in that partition: each delivers what is stored, then what is
//! appended, in stream order, with no switch between the two. A task per
//! partition decodes its messages ahead of the subscriber into the one
//! channel the subscriber reads, so the subscriber sees each partition's
//! entries in order, interleaved as they arrive (the **arrival merge**).
//!
//! The consumers are those of [`super::reading`]. Where a consumer fails in
//! a way the server recovers from (a delivery missing from the consumer's
//! sequence, missed heartbeats, a pull refused during a leader election,
//! the consumer gone), its partition's reader deletes it and makes a new one
//! from the message of the last entry it handed on, skipping what it
//! already handed on: the subscriber sees nothing (as async-nats's ordered
//! consumer recreates itself). Only when no new consumer can be made for
//! [`RESUME_FOR`] does the subscription end, with a transient error after
//! the entries before it, and the subscriber subscribes again from its
//! cursor (the projection runner does), so nothing is skipped or repeated.

use std::sync::Arc;

use aether_core::{
    Error, Event, EventLog, LOG_CHUNK, LogCursor, LogEntry, LogFeed, LogPosition, LogSelection,
    LogSubscription, MalformedEvent, Result,
};
use async_nats::jetstream::consumer::pull;
use futures::{FutureExt, StreamExt};

use super::JetStreamEventStore;
use super::decode::{decode_any, lines, mismatch};
use super::delivery::Delivery;
use super::reading::{Reading, in_order};
use crate::error::messages_error;
use crate::headers;
use crate::layout::{Layout, Partition};
use crate::subject::Subjects;

impl JetStreamEventStore {
    /// The subject filters of `selection` on a partition's stream (none:
    /// every message).
    fn log_filters(subjects: &Subjects, selection: &LogSelection) -> Vec<String> {
        selection
            .types()
            .iter()
            .map(|t| subjects.events_of_type(t))
            .collect()
    }
}

/// Checks that `cursor` (of `layout`'s epoch) names only partitions the
/// layout has.
fn check_cursor(layout: &Layout, cursor: &LogCursor, stream: &str) -> Result<()> {
    if let Some(p) = cursor
        .positions()
        .iter()
        .find(|p| p.partition >= layout.count())
    {
        return Err(Error::invalid_input(format!(
            "log cursor {cursor} names position {p}, and the log of {stream} has {} \
             partition(s)",
            layout.count()
        )));
    }
    Ok(())
}

impl EventLog for JetStreamEventStore {
    async fn subscribe(
        &self,
        selection: LogSelection,
        after: impl Into<LogCursor> + Send,
    ) -> Result<LogSubscription> {
        let asked: LogCursor = after.into();
        let layout = self.layout();
        // A cursor of the layout a repartition replaced is translated.
        let after = Box::pin(self.translate_in(&layout, &asked)).await?;
        check_cursor(&layout, &after, &self.inner.stream_name)?;
        let filters = Self::log_filters(&layout.subjects, &selection);
        let selected: Vec<Arc<Partition>> = layout
            .partitions
            .iter()
            .filter(|p| selection.admits_partition(p.index))
            .cloned()
            .collect();
        // Every consumer first (on the heap: creating one is a large
        // future), so the backlog is known before the first entry.
        let mut readings = Vec::with_capacity(selected.len());
        for part in &selected {
            let start = after.get(part.index).map_or(1, |p| p.sequence.max(1));
            match Box::pin(self.open_reading(part, filters.clone(), start, "log subscription"))
                .await
            {
                Ok(reading) => readings.push(reading),
                Err(e) => {
                    for (part, reading) in selected.iter().zip(readings) {
                        self.close_reading(part, reading.name);
                    }
                    return Err(e);
                }
            }
        }
        // A consumer resuming a partition starts at the message holding the
        // cursor's position, counted in its pending but already handed on:
        // not part of the backlog. (Counted, the last entry of a catch-up
        // could read 1 behind for good: that message yields no entry, so
        // the subscriber never hears that it was read.) Unless retention
        // removed that message: the consumer starts past it, uncounted.
        let pending: Vec<u64> = selected
            .iter()
            .zip(&readings)
            .map(|(part, r)| {
                let resumed = after
                    .get(part.index)
                    .is_some_and(|p| p.sequence >= 1 && r.first == p.sequence);
                r.pending.saturating_sub(u64::from(resumed))
            })
            .collect();
        let backlog = pending.iter().sum();
        let (mut subscription, feed) = LogSubscription::channel(backlog);
        if after != asked {
            subscription = subscription.starting_at(after.clone());
        }
        let selected_count = readings.len();
        let pending = Arc::new(tokio::sync::Mutex::new(pending));
        for (slot, (part, reading)) in selected.into_iter().zip(readings).enumerate() {
            let reader = PartitionReader {
                store: self.clone(),
                // An unpartitioned namespace's stream may be sealed by a
                // repartition: a quiet subscription checks now and then.
                sealable: layout.version == 1,
                start: after.get(part.index).map_or(1, |p| p.sequence.max(1)),
                after: after.get(part.index),
                part,
                filters: filters.clone(),
                epoch: layout.epoch,
                subjects: layout.subjects.clone(),
                pending: Arc::clone(&pending),
                slot,
                last_pending: 0,
            };
            tokio::spawn(reader.run(reading, feed.clone()));
        }
        if selected_count == 0 {
            // No partition selected: a subscription that stays quiet until
            // dropped.
            tokio::spawn(async move { feed.closed().await });
        }
        Ok(subscription)
    }

    async fn head(&self) -> Result<LogCursor> {
        let layout = self.layout();
        let heads = futures::future::join_all(
            layout
                .partitions
                .iter()
                .map(|part| self.partition_head(part, layout.epoch)),
        )
        .await;
        LogCursor::from_positions(
            heads
                .into_iter()
                .filter_map(Result::transpose)
                .collect::<Result<Vec<_>>>()?,
        )
    }
}

impl JetStreamEventStore {
    /// The last position of partition `part` (`None` when it is empty).
    async fn partition_head(&self, part: &Partition, epoch: u16) -> Result<Option<LogPosition>> {
        let info = super::stream_info(
            &self.inner.js,
            &part.name,
            self.inner.config.request_timeout,
        )
        .await?
        .ok_or_else(|| Error::missing(format!("the event stream {} is missing", part.name)))?;
        let last = info.state.last_sequence;
        if info.state.messages == 0 || last == 0 {
            return Ok(None);
        }
        // The last entry's last event: its index is the count header - 1.
        let count = match part.stream.get_raw_message(last).await {
            Ok(msg) => headers::count(&msg.headers).unwrap_or(1),
            Err(_) => 1,
        };
        Ok(Some(
            LogPosition::in_partition(
                part.index,
                last,
                u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX),
            )
            .with_epoch(epoch),
        ))
    }
}

/// The consumer's message stream.
type Messages = pull::Stream;

/// How long a subscription to an unpartitioned namespace waits without a
/// message before it checks whether its stream was sealed.
const SEAL_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a partition's reader tries to make a new consumer after its
/// consumer failed before the subscription ends (a leader election of a
/// replicated stream takes a few seconds; a restarted server, longer).
pub(crate) const RESUME_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads one partition of a subscription.
struct PartitionReader {
    store: JetStreamEventStore,
    part: Arc<Partition>,
    /// The consumer's subject filters (none: every message).
    filters: Vec<String>,
    /// Whether the stream may be sealed by a repartition (layout v1): then
    /// a quiet reader checks now and then.
    sealable: bool,
    /// The stream sequence the first consumer started at.
    start: u64,
    epoch: u16,
    subjects: Subjects,
    /// The last position handed on in this partition (at first the
    /// subscription's start): a message at or before it is never handed on
    /// twice, should a consumer deliver it again after a leader change or
    /// a new consumer start at its message.
    after: Option<LogPosition>,
    /// The entries still pending after the last chunk sent, per partition
    /// read: an entry's `behind` is its own partition's pending after it
    /// plus the others'. Locked while a chunk is counted and sent, so that
    /// the chunks reach the subscriber in the order they were counted: the
    /// last one sent counts every other partition's last, and reads 0 at
    /// the head (counted when read instead, two partitions reading their
    /// last entries at once could each count the other's as pending, and
    /// the subscriber would never see the head).
    pending: Arc<tokio::sync::Mutex<Vec<u64>>>,
    /// This partition's place in `pending`.
    slot: usize,
    /// This partition's pending after the last message decoded.
    last_pending: u64,
}

/// Why a partition's reading stopped.
enum Stop {
    /// The subscriber went away.
    Closed,
    /// The consumer failed in a way a new consumer gets past.
    Resume(Error),
    /// The subscription ends with this error.
    Fail(Error),
}

impl PartitionReader {
    /// Reads `reading` into `feed`, and after a consumer failure a new
    /// consumer from the last entry handed on, until the subscriber goes
    /// away or the subscription fails; deletes the consumers it is done
    /// with.
    async fn run(mut self, mut reading: Reading, feed: LogFeed) {
        loop {
            let stop = self.feed(reading.messages, &feed).await;
            self.store.close_reading(&self.part, reading.name);
            let error = match stop {
                Stop::Closed => return,
                Stop::Fail(error) => return feed.fail(error).await,
                Stop::Resume(error) => error,
            };
            match self.reopen(&error, &feed).await {
                Some(next) => reading = next,
                None => return feed.fail(error).await,
            }
        }
    }

    /// A new consumer from the message of the last entry handed on, tried
    /// for [`RESUME_FOR`]; `None` when none could be made (or the
    /// subscriber went away meanwhile).
    async fn reopen(&self, failure: &Error, feed: &LogFeed) -> Option<Reading> {
        if self.store.inner.acks.is_closed() {
            return None;
        }
        let start = self.after.map_or(self.start, |a| a.sequence.max(1));
        tracing::debug!(
            partition = self.part.index,
            start,
            error = %failure,
            "log subscription: the consumer failed; making a new one"
        );
        let give_up = tokio::time::Instant::now() + RESUME_FOR;
        let mut pause = std::time::Duration::from_millis(50);
        loop {
            let opening = self.store.open_reading(
                &self.part,
                self.filters.clone(),
                start,
                "log subscription",
            );
            match Box::pin(opening).await {
                Ok(reading) => return Some(reading),
                // A closed client makes no consumer any more.
                Err(e)
                    if e.is_transient()
                        && !self.store.inner.acks.is_closed()
                        && tokio::time::Instant::now() + pause < give_up =>
                {
                    tracing::debug!(error = %e, "log subscription: making a new consumer failed");
                }
                Err(e) => {
                    tracing::warn!(
                        partition = self.part.index,
                        error = %e,
                        "log subscription: no new consumer; the subscription ends"
                    );
                    return None;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = feed.closed() => return None,
            }
            pause = (pause * 2).min(std::time::Duration::from_secs(2));
        }
    }

    /// Decodes messages into `feed` until the subscriber goes away or the
    /// consumer fails.
    async fn feed(&mut self, mut messages: Messages, feed: &LogFeed) -> Stop {
        let mut entries = Vec::with_capacity(LOG_CHUNK);
        let mut delivered = 0u64;
        loop {
            let first = tokio::select! {
                m = messages.next() => m,
                () = feed.closed() => return Stop::Closed,
                () = tokio::time::sleep(SEAL_CHECK), if self.sealable => {
                    if let Some(error) = self.sealed().await {
                        return Stop::Fail(error);
                    }
                    continue;
                }
            };
            let mut stop = self.push(first, &mut delivered, &mut entries);
            // Take what has already arrived, without waiting, up to a chunk.
            while stop.is_none() && entries.len() < LOG_CHUNK {
                match messages.next().now_or_never() {
                    Some(m) => stop = self.push(m, &mut delivered, &mut entries),
                    None => break,
                }
            }
            let chunk = std::mem::replace(&mut entries, Vec::with_capacity(LOG_CHUNK));
            if !self.send(chunk, feed).await {
                return Stop::Closed;
            }
            if let Some(stop) = stop {
                return stop;
            }
        }
    }

    /// Sends `chunk`, each entry's `behind` counting the other partitions'
    /// pending entries too (see `pending`). `false`: the subscriber is gone.
    async fn send(&self, mut chunk: Vec<LogEntry>, feed: &LogFeed) -> bool {
        let mut pending = self.pending.lock().await;
        if pending.len() > 1 {
            pending[self.slot] = self.last_pending;
            let others: u64 = pending
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != self.slot)
                .map(|(_, p)| *p)
                .sum();
            for entry in &mut chunk {
                entry.behind += others;
            }
        }
        feed.send(chunk).await
    }

    /// When the stream was sealed (a repartition moved the namespace on):
    /// the error that ends the subscription, after the store loaded the new
    /// layout (a new subscription reads it, translating the cursor).
    async fn sealed(&self) -> Option<Error> {
        let (store, name) = (&self.store, &self.part.name);
        let info = super::stream_info(&store.inner.js, name, store.inner.config.request_timeout)
            .await
            .ok()??;
        if !info.config.sealed {
            return None;
        }
        if let Err(e) = store.reload_layout().await {
            tracing::debug!(error = %e, "loading the repartitioned layout failed");
        }
        Some(Error::unavailable(format!(
            "the event stream {name} was sealed: the namespace was repartitioned; subscribe again \
             (the cursor is translated to the new layout)"
        )))
    }

    /// Decodes one delivered message into `entries`; why reading stops
    /// otherwise. `delivered` is the consumer sequence of the last message
    /// taken.
    fn push(
        &mut self,
        next: Option<std::result::Result<async_nats::jetstream::Message, pull::MessagesError>>,
        delivered: &mut u64,
        entries: &mut Vec<LogEntry>,
    ) -> Option<Stop> {
        use pull::MessagesErrorKind as K;
        let msg = match next {
            None => {
                let ended = Error::unavailable("the log subscription's consumer ended");
                return Some(Stop::Resume(ended));
            }
            Some(Err(e)) => {
                let resumable = matches!(
                    e.kind(),
                    K::MissingHeartbeat | K::ConsumerDeleted | K::Pull | K::NoResponders
                );
                let error = messages_error("log subscription: reading messages", e);
                return Some(if resumable {
                    Stop::Resume(error)
                } else {
                    Stop::Fail(error)
                });
            }
            Some(Ok(m)) => m,
        };
        let Some(delivery) = Delivery::of(&msg) else {
            return Some(Stop::Fail(Error::storage(format!(
                "log subscription: a message without a delivery subject: {:?}",
                msg.message.reply
            ))));
        };
        if let Err(e) = in_order(delivered, &delivery, "log subscription") {
            // A new consumer starts at the last message handed on.
            return Some(Stop::Resume(e));
        }
        // This partition's part; the others' is added when the chunk is sent.
        let behind = delivery.pending;
        self.last_pending = delivery.pending;
        let sequence = delivery.stream_sequence;
        let subject = msg.message.subject.as_str();
        let payload = &msg.message.payload;
        for (index, line) in lines(payload).enumerate() {
            let position = LogPosition::in_partition(
                self.part.index,
                sequence,
                u32::try_from(index).unwrap_or(u32::MAX),
            )
            .with_epoch(self.epoch);
            if self.after.is_some_and(|a| position <= a) {
                continue;
            }
            self.after = Some(position);
            let event = decode_entry(&self.subjects, subject, line)
                .map_err(|e| MalformedEvent::new(sequence, payload.slice_ref(line), e));
            entries.push(LogEntry::new(position, event, behind));
        }
        None
    }
}

/// One line of a message as an event of the actor its subject names (the
/// subject is the truth: a payload naming another actor is malformed).
fn decode_entry(
    subjects: &Subjects,
    subject: &str,
    line: &[u8],
) -> std::result::Result<Event, String> {
    let event = decode_any(line)?;
    if subjects.is_event_subject_of(subject, &event.actor_id) {
        return Ok(event);
    }
    Err(match subjects.actor_of_event_subject(subject) {
        Ok(actor) => mismatch(&event, &actor),
        Err(e) => e.to_string(),
    })
}

//! [`EventLog`] for [`JetStreamEventStore`]: the event stream itself is the
//! global log. Entry `n` is the message at stream sequence `n`; its events
//! (one, or the lines of an atomic append) are at indexes 0, 1, ...
//!
//! A subscription is one consumer filtered to the selected actor types and
//! started at the entry holding the `after` position: it delivers what is
//! stored, then what is appended, in stream order, with no switch between
//! the two. A task decodes the messages ahead of the subscriber.
//!
//! The consumer is the one of [`super::reading`]; a delivery missing from
//! its sequence or a failed consumer ends the subscription with a transient
//! error after the entries before it, and the subscriber subscribes again
//! from its last position (the projection runner does), so nothing is
//! skipped or repeated.

use aether_core::{
    Error, Event, EventLog, LOG_CHUNK, LogEntry, LogFeed, LogPosition, LogSelection,
    LogSubscription, MalformedEvent, Result,
};
use async_nats::jetstream::consumer::pull;
use futures::{FutureExt, StreamExt};

use super::JetStreamEventStore;
use super::decode::{decode_any, lines, mismatch};
use super::delivery::Delivery;
use super::reading::in_order;
use crate::error::messages_error;
use crate::headers;
use crate::subject::{Subjects, encode_token};

impl JetStreamEventStore {
    /// The subject filters of `selection` on this store's event stream.
    fn log_filters(&self, selection: &LogSelection) -> Vec<String> {
        let stream = &self.inner.stream_name;
        if selection.types().is_empty() {
            return vec![format!("{stream}.events.>")];
        }
        selection
            .types()
            .iter()
            .map(|t| format!("{stream}.events.{}.>", encode_token(t)))
            .collect()
    }
}

impl EventLog for JetStreamEventStore {
    async fn subscribe(
        &self,
        selection: LogSelection,
        after: Option<LogPosition>,
    ) -> Result<LogSubscription> {
        let start = after.map_or(1, |p| p.sequence.max(1));
        // On the heap: consumer creation is a large future.
        let reading =
            Box::pin(self.open_reading(self.log_filters(&selection), start, "log subscription"))
                .await?;
        let (messages, name, backlog) = (reading.messages, reading.name, reading.pending);
        let (subscription, feed) = LogSubscription::channel(backlog);
        let subjects = self.inner.subjects.clone();
        let store = self.clone();
        tokio::spawn(async move {
            feed_log(messages, subjects, after, feed).await;
            store.close_reading(name);
        });
        Ok(subscription)
    }

    async fn head(&self) -> Result<Option<LogPosition>> {
        let mut stream = self.inner.stream.clone();
        let info = stream
            .info()
            .await
            .map_err(|e| Error::unavailable_with("reading the event stream's state", e))?;
        let last = info.state.last_sequence;
        if info.state.messages == 0 || last == 0 {
            return Ok(None);
        }
        // The last entry's last event: its index is the count header - 1.
        let count = match self.inner.stream.get_raw_message(last).await {
            Ok(msg) => headers::count(&msg.headers).unwrap_or(1),
            Err(_) => 1,
        };
        Ok(Some(LogPosition::new(
            last,
            u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX),
        )))
    }
}

/// The consumer's message stream.
type Messages = pull::Stream;

/// Decodes messages into `feed` until the subscriber goes away or the
/// consumer fails (then the subscriber gets the error).
async fn feed_log(
    mut messages: Messages,
    subjects: Subjects,
    after: Option<LogPosition>,
    feed: LogFeed,
) {
    let mut entries = Vec::with_capacity(LOG_CHUNK);
    let mut delivered = 0u64;
    loop {
        let first = tokio::select! {
            m = messages.next() => m,
            _ = feed.closed() => return,
        };
        let mut failure = push(first, &subjects, after, &mut delivered, &mut entries);
        // Take what has already arrived, without waiting, up to a chunk.
        while failure.is_none() && entries.len() < LOG_CHUNK {
            match messages.next().now_or_never() {
                Some(m) => failure = push(m, &subjects, after, &mut delivered, &mut entries),
                None => break,
            }
        }
        if !feed
            .send(std::mem::replace(
                &mut entries,
                Vec::with_capacity(LOG_CHUNK),
            ))
            .await
        {
            return;
        }
        if let Some(error) = failure {
            feed.fail(error).await;
            return;
        }
    }
}

/// Decodes one delivered message into `entries`; the error that ends the
/// subscription otherwise. `delivered` is the consumer sequence of the last
/// message taken.
fn push(
    next: Option<std::result::Result<async_nats::jetstream::Message, pull::MessagesError>>,
    subjects: &Subjects,
    after: Option<LogPosition>,
    delivered: &mut u64,
    entries: &mut Vec<LogEntry>,
) -> Option<Error> {
    let msg = match next {
        None => return Some(Error::unavailable("the log subscription's consumer ended")),
        Some(Err(e)) => return Some(messages_error("log subscription: reading messages", e)),
        Some(Ok(m)) => m,
    };
    let Some(delivery) = Delivery::of(&msg) else {
        return Some(Error::storage(format!(
            "log subscription: a message without a delivery subject: {:?}",
            msg.message.reply
        )));
    };
    if let Err(e) = in_order(delivered, &delivery, "log subscription") {
        return Some(e);
    }
    let sequence = delivery.stream_sequence;
    let subject = msg.message.subject.as_str();
    let payload = &msg.message.payload;
    for (index, line) in lines(payload).enumerate() {
        let position = LogPosition::new(sequence, u32::try_from(index).unwrap_or(u32::MAX));
        if after.is_some_and(|a| position <= a) {
            continue;
        }
        let event = decode_entry(subjects, subject, line)
            .map_err(|e| MalformedEvent::new(sequence, payload.slice_ref(line), e));
        entries.push(LogEntry::new(position, event, delivery.pending));
    }
    None
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

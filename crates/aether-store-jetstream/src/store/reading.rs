//! The consumer the store's long reads use: a log subscription, and a replay
//! too long for direct gets.
//!
//! It is what async-nats's ordered consumer creates (ephemeral, in memory,
//! one replica, no acks), read with a pull window of [`PULL_BATCH`] messages
//! rather than the ordered consumer's fixed 500: the raw consumer itself
//! reads 25–30% faster so (docs/benchmarks-history.md, 2026-12-01 20:14). Where the
//! ordered consumer would recreate itself (a delivery missing from the
//! consumer's sequence, missed heartbeats, the consumer gone), the reader
//! makes a new consumer itself: a replay from the message after the last
//! one it took (`read_range`), a log subscription from the message of the
//! last entry it handed on (`log.rs`), neither repeating what it already
//! took.

use std::time::Duration;

use aether_core::{Error, Result};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};

use super::JetStreamEventStore;
use super::delivery::Delivery;
use crate::error::{consumer_error, stream_error};
use crate::layout::Partition;

/// Messages a long replay's or a log subscription's consumer asks the
/// server for at once (it asks again at half): what a reader may hold
/// received and not yet decoded.
pub const PULL_BATCH: usize = 2_000;

/// How often the server signals a quiet consumer is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// An opened read.
pub(crate) struct Reading {
    /// The delivered messages.
    pub(crate) messages: pull::Stream,
    /// The consumer's name (delete it when done).
    pub(crate) name: String,
    /// Messages of the filter from the start on, when it was created.
    pub(crate) pending: u64,
    /// The first sequence it reads: the start asked for, or the stream's
    /// first when retention removed the messages before it.
    pub(crate) first: u64,
}

impl JetStreamEventStore {
    /// Opens a read of `filters` (every message when empty) of partition
    /// `part` from stream sequence `start`; `what` names it in errors.
    pub(crate) async fn open_reading(
        &self,
        part: &Partition,
        filters: Vec<String>,
        start: u64,
        what: &str,
    ) -> Result<Reading> {
        let timeout = self.inner.config.request_timeout;
        let creating = tokio::time::timeout(
            timeout,
            part.stream.create_consumer(pull::Config {
                filter_subjects: filters,
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: start.max(1),
                },
                ack_policy: AckPolicy::None,
                max_deliver: 1,
                inactive_threshold: Duration::from_secs(30),
                num_replicas: 1,
                memory_storage: true,
                ..Default::default()
            }),
        );
        let consumer = self
            .refused(|| async {
                creating
                    .await
                    .map_err(|_| {
                        Error::unavailable(format!("{what}: creating the consumer timed out"))
                    })?
                    .map_err(|e| consumer_error(format!("{what}: creating the consumer"), e))
            })
            .await??;
        let info = consumer.cached_info();
        let pending = info.num_pending;
        // The server reports the sequence before the one it starts at
        // (moved on to the stream's first when the start is gone).
        let first = info.delivered.stream_sequence.saturating_add(1);
        let name = info.name.clone();
        let messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH)
            .heartbeat(HEARTBEAT)
            .messages()
            .await
            .map_err(|e| stream_error(format!("{what}: starting the consumer"), e))?;
        Ok(Reading {
            messages,
            name,
            pending,
            first,
        })
    }

    /// Deletes a read's consumer on partition `part` in the background (it
    /// is ephemeral; this spares the server its inactivity threshold).
    pub(crate) fn close_reading(&self, part: &Partition, name: String) {
        let stream = part.stream.clone();
        tokio::spawn(async move {
            let _ = stream.delete_consumer(&name).await;
        });
    }
}

/// Checks that `delivery` is the consumer's next after `delivered` (the
/// consumer sequence of the last one taken) and moves `delivered` on; an
/// error when one went missing on the way.
pub(crate) fn in_order(delivered: &mut u64, delivery: &Delivery, what: &str) -> Result<()> {
    if delivery.consumer_sequence != *delivered + 1 {
        return Err(Error::unavailable(format!(
            "{what}: delivery {} of the consumer arrived after {} (one was lost on the way); \
             read again from the last position",
            delivery.consumer_sequence, delivered
        )));
    }
    *delivered = delivery.consumer_sequence;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_delivery_is_an_error() {
        let at = |c| Delivery {
            stream_sequence: 10 + c,
            consumer_sequence: c,
            pending: 0,
        };
        let mut delivered = 0;
        in_order(&mut delivered, &at(1), "read").unwrap();
        in_order(&mut delivered, &at(2), "read").unwrap();
        let e = in_order(&mut delivered, &at(4), "read").unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(e.to_string().contains("delivery 4"), "{e}");
        assert_eq!(delivered, 2);
        assert!(
            in_order(&mut delivered, &at(2), "read").is_err(),
            "a repeat too"
        );
    }
}

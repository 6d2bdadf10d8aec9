//! Publishing: one event with the expected-sequence header; several as one
//! message (a record of the whole append, one event per line), or, when they
//! do not fit one message, as a server-side atomic batch (ADR-50).
//!
//! Why one message: it is atomic by itself, checked by one expected sequence,
//! acknowledged in one round trip, and deduplicated by `Nats-Msg-Id` like a
//! single event. An ADR-50 batch costs the server a staging store per batch,
//! which on an R1 file stream is a file store of its own, created, synced and
//! deleted for every batch (~3 ms, whatever its size; `benches/batch.rs`,
//! `docs/benchmarks.md`).
//!
//! The batch protocol: every message carries `Nats-Batch-Id` and
//! `Nats-Batch-Sequence` (1..n); the first also carries the expected
//! last-subject-sequence header; the last carries `Nats-Batch-Commit: 1` and
//! is sent as a request, whose reply is the ack (or the error) for the whole
//! batch. The other messages are plain publishes: the server only answers
//! them when they carry a reply subject, and then with an empty flow-control
//! reply, so sending them without one saves round trips. The server refuses
//! `Nats-Msg-Id` inside batches, so batch messages carry the event id in
//! `Aether-Event-Id`; the expected sequence on the first message already makes
//! a repeated batch fail instead of landing twice.

use aether_core::{Error, Event};
use async_nats::Subject;
use async_nats::header::{NATS_BATCH_COMMIT, NATS_BATCH_ID, NATS_BATCH_SEQUENCE};
use bytes::Bytes;

use super::JetStreamEventStore;
use crate::error::PublishFailure;
use crate::headers;

impl JetStreamEventStore {
    /// Publishes one message (one event, or a record of several: see
    /// `headers`) whose headers carry the expected last subject sequence;
    /// returns the stream sequence it was stored at.
    pub(super) async fn publish_message(
        &self,
        subject: Subject,
        headers: async_nats::HeaderMap,
        payload: Bytes,
    ) -> Result<u64, PublishFailure> {
        self.inner
            .acks
            .publish(
                subject,
                headers,
                payload,
                self.inner.config.request_timeout,
                "append",
            )
            .await
    }

    /// Publishes `events` as one atomic batch; returns the stream sequence of
    /// the last one.
    pub(super) async fn publish_batch(
        &self,
        subject: &Subject,
        events: &[Event],
        payloads: &[Bytes],
        expected: u64,
        attempt: u32,
    ) -> Result<u64, PublishFailure> {
        let client = &self.inner.client;
        // ≤ 64 characters, unique per attempt.
        let Some(first) = events.first() else {
            return Err(PublishFailure::Failed(Error::invalid_input("empty batch")));
        };
        let batch_id = format!("{}-{attempt}", first.id.as_uuid().simple());
        let n = events.len();
        for (i, payload) in payloads.iter().enumerate() {
            let mut h = headers::for_event((i == 0).then_some(expected));
            h.insert(NATS_BATCH_ID, batch_id.as_str());
            h.insert(NATS_BATCH_SEQUENCE, (i + 1).to_string().as_str());
            if i + 1 < n {
                client
                    .publish_with_headers(subject.clone(), h, payload.clone())
                    .await
                    .map_err(|e| {
                        PublishFailure::Failed(Error::unavailable_with(
                            "atomic batch: sending a message failed",
                            e,
                        ))
                    })?;
                continue;
            }
            h.insert(NATS_BATCH_COMMIT, "1");
            // The commit's answer is the ack (or the error) of the whole batch.
            return self
                .inner
                .acks
                .publish(
                    subject.clone(),
                    h,
                    payload.clone(),
                    self.inner.config.request_timeout,
                    "atomic batch",
                )
                .await;
        }
        Err(PublishFailure::Failed(Error::invalid_input("empty batch")))
    }
}

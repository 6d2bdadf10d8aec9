//! Publishing: one event with the expected-sequence header, or several as a
//! server-side atomic batch (ADR-50).
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
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::response::Response;
use bytes::Bytes;

use super::JetStreamEventStore;
use crate::error::{PublishFailure, classify_publish, is_conflict_code};
use crate::headers;

impl JetStreamEventStore {
    /// Publishes one event expecting the subject's last sequence to be
    /// `expected`; returns the stream sequence it was stored at.
    pub(super) async fn publish_one(
        &self,
        subject: Subject,
        event: &Event,
        payload: Bytes,
        expected: u64,
    ) -> Result<u64, PublishFailure> {
        let message = PublishMessage::build()
            .payload(payload)
            .headers(headers::for_event(event, Some(expected), true));
        let ack = self
            .inner
            .js
            .send_publish(subject, message)
            .await
            .map_err(|e| classify_publish(e, "append"))?
            .await
            .map_err(|e| classify_publish(e, "append"))?;
        if ack.duplicate {
            tracing::debug!(
                seq = ack.sequence,
                "server reported a duplicate: already stored"
            );
        }
        Ok(ack.sequence)
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
        for (i, (event, payload)) in events.iter().zip(payloads).enumerate() {
            let mut h = headers::for_event(event, (i == 0).then_some(expected), false);
            h.insert(NATS_BATCH_ID, batch_id.as_str());
            h.insert(NATS_BATCH_SEQUENCE, (i + 1).to_string().as_str());
            if i + 1 < n {
                client
                    .publish_with_headers(subject.clone(), h, payload.clone())
                    .await
                    .map_err(|e| {
                        PublishFailure::Failed(Error::unavailable(
                            "atomic batch: sending a message failed",
                            Some(Box::new(e)),
                        ))
                    })?;
                continue;
            }
            h.insert(NATS_BATCH_COMMIT, "1");
            let request = client.request_with_headers(subject.clone(), h, payload.clone());
            let reply = match tokio::time::timeout(self.inner.config.request_timeout, request).await
            {
                Err(_) => {
                    return Err(PublishFailure::Ambiguous(Error::unavailable(
                        "atomic batch: no acknowledgement from the server in time",
                        None,
                    )));
                }
                Ok(Err(e)) => {
                    let text = e.to_string().to_ascii_lowercase();
                    let err = Error::unavailable(
                        "atomic batch: commit request failed",
                        Some(Box::new(e)),
                    );
                    return Err(if text.contains("no responders") {
                        PublishFailure::NoStream(err)
                    } else {
                        PublishFailure::Ambiguous(err)
                    });
                }
                Ok(Ok(m)) => m,
            };
            let response: Response<PublishAck> =
                serde_json::from_slice(&reply.payload).map_err(|e| {
                    PublishFailure::Ambiguous(Error::serialization(
                        "atomic batch: unreadable acknowledgement",
                        e,
                    ))
                })?;
            return match response {
                Response::Ok(ack) => Ok(ack.sequence),
                Response::Err { error } if is_conflict_code(error.error_code().0) => {
                    Err(PublishFailure::Conflict)
                }
                Response::Err { error } => Err(PublishFailure::Failed(Error::storage_with(
                    "atomic batch refused by the server",
                    error,
                ))),
            };
        }
        Err(PublishFailure::Failed(Error::invalid_input("empty batch")))
    }
}

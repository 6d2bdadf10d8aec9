//! Appending: optimistic concurrency checked by the server, dedupe, retries
//! after lost acks, and pipelined appends across actors.

use aether_core::{ActorId, Error, Event, ExpectedVersion, Result, validate_batch};
use async_nats::Subject;
use bytes::Bytes;
use futures::StreamExt;
use tracing::Instrument;

use super::{JetStreamEventStore, MAX_BATCH_EVENTS};
use crate::cache::Tip;
use crate::error::PublishFailure;
use crate::headers;

/// How often one append re-reads the tip and tries again (after a conflict
/// on stale data, or after a lost ack) before giving up.
const MAX_ATTEMPTS: u32 = 8;
/// How many of those attempts may end without an answer from the server.
const MAX_AMBIGUOUS: u32 = 2;

/// One queued append of [`JetStreamEventStore::append_many`]: its input
/// index, expectation and events.
type Queued = (usize, ExpectedVersion, Vec<Event>);

/// One actor's tip as the append logic sees it.
#[derive(Debug, Clone)]
struct Known {
    version: u64,
    sequence: u64,
    event_id: Option<String>,
    /// Read from the stream leader during this append (not from the cache).
    fresh: bool,
}

impl JetStreamEventStore {
    /// [`aether_core::EventStore::append_batch`].
    pub(crate) async fn append_checked(
        &self,
        actor: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<u64> {
        let subject = Subject::from(self.subject_for(actor));
        let span = append_span(actor, &events);
        self.append_inner(actor, &subject, expected, events)
            .instrument(span)
            .await
    }

    async fn append_inner(
        &self,
        actor: &ActorId,
        subject: &Subject,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<u64> {
        // Another subject once a repartition moved the namespace on.
        let mut subject = subject.clone();
        let (first, last) = validate_batch(actor, &events)?;
        if events.len() > MAX_BATCH_EVENTS {
            return Err(Error::invalid_input(format!(
                "a batch holds at most {MAX_BATCH_EVENTS} events, not {}",
                events.len()
            )));
        }
        let payloads = self.encode(&events)?;
        // Several events travel as one message when they fit in one.
        let record = (events.len() > 1).then(|| self.record(&payloads)).flatten();
        if events.len() > 1 && record.is_none() && !self.inner.atomic_batches {
            let why = if self.inner.config.atomic_batches {
                format!(
                    "atomic batches need nats-server 2.12 or newer; the server is {}",
                    self.inner.server_version
                )
            } else {
                "atomic batches are turned off (JetStreamConfig::atomic_batches = false)".into()
            };
            return Err(Error::unsupported(format!(
                "these {} events are too large for one message ({} bytes), and {why}",
                events.len(),
                payloads.iter().map(|p| p.len() + 1).sum::<usize>()
            )));
        }
        // cannot fail: validate_batch refused an empty batch.
        let last_event = &events[events.len() - 1];
        let is_ours = |id: &Option<String>| {
            id.as_deref()
                .is_some_and(|id| id.parse::<aether_core::EventId>().ok() == Some(last_event.id))
        };

        let mut known = match self.inner.cache.get(actor) {
            Some(Tip {
                version,
                sequence: Some(sequence),
            }) => Known {
                version,
                sequence,
                event_id: None,
                fresh: false,
            },
            _ => Box::pin(self.fresh(actor, &subject)).await?,
        };
        let mut ambiguous: Option<Error> = None;
        let mut ambiguous_count = 0;
        for attempt in 0..MAX_ATTEMPTS {
            if !expected.admits(known.version, first) {
                if !known.fresh {
                    known = Box::pin(self.fresh(actor, &subject)).await?;
                    if expected.admits(known.version, first) {
                        continue;
                    }
                }
                // An earlier attempt (ours, or the caller's before a lost ack)
                // may be what moved the actor.
                if is_ours(&known.event_id) {
                    tracing::debug!("append had already landed (lost ack); reporting success");
                    self.succeeded(actor, &events, last, known.sequence);
                    return Ok(last);
                }
                // Others may have appended after our event landed (a lost ack,
                // of this call or of the caller's earlier try): look for our
                // last event at its version before calling it a conflict.
                if known.version >= last {
                    let found =
                        Box::pin(self.event_id_at_version(actor, &subject, last, known.sequence))
                            .await;
                    match found {
                        Ok(id) if is_ours(&id) => {
                            tracing::debug!(
                                "append had landed before later appends; reporting success"
                            );
                            self.notify(&events);
                            return Ok(last);
                        }
                        Ok(_) => {}
                        Err(e) if ambiguous.is_some() => {
                            return Err(Error::unavailable(format!(
                                "append to {:?}: outcome unknown (no acknowledgement, and \
                                     checking the stored history failed: {e})",
                                actor.as_str()
                            )));
                        }
                        Err(_) => {}
                    }
                }
                return Err(Error::conflict(actor.clone(), first, known.version));
            }
            // Boxed: every append's future is boxed (the store is a trait
            // object), and two boxes under 1 KiB each cost less than one
            // above it (glibc's fast paths end at 1,024 bytes).
            let outcome = if events.len() == 1 {
                let h = headers::for_event(Some(known.sequence));
                Box::pin(self.publish_message(subject.clone(), h, payloads[0].clone())).await
            } else if let Some(record) = &record {
                let h = headers::for_record(&events, known.sequence);
                Box::pin(self.publish_message(subject.clone(), h, record.clone())).await
            } else {
                Box::pin(self.publish_batch(&subject, &events, &payloads, known.sequence, attempt))
                    .await
            };
            match outcome {
                Ok(sequence) => {
                    self.succeeded(actor, &events, last, sequence);
                    return Ok(last);
                }
                Err(PublishFailure::Conflict) => {
                    tracing::debug!(attempt, "expected sequence rejected; refreshing");
                    let tried = known.sequence;
                    known = Box::pin(self.fresh(actor, &subject)).await?;
                    if known.sequence == tried {
                        // 10164 on a replicated stream: another write to this
                        // actor is still in flight. Give it a moment to land.
                        let pause = 1u64 << attempt.min(5);
                        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                        known = Box::pin(self.fresh(actor, &subject)).await?;
                    }
                }
                Err(PublishFailure::Ambiguous(e)) => {
                    tracing::debug!(attempt, error = %e, "no ack; checking whether the append landed");
                    ambiguous_count += 1;
                    if ambiguous_count > MAX_AMBIGUOUS {
                        return Err(e);
                    }
                    known = match Box::pin(self.fresh(actor, &subject)).await {
                        Ok(k) => k,
                        Err(_) => return Err(e),
                    };
                    if is_ours(&known.event_id) {
                        self.succeeded(actor, &events, last, known.sequence);
                        return Ok(last);
                    }
                    ambiguous = Some(e);
                }
                Err(PublishFailure::Failed(e)) => return Err(e),
                Err(PublishFailure::Sealed) => {
                    // The namespace was repartitioned: the actor lives in
                    // another stream now, under another subject. Nothing
                    // was stored; start over there.
                    tracing::debug!(attempt, "the stream is sealed; loading the new layout");
                    Box::pin(self.reload_layout()).await?;
                    subject = Subject::from(self.subject_for(actor));
                    known = Box::pin(self.fresh(actor, &subject)).await?;
                }
                Err(PublishFailure::NoStream(e)) => {
                    return Err(Box::pin(self.no_stream(actor, e)).await);
                }
            }
        }
        Err(ambiguous.unwrap_or_else(|| Error::conflict(actor.clone(), first, known.version)))
    }

    /// After nothing answered a publish: [`Error::Missing`] if the server
    /// says the actor's stream does not exist, else `unanswered` (transient:
    /// a replicated stream answers nothing while it elects a leader).
    async fn no_stream(&self, actor: &ActorId, unanswered: Error) -> Error {
        use async_nats::jetstream::context::GetStreamErrorKind;
        let name = &self.partition(actor).name;
        match self.inner.js.get_stream(name).await {
            Err(err)
                if matches!(err.kind(), GetStreamErrorKind::JetStream(js)
                    if js.error_code().0 == crate::error::STREAM_NOT_FOUND) =>
            {
                Error::missing_with(format!("the event stream {name} is missing"), err)
            }
            _ => unanswered,
        }
    }

    async fn fresh(&self, actor: &ActorId, subject: &str) -> Result<Known> {
        let tip = self.fetch_tip(actor, subject).await?;
        Ok(Known {
            version: tip.version,
            sequence: tip.sequence,
            event_id: tip.event_id,
            fresh: true,
        })
    }

    fn succeeded(&self, actor: &ActorId, events: &[Event], last: u64, sequence: u64) {
        self.inner.cache.record(actor, last, sequence);
        self.notify(events);
    }

    /// Encodes every event and checks its size against the store's limit.
    fn encode(&self, events: &[Event]) -> Result<Vec<Bytes>> {
        let limit = self.inner.event_limit;
        // Sized up front: collected from a fallible iterator, the vector
        // grew from empty by `realloc` (glibc's arena lock) at each doubling.
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            // Presized: most events fit, saving the reallocations of `to_vec`.
            let mut bytes = Vec::with_capacity(512);
            serde_json::to_writer(&mut bytes, e)
                .map_err(|err| Error::serialization_with("encoding event", err))?;
            if bytes.len() > limit {
                return Err(Error::too_large("event", bytes.len(), limit));
            }
            out.push(Bytes::from(bytes));
        }
        Ok(out)
    }

    /// The payloads as one message, one per line, if that fits the limit.
    fn record(&self, payloads: &[Bytes]) -> Option<Bytes> {
        let size = payloads.iter().map(|p| p.len() + 1).sum::<usize>() - 1;
        if size > self.inner.event_limit {
            return None;
        }
        let mut out = Vec::with_capacity(size);
        for (i, p) in payloads.iter().enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            out.extend_from_slice(p);
        }
        Some(Bytes::from(out))
    }

    /// Appends several actors' batches at once, keeping up to
    /// `config.pipeline_depth` appends in flight. Batches for the same actor
    /// run one after another in the given order; different actors run
    /// concurrently. Returns one result per batch, in input order.
    pub async fn append_many<I>(&self, batches: I) -> Vec<Result<u64>>
    where
        I: IntoIterator<Item = (ActorId, ExpectedVersion, Vec<Event>)>,
    {
        let mut groups: Vec<(ActorId, Vec<Queued>)> = Vec::new();
        let mut index: std::collections::HashMap<ActorId, usize> = Default::default();
        let mut total = 0;
        for (i, (actor, expected, events)) in batches.into_iter().enumerate() {
            total = i + 1;
            let g = *index.entry(actor.clone()).or_insert_with(|| {
                groups.push((actor, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push((i, expected, events));
        }
        let mut results: Vec<Option<Result<u64>>> = (0..total).map(|_| None).collect();
        let mut done = futures::stream::iter(groups)
            .map(|(actor, items)| async move {
                // One subject per actor, shared by its appends.
                let subject = Subject::from(self.subject_for(&actor));
                let mut out = Vec::with_capacity(items.len());
                for (i, expected, events) in items {
                    let span = append_span(&actor, &events);
                    let appended = self.append_inner(&actor, &subject, expected, events);
                    out.push((i, appended.instrument(span).await));
                }
                out
            })
            .buffer_unordered(self.inner.config.pipeline_depth);
        while let Some(out) = done.next().await {
            for (i, r) in out {
                results[i] = Some(r);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::storage("append_many lost a result"))))
            .collect()
    }
}

/// The span of one append (of one actor's events, to its subject).
fn append_span(actor: &ActorId, events: &[Event]) -> tracing::Span {
    tracing::debug_span!(
        "aether.jetstream.append",
        actor = %actor,
        events = events.len(),
        first_version = events.first().map_or(0, |e| e.version),
    )
}

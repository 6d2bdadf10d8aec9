//! Reading: the latest version in one round trip, and replay.

use aether_core::{ActorId, Error, Event, Replay, Result};
use async_nats::header::NATS_STREAM;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{
    DirectGetErrorKind, LastRawMessageError, LastRawMessageErrorKind,
};
use futures::StreamExt;
use tracing::Instrument;

use super::JetStreamEventStore;
use super::decode::{Decoder, Pipeline, decode_last};
use super::delivery::Delivery;
use super::direct::DIRECT_LIMIT;
use super::reading::{Reading, in_order};
use crate::error::{get_error, is_stream_missing, messages_error};
use crate::headers;
use crate::layout::Partition;

/// How many points one round of the start search probes at once.
const PROBES: usize = 8;

/// Below this many events to skip, a replay scans from the subject's first
/// message instead of searching the start sequence (a search costs a few
/// round trips; skipping 256 events through a consumer about one).
const SKIP_SCAN_LIMIT: u64 = 256;

/// How long a read of a partition's stream that says the stream is missing
/// is tried again before that is believed (see [`retrying_missing`]).
const MISSING_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs a message get of a stream the store found (it is in the layout),
/// again for up to [`MISSING_GRACE`] while the answer is "stream not
/// found": a replicated stream just created answers so for a moment (seen
/// on nats-server 2.12 with three servers, after its group had a leader),
/// and a stream deleted for good still ends as `Missing`, a little later.
async fn retrying_missing<T, F, Fut>(mut get: F) -> std::result::Result<T, LastRawMessageError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, LastRawMessageError>>,
{
    let started = tokio::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(25);
    loop {
        match get().await {
            Err(e) if is_stream_missing(&e) && started.elapsed() < MISSING_GRACE => {
                tracing::debug!("the stream answered that it is missing; asking again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// An actor's tip as the stream leader sees it.
#[derive(Debug, Clone)]
pub(crate) struct ServerTip {
    /// Latest version (0 = no events).
    pub(crate) version: u64,
    /// Stream sequence of the subject's last message (0 = none).
    pub(crate) sequence: u64,
    /// The event id the last message carries, if known.
    pub(crate) event_id: Option<String>,
    /// The last message's (last) event, decoded (`None` when unreadable).
    pub(crate) last_event: Option<Event>,
    /// Whether the last message is a readable event (garbage otherwise).
    pub(crate) readable: bool,
}

impl JetStreamEventStore {
    pub(crate) fn map_get_error(
        &self,
        stream: &str,
        err: LastRawMessageError,
        what: &str,
    ) -> Error {
        if is_stream_missing(&err) {
            return Error::missing_with(
                format!("{what}: the event stream {stream} is missing"),
                err,
            );
        }
        get_error(what, err)
    }

    /// The actor's last message: by direct get on a single-replica stream
    /// (see [`crate::layout::Partition::direct_tip`]), else from the stream
    /// leader. `None` when the actor has no events.
    async fn last_message(&self, part: &Partition, subject: &str) -> Result<Option<StreamMessage>> {
        if part.direct_tip {
            match part.stream.direct_get_last_for_subject(subject).await {
                // Only an answer from this stream counts: a mirror serving
                // direct gets (`mirror_direct`) may lag.
                Ok(msg)
                    if msg.headers.get(NATS_STREAM).map(|v| v.as_str())
                        == Some(part.name.as_str()) =>
                {
                    return Ok(Some(msg));
                }
                Ok(_) => {}
                Err(e) if e.kind() == DirectGetErrorKind::NotFound => return Ok(None),
                // Anything else: the leader's get below reports it properly.
                Err(e) => {
                    tracing::debug!(error = %e, "direct get of the tip failed; asking the leader")
                }
            }
        }
        // The JetStream context bounds the request by `request_timeout`.
        let get = || part.stream.get_last_raw_message_by_subject(subject);
        match retrying_missing(get).await {
            Ok(msg) => Ok(Some(msg)),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(self.map_get_error(&part.name, e, "reading the latest version")),
        }
    }

    /// The actor's last message as the stream sees it (read-your-writes, see
    /// [`Self::last_message`]); refreshes the cache.
    pub(crate) async fn fetch_tip(&self, actor: &ActorId, subject: &str) -> Result<ServerTip> {
        let part = self.partition(actor);
        let Some(msg) = self.last_message(&part, subject).await? else {
            self.inner.cache.record(actor, 0, 0);
            return Ok(ServerTip {
                version: 0,
                sequence: 0,
                event_id: None,
                last_event: None,
                readable: true,
            });
        };
        // Decoded once: one-event messages carry their version and id only
        // in the payload, and a replay from the tip version returns it.
        let last_event = decode_last(&msg.payload, actor).ok();
        let mut readable = true;
        let (version, event_id) = match (headers::version(&msg.headers), &last_event) {
            // Records, and messages of the format before December 2026.
            (Some(v), _) => (
                v,
                headers::event_id(&msg.headers)
                    .or_else(|| last_event.as_ref().map(|e| e.id.to_string())),
            ),
            (None, Some(e)) => (e.version, Some(e.id.to_string())),
            // The last message is garbage: the version is that of the last
            // good event before it (rare, so a full scan is fine).
            (None, None) => {
                readable = false;
                // Boxed: keeps this rare path out of every caller's future.
                let scan = Box::pin(self.read_range(actor, subject, 1, msg.sequence, 1)).await?;
                (scan.events.last().map_or(0, |e| e.version), None)
            }
        };
        self.inner.cache.record(actor, version, msg.sequence);
        Ok(ServerTip {
            version,
            sequence: msg.sequence,
            event_id,
            last_event,
            readable,
        })
    }

    /// [`aether_core::EventStore::latest_version`]: one round trip
    /// (read-your-writes), no consumer.
    pub(crate) async fn latest(&self, actor: &ActorId) -> Result<u64> {
        let subject = self.subject_for(actor);
        let span = tracing::debug_span!("aether.jetstream.latest_version", actor = %actor);
        Ok(self
            .fetch_tip(actor, &subject)
            .instrument(span)
            .await?
            .version)
    }

    /// [`aether_core::EventStore::read_with_errors`].
    pub(crate) async fn replay(&self, actor: &ActorId, from_version: u64) -> Result<Replay> {
        let span = tracing::debug_span!("aether.jetstream.read", actor = %actor, from_version);
        async move {
            let from = from_version.max(1);
            let subject = self.subject_for(actor);
            let tip = self.fetch_tip(actor, &subject).await?;
            if tip.sequence == 0 {
                return Ok(Replay::default());
            }
            if !tip.readable {
                // Garbage at the tip: scan everything so it is reported.
                return self
                    .read_range(actor, &subject, 1, tip.sequence, from)
                    .await;
            }
            if tip.version < from {
                return Ok(Replay::default());
            }
            if tip.version == from
                && let Some(e) = tip.last_event
                && e.version == from
            {
                return Ok(Replay::new(vec![e], Vec::new()));
            }
            // A short replay (an activation's tail after a snapshot, a small
            // actor): locate its start and fetch it by batched direct gets,
            // without creating a consumer.
            let wanted = tip.version - from + 1;
            if wanted <= DIRECT_LIMIT {
                let (start, batch) = match self.known_start(actor, &subject, from).await {
                    Some(start) => (start, wanted),
                    // A small actor: its whole log in one batched get costs
                    // less than locating the start (rounds of probes).
                    None if tip.version <= DIRECT_LIMIT => (1, tip.version),
                    None if from > 1 => (
                        self.find_start(actor, &subject, from, tip.sequence, tip.version)
                            .await?,
                        wanted,
                    ),
                    None => (1, wanted),
                };
                match self
                    .read_direct(actor, &subject, start, tip.sequence, from, batch)
                    .await
                {
                    Ok(replay) => return Ok(replay),
                    Err(miss) => {
                        tracing::debug!(?miss, "direct replay missed; reading through a consumer");
                        return self
                            .read_range(actor, &subject, start, tip.sequence, from)
                            .await;
                    }
                }
            }
            let start = match self.known_start(actor, &subject, from).await {
                Some(start) => start,
                None if from - 1 > SKIP_SCAN_LIMIT => {
                    self.find_start(actor, &subject, from, tip.sequence, tip.version)
                        .await?
                }
                None => 1,
            };
            let replay = self
                .read_range(actor, &subject, start, tip.sequence, from)
                .await?;
            tracing::debug!(
                events = replay.events.len(),
                malformed = replay.malformed.len(),
                "replayed"
            );
            Ok(replay)
        }
        .instrument(span)
        .await
    }

    /// The start of a replay from `from` when a snapshot told where its last
    /// event is (see `open_snapshot_store`): the sequence after that message,
    /// once one probe confirms the message still holds that version.
    async fn known_start(&self, actor: &ActorId, subject: &str, from: u64) -> Option<u64> {
        let known = self.inner.positions.get(actor)?;
        let seq = known.sequence?;
        if known.version.checked_add(1) != Some(from) {
            return None;
        }
        match self.probe(actor, subject, seq).await {
            Ok((Some(v), at)) if v == known.version && at == seq => Some(seq + 1),
            _ => {
                self.inner.positions.remove(actor);
                None
            }
        }
    }

    /// The version and event id of the (last event of the) first message of
    /// `subject` at or after `seq` (`None`s when the message is unreadable),
    /// and its sequence.
    async fn probe_message(
        &self,
        actor: &ActorId,
        subject: &str,
        seq: u64,
    ) -> Result<(Option<u64>, Option<String>, u64)> {
        let part = self.partition(actor);
        let get = part
            .stream
            .raw_message_builder()
            .sequence(seq)
            .next_by_subject(subject.to_string())
            .send();
        let msg = tokio::time::timeout(self.inner.config.request_timeout, get)
            .await
            .map_err(|_| Error::unavailable("replay: probe timed out"))?
            .map_err(|e| self.map_get_error(&part.name, e, "replay: locating the start"))?;
        let (version, event_id) = match headers::version(&msg.headers) {
            Some(v) => (Some(v), headers::event_id(&msg.headers)),
            None => match decode_last(&msg.payload, actor) {
                Ok(e) => (Some(e.version), Some(e.id.to_string())),
                Err(_) => (None, None),
            },
        };
        Ok((version, event_id, msg.sequence))
    }

    /// The version of the first message of `subject` at or after `seq`
    /// (`None` when the message has no readable version), and its sequence.
    async fn probe(&self, actor: &ActorId, subject: &str, seq: u64) -> Result<(Option<u64>, u64)> {
        let (version, _, sequence) = self.probe_message(actor, subject, seq).await?;
        Ok((version, sequence))
    }

    /// The event id stored at exactly `version` of the actor (searching up to
    /// stream sequence `tip_seq`), or `None` when no readable message has that
    /// version. Tells whether an append whose acknowledgement was lost landed
    /// even though other writers appended after it.
    pub(crate) async fn event_id_at_version(
        &self,
        actor: &ActorId,
        subject: &str,
        version: u64,
        tip_seq: u64,
    ) -> Result<Option<String>> {
        if tip_seq == 0 {
            return Ok(None);
        }
        let tip_version = self.inner.cache.get(actor).map_or(version, |t| t.version);
        let seq = self
            .find_start(actor, subject, version, tip_seq, tip_version.max(version))
            .await?;
        let (found, event_id, _) = self.probe_message(actor, subject, seq).await?;
        Ok(if found == Some(version) {
            event_id
        } else {
            None
        })
    }

    /// A stream sequence at or before the first message on `subject` with a
    /// version ≥ `from`, and after every message with a smaller version (leader
    /// gets; versions grow with the sequence). Unreadable messages count as
    /// "maybe ≥ from", so the result never skips an event that should be read.
    ///
    /// Each round probes [`PROBES`] points of the remaining range at once (one
    /// round trip's latency for all of them): evenly spaced, plus where `from`
    /// would be if versions grew evenly with sequences between the known
    /// points. A range shrinks about ninefold a round, so a late start in a
    /// stream of a million messages takes about six round trips, instead of
    /// twenty for a binary search.
    async fn find_start(
        &self,
        actor: &ActorId,
        subject: &str,
        from: u64,
        tip_seq: u64,
        tip_version: u64,
    ) -> Result<u64> {
        // Before `lo` every message has a version below `from` (`lo_v` the
        // last seen); at `hi` the versions are ≥ `from` (`hi_v`).
        let (mut lo, mut lo_v, mut hi, mut hi_v) = (1u64, 0u64, tip_seq, tip_version);
        while lo < hi {
            let mut points: Vec<u64> = (1..PROBES as u64)
                .map(|i| lo + (hi - lo) * i / PROBES as u64)
                .collect();
            if hi_v > lo_v {
                let span = u128::from(hi - lo);
                let ahead = u128::from(from.saturating_sub(lo_v));
                let estimate = u128::from(lo) + span * ahead / u128::from(hi_v - lo_v);
                // Slightly early: the first message of `from` comes after the
                // events before it.
                let estimate = u64::try_from(estimate).unwrap_or(hi).saturating_sub(1);
                points.push(estimate.clamp(lo, hi - 1));
            }
            points.sort_unstable();
            points.dedup();
            let probes =
                futures::future::join_all(points.iter().map(|&p| self.probe(actor, subject, p)))
                    .await;
            let (mut new_lo, mut new_lo_v, mut new_hi, mut new_hi_v) = (lo, lo_v, hi, hi_v);
            for (&p, probed) in points.iter().zip(probes) {
                match probed? {
                    (Some(v), seq) if v < from => {
                        let after = seq.max(p).saturating_add(1);
                        if after > new_lo {
                            (new_lo, new_lo_v) = (after, v);
                        }
                    }
                    (v, _) => {
                        if p < new_hi {
                            (new_hi, new_hi_v) = (p, v.unwrap_or(new_hi_v));
                        }
                    }
                }
            }
            if (new_lo, new_hi) == (lo, hi) {
                // No probe fell inside (a range of one): done.
                break;
            }
            (lo, lo_v, hi, hi_v) = (new_lo, new_lo_v, new_hi.max(new_lo), new_hi_v);
        }
        Ok(lo.min(hi))
    }

    /// Reads `subject` from stream sequence `start` through `stop` with a
    /// consumer (see `reading`), keeping events with version ≥ `from` and
    /// reporting every malformed message. Where the consumer fails on the
    /// way (a lost delivery, missed heartbeats, the consumer gone or not
    /// yet served: what async-nats's ordered consumer recreates itself
    /// for), the read goes on with a new consumer from the message after
    /// the last one taken, up to [`READ_ATTEMPTS`] consumers in all.
    pub(crate) async fn read_range(
        &self,
        actor: &ActorId,
        subject: &str,
        start: u64,
        stop: u64,
        from: u64,
    ) -> Result<Replay> {
        let mut pipeline = Pipeline::new(Decoder::new(actor.clone(), from));
        let mut next = start;
        let mut attempt = 1;
        loop {
            match self
                .read_part(actor, subject, next, stop, &mut pipeline)
                .await
            {
                Ok(()) => break,
                Err(Interrupted { error, last }) => {
                    if attempt >= READ_ATTEMPTS || !error.is_transient() {
                        return Err(error);
                    }
                    tracing::debug!(%error, attempt, "replay interrupted; reading on with a new consumer");
                    next = last.map_or(next, |seq| seq + 1);
                    attempt += 1;
                }
            }
        }
        pipeline.finish().await
    }

    /// One consumer's part of [`Self::read_range`], from stream sequence
    /// `start`: pushes what it reads into `pipeline`.
    async fn read_part(
        &self,
        actor: &ActorId,
        subject: &str,
        start: u64,
        stop: u64,
        pipeline: &mut Pipeline,
    ) -> std::result::Result<(), Interrupted> {
        let timeout = self.inner.config.request_timeout;
        let part = self.partition(actor);
        let Reading {
            mut messages, name, ..
        } = Box::pin(self.open_reading(&part, vec![subject.to_string()], start, "replay"))
            .await
            .map_err(|error| Interrupted { error, last: None })?;
        let (mut delivered, mut last) = (0, None);
        let result = loop {
            let next = match tokio::time::timeout(timeout, messages.next()).await {
                Err(_) => {
                    break Err(Error::unavailable(format!(
                        "replay of {:?} stalled: no message within {timeout:?}",
                        actor.as_str()
                    )));
                }
                Ok(None) => break Ok(()),
                Ok(Some(Err(e))) => break Err(messages_error("replay: reading messages", e)),
                Ok(Some(Ok(m))) => m,
            };
            let Some(delivery) = Delivery::of(&next) else {
                break Err(Error::storage(format!(
                    "replay: a message without a delivery subject: {:?}",
                    next.message.reply
                )));
            };
            if let Err(e) = in_order(&mut delivered, &delivery, "replay") {
                break Err(e);
            }
            let seq = delivery.stream_sequence;
            if seq > stop {
                break Ok(());
            }
            pipeline.push(seq, next.message.payload).await;
            last = Some(seq);
            if seq >= stop {
                break Ok(());
            }
        };
        drop(messages);
        self.close_reading(&part, name);
        result.map_err(|error| Interrupted { error, last })
    }
}

/// How many consumers one long replay may go through (see
/// [`JetStreamEventStore::read_range`]).
const READ_ATTEMPTS: u32 = 3;

/// Why one consumer's part of a replay ended early, and the stream sequence
/// of the last message it took.
struct Interrupted {
    error: Error,
    last: Option<u64>,
}

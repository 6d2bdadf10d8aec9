//! The copy of a repartition: the old stream read in order by one
//! consumer, each message published to its actor's partition with its
//! source sequence, pipelined, each partition's writes checked by the
//! expected last stream sequence (a lost publish fails the copy instead of
//! reordering it; a rerun resumes from what each partition holds).

use std::collections::VecDeque;
use std::time::Duration;

use aether_core::{Error, Result};
use async_nats::header::{HeaderMap, HeaderValue, NATS_EXPECTED_LAST_SEQUENCE};
use async_nats::jetstream::{self, consumer::pull};
use async_nats::{Client, Subject};
use futures::StreamExt;

use crate::config::JetStreamConfig;
use crate::layout::{LayoutMeta, SOURCE_SEQUENCE};
use crate::store::{Acks, Delivery, JetStreamEventStore, Reading, stream_info};
use crate::subject::Subjects;

/// Copies in flight at once.
const WINDOW: usize = 512;

/// Where a copy pass stops.
#[derive(Debug, Clone, Copy)]
pub(super) enum Until {
    /// When at most this many messages of the old stream remain (or none
    /// arrives for a moment).
    Behind(u64),
    /// Once the message at this sequence is copied.
    Sequence(u64),
}

/// One partition's copy state.
struct Target {
    name: String,
    /// The sequence of its last message (the next copy expects it).
    last: u64,
    /// The source sequence of its last copy (0: none yet).
    copied: u64,
}

pub(super) struct Copier {
    acks: Acks,
    old: Subjects,
    new: Subjects,
    partitions: u32,
    targets: Vec<Target>,
    messages: pull::Stream,
    /// The source sequence of the last message read from the old stream.
    read: u64,
    timeout: Duration,
}

impl Copier {
    /// Reads what every partition holds and opens the old stream after the
    /// oldest of their last copies.
    pub(super) async fn start(
        client: &Client,
        js: &jetstream::Context,
        source: &JetStreamEventStore,
        config: &JetStreamConfig,
        meta: LayoutMeta,
        timeout: Duration,
    ) -> Result<Copier> {
        let base = config.effective_stream_name()?;
        let mut targets = Vec::new();
        for k in 0..meta.partitions {
            let name = config.partition_stream_name(k)?;
            let info = stream_info(js, &name, timeout)
                .await?
                .ok_or_else(|| Error::missing(format!("{name} vanished")))?;
            let last = info.state.last_sequence;
            let copied = if info.state.messages == 0 {
                0
            } else {
                let stream = js
                    .get_stream_no_info(&name)
                    .await
                    .map_err(|e| Error::storage_with(format!("stream {name}"), e))?;
                let msg = stream.get_raw_message(last).await.map_err(|e| {
                    Error::unavailable_with(format!("reading {name}'s last copy"), e)
                })?;
                msg.headers
                    .get(SOURCE_SEQUENCE)
                    .and_then(|v| v.as_str().parse::<u64>().ok())
                    .ok_or_else(|| {
                        Error::storage(format!(
                            "{name}'s last message ({last}) is not a copy: something else wrote \
                             to a partition being filled"
                        ))
                    })?
            };
            targets.push(Target { name, last, copied });
        }
        let from = targets.iter().map(|t| t.copied).min().unwrap_or(0) + 1;
        let layout = source.layout();
        let part = layout
            .partitions
            .first()
            .ok_or_else(|| Error::storage("the old layout has no stream"))?;
        let Reading { messages, .. } = source
            .open_reading(part, Vec::new(), from, "repartition copy")
            .await?;
        Ok(Copier {
            acks: Acks::new(client.clone()).await?,
            old: Subjects::new(base.clone()),
            new: Subjects::sliced(base),
            partitions: u32::from(meta.partitions),
            targets,
            messages,
            read: from - 1,
            timeout,
        })
    }

    /// Copies until `until`; returns how many messages it copied.
    pub(super) async fn copy(&mut self, until: Until) -> Result<u64> {
        let mut in_flight = futures::stream::FuturesOrdered::new();
        // The expected (partition, sequence) of each publish in flight.
        let mut expected: VecDeque<(usize, u64)> = VecDeque::new();
        let mut copied = 0;
        loop {
            let done = match until {
                Until::Sequence(last) => self.read >= last,
                Until::Behind(_) => false,
            };
            if done || in_flight.len() >= WINDOW {
                if in_flight.is_empty() {
                    return Ok(copied);
                }
                let acked: std::result::Result<u64, crate::error::PublishFailure> =
                    in_flight.next().await.expect("not empty");
                let (k, seq) = expected.pop_front().expect("one per publish");
                check(&self.targets[k].name, seq, acked)?;
                copied += 1;
                continue;
            }
            let wait = match until {
                Until::Behind(_) => Duration::from_millis(300),
                Until::Sequence(_) => self.timeout,
            };
            let next = match tokio::time::timeout(wait, self.messages.next()).await {
                // Nothing new for a moment: caught up.
                Err(_) if matches!(until, Until::Behind(_)) => {
                    while let Some(acked) = in_flight.next().await {
                        let (k, seq) = expected.pop_front().expect("one per publish");
                        check(&self.targets[k].name, seq, acked)?;
                        copied += 1;
                    }
                    return Ok(copied);
                }
                Err(_) => {
                    return Err(Error::unavailable(format!(
                        "repartition copy: no message after {} within {:?}",
                        self.read, self.timeout
                    )));
                }
                Ok(None) => return Err(Error::unavailable("repartition copy: the consumer ended")),
                Ok(Some(Err(e))) => {
                    return Err(Error::unavailable_with("repartition copy: reading", e));
                }
                Ok(Some(Ok(m))) => m,
            };
            let delivery = Delivery::of(&next).ok_or_else(|| {
                Error::storage("repartition copy: a message without a delivery subject")
            })?;
            let source = delivery.stream_sequence;
            if source <= self.read {
                continue; // delivered again after a leader change
            }
            self.read = source;
            let subject = next.message.subject.as_str();
            let actor = self.old.actor_of_event_subject(subject).map_err(|e| {
                Error::storage(format!(
                    "repartition copy: message {source} is on {subject:?}, which names no actor \
                     ({e}); remove it (or copy it elsewhere) and run again"
                ))
            })?;
            let k = aether_core::hash::shard_of(&actor, self.partitions) as usize;
            let target = &mut self.targets[k];
            if source <= target.copied {
                continue; // an earlier run copied it
            }
            let mut headers = HeaderMap::new();
            if let Some(h) = &next.message.headers {
                for (name, values) in h.iter() {
                    if AsRef::<str>::as_ref(name).starts_with("Nats-") {
                        continue;
                    }
                    for v in values {
                        headers.append(name.clone(), v.clone());
                    }
                }
            }
            headers.insert(SOURCE_SEQUENCE, HeaderValue::from(source));
            headers.insert(NATS_EXPECTED_LAST_SEQUENCE, HeaderValue::from(target.last));
            target.last += 1;
            target.copied = source;
            expected.push_back((k, target.last));
            let subject = Subject::from(self.new.events(&actor));
            let payload = next.message.payload.clone();
            // Sent here, in order (a partition checks each copy's place);
            // the acknowledgements are awaited in the window.
            let pending = self
                .acks
                .send(subject, headers, payload, "repartition copy")
                .await;
            let timeout = self.timeout;
            in_flight.push_back(async move {
                match pending {
                    Ok(p) => p.answer(timeout, "repartition copy").await,
                    Err(e) => Err(e),
                }
            });
            if let Until::Behind(n) = until
                && delivery.pending <= n
            {
                // Near the tail: finish what is in flight and stop.
                while let Some(acked) = in_flight.next().await {
                    let (k, seq) = expected.pop_front().expect("one per publish");
                    check(&self.targets[k].name, seq, acked)?;
                    copied += 1;
                }
                return Ok(copied);
            }
        }
    }
}

/// A copy's acknowledgement must be the sequence it was expected at.
fn check(
    stream: &str,
    expected: u64,
    acked: std::result::Result<u64, crate::error::PublishFailure>,
) -> Result<()> {
    match acked {
        Ok(seq) if seq == expected => Ok(()),
        Ok(seq) => Err(Error::storage(format!(
            "repartition copy: {stream} stored a copy at {seq}, not {expected}; run again to resume"
        ))),
        Err(e) => Err(Error::unavailable(format!(
            "repartition copy to {stream} failed ({}); run again to resume",
            match e {
                crate::error::PublishFailure::Conflict => "out of order".to_string(),
                crate::error::PublishFailure::Ambiguous(e)
                | crate::error::PublishFailure::Failed(e)
                | crate::error::PublishFailure::NoStream(e) => e.to_string(),
                crate::error::PublishFailure::Sealed => "sealed".to_string(),
            }
        ))),
    }
}

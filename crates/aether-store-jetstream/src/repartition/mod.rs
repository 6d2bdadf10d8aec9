//! [`repartition`]: moving an unpartitioned namespace (layout v1, one
//! stream) to K partitions (layout v2), online, by a fenced copy.
//!
//! 1. The v1 stream's subjects narrow from `<base>.events.>` to the
//!    `<base>.events.*.*` it always held (v2 subjects have five tokens, so
//!    the two layouts' streams can coexist).
//! 2. The K partition streams are created with `aether.state = copying`
//!    (stores ignore them: the v1 stream is still the namespace), the v1
//!    stream's settings, and a first sequence 2³² above the v1 stream's last
//!    sequence (so no sequence a writer cached from the v1 stream is ever a
//!    valid expected sequence there).
//! 3. Everything stored is copied in order, each message to its actor's
//!    partition under its new subject, payload and Aether headers as they
//!    are, with `Aether-Source-Sequence` (its v1 sequence) and
//!    `Nats-Expected-Last-Sequence` (so a lost publish stops the copy rather
//!    than reordering it; a rerun resumes after the last copy of every
//!    partition).
//! 4. Near the tail, the v1 stream is **sealed** (the server refuses every
//!    later write: the fence) and names its successor in its metadata.
//!    Writers meeting the seal load the new layout and retry there; until
//!    step 6 they wait (`Unavailable` after their request timeout).
//! 5. The tail is copied.
//! 6. The partitions are marked `active`: the namespace is partitioned.
//!
//! Writes pause from step 4 to 6 only. Readers: a log subscription on the
//! sealed stream reads it to its end, then ends with a transient error; a
//! new subscription translates the v1 cursor ([`JetStreamEventStore::translate`])
//! from the copies' source sequences, so a projection goes on with no gap
//! and no repeat.

mod copy;

use std::time::{Duration, Instant};

use aether_core::{Error, Result};
use async_nats::Client;
use async_nats::jetstream::{self, stream::Config};

use crate::config::JetStreamConfig;
use crate::layout::{LayoutMeta, StreamRole, key, role};
use crate::store::{JetStreamEventStore, ensure_stream, stream_info};
use crate::subject::partition_filter;

/// What [`repartition`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepartitionReport {
    /// The unpartitioned stream copied from (now sealed).
    pub source: String,
    /// The partitions' streams.
    pub streams: Vec<String>,
    /// The new layout's epoch.
    pub epoch: u16,
    /// Messages copied in all (by this run; a resumed run skips those an
    /// earlier run copied).
    pub copied: u64,
    /// Of those, copied after the seal (the tail).
    pub copied_after_seal: u64,
    /// How long writes were refused: from the seal until the partitions
    /// took writes.
    pub write_pause: Duration,
}

/// How many messages may remain behind the copy when the old stream is
/// sealed: the tail copied while writes wait.
const SEAL_WHEN_BEHIND: u64 = 2_000;

/// Moves the unpartitioned namespace of `config` to `partitions` partition
/// streams, online (see the module documentation for the steps). Resumes an
/// interrupted run. The settings of the new streams are those of the old
/// one (replicas, storage, retention, placement); `config` names the
/// namespace and gives the timeouts.
///
/// Keep the sealed stream: it names the new layout to stores opened with
/// the old, and holds the history as it was (delete it once every process
/// runs on the new layout and nothing needs it).
///
/// # Errors
///
/// [`Error::InvalidInput`] for a partition count that is not a power of two
/// from 2 to 1,024; [`Error::Missing`] when the namespace does not exist;
/// [`Error::Unsupported`] when it is partitioned already;
/// [`Error::Storage`] when the server refuses a step (the run can be
/// repeated: it resumes); [`Error::Unavailable`] when it does not answer.
///
/// # Examples
///
/// ```no_run
/// use aether_store_jetstream::{JetStreamConfig, repartition};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let config = JetStreamConfig { namespace: "shop".into(), ..Default::default() };
/// let report = repartition(client, config, 8).await?;
/// println!("copied {} messages; writes waited {:?}", report.copied, report.write_pause);
/// # Ok(())
/// # }
/// ```
pub async fn repartition(
    client: Client,
    config: JetStreamConfig,
    partitions: u32,
) -> Result<RepartitionReport> {
    config.validate()?;
    if !(2..=aether_core::hash::SLICES).contains(&partitions) || !partitions.is_power_of_two() {
        return Err(Error::invalid_input(format!(
            "a repartition goes to a power of two from 2 to {} partitions, not {partitions}",
            aether_core::hash::SLICES
        )));
    }
    let timeout = config.request_timeout;
    let js = jetstream::ContextBuilder::new()
        .timeout(timeout)
        .build(client.clone());
    let base = config.effective_stream_name()?;
    let old = stream_info(&js, &base, timeout)
        .await?
        .ok_or_else(|| Error::missing(format!("there is no stream {base}")))?;
    let meta = LayoutMeta {
        epoch: 1,
        // cannot truncate: at most 1,024.
        partitions: partitions as u16,
        active: false,
    };
    let sealed_before = match role(&base, &old.config.metadata)? {
        StreamRole::V1 { next: Some(next) } if old.config.sealed => {
            if next.partitions != meta.partitions {
                return Err(Error::invalid_input(format!(
                    "{base} was repartitioned to {} partitions already (an interrupted run \
                     resumes with the same count)",
                    next.partitions
                )));
            }
            true
        }
        StreamRole::V1 { .. } if old.config.sealed => {
            return Err(Error::storage(format!(
                "{base} is sealed and names no successor: it cannot be repartitioned"
            )));
        }
        StreamRole::V1 { .. } => false,
        StreamRole::V2 { .. } => {
            return Err(Error::unsupported(format!("{base} is partitioned already")));
        }
    };
    // 1. Room for the partitions' subjects.
    let narrow = vec![format!("{base}.events.*.*")];
    if !sealed_before && old.config.subjects != narrow {
        let mut c = old.config.clone();
        c.subjects = narrow;
        js.update_stream(c)
            .await
            .map_err(|e| Error::storage_with(format!("narrowing {base}'s subjects"), e))?;
    }
    // 2. The partitions, filling.
    let first_sequence = old.state.last_sequence + (1u64 << 32);
    let mut streams = Vec::new();
    let mut all_active = true;
    for k in 0..meta.partitions {
        let name = config.partition_stream_name(k)?;
        match stream_info(&js, &name, timeout).await? {
            Some(info) => match role(&name, &info.config.metadata)? {
                StreamRole::V2 {
                    layout, partition, ..
                } if layout.epoch == meta.epoch
                    && layout.partitions == meta.partitions
                    && partition == k =>
                {
                    all_active &= layout.active;
                }
                other => {
                    return Err(Error::storage(format!(
                        "stream {name} exists and is not partition {k} of this repartition: \
                         {other:?}"
                    )));
                }
            },
            None => {
                all_active = false;
                let c = partition_config(&old.config, &base, &name, meta, k, first_sequence);
                ensure_stream(&js, c, timeout).await?;
            }
        }
        streams.push(name);
    }
    if sealed_before && all_active {
        // Done before: nothing to copy, nothing to switch.
        return Ok(RepartitionReport {
            source: base,
            streams,
            epoch: meta.epoch,
            copied: 0,
            copied_after_seal: 0,
            write_pause: Duration::ZERO,
        });
    }
    // 3.–5. Copy, seal, copy the tail.
    let source = JetStreamEventStore::open_existing(client.clone(), config.clone()).await?;
    let mut copier = copy::Copier::start(&client, &js, &source, &config, meta, timeout).await?;
    let mut copied = 0;
    if !sealed_before {
        copied += copier.copy(copy::Until::Behind(SEAL_WHEN_BEHIND)).await?;
        let mut c = stream_info(&js, &base, timeout)
            .await?
            .ok_or_else(|| Error::missing(format!("{base} vanished")))?
            .config;
        c.sealed = true;
        c.metadata
            .insert(key::NEXT_EPOCH.into(), meta.epoch.to_string());
        c.metadata
            .insert(key::NEXT_PARTITIONS.into(), meta.partitions.to_string());
        js.update_stream(c)
            .await
            .map_err(|e| Error::storage_with(format!("sealing {base}"), e))?;
    }
    let sealed_at = Instant::now();
    let last = stream_info(&js, &base, timeout)
        .await?
        .ok_or_else(|| Error::missing(format!("{base} vanished")))?
        .state
        .last_sequence;
    let tail = copier.copy(copy::Until::Sequence(last)).await?;
    copied += tail;
    // 6. Writes go to the partitions from now on.
    let active = LayoutMeta {
        active: true,
        ..meta
    };
    for (k, name) in streams.iter().enumerate() {
        let mut c = stream_info(&js, name, timeout)
            .await?
            .ok_or_else(|| Error::missing(format!("{name} vanished")))?
            .config;
        // cannot truncate: at most 1,024 partitions.
        c.metadata.extend(active.metadata(k as u16));
        js.update_stream(c)
            .await
            .map_err(|e| Error::storage_with(format!("activating {name}"), e))?;
    }
    Ok(RepartitionReport {
        source: base,
        streams,
        epoch: meta.epoch,
        copied,
        copied_after_seal: tail,
        write_pause: sealed_at.elapsed(),
    })
}

/// Partition `k`'s stream: the old stream's settings, the partition's
/// subjects, the layout (filling) and its source in the metadata, and a
/// first sequence above every old one.
fn partition_config(
    old: &Config,
    base: &str,
    name: &str,
    meta: LayoutMeta,
    k: u16,
    first_sequence: u64,
) -> Config {
    let mut metadata = meta.metadata(k);
    metadata.insert(key::SOURCE.into(), base.into());
    Config {
        name: name.into(),
        subjects: meta
            .slices_of(k)
            .map(|s| partition_filter(base, s))
            .collect(),
        description: Some(format!(
            "Aether events, partition {k} of {}: one subject per actor",
            meta.partitions
        )),
        metadata,
        first_sequence: Some(first_sequence),
        sealed: false,
        ..old.clone()
    }
}

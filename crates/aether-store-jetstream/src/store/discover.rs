//! Finding (and, when allowed, creating) a namespace's layout from its
//! streams: the v1 stream `<base>`, or the partitions `<base>_P<k>`, or the
//! successor a sealed v1 stream names (see `crate::layout`).

use std::sync::Arc;
use std::time::Duration;

use aether_core::{Error, Result};
use async_nats::jetstream::Context;
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::stream::{Config, Info};
use futures::{StreamExt, TryStreamExt};

use super::setup::{ensure_stream, ensure_unless_overlapping};
use crate::config::JetStreamConfig;
use crate::layout::{Layout, LayoutMeta, Partition, StreamRole, role};
use crate::subject::Subjects;

/// Partition streams created, updated or looked up at once.
const CONCURRENCY: usize = 32;

/// The layout of `config`'s namespace. With `create`, creates what is
/// missing (a new namespace with `config.partitions`, a partition stream a
/// crashed creator left out) and updates existing streams to `config`'s
/// settings; without, only reads.
pub(crate) async fn discover(
    js: &Context,
    config: &JetStreamConfig,
    atomic: bool,
    create: bool,
) -> Result<Layout> {
    let base = config.effective_stream_name()?;
    // A creator racing with another that creates the other layout loses on
    // the server's subject overlap check; it then finds the winner's.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match find(js, config, &base, atomic, create).await {
            Err(e) if create && attempts < 3 && matches!(e, Error::Storage { .. }) => {
                tracing::debug!(error = %e, "creating the namespace's streams failed; looking again");
            }
            other => return other,
        }
    }
}

async fn find(
    js: &Context,
    config: &JetStreamConfig,
    base: &str,
    atomic: bool,
    create: bool,
) -> Result<Layout> {
    let timeout = config.request_timeout;
    if let Some(info) = info(js, base, timeout).await? {
        return match role(base, &info.config.metadata)? {
            StreamRole::V1 { next: Some(next) } if info.config.sealed => {
                v2(js, config, base, next, atomic, create).await
            }
            StreamRole::V1 { .. } if info.config.sealed => Err(Error::storage(format!(
                "the event stream {base} is sealed and names no successor: no writes are \
                 possible (see docs/operations.md, \"Repartitioning\")"
            ))),
            StreamRole::V1 { .. } => v1(js, config, base, info, atomic, create).await,
            StreamRole::V2 { .. } => Err(Error::storage(format!(
                "stream {base} carries partition metadata but has the unpartitioned layout's name"
            ))),
        };
    }
    // A new unpartitioned namespace is created as before (the same requests,
    // so the same permissions suffice); the server refuses it when a
    // partitioned layout holds the subjects, and that layout is found below.
    if create && config.partitions <= 1 {
        let wanted = config.event_stream_config(atomic)?;
        if let Some(stream) = ensure_unless_overlapping(js, wanted, timeout).await? {
            let info = stream.cached_info().clone();
            return v1(js, config, base, info, atomic, false).await;
        }
    }
    let first = config.partition_stream_name(0)?;
    if let Some(info) = info(js, &first, timeout).await? {
        return match role(&first, &info.config.metadata)? {
            // The layout of a repartitioned namespace whose sealed v1
            // stream was deleted, or a namespace created partitioned.
            StreamRole::V2 { layout, .. } => v2(js, config, base, layout, atomic, create).await,
            other => Err(Error::storage(format!(
                "stream {first} is not partition 0 of a partitioned namespace ({other:?})"
            ))),
        };
    }
    if !create {
        return Err(Error::missing(format!(
            "there is no stream {base} (nor {first}): the namespace does not exist"
        )));
    }
    if config.partitions <= 1 {
        return Err(Error::storage(format!(
            "stream {base} cannot be created: its subjects overlap another stream's, and \
             that is not a partition of the namespace ({first} does not exist)"
        )));
    }
    let layout = LayoutMeta {
        epoch: 0,
        // cannot truncate: validated to be at most 1,024.
        partitions: config.partitions as u16,
        active: true,
    };
    v2(js, config, base, layout, atomic, true).await
}

/// The v1 layout on stream `base` (updated to `config` with `update`).
async fn v1(
    js: &Context,
    config: &JetStreamConfig,
    base: &str,
    info: Info,
    atomic: bool,
    update: bool,
) -> Result<Layout> {
    let info = if update {
        let mut wanted = config.event_stream_config(atomic)?;
        // What the stream has and `config` does not decide: its subjects
        // (a repartition narrows them to `<base>.events.*.*`) and placement
        // (an operator may have moved it).
        wanted.subjects = info.config.subjects.clone();
        wanted.placement = info.config.placement.clone();
        wanted.metadata = info
            .config
            .metadata
            .iter()
            .filter(|(k, _)| !k.starts_with("_nats."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ensure_stream(js, wanted, config.request_timeout)
            .await?
            .cached_info()
            .clone()
    } else {
        info
    };
    let partition = partition(js, 0, &info).await?;
    Ok(Layout {
        version: 1,
        epoch: 0,
        subjects: Subjects::new(base),
        parts: vec![base.to_string()],
        partitions: vec![Arc::new(partition)],
    })
}

/// The v2 layout `meta`, its streams checked against it (and created or
/// updated with `update`).
async fn v2(
    js: &Context,
    config: &JetStreamConfig,
    base: &str,
    meta: LayoutMeta,
    atomic: bool,
    update: bool,
) -> Result<Layout> {
    let infos: Vec<Info> = futures::stream::iter(0..meta.partitions)
        .map(|k| partition_info(js, config, meta, k, atomic, update))
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut partitions = Vec::with_capacity(infos.len());
    for (k, info) in infos.iter().enumerate() {
        // cannot truncate: at most 1,024 partitions.
        partitions.push(Arc::new(partition(js, k as u16, info).await?));
    }
    let mut parts = vec![base.to_string()];
    parts.extend(partitions.iter().map(|p| p.name.clone()));
    Ok(Layout {
        version: 2,
        epoch: meta.epoch,
        subjects: Subjects::sliced(base),
        parts,
        partitions,
    })
}

/// Partition `k`'s stream, checked to be what `meta` says; created if
/// missing (with `update`), updated to `config`'s settings (with `update`).
async fn partition_info(
    js: &Context,
    config: &JetStreamConfig,
    meta: LayoutMeta,
    k: u16,
    atomic: bool,
    update: bool,
) -> Result<Info> {
    let name = config.partition_stream_name(k)?;
    let existing = info(js, &name, config.request_timeout).await?;
    if let Some(info) = &existing {
        match role(&name, &info.config.metadata)? {
            StreamRole::V2 {
                layout, partition, ..
            } if (layout.epoch, layout.partitions, partition)
                == (meta.epoch, meta.partitions, k) =>
            {
                if !layout.active {
                    return Err(Error::unavailable(format!(
                        "the namespace {base} is being repartitioned: stream {name} is still \
                         being filled; try again when the repartition is done",
                        base = config.effective_stream_name()?
                    )));
                }
            }
            other => {
                return Err(Error::storage(format!(
                    "stream {name} is not partition {k} of {} (epoch {}): {other:?}",
                    meta.partitions, meta.epoch
                )));
            }
        }
    }
    match (existing, update) {
        (Some(info), false) => Ok(info),
        (None, false) => Err(Error::missing(format!(
            "partition {k} of {} is missing: there is no stream {name}",
            meta.partitions
        ))),
        (existing, true) => {
            let mut wanted: Config = config.partition_stream_config(&meta, k, atomic)?;
            if let Some(info) = existing {
                // Placement is the operator's once the stream exists (a move
                // must not be undone by a node restarting with its config);
                // the first sequence (set by a repartition) cannot change.
                wanted.placement = info.config.placement.clone();
                wanted.first_sequence = info.config.first_sequence;
                // Metadata others wrote (a repartition's source) stays.
                for (k, v) in &info.config.metadata {
                    if !k.starts_with("_nats.") {
                        wanted
                            .metadata
                            .entry(k.clone())
                            .or_insert_with(|| v.clone());
                    }
                }
            }
            Ok(ensure_stream(js, wanted, config.request_timeout)
                .await?
                .cached_info()
                .clone())
        }
    }
}

/// The partition a stream's info describes.
async fn partition(js: &Context, index: u16, info: &Info) -> Result<Partition> {
    let name = info.config.name.clone();
    let stream = js
        .get_stream_no_info(&name)
        .await
        // No I/O: fails only on a name the server would not have given.
        .map_err(|e| Error::storage_with(format!("stream name {name:?}"), e))?;
    Ok(Partition {
        index,
        stream,
        first_sequence: info.config.first_sequence.unwrap_or(1).max(1),
        source: info
            .config
            .metadata
            .get(crate::layout::key::SOURCE)
            .cloned(),
        direct_tip: info.config.num_replicas <= 1 && info.config.allow_direct,
        name,
    })
}

/// The stream's info, `None` when it does not exist. Retries briefly while
/// JetStream does not answer (a cluster electing its leaders).
pub(crate) async fn info(js: &Context, name: &str, timeout: Duration) -> Result<Option<Info>> {
    // cannot overflow: the config caps timeouts at a day.
    let deadline = tokio::time::Instant::now() + timeout.max(Duration::from_secs(10));
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let error = match js.get_stream(name).await {
            Ok(stream) => return Ok(Some(stream.cached_info().clone())),
            Err(e) => match e.kind() {
                GetStreamErrorKind::JetStream(j)
                    if j.error_code().0 == crate::error::STREAM_NOT_FOUND =>
                {
                    return Ok(None);
                }
                GetStreamErrorKind::JetStream(j) if j.error_code().0 != 10008 => {
                    return Err(Error::storage_with(format!("reading stream {name}"), e));
                }
                _ => Error::unavailable_with(format!("reading stream {name}"), e),
            },
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(error);
        }
        tracing::debug!(attempt, stream = %name, "stream info not available yet, retrying");
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
    }
}

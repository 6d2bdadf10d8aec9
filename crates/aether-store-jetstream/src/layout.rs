//! How a namespace's events are laid out over streams, as the streams' own
//! metadata says (ADR-33 stream metadata): no side table that could
//! disagree with them.
//!
//! - **Layout v1**: one stream named `<base>`, subjects
//!   `<base>.events.<type>.<id>`, no Aether metadata. Every namespace
//!   written before partitions existed, and every namespace created with
//!   `partitions: 1`.
//! - **Layout v2**: `K` streams (a power of two), partition `k` named
//!   `<base>_P<k>` (`<base>_E<epoch>_P<k>` after a repartition), holding the
//!   subjects `<base>.events.<slice>.*.*` of its slices `[k·1024/K,
//!   (k+1)·1024/K)`, with metadata `aether.layout = 2`, `aether.epoch`,
//!   `aether.partitions = K`, `aether.partition = k`, `aether.slices =
//!   first-last` and `aether.state` (`active`, or `copying` while a
//!   repartition fills it).
//!
//! A v1 stream that was repartitioned is sealed (the server refuses every
//! write to it) and names its successor in its metadata
//! (`aether.next.epoch`, `aether.next.partitions`), so a store that opens the
//! namespace follows the chain to the layout in force.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use aether_core::hash::SLICES;
use aether_core::{ActorId, Error, Result};
use async_nats::jetstream::stream::Stream;

use crate::subject::Subjects;

/// Metadata keys.
pub(crate) mod key {
    pub(crate) const LAYOUT: &str = "aether.layout";
    pub(crate) const EPOCH: &str = "aether.epoch";
    pub(crate) const PARTITIONS: &str = "aether.partitions";
    pub(crate) const PARTITION: &str = "aether.partition";
    pub(crate) const SLICES: &str = "aether.slices";
    pub(crate) const STATE: &str = "aether.state";
    pub(crate) const NEXT_EPOCH: &str = "aether.next.epoch";
    pub(crate) const NEXT_PARTITIONS: &str = "aether.next.partitions";
    /// On the partitions a repartition filled: the stream they were copied
    /// from (its messages carry their sequence there in
    /// `Aether-Source-Sequence`).
    pub(crate) const SOURCE: &str = "aether.source";
}

/// The header a repartition's copy carries: the message's sequence in the
/// stream it was copied from.
pub(crate) const SOURCE_SEQUENCE: &str = "Aether-Source-Sequence";

/// `aether.state` of a partition taking writes.
pub(crate) const ACTIVE: &str = "active";
/// `aether.state` of a partition a repartition is still filling.
pub(crate) const COPYING: &str = "copying";

/// A layout v2 as its metadata describes it: generation and partition
/// count (the slice ranges follow from the count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayoutMeta {
    pub(crate) epoch: u16,
    pub(crate) partitions: u16,
    /// Whether the streams take writes (`false` while a repartition copies
    /// into them).
    pub(crate) active: bool,
}

impl LayoutMeta {
    /// The slices of partition `k`: `[k·1024/K, (k+1)·1024/K)`.
    pub(crate) fn slices_of(&self, k: u16) -> Range<u32> {
        let per = SLICES / u32::from(self.partitions.max(1));
        u32::from(k) * per..(u32::from(k) + 1) * per
    }

    /// The metadata of partition `k`'s stream.
    pub(crate) fn metadata(&self, k: u16) -> HashMap<String, String> {
        let slices = self.slices_of(k);
        [
            (key::LAYOUT, "2".to_string()),
            (key::EPOCH, self.epoch.to_string()),
            (key::PARTITIONS, self.partitions.to_string()),
            (key::PARTITION, k.to_string()),
            (key::SLICES, format!("{}-{}", slices.start, slices.end - 1)),
            (
                key::STATE,
                if self.active { ACTIVE } else { COPYING }.to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// What one stream's metadata says about its place in a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamRole {
    /// No Aether layout metadata: a layout v1 stream.
    V1 {
        /// The layout that replaced it, if it was repartitioned.
        next: Option<LayoutMeta>,
    },
    /// Partition `partition` of a layout v2, holding `slices`.
    V2 {
        layout: LayoutMeta,
        partition: u16,
        slices: Range<u32>,
    },
}

/// Reads a stream's metadata; an error names the stream and what is wrong
/// (a stream whose metadata is damaged is never guessed at).
pub(crate) fn role(stream: &str, metadata: &HashMap<String, String>) -> Result<StreamRole> {
    let bad = |what: String| {
        Error::storage(format!(
            "stream {stream}: its Aether layout metadata is damaged ({what}); see \
             docs/architecture.md, \"The partitioned log\""
        ))
    };
    let number = |k: &str| -> Result<Option<u64>> {
        metadata
            .get(k)
            .map(|v| v.parse::<u64>().map_err(|_| bad(format!("{k} = {v:?}"))))
            .transpose()
    };
    let small = |k: &str, v: u64| u16::try_from(v).map_err(|_| bad(format!("{k} = {v}")));
    match metadata.get(key::LAYOUT).map(String::as_str) {
        None | Some("1") => {
            let next = match (number(key::NEXT_EPOCH)?, number(key::NEXT_PARTITIONS)?) {
                (Some(e), Some(k)) => Some(LayoutMeta {
                    epoch: small(key::NEXT_EPOCH, e)?,
                    partitions: valid_count(small(key::NEXT_PARTITIONS, k)?)
                        .ok_or_else(|| bad(format!("{} = {k}", key::NEXT_PARTITIONS)))?,
                    active: true,
                }),
                (None, None) => None,
                _ => return Err(bad("a successor without epoch or partitions".into())),
            };
            Ok(StreamRole::V1 { next })
        }
        Some("2") => {
            let get = |k: &str| number(k)?.ok_or_else(|| bad(format!("{k} is missing")));
            let epoch = small(key::EPOCH, get(key::EPOCH)?)?;
            let count = small(key::PARTITIONS, get(key::PARTITIONS)?)?;
            let partitions =
                valid_count(count).ok_or_else(|| bad(format!("{} = {count}", key::PARTITIONS)))?;
            let partition = small(key::PARTITION, get(key::PARTITION)?)?;
            if partition >= partitions {
                return Err(bad(format!(
                    "partition {partition} of {partitions} partitions"
                )));
            }
            let active = match metadata.get(key::STATE).map(String::as_str) {
                Some(ACTIVE) | None => true,
                Some(COPYING) => false,
                Some(other) => return Err(bad(format!("{} = {other:?}", key::STATE))),
            };
            let layout = LayoutMeta {
                epoch,
                partitions,
                active,
            };
            let slices = metadata
                .get(key::SLICES)
                .and_then(|s| s.split_once('-'))
                .and_then(|(a, b)| Some(a.parse::<u32>().ok()?..b.parse::<u32>().ok()? + 1))
                .ok_or_else(|| bad(format!("{} = {:?}", key::SLICES, metadata.get(key::SLICES))))?;
            if slices != layout.slices_of(partition) {
                return Err(bad(format!(
                    "slices {slices:?}, not partition {partition}'s {:?} of {partitions}",
                    layout.slices_of(partition)
                )));
            }
            Ok(StreamRole::V2 {
                layout,
                partition,
                slices,
            })
        }
        Some(other) => Err(Error::unsupported(format!(
            "stream {stream} has layout {other:?}, which this version of Aether does not know \
             (a newer one wrote it)"
        ))),
    }
}

/// `count` when it is a valid partition count (a power of two up to
/// [`SLICES`]).
fn valid_count(count: u16) -> Option<u16> {
    (count.is_power_of_two() && u32::from(count) <= SLICES).then_some(count)
}

/// One partition of the layout in force: its stream and how to read it.
#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) index: u16,
    /// The stream's name.
    pub(crate) name: String,
    pub(crate) stream: Stream<()>,
    /// The stream's first sequence (above every sequence of the stream it
    /// was copied from, after a repartition; 1 otherwise).
    pub(crate) first_sequence: u64,
    /// The stream a repartition copied it from, if any.
    pub(crate) source: Option<String>,
    /// Whether an actor's last message is read by direct get: only on a
    /// single-replica stream, where the one holder is the leader, so reads
    /// still see every acknowledged write. Replicated streams ask the
    /// leader.
    pub(crate) direct_tip: bool,
}

/// The layout in force: its partitions, and which slice goes where.
#[derive(Debug)]
pub(crate) struct Layout {
    /// 1 or 2.
    pub(crate) version: u8,
    pub(crate) epoch: u16,
    pub(crate) subjects: Subjects,
    pub(crate) partitions: Vec<Arc<Partition>>,
    /// What a refusal (a permissions violation) must concern to end an
    /// operation: the subject prefix and every stream's name.
    pub(crate) parts: Vec<String>,
}

impl Layout {
    /// The partition holding `actor`'s events.
    pub(crate) fn partition_of(&self, actor: &ActorId) -> &Arc<Partition> {
        &self.partitions[usize::from(self.index_of(actor))]
    }

    /// The index of the partition holding `actor`'s events.
    pub(crate) fn index_of(&self, actor: &ActorId) -> u16 {
        if self.partitions.len() <= 1 {
            return 0;
        }
        // The partitions are the equal slice ranges of their count, so the
        // partition is the slice scaled down (`aether_core::hash` on why
        // ranges nest).
        aether_core::hash::shard_of(actor, self.partitions.len() as u32) as u16
    }

    /// How many partitions there are.
    pub(crate) fn count(&self) -> u16 {
        self.partitions.len() as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn metadata_round_trips_and_slices_tile_the_range() {
        for k in [2u16, 4, 8, 1024] {
            let layout = LayoutMeta {
                epoch: 3,
                partitions: k,
                active: true,
            };
            let mut next = 0;
            for p in 0..k {
                let m = layout.metadata(p);
                match role("S", &m).unwrap() {
                    StreamRole::V2 {
                        layout: l,
                        partition,
                        slices,
                    } => {
                        assert_eq!((l, partition), (layout, p));
                        assert_eq!(slices.start, next);
                        next = slices.end;
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(next, SLICES);
        }
        let copying = LayoutMeta {
            epoch: 1,
            partitions: 4,
            active: false,
        };
        assert!(matches!(
            role("S", &copying.metadata(2)).unwrap(),
            StreamRole::V2 { layout, .. } if !layout.active
        ));
    }

    #[test]
    fn v1_and_its_successor() {
        assert_eq!(
            role("S", &HashMap::new()).unwrap(),
            StreamRole::V1 { next: None }
        );
        // nats-server's own keys are not ours.
        assert_eq!(
            role("S", &meta(&[("_nats.ver", "2.15.1")])).unwrap(),
            StreamRole::V1 { next: None }
        );
        assert_eq!(
            role(
                "S",
                &meta(&[(key::NEXT_EPOCH, "1"), (key::NEXT_PARTITIONS, "8")])
            )
            .unwrap(),
            StreamRole::V1 {
                next: Some(LayoutMeta {
                    epoch: 1,
                    partitions: 8,
                    active: true
                })
            }
        );
    }

    #[test]
    fn damaged_metadata_is_an_error_naming_the_stream() {
        let good = LayoutMeta {
            epoch: 0,
            partitions: 4,
            active: true,
        }
        .metadata(1);
        let mut cases = Vec::new();
        for (k, v) in [
            (key::PARTITIONS, "3"),
            (key::PARTITIONS, "0"),
            (key::PARTITIONS, "2048"),
            (key::PARTITION, "4"),
            (key::PARTITION, "x"),
            (key::SLICES, "0-255"),
            (key::SLICES, "256"),
            (key::STATE, "sleeping"),
            (key::EPOCH, "70000"),
        ] {
            let mut m = good.clone();
            m.insert(k.into(), v.into());
            cases.push(m);
        }
        let mut missing = good.clone();
        missing.remove(key::PARTITION);
        cases.push(missing);
        cases.push(meta(&[(key::NEXT_EPOCH, "1")]));
        for m in cases {
            let e = role("STREAM_X", &m).unwrap_err().to_string();
            assert!(e.contains("STREAM_X"), "{e}");
        }
        let newer = meta(&[(key::LAYOUT, "3")]);
        assert!(matches!(role("S", &newer), Err(Error::Unsupported { .. })));
    }
}

//! Shard pins: an operator's "this shard on that node" (`aether handoff`),
//! kept under the key [`PINS_KEY`] of the `<cluster>_shards` bucket as JSON
//! `{"<shard>": "<node id>"}`. The leader applies them to every map it plans:
//! a pinned shard's primary is its pinned node while that node is a member
//! (the previous replicas follow, up to the replication factor); a pin to a
//! node that left is ignored until it is back or the pin is removed.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::kv;

use crate::assignment::ShardAssignment;
use crate::error::{ClusterError, ClusterErrorKind, Result};
use crate::id::{NodeId, ShardId};

/// The KV key of the pins in the `<cluster>_shards` bucket.
pub const PINS_KEY: &str = "pins";

/// Shard → node.
pub type Pins = BTreeMap<u32, NodeId>;

/// The pins and the revision of their entry (0: none written).
pub(crate) async fn read(store: &kv::Store, timeout: Duration) -> Result<(Pins, u64)> {
    let entry = tokio::time::timeout(timeout, store.entry(PINS_KEY))
        .await
        .map_err(|_| {
            ClusterError::new(
                ClusterErrorKind::Unavailable,
                "reading the shard pins timed out",
            )
        })?
        .map_err(|e| {
            ClusterError::with_source(ClusterErrorKind::Kv, "reading the shard pins", e)
        })?;
    match entry {
        Some(e) if e.operation == kv::Operation::Put => {
            // A value that does not decode (a foreign writer) pins nothing:
            // it must not stop the leader from publishing maps.
            let pins = match serde_json::from_slice::<BTreeMap<String, NodeId>>(&e.value) {
                Ok(pins) => pins
                    .into_iter()
                    .filter_map(|(k, v)| k.parse().ok().map(|s| (s, v)))
                    .collect(),
                Err(err) => {
                    tracing::warn!(error = %err, "the shard pins do not decode; ignoring them");
                    Pins::new()
                }
            };
            Ok((pins, e.revision))
        }
        Some(e) => Ok((Pins::new(), e.revision)),
        None => Ok((Pins::new(), 0)),
    }
}

/// Writes `pins` over the entry at `revision` (compare-and-swap).
pub(crate) async fn write(store: &kv::Store, pins: &Pins, revision: u64) -> Result<()> {
    let text: BTreeMap<String, &NodeId> = pins.iter().map(|(s, n)| (s.to_string(), n)).collect();
    let bytes = serde_json::to_vec(&text).map_err(|e| {
        ClusterError::with_source(
            ClusterErrorKind::Serialization,
            "encoding the shard pins",
            e,
        )
    })?;
    let written = if revision == 0 {
        store
            .create(PINS_KEY, bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else {
        store
            .update(PINS_KEY, bytes.into(), revision)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    written.map_err(|e| {
        ClusterError::new(
            ClusterErrorKind::Kv,
            format!("writing the shard pins (someone else may have changed them; try again): {e}"),
        )
    })
}

/// Applies `pins` to `assignment` for the current `members`.
pub(crate) fn apply(
    assignment: &mut ShardAssignment,
    pins: &Pins,
    members: &[NodeId],
    replication_factor: usize,
) {
    for (&shard, node) in pins {
        let shard = ShardId(shard);
        if shard.0 >= assignment.shard_count() || !members.contains(node) {
            continue;
        }
        let mut replicas = vec![node.clone()];
        replicas.extend(
            assignment
                .replicas(shard)
                .iter()
                .filter(|n| *n != node)
                .cloned(),
        );
        replicas.truncate(replication_factor.max(1));
        // Cannot fail: the shard is in range and the list has no duplicates.
        let _ = assignment.set(shard, replicas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_move_primaries_to_members_only() {
        let (a, b, c) = (
            NodeId::new("a").unwrap(),
            NodeId::new("b").unwrap(),
            NodeId::new("c").unwrap(),
        );
        let mut asg = ShardAssignment::unassigned(4);
        for s in 0..4 {
            asg.set(ShardId(s), vec![a.clone(), b.clone()]).unwrap();
        }
        let pins: Pins = [(1, b.clone()), (2, c.clone()), (9, b.clone())]
            .into_iter()
            .collect();
        apply(&mut asg, &pins, &[a.clone(), b.clone()], 2);
        assert_eq!(asg.replicas(ShardId(1)), [b.clone(), a.clone()]);
        assert_eq!(
            asg.replicas(ShardId(2)),
            [a.clone(), b.clone()],
            "c is no member"
        );
        assert_eq!(asg.replicas(ShardId(0)), [a, b]);
    }
}

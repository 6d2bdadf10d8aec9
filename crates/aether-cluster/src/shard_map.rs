//! [`ShardMap`]: the leader's published assignment, with its epoch and term.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::Instrument;

use crate::assignment::ShardAssignment;
use crate::error::{ClusterError, ClusterErrorKind, Result};
use crate::id::{NodeId, ShardId, Term};
use crate::nats::unless_shutdown;

/// The KV key of the shard map in the `<cluster>_shards` bucket.
pub const SHARD_MAP_KEY: &str = "map";

/// The shard map: which nodes hold each shard, as decided by a leader.
///
/// **Contract.** `epoch` grows by one with every published map (the leader
/// writes it with compare-and-swap on the key's revision, so two maps never
/// share an epoch). `term` is the fencing token of the leader that computed it.
/// Nodes accept a map only if its epoch is higher than the one they hold and
/// its term is not lower ([`ShardMap::supersedes`]); every node therefore
/// converges on the latest map and never goes back to an older one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardMap {
    /// Publication number, starting at 1.
    pub epoch: u64,
    /// Term of the leader that published it.
    pub term: Term,
    /// The leader that published it.
    pub leader: NodeId,
    /// The strategy's name.
    pub strategy: String,
    /// Replicas per shard requested.
    pub replication_factor: usize,
    /// The membership the map was planned for, sorted.
    pub members: Vec<NodeId>,
    /// The assignment.
    pub assignment: ShardAssignment,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    epoch: u64,
    term: Term,
    leader: NodeId,
    strategy: String,
    replication_factor: usize,
    members: Vec<NodeId>,
    /// Per shard, indexes into `members`, primary first.
    shards: Vec<Vec<u32>>,
}

impl ShardMap {
    /// The number of shards.
    pub fn shard_count(&self) -> u32 {
        self.assignment.shard_count()
    }

    /// The primary of `shard`.
    pub fn primary(&self, shard: ShardId) -> Option<&NodeId> {
        self.assignment.primary(shard)
    }

    /// Whether this map may replace `current`: a higher epoch and a term not lower.
    pub fn supersedes(&self, current: &ShardMap) -> bool {
        self.epoch > current.epoch && self.term >= current.term
    }

    /// Encodes to the compact JSON wire form (members once, shards as indexes).
    pub fn encode(&self) -> Result<Bytes> {
        let index = |n: &NodeId| -> Result<u32> {
            self.members
                .binary_search(n)
                .map(|i| i as u32)
                .map_err(|_| {
                    crate::error::input_error(format!(
                        "assignment names {n}, not a member of the map"
                    ))
                })
        };
        let shards = self
            .assignment
            .iter()
            .map(|(_, r)| r.iter().map(index).collect::<Result<Vec<u32>>>())
            .collect::<Result<Vec<_>>>()?;
        let wire = Wire {
            v: 1,
            epoch: self.epoch,
            term: self.term,
            leader: self.leader.clone(),
            strategy: self.strategy.clone(),
            replication_factor: self.replication_factor,
            members: self.members.clone(),
            shards,
        };
        serde_json::to_vec(&wire).map(Bytes::from).map_err(|e| {
            ClusterError::with_source(ClusterErrorKind::Serialization, "encode shard map", e)
        })
    }

    /// Decodes and validates the wire form.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| {
            ClusterError::with_source(ClusterErrorKind::Serialization, "decode shard map", e)
        })?;
        if wire.v != 1 {
            return Err(ClusterError::new(
                ClusterErrorKind::Serialization,
                format!("shard map format version {} is not supported", wire.v),
            ));
        }
        let mut members = wire.members.clone();
        members.sort();
        members.dedup();
        if members != wire.members {
            return Err(ClusterError::new(
                ClusterErrorKind::Serialization,
                "shard map members are not sorted and unique",
            ));
        }
        let shards = wire
            .shards
            .iter()
            .map(|r| {
                r.iter()
                    .map(|&i| {
                        members.get(i as usize).cloned().ok_or_else(|| {
                            ClusterError::new(
                                ClusterErrorKind::Serialization,
                                format!("shard map refers to member #{i} of {}", members.len()),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let assignment = ShardAssignment::from_replicas(shards).map_err(|e| {
            ClusterError::with_source(ClusterErrorKind::Serialization, "invalid shard map", e)
        })?;
        Ok(Self {
            epoch: wire.epoch,
            term: wire.term,
            leader: wire.leader,
            strategy: wire.strategy,
            replication_factor: wire.replication_factor,
            members,
            assignment,
        })
    }
}

/// What a node knows about published maps.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MapState {
    /// The map in force locally.
    pub accepted: Option<Arc<ShardMap>>,
    /// KV revision of the latest map entry seen (accepted or not): the
    /// compare-and-swap base for the next publication.
    pub revision: u64,
    /// Highest epoch seen in any entry.
    pub max_epoch: u64,
    /// Maps rejected for an old epoch or term.
    pub rejected: u64,
}

impl MapState {
    /// The epoch for the next published map: one past the highest seen;
    /// `None` once `u64::MAX` was seen (a map on the wire may carry any epoch).
    pub(crate) fn next_epoch(&self) -> Option<u64> {
        self.max_epoch.checked_add(1)
    }

    /// Offers a map read at `revision`; returns whether it was accepted.
    pub fn offer(&mut self, map: ShardMap, revision: u64) -> bool {
        self.revision = self.revision.max(revision);
        self.max_epoch = self.max_epoch.max(map.epoch);
        let accept = match &self.accepted {
            None => true,
            Some(cur) => map.supersedes(cur),
        };
        if accept {
            self.accepted = Some(Arc::new(map));
        } else {
            self.rejected += 1;
        }
        accept
    }
}

/// Checks that `map` is planned for this node's shard count: with another
/// count, [`crate::shard_for_actor`] gives other shard numbers, so this node
/// and the leader would disagree on who owns an actor.
fn check_shard_count(map: &ShardMap, shard_count: u32) -> Result<()> {
    if map.shard_count() != shard_count {
        return Err(ClusterError::new(
            ClusterErrorKind::InvalidConfig,
            format!(
                "the shard map has {} shards but this node is configured for {shard_count}: \
                 every node of a cluster needs the same shards.shard_count",
                map.shard_count()
            ),
        ));
    }
    Ok(())
}

fn handle(state: &watch::Sender<MapState>, e: kv::Entry, shard_count: u32) {
    if e.operation != kv::Operation::Put {
        state.send_modify(|s| s.revision = s.revision.max(e.revision));
        return;
    }
    if e.revision <= state.borrow().revision {
        return; // already seen (the poll and the watch overlap)
    }
    let map = match ShardMap::decode(&e.value) {
        Ok(map) => map,
        Err(err) => {
            state.send_modify(|s| s.revision = s.revision.max(e.revision));
            tracing::warn!(error = %err, revision = e.revision, "ignoring undecodable shard map");
            return;
        }
    };
    let (epoch, term) = (map.epoch, map.term);
    if let Err(err) = check_shard_count(&map, shard_count) {
        // Its epoch was published all the same: never publish it again.
        state.send_modify(|s| {
            s.revision = s.revision.max(e.revision);
            s.max_epoch = s.max_epoch.max(epoch);
        });
        tracing::error!(error = %err, epoch, %term, "ignoring shard map");
        return;
    }
    let mut accepted = false;
    state.send_modify(|s| accepted = s.offer(map, e.revision));
    if accepted {
        tracing::info!(epoch, %term, "accepted shard map");
    } else {
        tracing::warn!(epoch, %term, "rejected shard map: older epoch or term than the one in force");
    }
}

/// Watches the map key until shutdown, feeding [`MapState`]. Also reads the
/// key every `poll` (a direct get): a watch whose consumer lived on a NATS
/// server that died only notices after missed idle heartbeats (seconds).
pub(crate) async fn watch_maps(
    store: kv::Store,
    me: NodeId,
    shard_count: u32,
    poll: Duration,
    request_timeout: Duration,
    state: watch::Sender<MapState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let span = tracing::info_span!("aether.cluster.shard_map_watch", node = %me);
    async move {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let created = store.watch_with_history(SHARD_MAP_KEY);
            let mut w = match unless_shutdown(&mut shutdown, request_timeout, created).await {
                Some(Ok(w)) => w,
                None if *shutdown.borrow() => return,
                failed => {
                    let error = match failed {
                        Some(Err(e)) => e.to_string(),
                        _ => "no answer in time".to_owned(),
                    };
                    tracing::warn!(%error, "shard map watch failed; retrying");
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    }
                }
            };
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tick.tick() => {
                        if let Ok(Ok(Some(e))) = tokio::time::timeout(request_timeout, store.entry(SHARD_MAP_KEY)).await {
                            handle(&state, e, shard_count);
                        }
                    }
                    entry = w.next() => match entry {
                        Some(Ok(e)) => handle(&state, e, shard_count),
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "shard map watch error; re-watching");
                            break;
                        }
                        None => break,
                    }
                }
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn map(epoch: u64, term: u64) -> ShardMap {
        ShardMap {
            epoch,
            term: Term(term),
            leader: n("a"),
            strategy: "consistent-hash".into(),
            replication_factor: 2,
            members: vec![n("a"), n("b")],
            assignment: ShardAssignment::from_replicas(vec![vec![n("b"), n("a")], vec![n("a")]])
                .unwrap(),
        }
    }

    #[test]
    fn round_trips_compactly() {
        let m = map(3, 9);
        let bytes = m.encode().unwrap();
        assert_eq!(ShardMap::decode(&bytes).unwrap(), m);
        assert!(ShardMap::decode(b"{}").is_err());
        let bad = br#"{"v":1,"epoch":1,"term":1,"leader":"a","strategy":"x","replication_factor":1,"members":["a"],"shards":[[1]]}"#;
        assert!(ShardMap::decode(bad).is_err());
        let twice = br#"{"v":1,"epoch":1,"term":1,"leader":"a","strategy":"x","replication_factor":1,"members":["a"],"shards":[[0,0]]}"#;
        assert!(ShardMap::decode(twice).is_err());
    }

    #[test]
    fn older_epochs_and_terms_are_rejected() {
        let mut s = MapState::default();
        assert!(s.offer(map(2, 5), 10));
        assert!(!s.offer(map(1, 5), 11));
        assert!(!s.offer(map(2, 5), 12));
        assert!(!s.offer(map(3, 4), 13), "older term is fenced off");
        assert!(s.offer(map(3, 6), 14));
        assert_eq!(s.accepted.as_ref().unwrap().epoch, 3);
        assert_eq!((s.rejected, s.revision, s.max_epoch), (3, 14, 3));
    }

    /// Regression: a map planned for another shard count (a node configured
    /// differently) was accepted; this node then numbered actors' shards
    /// differently from the leader and could claim actors another node owns.
    #[test]
    fn maps_for_another_shard_count_are_refused() {
        assert!(check_shard_count(&map(1, 1), 2).is_ok());
        let err = check_shard_count(&map(1, 1), 1024).unwrap_err();
        assert_eq!(err.kind(), ClusterErrorKind::InvalidConfig);
    }

    /// Regression: a map read with epoch `u64::MAX` used to overflow the
    /// leader's `max_epoch + 1`.
    #[test]
    fn next_epoch_does_not_overflow_after_the_largest_epoch() {
        let mut s = MapState::default();
        assert_eq!(s.next_epoch(), Some(1));
        s.offer(map(u64::MAX, 1), 1);
        assert_eq!(s.next_epoch(), None);
    }
}

//! Warm handoff over NATS: the node releasing a shard sends the states of
//! its actors ([`send`]) to the node the map moves the shard to, in chunks
//! of at most [`CHUNK_BYTES`], each acknowledged, on that node's subject
//! `aether.rt.<cluster>.handoff.<node>`; the receiving node keeps them
//! ([`Arrivals`]) until it claims the shard, then installs them before it
//! serves. A chunk that does not arrive leaves its actors cold (the new
//! owner loads them from the log when called): the transfer is an
//! optimisation, never needed for correctness.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::claims::{Claim, Phase};
use crate::id::{NodeId, ShardId};
use crate::runtime::dehydrated::Dehydrated;

/// The largest chunk of a transfer (NATS' default payload limit is 1 MiB).
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// How long arrived states wait for their shard's claim.
const KEEP: Duration = Duration::from_secs(60);

/// The handoff subject of `node`.
pub(crate) fn handoff_subject(cluster: &str, node: &NodeId) -> String {
    format!("aether.rt.{cluster}.handoff.{node}")
}

/// One chunk of a transfer.
#[derive(Debug, Serialize, Deserialize)]
struct Chunk {
    shard: u32,
    /// The releasing node, and the epoch of its `Releasing` claim: the
    /// receiver takes the states only when it claims from that claim.
    from: NodeId,
    epoch: u64,
    actors: Vec<Dehydrated>,
}

/// Sends `states` of `shard` to `to`, chunk by chunk; returns how many
/// actors arrived (acknowledged) before the first failure.
pub(crate) async fn send(
    client: &async_nats::Client,
    subject: String,
    (shard, from, epoch): (ShardId, &NodeId, u64),
    states: Vec<Dehydrated>,
    timeout: Duration,
) -> Result<usize, (usize, String)> {
    let mut sent = 0;
    for chunk in chunks(states) {
        let n = chunk.len();
        let body = serde_json::to_vec(&Chunk {
            shard: shard.0,
            from: from.clone(),
            epoch,
            actors: chunk,
        })
        .map_err(|e| (sent, format!("encoding a chunk: {e}")))?;
        let bytes = body.len();
        let reply = tokio::time::timeout(timeout, client.request(subject.clone(), body.into()))
            .await
            .map_err(|_| (sent, "no acknowledgement in time".to_owned()))?
            .map_err(|e| (sent, e.to_string()))?;
        if &reply.payload[..] != b"ok" {
            return Err((sent, String::from_utf8_lossy(&reply.payload).into_owned()));
        }
        metrics::counter!("aether_runtime_handoff_bytes_total").increment(bytes as u64);
        sent += n;
    }
    Ok(sent)
}

/// `states` in chunks of at most [`CHUNK_BYTES`] (by their state's size;
/// one actor larger than that travels alone).
fn chunks(states: Vec<Dehydrated>) -> Vec<Vec<Dehydrated>> {
    let mut out: Vec<Vec<Dehydrated>> = Vec::new();
    let mut size = 0;
    for s in states {
        let n = s.snapshot.state.to_string().len() + 128;
        if out.is_empty() || size + n > CHUNK_BYTES {
            out.push(Vec::new());
            size = 0;
        }
        size += n;
        if let Some(last) = out.last_mut() {
            last.push(s);
        }
    }
    out
}

/// States that arrived for shards this node is about to claim.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    by_shard: Mutex<HashMap<u32, Arrival>>,
}

#[derive(Debug)]
struct Arrival {
    from: NodeId,
    epoch: u64,
    at: Instant,
    states: Vec<Dehydrated>,
}

impl Arrivals {
    fn add(&self, chunk: Chunk) {
        let mut all = self.by_shard.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|_, a| a.at.elapsed() < KEEP);
        let a = all.entry(chunk.shard).or_insert_with(|| Arrival {
            from: chunk.from.clone(),
            epoch: chunk.epoch,
            at: Instant::now(),
            states: Vec::new(),
        });
        if a.from != chunk.from || a.epoch != chunk.epoch {
            // A newer transfer of the shard replaces an older one.
            *a = Arrival {
                from: chunk.from,
                epoch: chunk.epoch,
                at: Instant::now(),
                states: Vec::new(),
            };
        }
        a.states.extend(chunk.actors);
    }

    /// The states that arrived for `shard` from the release `held` records
    /// (its owner, phase `Releasing` or `Released`, and epoch), taken.
    pub(crate) fn take(&self, shard: ShardId, held: Option<&Claim>) -> Vec<Dehydrated> {
        let mut all = self.by_shard.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(a) = all.remove(&shard.0) else {
            return Vec::new();
        };
        if !arrival_matches(&a.from, a.epoch, held) || a.at.elapsed() >= KEEP {
            tracing::debug!(shard = shard.0, "states of another release dropped");
            return Vec::new();
        }
        a.states
    }
}

/// Whether states that arrived from `from`'s release under `epoch` may be
/// installed by a node that claims from `held`: only when it claims from
/// that very release (its owner and epoch, phase `Releasing` or
/// `Released`).
pub(crate) fn arrival_matches(from: &NodeId, epoch: u64, held: Option<&Claim>) -> bool {
    held.is_some_and(|c| {
        &c.owner == from
            && c.epoch == epoch
            && matches!(c.phase, Phase::Releasing | Phase::Released)
    })
}

/// Receives transfers on `subject` into `arrivals` until aborted.
pub(crate) async fn receive(
    client: async_nats::Client,
    subject: String,
    arrivals: Arc<Arrivals>,
) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
    let mut sub = client.subscribe(subject).await?;
    Ok(tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let Some(reply) = m.reply else {
                continue;
            };
            let answer: &'static [u8] = match serde_json::from_slice::<Chunk>(&m.payload) {
                Ok(chunk) => {
                    metrics::counter!("aether_runtime_handoff_received_total")
                        .increment(chunk.actors.len() as u64);
                    arrivals.add(chunk);
                    b"ok"
                }
                Err(e) => {
                    tracing::warn!(error = %e, "an unreadable handoff chunk was refused");
                    b"bad chunk"
                }
            };
            let _ = client.publish(reply, answer.into()).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::{ActorId, Snapshot};

    fn state(i: u64, bytes: usize) -> Dehydrated {
        let id = ActorId::new(format!("account-{i}")).unwrap();
        Dehydrated {
            snapshot: Snapshot::new(id, i, serde_json::json!({"pad": "x".repeat(bytes)})),
            snapshot_version: 0,
        }
    }

    #[test]
    fn chunks_stay_under_the_limit_and_keep_every_state_in_order() {
        let states: Vec<_> = (0..100).map(|i| state(i, 10_000)).collect();
        let chunks = chunks(states);
        assert!(chunks.len() > 1);
        let versions: Vec<u64> = chunks
            .iter()
            .flatten()
            .map(|s| s.snapshot.version)
            .collect();
        assert_eq!(versions, (0..100).collect::<Vec<_>>());
        for c in &chunks {
            assert!(serde_json::to_vec(c).unwrap().len() <= CHUNK_BYTES + 64 * 1024);
        }
        // One state over the limit travels alone.
        assert_eq!(
            chunks_of(vec![state(0, 10), state(1, 400_000), state(2, 10)]),
            [1, 1, 1]
        );
    }

    fn chunks_of(states: Vec<Dehydrated>) -> Vec<usize> {
        chunks(states).iter().map(Vec::len).collect()
    }

    #[test]
    fn arrivals_are_taken_only_from_the_release_they_came_with() {
        let a = NodeId::new("a").unwrap();
        let arrivals = Arrivals::default();
        arrivals.add(Chunk {
            shard: 3,
            from: a.clone(),
            epoch: 7,
            actors: vec![state(1, 1)],
        });
        let released = Claim {
            owner: a.clone(),
            epoch: 7,
            phase: Phase::Released,
            to: None,
        };
        let other = Claim {
            epoch: 8,
            ..released.clone()
        };
        assert!(arrivals.take(ShardId(3), Some(&other)).is_empty());
        arrivals.add(Chunk {
            shard: 3,
            from: a,
            epoch: 7,
            actors: vec![state(2, 1)],
        });
        assert!(arrivals.take(ShardId(4), Some(&released)).is_empty());
        assert_eq!(arrivals.take(ShardId(3), Some(&released)).len(), 1);
        assert!(arrivals.take(ShardId(3), Some(&released)).is_empty());
    }
}

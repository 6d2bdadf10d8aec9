//! [`Fence`]: whether this node may run a turn for an actor now. A node
//! serves a shard only while all three hold: the map in force names it the
//! shard's owner, it holds the shard's claim (in phase `Serving`, at the
//! revision it wrote), and its member lease is valid on its own clock. The
//! keeper (`keeper.rs`) sets and clears the claims; the turns read them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aether_core::{ActorId, Metadata};

use super::claims::{Claims, Phase};
use super::subject::Subjects;
use crate::id::ShardId;
use crate::node::ClusterNode;

/// What a turn writes under: the shard and the claim revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) shard: ShardId,
    pub(crate) revision: u64,
}

#[derive(Debug)]
pub(crate) struct Fence {
    pub(crate) node: Arc<ClusterNode>,
    pub(crate) subjects: Subjects,
    /// Per shard: the claim revision while serving, 0 otherwise.
    serving: Box<[AtomicU64]>,
    claims: Claims,
}

impl Fence {
    pub(crate) fn new(node: Arc<ClusterNode>, subjects: Subjects, claims: Claims) -> Self {
        let serving = (0..subjects.shard_count())
            .map(|_| AtomicU64::new(0))
            .collect();
        Self {
            node,
            subjects,
            serving,
            claims,
        }
    }

    /// The token to write `actor`'s events under, if this node serves its
    /// shard now.
    pub(crate) fn check(&self, actor: &ActorId) -> Option<Token> {
        self.check_shard(self.subjects.shard_of(actor))
    }

    /// The epoch of the map this node has (0 before the first).
    pub(crate) fn epoch(&self) -> u64 {
        self.node.shard_map().map_or(0, |m| m.epoch)
    }

    pub(crate) fn check_shard(&self, shard: ShardId) -> Option<Token> {
        let revision = self.serving.get(shard.0 as usize)?.load(Ordering::Acquire);
        (revision != 0 && self.node.owns(shard)).then_some(Token { shard, revision })
    }

    /// Whether the lease is still valid (checked again after a commit: an
    /// answer after the lease lapsed is not given as `Ok`).
    pub(crate) fn lease_valid(&self) -> bool {
        self.node.lease().is_valid()
    }

    /// Starts serving `shard` under claim `revision`.
    pub(crate) fn serve(&self, shard: ShardId, revision: u64) {
        if let Some(s) = self.serving.get(shard.0 as usize) {
            s.store(revision, Ordering::Release);
        }
    }

    /// Stops serving `shard`: turns from now on answer `NotOwner`.
    pub(crate) fn stop(&self, shard: ShardId) {
        if let Some(s) = self.serving.get(shard.0 as usize) {
            s.store(0, Ordering::Release);
        }
    }

    /// The shards served now.
    pub(crate) fn served(&self) -> Vec<ShardId> {
        (0..self.serving.len())
            .filter(|&i| self.serving[i].load(Ordering::Acquire) != 0)
            .map(|i| ShardId(i as u32))
            .collect()
    }

    /// After a conflict: whether the claim is still ours, as the claims
    /// stream's leader has it. A stale owner thereby never "catches up and
    /// wins": it learns it lost the shard before it reloads. `false` on any
    /// doubt (the read failed).
    pub(crate) async fn confirm(&self, token: Token) -> bool {
        if self.check_shard(token.shard) != Some(token) {
            return false;
        }
        let ours = match self.claims.read(token.shard).await {
            Ok(Some((claim, revision))) => {
                revision == token.revision
                    && claim.phase == Phase::Serving
                    && &claim.owner == self.node.id()
            }
            Ok(None) => false,
            // Unknown: refuse this turn, but do not give the shard up.
            Err(_) => return false,
        };
        if !ours {
            // Surely not ours: no turn of the shard runs from now on (the
            // next one would reload and write without a conflict), until
            // the keeper claims it again.
            if let Some(s) = self.serving.get(token.shard.0 as usize) {
                let _ = s.compare_exchange(token.revision, 0, Ordering::AcqRel, Ordering::Acquire);
            }
        }
        ours
    }

    /// The writer stamp of a turn under `token`: this node and the claim.
    pub(crate) fn stamp(&self, token: Token) -> Stamp {
        Stamp {
            node: self.node.id().to_string(),
            claim: format!("{}/{}", token.shard.0, token.revision),
        }
    }
}

/// What every event of a turn carries about its writer (built once a turn).
#[derive(Debug)]
pub(crate) struct Stamp {
    node: String,
    claim: String,
}

impl Stamp {
    /// Stamps an event's metadata.
    pub(crate) fn apply(&self, metadata: &mut Metadata) {
        metadata.set_writer_node(self.node.clone());
        metadata.set_writer_claim(self.claim.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::super::claims::{Cas, Claim};
    use super::*;

    /// The conflict rule's read: `confirm` asks the claims stream's leader,
    /// so a claim taken by someone else is seen even before this node's
    /// keeper hears of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn confirm_reads_the_claim_from_the_leader_and_fails_once_it_is_taken() {
        let server = aether_testkit::NatsServer::start().await;
        let config = crate::ClusterConfig {
            cluster_name: "fence".into(),
            node: crate::NodeInfo::new(aether_core::NodeId::new("a").unwrap()),
            ..crate::ClusterConfig::default()
        };
        let node = Arc::new(
            ClusterNode::connect(server.url().as_str(), config)
                .await
                .unwrap(),
        );
        node.watch_shard_map()
            .wait_for(|m| m.members.len() == 1)
            .await
            .unwrap();
        let claims = super::super::open_claims(&node).await.unwrap();
        let fence = Fence::new(node.clone(), Subjects::new("fence", 1024), claims.clone());
        let shard = ShardId(7);
        let Ok(Cas::Won(rev)) = claims
            .create(shard, &Claim::serving(node.id().clone(), 1))
            .await
        else {
            panic!("claim")
        };
        fence.serve(shard, rev);
        let token = fence.check_shard(shard).expect("serving");
        assert!(fence.confirm(token).await);
        let intruder = Claim::serving(aether_core::NodeId::new("b").unwrap(), 2);
        assert!(matches!(
            claims.update(shard, &intruder, rev).await,
            Ok(Cas::Won(_))
        ));
        assert!(!fence.confirm(token).await, "taken: not ours");
        fence.stop(shard);
        assert_eq!(fence.check_shard(shard), None);
        node.shutdown().await.unwrap();
    }
}

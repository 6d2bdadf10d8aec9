//! [`ClaimFence`]: the cluster's [`Fence`]. A node serves a shard only while
//! all three hold: the map in force names it the shard's owner, it holds the
//! shard's claim (in phase `Serving`, at the revision it wrote), and its
//! member lease is valid on its own clock and of the registration it claimed
//! under (a node whose entry expired and that registered again serves
//! nothing it claimed before: others may have taken it meanwhile). The
//! keeper (`keeper.rs`) sets and clears the claims; the turns read them
//! through the fence.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aether_core::{ActorId, BoxFuture};

use super::claims::{Claims, still_ours};
use super::subject::Subjects;
use crate::id::ShardId;
use crate::node::ClusterNode;
use crate::runtime::fence::{Fence, Lease, Stamp};

/// A claim's revision and its writer stamp.
type ClaimStamp = (u64, Stamp);

#[derive(Debug)]
pub(crate) struct ClaimFence {
    pub(crate) node: Arc<ClusterNode>,
    pub(crate) subjects: Subjects,
    /// Per shard: the claim revision while serving, 0 otherwise.
    serving: Box<[AtomicU64]>,
    /// Per shard: the lease incarnation the claim was taken under.
    incarnations: Box<[AtomicU64]>,
    /// Per shard: the writer stamp of the claim last served, made once per
    /// claim rather than once per turn.
    stamps: Box<[Mutex<Option<ClaimStamp>>]>,
    claims: Claims,
}

impl ClaimFence {
    pub(crate) fn new(node: Arc<ClusterNode>, subjects: Subjects, claims: Claims) -> Self {
        let serving = (0..subjects.shard_count())
            .map(|_| AtomicU64::new(0))
            .collect();
        let incarnations = (0..subjects.shard_count())
            .map(|_| AtomicU64::new(0))
            .collect();
        let stamps = (0..subjects.shard_count())
            .map(|_| Mutex::new(None))
            .collect();
        Self {
            node,
            subjects,
            serving,
            incarnations,
            stamps,
            claims,
        }
    }

    /// The epoch of the map this node has (0 before the first).
    pub(crate) fn epoch(&self) -> u64 {
        self.node.shard_map().map_or(0, |m| m.epoch)
    }

    /// The lease of `shard`, if this node serves it now.
    pub(crate) fn check_shard(&self, shard: ShardId) -> Option<Lease> {
        let token = self.serving.get(shard.0 as usize)?.load(Ordering::Acquire);
        let same = self.incarnation(shard) == self.node.lease().incarnation;
        (token != 0 && same && self.node.owns(shard)).then_some(Lease {
            shard: shard.0,
            token,
        })
    }

    /// Starts serving `shard` under claim `revision`, taken while the lease
    /// was of `incarnation`.
    pub(crate) fn serve(&self, shard: ShardId, revision: u64, incarnation: u64) {
        if let Some(i) = self.incarnations.get(shard.0 as usize) {
            i.store(incarnation, Ordering::Release);
        }
        if let Some(s) = self.serving.get(shard.0 as usize) {
            s.store(revision, Ordering::Release);
        }
    }

    /// The lease incarnation `shard` was claimed under.
    pub(crate) fn incarnation(&self, shard: ShardId) -> u64 {
        self.incarnations
            .get(shard.0 as usize)
            .map_or(0, |i| i.load(Ordering::Acquire))
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

    /// Whether the member lease is valid.
    pub(crate) fn lease_valid(&self) -> bool {
        self.node.lease().is_valid()
    }

    async fn confirm_lease(&self, lease: Lease) -> bool {
        let shard = ShardId(lease.shard);
        if self.check_shard(shard) != Some(lease) {
            return false;
        }
        let ours = match self.claims.read(shard).await {
            Ok(held) => still_ours(held.as_ref(), lease.token, self.node.id()),
            // Unknown: refuse this turn, but do not give the shard up.
            Err(_) => return false,
        };
        if !ours {
            // Surely not ours: no turn of the shard runs from now on (the
            // next one would reload and write without a conflict), until
            // the keeper claims it again.
            if let Some(s) = self.serving.get(shard.0 as usize) {
                let _ = s.compare_exchange(lease.token, 0, Ordering::AcqRel, Ordering::Acquire);
            }
        }
        ours
    }
}

impl Fence for ClaimFence {
    fn check(&self, actor: &ActorId) -> Option<Lease> {
        self.check_shard(self.subjects.shard_of(actor))
    }

    fn unit_of(&self, actor: &ActorId) -> u32 {
        self.subjects.shard_of(actor).0
    }

    fn holds(&self) -> bool {
        self.lease_valid()
    }

    /// Reads the claim from the claims stream's leader: a claim taken by
    /// someone else is seen even before this node's keeper hears of it.
    fn confirm(&self, lease: Lease) -> BoxFuture<'_, bool> {
        Box::pin(self.confirm_lease(lease))
    }

    fn stamp(&self, lease: Lease) -> Stamp {
        let make = || {
            Stamp::new(
                self.node.id().to_string(),
                format!("{}/{}", lease.shard, lease.token),
            )
        };
        let Some(slot) = self.stamps.get(lease.shard as usize) else {
            return make();
        };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some((token, stamp)) if *token == lease.token => stamp.clone(),
            _ => {
                let stamp = make();
                *slot = Some((lease.token, stamp.clone()));
                stamp
            }
        }
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
        let claims = Claims::open(&node).await.unwrap();
        let fence = ClaimFence::new(node.clone(), Subjects::new("fence", 1024), claims.clone());
        let shard = ShardId(7);
        let Ok(Cas::Won(rev)) = claims
            .create(shard, &Claim::serving(node.id().clone(), 1))
            .await
        else {
            panic!("claim")
        };
        fence.serve(shard, rev, node.lease().incarnation);
        let lease = fence.check_shard(shard).expect("serving");
        assert!(fence.confirm(lease).await);
        let intruder = Claim::serving(aether_core::NodeId::new("b").unwrap(), 2);
        assert!(matches!(
            claims.update(shard, &intruder, rev).await,
            Ok(Cas::Won(_))
        ));
        assert!(!fence.confirm(lease).await, "taken: not ours");
        fence.stop(shard);
        assert_eq!(fence.check_shard(shard), None);
        node.shutdown().await.unwrap();
    }
}

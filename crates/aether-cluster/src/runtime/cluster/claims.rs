//! Shard claims: the per-shard fence of the runtime. The KV bucket
//! `<cluster>_claims` holds one key per shard, `s.<n>`, whose value says who
//! serves the shard and in which phase; every change is a compare-and-swap,
//! and the KV revision of the latest write is the **claim token** that the
//! owner stamps on every event it writes.

use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{ClusterError, ClusterErrorKind, Result};
use crate::id::{NodeId, ShardId};
use crate::nats::{is_already_exists, is_cas_failure};
use crate::node::ClusterNode;
use crate::runtime::error::{RuntimeError, RuntimeErrorKind};

/// Where a claimed shard is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Phase {
    /// `owner` serves the shard.
    Serving,
    /// `owner` stopped admitting and is finishing its turns, for `to`.
    Releasing,
    /// Nobody serves the shard; `to` (if set) may claim it.
    Released,
}

impl Phase {
    /// The phase as written in the claim (`serving`, `releasing`, `released`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Serving => "serving",
            Self::Releasing => "releasing",
            Self::Released => "released",
        }
    }
}

/// The value of a claim key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claim {
    pub(crate) owner: NodeId,
    /// The shard-map epoch the write was made under.
    pub(crate) epoch: u64,
    pub(crate) phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) to: Option<NodeId>,
}

impl Claim {
    pub(crate) fn serving(owner: NodeId, epoch: u64) -> Self {
        Self {
            owner,
            epoch,
            phase: Phase::Serving,
            to: None,
        }
    }

    fn encode(&self) -> Bytes {
        // A struct of strings and numbers always serializes.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A claim as read, with its revision.
pub(crate) type Held = (Claim, u64);

/// The outcome of a compare-and-swap.
#[derive(Debug)]
pub(crate) enum Cas {
    /// Written at this revision.
    Won(u64),
    /// Someone else wrote first (or the key is not where we thought).
    Lost,
}

/// The claims bucket of one cluster (and its members bucket, read to make
/// sure a claim's holder is gone before its claim is taken over).
#[derive(Debug, Clone)]
pub(crate) struct Claims {
    store: kv::Store,
    members: kv::Store,
    timeout: Duration,
}

pub(crate) fn key(shard: ShardId) -> String {
    format!("s.{}", shard.0)
}

/// The shard a key names.
pub(crate) fn shard_of_key(key: &str) -> Option<ShardId> {
    key.strip_prefix("s.")?.parse().ok().map(ShardId)
}

impl Claims {
    pub(crate) fn new(store: kv::Store, members: kv::Store, timeout: Duration) -> Self {
        Self {
            store,
            members,
            timeout,
        }
    }

    /// Opens (or creates) the claims bucket of `node`'s cluster.
    pub(crate) async fn open(node: &ClusterNode) -> Result<Self, RuntimeError> {
        let config = node.config();
        let js = crate::nats::context(node.client().clone(), &config.kv);
        let store = crate::nats::open_bucket(&js, config, config.claims_bucket(), None)
            .await
            .map_err(|e| {
                RuntimeError::with_source(
                    RuntimeErrorKind::Unavailable,
                    "opening the shard claims bucket",
                    e,
                )
            })?;
        let members = crate::nats::open_bucket(
            &js,
            config,
            config.members_bucket(),
            Some(config.membership.lease),
        )
        .await
        .map_err(|e| {
            RuntimeError::with_source(
                RuntimeErrorKind::Unavailable,
                "opening the members bucket",
                e,
            )
        })?;
        Ok(Self::new(store, members, config.kv.request_timeout))
    }

    pub(crate) fn store(&self) -> &kv::Store {
        &self.store
    }

    /// The claim of `shard` as the stream's leader has it (not a possibly
    /// lagging replica: used to confirm a claim before acting on it).
    pub(crate) async fn read(&self, shard: ShardId) -> Result<Option<Held>> {
        let what = format!("the claim of shard {}", shard.0);
        Ok(self
            .leader_entry(&self.store, &key(shard), &what)
            .await?
            .and_then(|m| Claim::decode(&m.payload).map(|c| (c, m.sequence))))
    }

    /// Whether `node`'s member entry is gone, as the members stream's leader
    /// has it: not a watch that may lag (a holder that registered again
    /// and claimed its shard anew may still be missing from this node's
    /// view while its new claim is already in this node's cache).
    pub(crate) async fn member_gone(&self, node: &NodeId) -> Result<bool> {
        let what = format!("the member entry of {node}");
        Ok(self
            .leader_entry(&self.members, node.as_str(), &what)
            .await?
            .is_none())
    }

    /// The entry of `key` in `bucket` as its stream's leader has it; `None`
    /// when there is none, or it is a delete, a purge or an expiry marker.
    async fn leader_entry(
        &self,
        bucket: &kv::Store,
        key: &str,
        what: &str,
    ) -> Result<Option<async_nats::jetstream::message::StreamMessage>> {
        let subject = format!("{}{key}", bucket.prefix);
        let got = tokio::time::timeout(
            self.timeout,
            bucket.stream.get_last_raw_message_by_subject(&subject),
        )
        .await;
        match got {
            Err(_) => Err(ClusterError::new(
                ClusterErrorKind::Unavailable,
                format!("reading {what}: no answer"),
            )),
            Ok(Err(e))
                if e.kind()
                    == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
            {
                Ok(None)
            }
            Ok(Err(e)) => Err(ClusterError::with_source(
                ClusterErrorKind::Kv,
                format!("reading {what}"),
                e,
            )),
            Ok(Ok(m)) => {
                let gone = m
                    .headers
                    .get("KV-Operation")
                    .is_some_and(|v| v.as_str() != "PUT")
                    || m.headers.get("Nats-Marker-Reason").is_some();
                Ok((!gone).then_some(m))
            }
        }
    }

    /// Writes `claim` if the key does not exist.
    pub(crate) async fn create(&self, shard: ShardId, claim: &Claim) -> Result<Cas> {
        match tokio::time::timeout(self.timeout, self.store.create(key(shard), claim.encode()))
            .await
        {
            Ok(Ok(rev)) => Ok(Cas::Won(rev)),
            Ok(Err(e)) if is_already_exists(&e) => Ok(Cas::Lost),
            Ok(Err(e)) => Err(ClusterError::with_source(
                ClusterErrorKind::Kv,
                format!("creating the claim of shard {}", shard.0),
                e,
            )),
            Err(_) => Err(timed_out(shard)),
        }
    }

    /// Writes `claim` if the key is still at `revision`.
    pub(crate) async fn update(&self, shard: ShardId, claim: &Claim, revision: u64) -> Result<Cas> {
        match tokio::time::timeout(
            self.timeout,
            self.store.update(key(shard), claim.encode(), revision),
        )
        .await
        {
            Ok(Ok(rev)) => Ok(Cas::Won(rev)),
            Ok(Err(e)) if is_cas_failure(&e) => Ok(Cas::Lost),
            Ok(Err(e)) => Err(ClusterError::with_source(
                ClusterErrorKind::Kv,
                format!("updating the claim of shard {}", shard.0),
                e,
            )),
            Err(_) => Err(timed_out(shard)),
        }
    }
}

fn timed_out(shard: ShardId) -> ClusterError {
    ClusterError::new(
        ClusterErrorKind::Unavailable,
        format!(
            "writing the claim of shard {}: no answer (it may have been written)",
            shard.0
        ),
    )
}

/// Whether `me`, whose accepted map names it the shard's owner at `epoch`,
/// may claim the shard from `current` (`None`: the key is absent). A live
/// member that has not released keeps its shard; a member that is gone
/// (its lease expired, so it stopped serving first) loses it.
pub(crate) fn claimable(
    current: Option<&Claim>,
    me: &NodeId,
    epoch: u64,
    is_member: impl Fn(&NodeId) -> bool,
) -> bool {
    let Some(c) = current else {
        return true;
    };
    if c.epoch > epoch {
        // Written under a newer map than ours: wait until we have it.
        return false;
    }
    match c.phase {
        // Ours from an earlier life (a restart, a lapsed lease): nobody
        // else can have served it since without changing the key.
        Phase::Serving | Phase::Releasing if &c.owner == me => true,
        Phase::Serving | Phase::Releasing => !is_member(&c.owner),
        Phase::Released => true,
    }
}

/// Whether the claim as cached (`cached`, with its revision) shows that the
/// claim `me` took at `revision` was taken over: written since by someone
/// else, or by `me` in another phase (an operator, or a node that believes
/// `me` is gone).
pub(crate) fn taken_over(cached: Option<&Held>, revision: u64, me: &NodeId) -> bool {
    cached.is_some_and(|(c, rev)| *rev > revision && (&c.owner != me || c.phase != Phase::Serving))
}

/// Whether `held` (the claim as the bucket's leader has it) is still the
/// claim `me` serves under `token`: same revision, `me`'s, `Serving`.
pub(crate) fn still_ours(held: Option<&Held>, token: u64, me: &NodeId) -> bool {
    held.is_some_and(|(c, revision)| {
        *revision == token && c.phase == Phase::Serving && &c.owner == me
    })
}

/// The node a claim of `current` would be taken over from, if any: a
/// holder other than `me` that has not released (`claimable` let it go
/// because it looks gone, which must then be confirmed).
pub(crate) fn taken_from<'a>(current: Option<&'a Claim>, me: &NodeId) -> Option<&'a NodeId> {
    current
        .filter(|c| matches!(c.phase, Phase::Serving | Phase::Releasing) && &c.owner != me)
        .map(|c| &c.owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    #[test]
    fn a_live_holder_keeps_its_shard_and_a_gone_one_loses_it() {
        let me = n("b");
        let live = |x: &NodeId| x.as_str() == "a";
        let gone = |_: &NodeId| false;
        assert!(claimable(None, &me, 1, live));
        let serving_a = Claim::serving(n("a"), 3);
        assert!(!claimable(Some(&serving_a), &me, 4, live));
        assert!(claimable(Some(&serving_a), &me, 4, gone));
        let releasing = Claim {
            phase: Phase::Releasing,
            to: Some(me.clone()),
            ..serving_a.clone()
        };
        assert!(!claimable(Some(&releasing), &me, 4, live));
        assert!(claimable(Some(&releasing), &me, 4, gone));
        let released = Claim {
            phase: Phase::Released,
            ..releasing
        };
        assert!(claimable(Some(&released), &me, 4, live));
        assert!(
            !claimable(Some(&released), &me, 2, live),
            "a claim written under a newer map waits for that map"
        );
        assert!(claimable(
            Some(&Claim::serving(me.clone(), 3)),
            &me,
            4,
            live
        ));
    }

    #[test]
    fn taken_over_from_and_still_ours_read_the_claim_as_the_keeper_and_fence_do() {
        let (a, b) = (n("a"), n("b"));
        let mine = Claim::serving(a.clone(), 2);
        assert!(
            !taken_over(Some(&(mine.clone(), 5)), 5, &a),
            "our own write"
        );
        assert!(taken_over(Some(&(Claim::serving(b.clone(), 3), 6)), 5, &a));
        let releasing = Claim {
            phase: Phase::Releasing,
            to: Some(b.clone()),
            ..mine.clone()
        };
        assert!(
            taken_over(Some(&(releasing.clone(), 6)), 5, &a),
            "not serving"
        );
        assert!(!taken_over(None, 5, &a));
        assert!(still_ours(Some(&(mine.clone(), 5)), 5, &a));
        assert!(!still_ours(Some(&(mine.clone(), 6)), 5, &a), "rewritten");
        assert!(!still_ours(Some(&(releasing.clone(), 5)), 5, &a));
        assert!(!still_ours(None, 5, &a));
        assert_eq!(taken_from(Some(&mine), &b), Some(&a));
        assert_eq!(taken_from(Some(&releasing), &b), Some(&a));
        assert_eq!(taken_from(Some(&mine), &a), None, "our own");
        let released = Claim {
            phase: Phase::Released,
            ..releasing
        };
        assert_eq!(taken_from(Some(&released), &b), None, "released");
        assert_eq!(taken_from(None, &b), None);
    }

    /// A takeover's confirmation reads the member entry at the stream's
    /// leader: present while the node is a member, gone once it left.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn member_gone_reads_the_entry_at_the_leader() {
        let server = aether_testkit::NatsServer::start().await;
        let config = crate::ClusterConfig {
            cluster_name: "gone".into(),
            node: crate::NodeInfo::new(n("a")),
            ..crate::ClusterConfig::default()
        };
        let node = crate::node::ClusterNode::connect(server.url().as_str(), config)
            .await
            .unwrap();
        let claims = Claims::open(&node).await.unwrap();
        assert!(!claims.member_gone(&n("a")).await.unwrap(), "a member");
        assert!(claims.member_gone(&n("b")).await.unwrap(), "never was");
        node.shutdown().await.unwrap();
        assert!(claims.member_gone(&n("a")).await.unwrap(), "left");
    }

    #[test]
    fn claims_round_trip_and_garbage_is_none() {
        let c = Claim {
            owner: n("a"),
            epoch: 7,
            phase: Phase::Releasing,
            to: Some(n("b")),
        };
        assert_eq!(Claim::decode(&c.encode()), Some(c));
        assert_eq!(
            Claim::decode(br#"{"owner":"a","epoch":1,"phase":"serving"}"#).map(|c| c.phase),
            Some(Phase::Serving)
        );
        assert_eq!(Claim::decode(b"{nope"), None);
        assert_eq!(shard_of_key("s.17"), Some(ShardId(17)));
        assert_eq!(shard_of_key("x.17"), None);
    }
}

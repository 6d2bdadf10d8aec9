//! [`ClusterInspector`]: a view of a cluster's state in NATS KV, without
//! joining it — for operators and tools (the `aether` CLI). Its one write is
//! the operator's shard pins.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use futures::StreamExt;

use crate::election::{LEADER_KEY, LeaderInfo, observed};
use crate::error::{ClusterError, ClusterErrorKind, Result};
use crate::id::{NodeId, ShardId};
use crate::membership::NodeInfo;
use crate::pins::Pins;
use crate::runtime::claims::Claim;
use crate::shard_map::{SHARD_MAP_KEY, ShardMap};

/// A member as its KV entry shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberEntry {
    /// What the member announced.
    pub info: NodeInfo,
    /// The entry's KV revision (its incarnation).
    pub revision: u64,
    /// How long ago the member last renewed its lease (by the server's
    /// clock and this process's).
    pub renewed_ago: Duration,
    /// The member lease (the bucket's `max_age`): the entry expires this long
    /// after its last renewal.
    pub lease: Duration,
}

/// A shard's claim in the runtime's claims bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimEntry {
    /// The shard.
    pub shard: ShardId,
    /// The node that holds (or last held) it.
    pub holder: NodeId,
    /// `serving`, `releasing` or `released`.
    pub phase: String,
    /// The node a release hands the shard to, if any.
    pub to: Option<NodeId>,
    /// The shard-map epoch the claim was written under.
    pub epoch: u64,
    /// The KV revision: the claim token on the events its holder writes.
    pub revision: u64,
}

/// Reads a cluster's buckets (`<cluster>_members`, `_leader`, `_shards`,
/// `_claims`).
#[derive(Debug, Clone)]
pub struct ClusterInspector {
    name: String,
    members: kv::Store,
    leader: kv::Store,
    shards: kv::Store,
    /// `None` when the runtime never ran; an error opening it is kept for
    /// [`ClusterInspector::claims`] (the other views do not need it).
    claims: std::result::Result<Option<kv::Store>, ClusterError>,
    timeout: Duration,
}

fn kv_error(what: String, e: impl std::error::Error + Send + Sync + 'static) -> ClusterError {
    ClusterError::with_source(ClusterErrorKind::Kv, what, e)
}

impl ClusterInspector {
    /// Opens the buckets of cluster `name` on `client`.
    ///
    /// # Errors
    ///
    /// A cluster that never ran here (its members, leader or shards bucket
    /// does not exist) is [`ClusterErrorKind::NotFound`] naming the missing
    /// bucket; an invalid name is [`ClusterErrorKind::InvalidInput`]; a
    /// server that does not answer is [`ClusterErrorKind::Unavailable`];
    /// another failure to open a bucket is [`ClusterErrorKind::Kv`]. The
    /// claims bucket may be missing (the runtime never ran); a failure to
    /// open it is returned by [`ClusterInspector::claims`].
    pub async fn open(client: async_nats::Client, name: &str) -> Result<Self> {
        aether_core::validate_name("cluster name", name)
            .map_err(|e| ClusterError::new(ClusterErrorKind::InvalidInput, e.to_string()))?;
        let timeout = Duration::from_secs(5);
        let js = jetstream::ContextBuilder::new()
            .timeout(timeout)
            .build(client);
        let bucket = |suffix: &str| format!("{name}_{suffix}");
        let open = |b: String| {
            let js = js.clone();
            async move {
                match tokio::time::timeout(timeout, js.get_key_value(b.as_str())).await {
                    Ok(Ok(store)) => Ok(Some(store)),
                    Ok(Err(e)) if aether_nats::is_stream_not_found(&e) => Ok(None),
                    Ok(Err(e)) => {
                        let kind = if aether_nats::is_transient(&e) {
                            ClusterErrorKind::Unavailable
                        } else {
                            ClusterErrorKind::Kv
                        };
                        Err(ClusterError::with_source(
                            kind,
                            format!("opening bucket {b}"),
                            e,
                        ))
                    }
                    Err(_) => Err(ClusterError::new(
                        ClusterErrorKind::Unavailable,
                        format!("opening bucket {b} timed out"),
                    )),
                }
            }
        };
        let required = |b: String| {
            let open = &open;
            async move {
                open(b.clone()).await?.ok_or_else(|| {
                    ClusterError::new(
                        ClusterErrorKind::NotFound,
                        format!("no cluster {name:?} here: bucket {b} does not exist"),
                    )
                })
            }
        };
        Ok(Self {
            name: name.to_string(),
            members: required(bucket("members")).await?,
            leader: required(bucket("leader")).await?,
            shards: required(bucket("shards")).await?,
            claims: open(bucket("claims")).await,
            timeout,
        })
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members whose lease entries exist now, by id.
    pub async fn members(&self) -> Result<Vec<MemberEntry>> {
        let lease = self
            .members
            .status()
            .await
            .map_err(|e| kv_error("reading the members bucket".into(), e))?
            .max_age();
        let mut out = Vec::new();
        for key in keys(&self.members, self.timeout).await? {
            let Some(entry) = self.entry(&self.members, &key).await? else {
                continue;
            };
            let Ok(info) = crate::membership::kv::decode_info(&entry.value) else {
                continue;
            };
            let written = std::time::SystemTime::from(entry.created);
            out.push(MemberEntry {
                info,
                revision: entry.revision,
                renewed_ago: written.elapsed().unwrap_or_default(),
                lease,
            });
        }
        out.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        Ok(out)
    }

    /// The leader and its term, if one holds the lease.
    pub async fn leader(&self) -> Result<Option<LeaderInfo>> {
        Ok(self
            .entry(&self.leader, LEADER_KEY)
            .await?
            .as_ref()
            .and_then(observed))
    }

    /// The shard map in force, if one was published.
    pub async fn shard_map(&self) -> Result<Option<ShardMap>> {
        match self.entry(&self.shards, SHARD_MAP_KEY).await? {
            Some(entry) => Ok(Some(ShardMap::decode(&entry.value)?)),
            None => Ok(None),
        }
    }

    /// The runtime's shard claims, by shard (empty when the runtime never ran
    /// on this cluster).
    ///
    /// # Errors
    ///
    /// The claims bucket could not be opened (see [`ClusterInspector::open`])
    /// or read ([`ClusterErrorKind::Kv`], [`ClusterErrorKind::Unavailable`]).
    pub async fn claims(&self) -> Result<Vec<ClaimEntry>> {
        let Some(claims) = self.claims.as_ref().map_err(Clone::clone)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for key in keys(claims, self.timeout).await? {
            let Some(shard) = key.strip_prefix("s.").and_then(|n| n.parse().ok()) else {
                continue;
            };
            let Some(entry) = self.entry(claims, &key).await? else {
                continue;
            };
            let Some(claim) = Claim::decode(&entry.value) else {
                continue;
            };
            out.push(ClaimEntry {
                shard: ShardId(shard),
                holder: claim.owner,
                phase: claim.phase.name().to_string(),
                to: claim.to,
                epoch: claim.epoch,
                revision: entry.revision,
            });
        }
        out.sort_by_key(|c| c.shard);
        Ok(out)
    }

    /// The operator's shard pins.
    pub async fn pins(&self) -> Result<Pins> {
        Ok(crate::pins::read(&self.shards, self.timeout).await?.0)
    }

    /// Pins `shard` to `node` (the one write this type makes): the leader
    /// makes `node` the shard's primary in its next map (within a leader
    /// renewal) while `node` is a member, and the runtime moves the shard
    /// there as on a rebalance (`aether handoff`).
    pub async fn pin_shard(&self, shard: ShardId, node: &NodeId) -> Result<()> {
        let (mut pins, revision) = crate::pins::read(&self.shards, self.timeout).await?;
        pins.insert(shard.0, node.clone());
        crate::pins::write(&self.shards, &pins, revision).await
    }

    /// Removes the pin of `shard`; the strategy places it again.
    pub async fn unpin_shard(&self, shard: ShardId) -> Result<()> {
        let (mut pins, revision) = crate::pins::read(&self.shards, self.timeout).await?;
        if pins.remove(&shard.0).is_none() {
            return Ok(());
        }
        crate::pins::write(&self.shards, &pins, revision).await
    }

    async fn entry(&self, store: &kv::Store, key: &str) -> Result<Option<kv::Entry>> {
        let entry = tokio::time::timeout(self.timeout, store.entry(key))
            .await
            .map_err(|_| {
                ClusterError::new(
                    ClusterErrorKind::Unavailable,
                    format!("reading {key} timed out"),
                )
            })?
            .map_err(|e| kv_error(format!("reading {key}"), e))?;
        Ok(entry.filter(|e| e.operation == kv::Operation::Put))
    }
}

/// Every live key of `store`.
async fn keys(store: &kv::Store, timeout: Duration) -> Result<Vec<String>> {
    let listing = async {
        // An empty bucket lists no keys (not an error).
        let mut keys = store
            .keys()
            .await
            .map_err(|e| kv_error("listing keys".into(), e))?;
        let mut out = Vec::new();
        while let Some(k) = keys.next().await {
            out.push(k.map_err(|e| kv_error("listing keys".into(), e))?);
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, listing)
        .await
        .map_err(|_| ClusterError::new(ClusterErrorKind::Unavailable, "listing keys timed out"))?
}

//! [`ClusterNode`]: one member of an Aether cluster, with its background tasks.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aether_core::ActorId;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::ClusterConfig;
use crate::election::{Election, LeaderInfo, Leadership};
use crate::error::{ClusterError, ClusterErrorKind, Result};
use crate::id::{NodeId, ShardId};
use crate::membership::kv::{keep_lease, register};
use crate::membership::watcher::Watcher;
use crate::membership::{LeaseStatus, MemberView, MembershipEvents, NodeInfo};
use crate::nats::{context, open_bucket};
use crate::shard::shard_for_actor;
use crate::shard_map::{MapState, ShardMap, watch_maps};

/// A running cluster member.
///
/// [`ClusterNode::start`] registers the node in the membership bucket and
/// spawns four tasks: the member lease, the membership watcher (KV watch and
/// heartbeats), the shard-map watcher and the election (which, while this
/// node leads, plans and publishes shard maps).
///
/// **Contracts for the runtime built on top:**
/// - [`ClusterNode::owns`] is true only while the shard map names this node
///   primary **and** its member lease is valid on the local monotonic clock; it
///   turns false before any other node can be given the shard (the server only
///   expires the lease after the local deadline). Check it before acting as
///   owner, and fence writes with the event store's per-actor expected version.
/// - [`ClusterNode::leadership`] is `Some` only while the leader lease is
///   valid; carry its [`crate::Term`] in every leader decision.
/// - Shard maps only move forward: a node never goes back to an older epoch.
///
/// Stop with [`ClusterNode::shutdown`] (graceful: resigns leadership, deletes
/// the member entry so others see the leave at once). Dropping the node
/// starts the same graceful shutdown in the background. [`ClusterNode::abort`]
/// stops everything without leaving, like a crash.
#[derive(Debug)]
pub struct ClusterNode {
    id: NodeId,
    client: async_nats::Client,
    info: NodeInfo,
    config: ClusterConfig,
    lease: watch::Receiver<LeaseStatus>,
    view: watch::Receiver<Arc<MemberView>>,
    events: broadcast::Sender<crate::membership::MembershipEvent>,
    leadership: watch::Receiver<Option<Leadership>>,
    observed_leader: watch::Receiver<Option<LeaderInfo>>,
    maps: watch::Receiver<MapState>,
    shutdown: watch::Sender<bool>,
    /// Set once the node starts to leave gracefully.
    draining: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl ClusterNode {
    /// Dials `addrs` (a URL, several separated by commas, or a list; see
    /// [`aether_nats::ToServerAddrs`]) with `config.connect`, then
    /// [`ClusterNode::start`]s on that connection (named
    /// `aether-cluster-<node id>`).
    ///
    /// # Errors
    ///
    /// A [`ClusterError`] of kind:
    /// - [`ClusterErrorKind::InvalidConfig`]: `config` is out of range, the
    ///   addresses or the TLS settings are bad, or an existing lease bucket
    ///   expires entries sooner than this node's leases;
    /// - [`ClusterErrorKind::Unavailable`]: no server answered within
    ///   `config.connect.timeout`, or JetStream did not answer in time;
    /// - [`ClusterErrorKind::PermissionDenied`]: the server refused the
    ///   credentials or a permission the cluster needs (`docs/security.md`);
    /// - [`ClusterErrorKind::NodeIdTaken`]: a live node holds `config.node`'s
    ///   id;
    /// - [`ClusterErrorKind::Kv`]: the cluster's KV buckets could not be
    ///   created or read for another reason.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// use aether_cluster::{ClusterConfig, ClusterErrorKind, ClusterNode, NodeInfo};
    /// use aether_core::NodeId;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = ClusterConfig {
    ///     cluster_name: "shop".into(),
    ///     node: NodeInfo::new(NodeId::new("node-1")?),
    ///     ..ClusterConfig::default()
    /// }
    /// .with_lease(Duration::from_secs(5));
    /// let node = match ClusterNode::connect("nats://127.0.0.1:4222", config).await {
    ///     Ok(node) => node,
    ///     Err(e) if e.kind() == ClusterErrorKind::NodeIdTaken => {
    ///         return Err("node-1 runs elsewhere (or its crashed predecessor's lease has not expired)".into());
    ///     }
    ///     Err(e) => return Err(e.into()),
    /// };
    /// println!("node-1 joined; leader: {:?}", node.leader());
    /// node.shutdown().await?; // a graceful leave
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(
        addrs: impl aether_nats::ToServerAddrs,
        config: ClusterConfig,
    ) -> Result<Self> {
        config.validate()?;
        let name = format!("aether-cluster-{}", config.node.id);
        let client = aether_nats::connect_with::<ClusterErrorKind>(
            addrs,
            &config.connect,
            &name,
            async_nats::ConnectOptions::new(),
        )
        .await?;
        Self::start(client, config).await
    }

    /// Joins the cluster described by `config` as `config.node`, over
    /// `client`, and starts the node's background tasks.
    ///
    /// Creates the cluster's KV buckets if needed. Fails with
    /// [`ClusterErrorKind::NodeIdTaken`] if a live node holds the id, and with
    /// [`ClusterErrorKind::InvalidConfig`] if an existing lease bucket (made by
    /// a node with other settings) expires entries sooner than this node's
    /// membership or election lease.
    ///
    /// # Errors
    ///
    /// As [`ClusterNode::connect`], but for the dial.
    ///
    /// # Examples
    ///
    /// One connection for the node and an event store beside it:
    ///
    /// ```no_run
    /// use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo};
    /// use aether_core::NodeId;
    /// use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
    /// let events = JetStreamEventStore::open(client.clone(), JetStreamConfig::default()).await?;
    /// let config = ClusterConfig {
    ///     node: NodeInfo::new(NodeId::new("node-1")?),
    ///     ..ClusterConfig::default()
    /// };
    /// let node = ClusterNode::start(client, config).await?;
    /// println!("{} joined; events on {}", node.id(), events.stream_name());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(client: async_nats::Client, config: ClusterConfig) -> Result<Self> {
        config.validate()?;
        let mut info = config.node.clone();
        if info.address.is_empty() {
            info.address = format!("aether.cluster.{}.node.{}", config.cluster_name, info.id);
        }
        let strategy = config.shards.strategy.build(config.shards.virtual_nodes)?;
        let js = context(client.clone(), &config.kv);
        let members_store = open_bucket(
            &js,
            &config,
            config.members_bucket(),
            Some(config.membership.lease),
        )
        .await?;
        let leader_store = open_bucket(
            &js,
            &config,
            config.leader_bucket(),
            Some(config.election.lease),
        )
        .await?;
        let map_store = open_bucket(&js, &config, config.shards_bucket(), None).await?;

        let id = info.id.clone();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (view_tx, view) = watch::channel(Arc::new(MemberView::default()));
        let (events, _) = broadcast::channel(1024);
        let (maps_tx, maps) = watch::channel(MapState::default());
        let (leadership_tx, leadership) = watch::channel(None);
        let (observed_tx, observed_leader) = watch::channel(None);

        let mut tasks = Vec::new();
        // Watch first so our own join is observed like anyone else's.
        tasks.push(tokio::spawn(
            Watcher {
                client: client.clone(),
                store: members_store.clone(),
                config: config.clone(),
                me: id.clone(),
                view: view_tx,
                events: events.clone(),
                shutdown: shutdown_rx.clone(),
            }
            .run(),
        ));
        tasks.push(tokio::spawn(watch_maps(
            map_store.clone(),
            id.clone(),
            config.shards.shard_count,
            config.election.renew_interval,
            config.kv.request_timeout,
            maps_tx,
            shutdown_rx.clone(),
        )));
        let status = match register(&members_store, &config, &info).await {
            Ok(s) => s,
            Err(e) => {
                let _ = shutdown.send(true);
                for t in tasks {
                    t.abort();
                }
                return Err(e);
            }
        };
        let (lease_tx, lease) = watch::channel(status);
        let (draining, draining_rx) = watch::channel(false);
        tasks.push(tokio::spawn(keep_lease(
            client.clone(),
            members_store,
            config.clone(),
            info.clone(),
            lease_tx,
            shutdown_rx.clone(),
            draining_rx,
        )));
        tasks.push(tokio::spawn(
            Election {
                client: client.clone(),
                leader_store,
                map_store,
                config: config.clone(),
                me: id.clone(),
                strategy,
                leadership: leadership_tx,
                observed: observed_tx,
                members: view.clone(),
                maps: maps.clone(),
                shutdown: shutdown_rx,
            }
            .run(),
        ));
        tracing::info!(node = %id, cluster = %config.cluster_name, "cluster node started");
        Ok(Self {
            id,
            client,
            info,
            config,
            lease,
            view,
            events,
            leadership,
            observed_leader,
            maps,
            shutdown,
            draining,
            tasks: Mutex::new(tasks),
        })
    }

    /// This node's id.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// The NATS connection the node runs on.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// What this node announced (its id, address and metadata).
    pub fn info(&self) -> &NodeInfo {
        &self.info
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The members this node knows.
    pub fn members(&self) -> Arc<MemberView> {
        self.view.borrow().clone()
    }

    /// A receiver notified at every membership view change.
    pub fn watch_members(&self) -> watch::Receiver<Arc<MemberView>> {
        self.view.clone()
    }

    /// Subscribes to membership events from now on.
    pub fn subscribe(&self) -> MembershipEvents {
        MembershipEvents::new(self.events.subscribe())
    }

    /// This node's membership lease.
    pub fn lease(&self) -> LeaseStatus {
        *self.lease.borrow()
    }

    /// Notifications of this node's own lease (each renewal; it lapses on
    /// the local clock without one, see [`LeaseStatus::is_valid`]).
    pub fn watch_lease(&self) -> watch::Receiver<LeaseStatus> {
        self.lease.clone()
    }

    /// This node's leadership, if it leads **now** (lease checked at the call).
    pub fn leadership(&self) -> Option<Leadership> {
        (*self.leadership.borrow()).filter(Leadership::is_valid)
    }

    /// Whether this node leads now.
    pub fn is_leader(&self) -> bool {
        self.leadership().is_some()
    }

    /// A receiver notified when this node gains or loses leadership. (The
    /// value is `Some` from election to step-down; use
    /// [`Leadership::is_valid`] at the moment of acting.)
    pub fn watch_leadership(&self) -> watch::Receiver<Option<Leadership>> {
        self.leadership.clone()
    }

    /// The leader as last seen in the KV bucket (may be stale by the watch delay).
    pub fn leader(&self) -> Option<LeaderInfo> {
        self.observed_leader.borrow().clone()
    }

    /// The shard map in force on this node.
    pub fn shard_map(&self) -> Option<Arc<ShardMap>> {
        self.maps.borrow().accepted.clone()
    }

    /// A receiver notified when a shard map is accepted or rejected.
    pub fn watch_shard_map(&self) -> ShardMapWatch {
        ShardMapWatch {
            rx: self.maps.clone(),
        }
    }

    /// How many maps this node rejected for an older epoch or term.
    pub fn rejected_maps(&self) -> u64 {
        self.maps.borrow().rejected
    }

    /// The shard of `actor`.
    pub fn shard_for(&self, actor: &ActorId) -> ShardId {
        shard_for_actor(actor, self.config.shards.shard_count)
    }

    /// The node running `actor` per the map in force (`None` before the first map).
    pub fn place(&self, actor: &ActorId) -> Option<NodeId> {
        let map = self.shard_map()?;
        map.primary(self.shard_for(actor)).cloned()
    }

    /// Whether this node may act as owner of `shard` now (see the type docs).
    pub fn owns(&self, shard: ShardId) -> bool {
        self.lease().is_valid()
            && self
                .shard_map()
                .is_some_and(|m| m.primary(shard) == Some(&self.id))
    }

    /// The shards this node may act as owner of now (empty once its lease lapses).
    pub fn owned_shards(&self) -> Vec<ShardId> {
        if !self.lease().is_valid() {
            return Vec::new();
        }
        self.shard_map()
            .map(|m| m.assignment.primary_shards_of(&self.id))
            .unwrap_or_default()
    }

    /// Starts to leave gracefully: the member entry says the node is
    /// draining, so the leader's next maps place no shard on it (it keeps
    /// its lease, and its shards until the map moves them; an actor system
    /// hands them on warm). [`ClusterNode::shutdown`] leaves.
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Whether [`ClusterNode::drain`] was called.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Leaves gracefully: resigns leadership, deletes the member entry, stops
    /// the tasks. Waits at most `3 × kv.request_timeout + 500 ms` (a task may be in
    /// the middle of one KV request, then make its graceful one, on a loaded
    /// machine); tasks still running then are aborted and an error says so.
    pub async fn shutdown(&self) -> Result<()> {
        let _ = self.shutdown.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        let deadline = Instant::now()
            + self.config.kv.request_timeout.saturating_mul(3)
            + Duration::from_millis(500);
        let mut late = false;
        for mut t in tasks {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, &mut t).await.is_err() {
                t.abort();
                late = true;
            }
        }
        if late {
            return Err(ClusterError::new(
                ClusterErrorKind::Unavailable,
                "shutdown did not finish in time; tasks were aborted (entries expire with their leases)",
            ));
        }
        Ok(())
    }

    /// Stops every task at once **without** leaving: the member entry and any
    /// leader key stay until their leases expire, as after a crash. For tests
    /// and for processes that must stop immediately.
    pub fn abort(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        // Tasks still running see the signal and leave gracefully on their own.
        let _ = self.shutdown.send(true);
    }
}

/// Notifications of shard-map changes (see [`ClusterNode::watch_shard_map`]).
#[derive(Debug, Clone)]
pub struct ShardMapWatch {
    rx: watch::Receiver<MapState>,
}

impl ShardMapWatch {
    /// Waits for the next change; `Err` once the node is gone.
    pub async fn changed(&mut self) -> Result<Option<Arc<ShardMap>>> {
        self.rx
            .changed()
            .await
            .map_err(|_| ClusterError::new(ClusterErrorKind::Shutdown, "the node shut down"))?;
        Ok(self.rx.borrow_and_update().accepted.clone())
    }

    /// The map in force now.
    pub fn current(&self) -> Option<Arc<ShardMap>> {
        self.rx.borrow().accepted.clone()
    }

    /// Waits until the map in force satisfies `f`, returning it.
    pub async fn wait_for(
        &mut self,
        mut f: impl FnMut(&ShardMap) -> bool,
    ) -> Result<Arc<ShardMap>> {
        let state = self
            .rx
            .wait_for(|s| s.accepted.as_deref().is_some_and(&mut f))
            .await
            .map_err(|_| ClusterError::new(ClusterErrorKind::Shutdown, "the node shut down"))?;
        // `wait_for` only returns once `accepted` is `Some`.
        state
            .accepted
            .clone()
            .ok_or_else(|| ClusterError::new(ClusterErrorKind::Shutdown, "no shard map"))
    }
}

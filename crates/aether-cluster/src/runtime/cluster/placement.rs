//! The two placements over NATS: [`InCluster`], a cluster member that runs
//! the actors of the shards the map gives it and routes calls for the rest;
//! [`Remote`], a system that runs no actor and sends every call to the
//! cluster. Their builders register only [`Routable`] types, so a type that
//! cannot travel is refused when the program compiles.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use aether_core::BoxFuture;
use aether_core::aggregate::Aggregate;

use super::admin;
use super::batch_calls::{BatchCalls, calls_subject};
use super::batch_serve;
use super::claim_fence::ClaimFence;
use super::claims::Claims;
use super::config::RemoteConfig;
use super::gate::Gates;
use super::keeper::{Keeper, Released};
use super::nats_transport::NatsTransport;
use super::shard_server::ServeCtx;
use super::subject::Subjects;
use super::transfer::{self, Arrivals, handoff_subject};
use crate::id::ShardId;
use crate::node::ClusterNode;
use crate::runtime::builder::{ActorSystemBuilder, RunsActors, aggregate_def, routed, sealed};
use crate::runtime::codec::Routable;
use crate::runtime::config::{ActorConfig, RoutingConfig};
use crate::runtime::error::{RuntimeError, RuntimeErrorKind};
use crate::runtime::fence::Fence;
use crate::runtime::node::Node;
use crate::runtime::reach::Route;
use crate::runtime::stores::Stores;
use crate::runtime::system::{ActorSystem, Attached};

/// The placement of a cluster member (see [`ActorSystem::cluster`]).
#[derive(Debug)]
pub struct InCluster {
    node: Arc<ClusterNode>,
    routing: RoutingConfig,
}

/// The placement of a system that runs no actor (see
/// [`ActorSystem::remote`]).
#[derive(Debug)]
pub struct Remote {
    client: async_nats::Client,
    config: RemoteConfig,
    routing: RoutingConfig,
}

impl sealed::Sealed for InCluster {}
impl RunsActors for InCluster {}

impl ActorSystem {
    /// A builder of a cluster member's system: it runs the actors of the
    /// shards `node` is given (claiming each shard, serving its subject) and
    /// routes calls for every other actor to the node serving its shard.
    /// [`ActorSystem::shutdown`] hands the shards on and leaves the cluster.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_cluster::runtime::{ActorConfig, ActorSystem};
    /// use aether_cluster::{ClusterConfig, ClusterNode};
    /// use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
    /// # use aether_testkit::fixtures::Account;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let node = ClusterNode::connect("nats://127.0.0.1:4222", ClusterConfig::default()).await?;
    /// let events = JetStreamEventStore::open(node.client().clone(), JetStreamConfig::default()).await?;
    /// let system = ActorSystem::cluster(node)
    ///     .events(events)
    ///     .register::<Account>(ActorConfig::default()) // only `Routable` types compile here
    ///     .start()
    ///     .await?;
    /// let ada = system.actor::<Account>("ada")?; // wherever its shard is served
    /// # Ok(())
    /// # }
    /// ```
    pub fn cluster(node: impl Into<Arc<ClusterNode>>) -> ActorSystemBuilder<InCluster> {
        ActorSystemBuilder::new(InCluster {
            node: node.into(),
            routing: RoutingConfig::default(),
        })
    }

    /// A builder of a system that runs no actor: every call goes over
    /// `client` to the cluster `config` names (for services that call actors
    /// without being members). It takes no stores.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_cluster::runtime::{ActorConfig, ActorSystem, RemoteConfig};
    /// # use aether_testkit::fixtures::Account;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
    /// let callers = ActorSystem::remote(client, RemoteConfig::default())
    ///     .register::<Account>(ActorConfig::default()) // its deadline is the calls' default
    ///     .start()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn remote(client: async_nats::Client, config: RemoteConfig) -> ActorSystemBuilder<Remote> {
        ActorSystemBuilder::new(Remote {
            client,
            config,
            routing: RoutingConfig::default(),
        })
    }

    /// The cluster node this system serves shards for (`None` on one node
    /// and on a system built with [`ActorSystem::remote`]).
    pub fn cluster_node(&self) -> Option<&Arc<ClusterNode>> {
        self.member().map(|m| &m.node)
    }

    /// The shards this node serves now: it holds their claims, the map in
    /// force names it, and its lease is valid (empty outside a cluster).
    pub fn served_shards(&self) -> Vec<ShardId> {
        match self.member() {
            Some(m) => m
                .fence
                .served()
                .into_iter()
                .filter(|s| m.fence.check_shard(*s).is_some())
                .collect(),
            None => Vec::new(),
        }
    }

    fn member(&self) -> Option<&Member> {
        self.inner
            .attached
            .as_ref()
            .and_then(|a| a.as_any().downcast_ref::<Member>())
    }
}

impl ActorSystemBuilder<InCluster> {
    /// Runs aggregate type `A` with `config` on the shards this node is
    /// given; calls to its other actors go to their shards' nodes. Its
    /// commands, errors, queries and answers travel as JSON (see
    /// [`Routable`]).
    pub fn register<A: Routable + Aggregate>(self, config: ActorConfig) -> Self {
        self.add(A::TYPE, routed::<A>(aggregate_def::<A>(), config))
    }

    /// Runs the actor type that behaviour `B` defined by `def` makes (an
    /// executable model), as [`ActorSystemBuilder::register`] does an
    /// aggregate's. Types can be defined while the system runs too
    /// ([`ActorSystem::define`]).
    pub fn define<B: Routable>(self, def: B::Def, config: ActorConfig) -> Self {
        let name = B::name(&def).to_owned();
        self.add(&name, routed::<B>(Arc::new(def), config))
    }

    /// How routed calls retry and shards are handed on (default
    /// [`RoutingConfig::default`]).
    pub fn routing(mut self, config: RoutingConfig) -> Self {
        self.placement.routing = config;
        self
    }

    /// Checks the configuration, opens the claims bucket and starts claiming
    /// and serving the node's shards. Call it inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::InvalidConfig`] for a setting out of range or a
    /// missing event store; [`RuntimeErrorKind::NotRegistered`] when two
    /// types of one name were registered; [`RuntimeErrorKind::Unavailable`]
    /// when the claims bucket or the admin subject cannot be opened.
    pub async fn start(self) -> Result<ActorSystem, RuntimeError> {
        self.check()?;
        self.require_events()?;
        let InCluster { node, routing } = self.placement;
        routing.validate()?;
        let config = node.config();
        let subjects = Subjects::new(&config.cluster_name, config.shards.shard_count);
        let claims = Claims::open(&node).await?;
        let fence = Arc::new(ClaimFence::new(
            node.clone(),
            subjects.clone(),
            claims.clone(),
        ));
        let cluster = node.config().cluster_name.clone();
        let batch = if routing.batch_calls {
            let batch = BatchCalls::start(node.clone(), &cluster).await;
            Some(batch.map_err(|e| {
                RuntimeError::with_source(
                    RuntimeErrorKind::Unavailable,
                    "subscribing to the node's batch answers subject",
                    e,
                )
            })?)
        } else {
            None
        };
        let transport = NatsTransport {
            client: node.client().clone(),
            subjects,
            max_backoff: routing.max_backoff,
            gates: Gates::default(),
            batch,
        };
        let route = Arc::new(Route::new(
            Arc::new(transport),
            Some(fence.clone() as Arc<dyn Fence>),
            routing.clone(),
        ));
        let local = Arc::new(Node::new(self.config, Some(fence.clone())));
        let types = ActorSystemBuilder::<InCluster>::register_all(
            self.registrations,
            &self.stores,
            &local,
            Some(&route),
        )?;
        let ctx = Arc::new(ServeCtx {
            client: node.client().clone(),
            fence: fence.clone(),
        });
        // Every member takes batched calls, whatever its own `batch_calls`.
        let batches = batch_serve::start(
            calls_subject(&cluster, node.id()),
            ctx.clone(),
            types.clone(),
        )
        .await
        .map_err(|e| {
            RuntimeError::with_source(
                RuntimeErrorKind::Unavailable,
                "subscribing to the node's batch subject",
                e,
            )
        })?;
        let arrivals = Arc::new(Arrivals::default());
        let receiving = transfer::receive(
            node.client().clone(),
            handoff_subject(&node.config().cluster_name, node.id()),
            arrivals.clone(),
        )
        .await
        .map_err(|e| {
            RuntimeError::with_source(
                RuntimeErrorKind::Unavailable,
                "subscribing to the node's handoff subject",
                e,
            )
        })?;
        let keeper = Keeper::start(fence.clone(), claims, ctx, types.clone(), routing, arrivals);
        let admin = admin::start(
            node.client().clone(),
            admin::admin_subject(&node.config().cluster_name, node.id()),
            node.id().clone(),
            types.clone(),
        )
        .await
        .map_err(|e| {
            RuntimeError::with_source(
                RuntimeErrorKind::Unavailable,
                "subscribing to the node's admin subject",
                e,
            )
        })?;
        let member = Member {
            node,
            fence,
            keeper,
            admin,
            receiving,
            batches,
            released: Mutex::new(Released::default()),
        };
        Ok(ActorSystem::assemble(
            local,
            types,
            self.stores,
            Some(route),
            Some(Box::new(member)),
        ))
    }
}

impl ActorSystemBuilder<Remote> {
    /// Makes aggregate type `A` callable from this system; `config` only
    /// sets the calls' default deadline (this system runs no actor).
    pub fn register<A: Routable + Aggregate>(self, config: ActorConfig) -> Self {
        self.add(A::TYPE, routed::<A>(aggregate_def::<A>(), config))
    }

    /// Makes the actor type that behaviour `B` defined by `def` makes
    /// callable from this system (the definition gives its name; this
    /// system runs no actor).
    pub fn define<B: Routable>(self, def: B::Def, config: ActorConfig) -> Self {
        let name = B::name(&def).to_owned();
        self.add(&name, routed::<B>(Arc::new(def), config))
    }

    /// How routed calls retry (default [`RoutingConfig::default`]).
    pub fn routing(mut self, config: RoutingConfig) -> Self {
        self.placement.routing = config;
        self
    }

    /// Checks the configuration and starts the system (no I/O).
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::InvalidConfig`] for a setting out of range;
    /// [`RuntimeErrorKind::NotRegistered`] when two types of one name were
    /// registered.
    pub async fn start(self) -> Result<ActorSystem, RuntimeError> {
        self.check()?;
        let Remote {
            client,
            config,
            routing,
        } = self.placement;
        config.validate()?;
        routing.validate()?;
        let transport = NatsTransport {
            client,
            subjects: Subjects::new(&config.cluster_name, config.shard_count),
            max_backoff: routing.max_backoff,
            gates: Gates::default(),
            batch: None,
        };
        let route = Arc::new(Route::new(Arc::new(transport), None, routing));
        let local = Arc::new(Node::new(self.config, None));
        let types = ActorSystemBuilder::<Remote>::register_all(
            self.registrations,
            &Stores::default(),
            &local,
            Some(&route),
        )?;
        Ok(ActorSystem::assemble(
            local,
            types,
            Stores::default(),
            Some(route),
            None,
        ))
    }
}

/// A member's part of the system: the shard keeper, the admin endpoint and
/// the membership.
struct Member {
    node: Arc<ClusterNode>,
    fence: Arc<ClaimFence>,
    keeper: Keeper,
    /// Answers the node's admin subject (see `admin.rs`).
    admin: tokio::task::JoinHandle<()>,
    /// Takes the states of actors handed off to this node.
    receiving: tokio::task::JoinHandle<()>,
    /// Serves the calls batched to this node (`batch_serve.rs`).
    batches: tokio::task::JoinHandle<()>,
    /// The shards released at shutdown, still answering `not-owner` until
    /// their new owners serve them.
    released: Mutex<Released>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("node", self.node.id())
            .field("served", &self.fence.served().len())
            .finish()
    }
}

impl Member {
    /// Drains the node and waits (bounded) until a map without it moved its
    /// shards away and their handoffs finished. Nothing to wait for when no
    /// other member could take them.
    async fn hand_off_all(&self) {
        let node = &self.node;
        let others = node
            .members()
            .placeable()
            .into_iter()
            .any(|m| &m != node.id());
        if !others || self.fence.served().is_empty() {
            return;
        }
        let started = tokio::time::Instant::now();
        node.drain();
        let config = node.config();
        let limit = config.membership.lease.saturating_mul(2) + self.keeper.handoff_allowance();
        let until = started + limit;
        while tokio::time::Instant::now() < until {
            if self.fence.served().is_empty() && self.keeper.releases_done() {
                tracing::info!(took = ?started.elapsed(), "every shard handed on");
                metrics::histogram!("aether_runtime_drain_seconds")
                    .record(started.elapsed().as_secs_f64());
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tracing::warn!(
            left = self.fence.served().len(),
            "shards still served after the drain allowance; releasing them cold"
        );
    }
}

impl Attached for Member {
    fn release(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Drain first: the next map moves the shards away and the keeper
            // hands each on warm to its new owner, while the node keeps its
            // lease. Then release what is left (cold), so the new owners can
            // claim it as soon as this node has left.
            self.hand_off_all().await;
            let released = self.keeper.release_all().await;
            *self.released.lock().unwrap_or_else(PoisonError::into_inner) = released;
        })
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.admin.abort();
            self.receiving.abort();
            self.batches.abort();
            if let Err(e) = self.node.shutdown().await {
                tracing::warn!(error = %e, "leaving the cluster did not finish cleanly");
            }
            let released =
                std::mem::take(&mut *self.released.lock().unwrap_or_else(PoisonError::into_inner));
            self.keeper.retire_all(released).await;
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

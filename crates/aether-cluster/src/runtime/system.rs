//! [`ActorSystem`]: the registered actor types of one node, their stores and
//! the node's limits; hands out [`ActorRef`]s.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aether_core::aggregate::Aggregate;
use aether_core::{ActorId, DynEventStore, DynSnapshotStore, EventStore, SnapshotStore};
use dashmap::DashMap;

use super::actor_ref::ActorRef;
use super::cluster::{self, Codec, RemoteConfig, Routable, RoutingConfig, Serve};
use super::config::{ActorConfig, RuntimeConfig};
use super::error::{RuntimeError, RuntimeErrorKind};
use super::host::{Actors, Host, Node};
use crate::node::ClusterNode;

/// One registration, made when the system starts.
type Register =
    Box<dyn FnOnce(&Stores, &Arc<Node>, u32) -> Result<Registered, RuntimeError> + Send>;

struct Stores {
    events: Arc<dyn DynEventStore>,
    snapshots: Option<Arc<dyn DynSnapshotStore>>,
}

struct Registered {
    type_id: TypeId,
    name: &'static str,
    host: Arc<dyn Any + Send + Sync>,
    actors: Arc<dyn Actors>,
    /// The serving side of routed calls (`None`: registered for this node only).
    serve: Option<Arc<dyn Serve>>,
}

/// What routing a type takes: its codec, and how to make its serving side.
type RoutedParts<A> = (Arc<dyn Codec<A>>, fn(Arc<Host<A>>) -> Arc<dyn Serve>);

/// Where the system runs its actors.
enum Placement {
    /// All on this node.
    Local,
    /// The shards a cluster node is given; calls to other actors go to
    /// their shard's node.
    Cluster(Arc<ClusterNode>),
    /// Nowhere: every call goes to the cluster.
    Remote(async_nats::Client, RemoteConfig),
}

/// Builds an [`ActorSystem`]: the stores, the node's limits and the actor
/// types it runs.
#[must_use]
pub struct ActorSystemBuilder {
    events: Option<Arc<dyn DynEventStore>>,
    snapshots: Option<Arc<dyn DynSnapshotStore>>,
    config: RuntimeConfig,
    registrations: Vec<(TypeId, &'static str, Register)>,
    placement: Placement,
    routing: RoutingConfig,
}

impl fmt::Debug for ActorSystemBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorSystemBuilder")
            .field("config", &self.config)
            .field(
                "types",
                &self.registrations.iter().map(|r| r.1).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ActorSystemBuilder {
    /// The event store every actor's history lives in (required).
    pub fn events(mut self, store: impl EventStore + 'static) -> Self {
        self.events = Some(Arc::new(store));
        self
    }

    /// The snapshot store (optional: without one, every activation replays
    /// the whole history).
    pub fn snapshots(mut self, store: impl SnapshotStore + 'static) -> Self {
        self.snapshots = Some(Arc::new(store));
        self
    }

    /// The node's limits (default [`RuntimeConfig::default`]).
    pub fn config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs the actors of the shards `node` is given, and routes calls for
    /// every other actor to the node serving its shard (see the
    /// [module docs](super#in-a-cluster)). Every type must then be
    /// registered with [`ActorSystemBuilder::register_routed`].
    /// [`ActorSystem::shutdown`] hands the shards on and leaves the cluster.
    pub fn cluster(mut self, node: impl Into<Arc<ClusterNode>>) -> Self {
        self.placement = Placement::Cluster(node.into());
        self
    }

    /// Runs no actor here: every call goes over `client` to the cluster
    /// `config` names (for services that call actors without being members).
    /// Needs no stores. Types are registered with
    /// [`ActorSystemBuilder::register_routed`] (their configs only set the
    /// default deadline).
    pub fn remote(mut self, client: async_nats::Client, config: RemoteConfig) -> Self {
        self.placement = Placement::Remote(client, config);
        self
    }

    /// How routed calls retry and shards are handed on (default
    /// [`RoutingConfig::default`]).
    pub fn routing(mut self, config: RoutingConfig) -> Self {
        self.routing = config;
        self
    }

    /// Runs aggregate type `A` with `config`, on this node only. Ids given
    /// to [`ActorSystem::get`] for it must have `A::TYPE` as their actor
    /// type.
    pub fn register<A: Aggregate>(self, config: ActorConfig) -> Self {
        self.add::<A>(config, None)
    }

    /// Runs aggregate type `A` with `config`, callable across nodes: its
    /// commands, errors, queries and answers travel as JSON (see
    /// [`Routable`]). On a system of one node it is the same as
    /// [`ActorSystemBuilder::register`].
    pub fn register_routed<A: Routable>(self, config: ActorConfig) -> Self {
        let codec: Arc<dyn Codec<A>> = Arc::new(cluster::Json);
        self.add::<A>(config, Some((codec, serve::<A>)))
    }

    fn add<A: Aggregate>(mut self, config: ActorConfig, routed: Option<RoutedParts<A>>) -> Self {
        let register: Register = Box::new(move |stores, node, index| {
            config.validate()?;
            let snapshot_policy = config.snapshot_policy.unwrap_or_else(A::snapshot_policy);
            let upcasters = config.upcasters.clone();
            let host = Arc::new(Host::<A> {
                type_index: index,
                config,
                snapshot_policy,
                upcasters,
                store: stores.events.clone(),
                snapshots: stores.snapshots.clone(),
                slots: DashMap::new(),
                node: node.clone(),
                codec: routed.as_ref().map(|(c, _)| c.clone()),
            });
            Ok(Registered {
                type_id: TypeId::of::<A>(),
                name: A::TYPE,
                serve: routed.map(|(_, serve)| serve(host.clone())),
                actors: host.clone(),
                host,
            })
        });
        self.registrations
            .push((TypeId::of::<A>(), A::TYPE, register));
        self
    }

    /// Checks the configuration and starts the system (no I/O on one node:
    /// actors load when their first message arrives; in a cluster, opens
    /// the claims bucket and starts claiming the node's shards). Call it
    /// inside a tokio runtime.
    pub async fn start(self) -> Result<ActorSystem, RuntimeError> {
        self.config.validate()?;
        self.routing.validate()?;
        if self.registrations.is_empty() {
            return Err(RuntimeError::new(
                RuntimeErrorKind::NotRegistered,
                "no actor type registered: call ActorSystemBuilder::register",
            ));
        }
        let events = match (&self.placement, self.events) {
            (_, Some(e)) => e,
            (Placement::Remote(..), None) => Arc::new(cluster::Unhosted) as Arc<dyn DynEventStore>,
            (_, None) => {
                return Err(RuntimeError::new(
                    RuntimeErrorKind::InvalidConfig,
                    "an actor system needs an event store: call ActorSystemBuilder::events",
                ));
            }
        };
        let stores = Stores {
            events,
            snapshots: self.snapshots,
        };
        let (routing, claims) = match &self.placement {
            Placement::Local => (None, None),
            Placement::Remote(client, config) => {
                config.validate()?;
                let routing = cluster::Routing {
                    client: client.clone(),
                    subjects: cluster::Subjects::new(&config.cluster_name, config.shard_count),
                    config: self.routing.clone(),
                    fence: None,
                    gates: cluster::Gates::default(),
                };
                (Some(Arc::new(routing)), None)
            }
            Placement::Cluster(node) => {
                let config = node.config();
                let subjects =
                    cluster::Subjects::new(&config.cluster_name, config.shards.shard_count);
                let claims = cluster::open_claims(node).await?;
                let fence = Arc::new(cluster::Fence::new(
                    node.clone(),
                    subjects.clone(),
                    claims.clone(),
                ));
                let routing = cluster::Routing {
                    client: node.client().clone(),
                    subjects,
                    config: self.routing.clone(),
                    fence: Some(fence),
                    gates: cluster::Gates::default(),
                };
                (Some(Arc::new(routing)), Some(claims))
            }
        };
        let node = Arc::new(Node::new(self.config, routing.clone()));
        let mut types = HashMap::new();
        for (i, (type_id, name, register)) in self.registrations.into_iter().enumerate() {
            if types.contains_key(&type_id) {
                return Err(RuntimeError::new(
                    RuntimeErrorKind::NotRegistered,
                    format!("aggregate type {name:?} is registered twice"),
                ));
            }
            let index = u32::try_from(i).map_err(|_| {
                RuntimeError::new(RuntimeErrorKind::InvalidConfig, "too many actor types")
            })?;
            let registered = register(&stores, &node, index)?;
            if routing.is_some() && registered.serve.is_none() {
                return Err(RuntimeError::new(
                    RuntimeErrorKind::NotRegistered,
                    format!(
                        "aggregate type {name:?} is registered with `register`: a system in a \
                         cluster registers every type with `register_routed`"
                    ),
                ));
            }
            types.insert(registered.type_id, registered);
        }
        let cluster = match (&self.placement, routing, claims) {
            (Placement::Cluster(cluster_node), Some(routing), Some(claims)) => {
                let fence = routing.fence.clone().ok_or_else(|| {
                    RuntimeError::new(
                        RuntimeErrorKind::InvalidConfig,
                        "a cluster node needs a fence",
                    )
                })?;
                let handlers: cluster::Handlers = types
                    .values()
                    .filter_map(|r| r.serve.clone().map(|s| (r.name, s)))
                    .collect();
                let ctx = Arc::new(cluster::ServeCtx {
                    client: routing.client.clone(),
                    fence: fence.clone(),
                });
                let keeper = cluster::Keeper::start(
                    fence,
                    claims,
                    ctx,
                    Arc::new(handlers),
                    types.values().map(|r| r.actors.clone()).collect(),
                    routing.config.clone(),
                );
                let admin = cluster::admin::start(
                    routing.client.clone(),
                    cluster::admin::admin_subject(
                        &cluster_node.config().cluster_name,
                        cluster_node.id(),
                    ),
                    cluster_node.id().clone(),
                    types.values().map(|r| (r.name, r.actors.clone())).collect(),
                )
                .await
                .map_err(|e| {
                    RuntimeError::with_source(
                        RuntimeErrorKind::Unavailable,
                        "subscribing to the node's admin subject",
                        e,
                    )
                })?;
                Some(Cluster {
                    node: cluster_node.clone(),
                    keeper,
                    admin,
                })
            }
            _ => None,
        };
        tracing::info!(
            types = ?types.values().map(|r| r.name).collect::<Vec<_>>(),
            cluster = cluster.is_some(),
            "actor system started"
        );
        Ok(ActorSystem {
            inner: Arc::new(Inner {
                node,
                types,
                cluster,
            }),
        })
    }
}

/// The serving side of a routed type.
fn serve<A: Routable>(host: Arc<Host<A>>) -> Arc<dyn Serve> {
    Arc::new(cluster::Served { host })
}

/// A system's part in a cluster.
struct Cluster {
    node: Arc<ClusterNode>,
    keeper: cluster::Keeper,
    /// Answers the node's admin subject (see `cluster::admin`).
    admin: tokio::task::JoinHandle<()>,
}

struct Inner {
    node: Arc<Node>,
    types: HashMap<TypeId, Registered>,
    cluster: Option<Cluster>,
}

/// The actor runtime of one node: activates actors on their first message,
/// runs their commands in turns (group commit), passivates them when idle or
/// over the node's limit, and shuts down gracefully.
///
/// Cheap to clone; clones share the system.
///
/// ```
/// use aether_cluster::runtime::{ActorConfig, ActorSystem};
/// use aether_core::ActorId;
/// use aether_store_memory::InMemoryEventStore;
/// use aether_testkit::fixtures::{Account, deposit, open};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let system = ActorSystem::builder()
///     .events(InMemoryEventStore::new())
///     .register::<Account>(ActorConfig::default())
///     .start()
///     .await?;
/// let ada = system.get::<Account>(ActorId::new("account-ada")?)?;
/// ada.ask(open("Ada")).await?;
/// let done = ada.ask(deposit(100)).await?;
/// assert_eq!(done.version, 2);
/// system.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ActorSystem {
    inner: Arc<Inner>,
}

impl fmt::Debug for ActorSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorSystem")
            .field(
                "types",
                &self
                    .inner
                    .types
                    .values()
                    .map(|r| r.name)
                    .collect::<Vec<_>>(),
            )
            .field("active", &self.active_actors())
            .finish()
    }
}

impl ActorSystem {
    /// A builder.
    pub fn builder() -> ActorSystemBuilder {
        ActorSystemBuilder {
            events: None,
            snapshots: None,
            config: RuntimeConfig::default(),
            registrations: Vec::new(),
            placement: Placement::Local,
            routing: RoutingConfig::default(),
        }
    }

    /// The handle to actor `id` of type `A` (no I/O). Fails if `A` is not
    /// registered or `id`'s actor type is not `A::TYPE` (use an id like
    /// `account-42`, or [`ActorId::with_type`]).
    pub fn get<A: Aggregate>(&self, id: ActorId) -> Result<ActorRef<A>, RuntimeError> {
        let registered = self.inner.types.get(&TypeId::of::<A>()).ok_or_else(|| {
            RuntimeError::new(
                RuntimeErrorKind::NotRegistered,
                format!(
                    "aggregate type {:?} is not registered with this system",
                    A::TYPE
                ),
            )
        })?;
        if id.actor_type() != A::TYPE {
            return Err(RuntimeError::new(
                RuntimeErrorKind::InvalidInput,
                format!(
                    "actor id {:?} has actor type {:?}, not {:?}: use an id like \"{}-...\" or \
                     ActorId::with_type({:?}, ..)",
                    id.as_str(),
                    id.actor_type(),
                    A::TYPE,
                    A::TYPE,
                    A::TYPE
                ),
            ));
        }
        let host = registered.host.clone().downcast::<Host<A>>().map_err(|_| {
            RuntimeError::new(RuntimeErrorKind::NotRegistered, "registration mismatch")
        })?;
        Ok(ActorRef { host, id })
    }

    /// The cluster node this system serves shards for (`None` on one node
    /// and on a system built with `remote`).
    pub fn cluster_node(&self) -> Option<&Arc<ClusterNode>> {
        self.inner.cluster.as_ref().map(|c| &c.node)
    }

    /// The shards this node serves now: it holds their claims, the map in
    /// force names it, and its lease is valid (empty outside a cluster).
    pub fn served_shards(&self) -> Vec<crate::ShardId> {
        match self
            .inner
            .node
            .routing
            .as_ref()
            .and_then(|r| r.fence.as_ref())
        {
            Some(f) => f
                .served()
                .into_iter()
                .filter(|s| f.check_shard(*s).is_some())
                .collect(),
            None => Vec::new(),
        }
    }

    /// The ids of the actors active on this node now, over all types.
    pub fn active_actor_ids(&self) -> Vec<ActorId> {
        self.inner
            .types
            .values()
            .flat_map(|r| r.actors.ids())
            .collect()
    }

    /// Asks actor `id` to passivate once its mailbox is empty, whatever its
    /// type; `false` when it is not active on this node.
    pub fn passivate(&self, id: &ActorId) -> bool {
        super::host::passivate_in(self.inner.types.values().map(|r| (r.name, &r.actors)), id)
    }

    /// Actors active on this node now, over all types.
    pub fn active_actors(&self) -> usize {
        self.inner.types.values().map(|r| r.actors.active()).sum()
    }

    /// Actor tasks running on this node now (active actors, and those still
    /// finishing a passivation).
    pub fn running_tasks(&self) -> usize {
        self.inner.node.tasks.load(Ordering::Acquire)
    }

    /// Whether [`ActorSystem::shutdown`] has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.node.is_shutting_down()
    }

    /// Shuts down gracefully: stops admitting messages (new calls get
    /// `ShuttingDown`, handing the command back), lets every actor finish its
    /// turn, answers every queued command with `ShuttingDown` (not applied),
    /// snapshots per the passivation rule, and returns once every actor has
    /// stopped, or with an error after `shutdown_timeout`.
    pub async fn shutdown(&self) -> Result<(), RuntimeError> {
        // In a cluster: hand the shards on first (drained, released), so
        // their new owners can claim them as soon as this node has left.
        let released = match &self.inner.cluster {
            Some(c) => c.keeper.release_all().await,
            None => Vec::new(),
        };
        let stopped = self.stop_actors().await;
        if let Some(c) = &self.inner.cluster {
            c.admin.abort();
            if let Err(e) = c.node.shutdown().await {
                tracing::warn!(error = %e, "leaving the cluster did not finish cleanly");
            }
            c.keeper.retire_all(released).await;
        }
        stopped
    }

    async fn stop_actors(&self) -> Result<(), RuntimeError> {
        let node = &self.inner.node;
        node.shutting_down.store(true, Ordering::Release);
        let _ = node.shutdown.send(true);
        let all_done = async {
            loop {
                let notified = node.tasks_done.notified();
                if node.tasks.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        match tokio::time::timeout(node.config.shutdown_timeout, all_done).await {
            Ok(()) => {
                tracing::info!("actor system stopped");
                Ok(())
            }
            Err(_) => Err(RuntimeError::new(
                RuntimeErrorKind::Timeout,
                format!(
                    "{} actor(s) still running after {:?}",
                    node.tasks.load(Ordering::Acquire),
                    node.config.shutdown_timeout
                ),
            )),
        }
    }
}

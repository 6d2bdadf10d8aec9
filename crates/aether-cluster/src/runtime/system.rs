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
use super::config::{ActorConfig, RuntimeConfig};
use super::error::{RuntimeError, RuntimeErrorKind};
use super::host::{Host, Node};

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
    active: Box<dyn Fn() -> usize + Send + Sync>,
}

/// Builds an [`ActorSystem`]: the stores, the node's limits and the actor
/// types it runs.
#[must_use]
pub struct ActorSystemBuilder {
    events: Option<Arc<dyn DynEventStore>>,
    snapshots: Option<Arc<dyn DynSnapshotStore>>,
    config: RuntimeConfig,
    registrations: Vec<(TypeId, &'static str, Register)>,
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

    /// Runs aggregate type `A` with `config`. Ids given to
    /// [`ActorSystem::get`] for it must have `A::TYPE` as their actor type.
    pub fn register<A: Aggregate>(mut self, config: ActorConfig) -> Self {
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
            });
            let counted = host.clone();
            Ok(Registered {
                type_id: TypeId::of::<A>(),
                name: A::TYPE,
                host,
                active: Box::new(move || counted.slots.len()),
            })
        });
        self.registrations
            .push((TypeId::of::<A>(), A::TYPE, register));
        self
    }

    /// Checks the configuration and starts the system (no I/O: actors load
    /// when their first message arrives). Call it inside a tokio runtime.
    pub async fn start(self) -> Result<ActorSystem, RuntimeError> {
        self.config.validate()?;
        let events = self.events.ok_or_else(|| {
            RuntimeError::new(
                RuntimeErrorKind::InvalidConfig,
                "an actor system needs an event store: call ActorSystemBuilder::events",
            )
        })?;
        if self.registrations.is_empty() {
            return Err(RuntimeError::new(
                RuntimeErrorKind::NotRegistered,
                "no actor type registered: call ActorSystemBuilder::register",
            ));
        }
        let stores = Stores {
            events,
            snapshots: self.snapshots,
        };
        let node = Arc::new(Node::new(self.config));
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
            types.insert(registered.type_id, registered);
        }
        tracing::info!(
            types = ?types.values().map(|r| r.name).collect::<Vec<_>>(),
            "actor system started"
        );
        Ok(ActorSystem {
            inner: Arc::new(Inner { node, types }),
        })
    }
}

struct Inner {
    node: Arc<Node>,
    types: HashMap<TypeId, Registered>,
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

    /// Actors active on this node now, over all types.
    pub fn active_actors(&self) -> usize {
        self.inner.types.values().map(|r| (r.active)()).sum()
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

//! [`ActorSystem`]: the registered actor types of one node, their stores and
//! the node's limits; hands out [`ActorRef`]s and shuts down gracefully.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use aether_core::aggregate::Aggregate;
use aether_core::{ActorId, BoxFuture};

use super::actor_ref::ActorRef;
use super::error::{RuntimeError, RuntimeErrorKind};
use super::host::{Actors, passivate_in};
use super::node::Node;
use super::reach::Entry;
use super::serve::Serve;

/// One registered type, as the running system holds it.
pub(crate) struct Registered {
    pub(crate) name: &'static str,
    /// The `Arc<Entry<A>>` handles are made from.
    pub(crate) entry: Arc<dyn Any + Send + Sync>,
    /// The type's active actors on this node (`None`: it runs none here).
    pub(crate) actors: Option<Arc<dyn Actors>>,
    /// How long its actors stay active without a message.
    pub(crate) idle: Duration,
    /// The serving side of routed calls (`None` on one node, and where the
    /// type runs no actor).
    pub(crate) serve: Option<Arc<dyn Serve>>,
}

/// Every `period`: moves the node's coarse time on and passivates the actors
/// idle for longer than their type's `passivation.idle` (the actors of a
/// type have no timers of their own). Ends with the system.
async fn sweep(node: Weak<Node>, hosted: Vec<(Weak<dyn Actors>, Duration)>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(node) = node.upgrade() else {
            return;
        };
        if node.is_shutting_down() {
            return;
        }
        let now = node.advance();
        for (actors, _) in &hosted {
            if let Some(actors) = actors.upgrade() {
                actors.sweep(now);
            }
        }
    }
}

/// What a placement runs beside the actors (a cluster member's shard
/// keeper, admin endpoint and membership), as the system's shutdown sees it.
pub(crate) trait Attached: Send + Sync + fmt::Debug {
    /// Before the actors stop: hand the node's actors on (a cluster member
    /// releases its shards, drained, so their new owners can claim them).
    fn release(&self) -> BoxFuture<'_, ()>;

    /// After the actors stopped: leave, and end what is left.
    fn finish(&self) -> BoxFuture<'_, ()>;

    /// For the placement's own accessors.
    fn as_any(&self) -> &dyn Any;
}

pub(crate) struct Inner {
    pub(crate) node: Arc<Node>,
    pub(crate) types: HashMap<TypeId, Registered>,
    pub(crate) attached: Option<Box<dyn Attached>>,
}

/// The actor runtime of one node: activates actors on their first message,
/// runs their commands in turns (group commit), passivates them when idle or
/// over the node's limit, and shuts down gracefully.
///
/// Cheap to clone; clones share the system. Built with
/// [`ActorSystem::builder`] (every actor on this node), or, with the `nats`
/// feature, `ActorSystem::cluster` (a cluster member) and
/// `ActorSystem::remote` (a caller that runs no actor).
///
/// # Examples
///
/// ```
/// use aether_cluster::runtime::{ActorConfig, ActorSystem};
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
/// let ada = system.actor::<Account>("ada")?; // the actor `account-ada`
/// ada.ask(open("Ada")).await?;
/// let done = ada.ask(deposit(100)).await?;
/// assert_eq!(done.version, 2);
/// system.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ActorSystem {
    pub(crate) inner: Arc<Inner>,
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
    pub(crate) fn assemble(
        node: Arc<Node>,
        types: HashMap<TypeId, Registered>,
        attached: Option<Box<dyn Attached>>,
    ) -> Self {
        tracing::info!(
            types = ?types.values().map(|r| r.name).collect::<Vec<_>>(),
            attached = attached.is_some(),
            "actor system started"
        );
        let hosted: Vec<(Weak<dyn Actors>, Duration)> = types
            .values()
            .filter_map(|r| r.actors.as_ref().map(|a| (Arc::downgrade(a), r.idle)))
            .collect();
        if let Some(period) = hosted.iter().map(|(_, idle)| *idle / 4).min() {
            let period = period.clamp(Duration::from_millis(5), Duration::from_secs(1));
            tokio::spawn(sweep(Arc::downgrade(&node), hosted, period));
        }
        Self {
            inner: Arc::new(Inner {
                node,
                types,
                attached,
            }),
        }
    }

    /// The handle to actor `id` of type `A` (no I/O).
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::NotRegistered`] if `A` is not registered;
    /// [`RuntimeErrorKind::InvalidInput`] if `id`'s actor type is not
    /// `A::TYPE` (use an id like `account-42`, [`ActorId::with_type`], or
    /// [`ActorSystem::actor`]).
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
                    "actor id {:?} has actor type {:?}, not {:?}: use an id like \"{}-...\", \
                     ActorId::with_type({:?}, ..), or ActorSystem::actor",
                    id.as_str(),
                    id.actor_type(),
                    A::TYPE,
                    A::TYPE,
                    A::TYPE
                ),
            ));
        }
        let entry = registered
            .entry
            .clone()
            .downcast::<Entry<A>>()
            .map_err(|_| {
                RuntimeError::new(RuntimeErrorKind::NotRegistered, "registration mismatch")
            })?;
        Ok(ActorRef { entry, id })
    }

    /// The handle to the actor of type `A` with `key`: the actor
    /// `<A::TYPE>-<key>` (no I/O). `system.actor::<Account>("ada")` is
    /// `system.get::<Account>(ActorId::new("account-ada")?)`.
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::NotRegistered`] if `A` is not registered;
    /// [`RuntimeErrorKind::InvalidInput`] if the id is not valid (empty key,
    /// too long, NUL).
    ///
    /// # Examples
    ///
    /// ```
    /// # use aether_cluster::runtime::{ActorConfig, ActorSystem};
    /// # use aether_store_memory::InMemoryEventStore;
    /// # use aether_testkit::fixtures::Account;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// # let system = ActorSystem::builder().events(InMemoryEventStore::new())
    /// #     .register::<Account>(ActorConfig::default()).start().await?;
    /// let ada = system.actor::<Account>("ada")?;
    /// assert_eq!(ada.id().as_str(), "account-ada");
    /// # Ok(())
    /// # }
    /// ```
    pub fn actor<A: Aggregate>(&self, key: impl fmt::Display) -> Result<ActorRef<A>, RuntimeError> {
        let key = key.to_string();
        if key.is_empty() {
            return Err(RuntimeError::new(
                RuntimeErrorKind::InvalidInput,
                format!("an empty key names no {} actor", A::TYPE),
            ));
        }
        let id = ActorId::with_type(A::TYPE, format!("{}-{key}", A::TYPE))
            .map_err(|e| RuntimeError::new(RuntimeErrorKind::InvalidInput, e.message()))?;
        self.get(id)
    }

    /// The ids of the actors active on this node now, over all types.
    pub fn active_actor_ids(&self) -> Vec<ActorId> {
        self.actors().flat_map(|(_, a)| a.ids()).collect()
    }

    /// Asks actor `id` to passivate once its mailbox is empty, whatever its
    /// type; `false` when it is not active on this node.
    pub fn passivate(&self, id: &ActorId) -> bool {
        passivate_in(self.actors(), id)
    }

    /// Actors active on this node now, over all types.
    pub fn active_actors(&self) -> usize {
        self.actors().map(|(_, a)| a.active()).sum()
    }

    fn actors(&self) -> impl Iterator<Item = (&'static str, &Arc<dyn Actors>)> {
        self.inner
            .types
            .values()
            .filter_map(|r| r.actors.as_ref().map(|a| (r.name, a)))
    }

    /// Activations on this node now: active actors, and those still
    /// finishing a passivation. An active actor has no task of its own
    /// unless messages are queued for it.
    pub fn running_tasks(&self) -> usize {
        self.inner.node.active()
    }

    /// Whether [`ActorSystem::shutdown`] has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.node.is_shutting_down()
    }

    /// Shuts down gracefully: in a cluster, hands the node's shards on
    /// first; stops admitting messages (new calls get `ShuttingDown`,
    /// handing the command back), lets every actor finish its turn, answers
    /// every queued command with `ShuttingDown` (not applied), snapshots per
    /// the passivation rule, and returns once every actor has stopped.
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::Timeout`] when actors are still running after
    /// [`super::RuntimeConfig::shutdown_timeout`].
    pub async fn shutdown(&self) -> Result<(), RuntimeError> {
        if let Some(a) = &self.inner.attached {
            a.release().await;
        }
        let stopped = self.stop_actors().await;
        if let Some(a) = &self.inner.attached {
            a.finish().await;
        }
        stopped
    }

    async fn stop_actors(&self) -> Result<(), RuntimeError> {
        let node = &self.inner.node;
        node.begin_shutdown();
        for (_, actors) in self.actors() {
            actors.stop_all();
        }
        if node.all_gone(node.config.shutdown_timeout).await {
            tracing::info!("actor system stopped");
            return Ok(());
        }
        Err(RuntimeError::new(
            RuntimeErrorKind::Timeout,
            format!(
                "{} actor(s) still running after {:?}",
                node.active(),
                node.config.shutdown_timeout
            ),
        ))
    }
}

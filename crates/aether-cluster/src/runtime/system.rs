//! [`ActorSystem`]: the registered actor types of one node, their stores and
//! the node's limits; hands out [`ActorRef`]s and shuts down gracefully.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use aether_core::aggregate::{Aggregate, Behavior};
use aether_core::{ActorId, BoxFuture};

use super::actor_ref::ActorRef;
use super::error::{RuntimeError, RuntimeErrorKind};
use super::host::{Actors, passivate_in};
use super::node::Node;
use super::reach::{Entry, Route};
use super::registry::Registry;
use super::stores::Stores;

/// Every quarter of the shortest `passivation.idle` of the types (5 ms to
/// 1 s): moves the node's coarse time on and passivates the actors idle for
/// longer than their type's `passivation.idle` (the actors of a type have no
/// timers of their own). Reads the registry each time, so types added later
/// are swept too. Ends with the system.
async fn sweep(node: Weak<Node>, types: Weak<Registry>) {
    loop {
        let Some(period) = types
            .upgrade()
            .and_then(|t| t.actors().iter().map(|(_, _, idle)| *idle / 4).min())
        else {
            return;
        };
        tokio::time::sleep(period.clamp(Duration::from_millis(5), Duration::from_secs(1))).await;
        let (Some(node), Some(types)) = (node.upgrade(), types.upgrade()) else {
            return;
        };
        if node.is_shutting_down() {
            return;
        }
        let now = node.advance();
        for (_, actors, _) in types.actors() {
            actors.sweep(now);
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
    pub(crate) types: Arc<Registry>,
    /// What registering a type while the system runs needs.
    pub(crate) stores: Stores,
    pub(crate) route: Option<Arc<Route>>,
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
            .field("types", &self.inner.types.names())
            .field("active", &self.active_actors())
            .finish()
    }
}

impl ActorSystem {
    pub(crate) fn assemble(
        node: Arc<Node>,
        types: Arc<Registry>,
        stores: Stores,
        route: Option<Arc<Route>>,
        attached: Option<Box<dyn Attached>>,
    ) -> Self {
        tracing::info!(
            types = ?types.names(),
            attached = attached.is_some(),
            "actor system started"
        );
        tokio::spawn(sweep(Arc::downgrade(&node), Arc::downgrade(&types)));
        Self {
            inner: Arc::new(Inner {
                node,
                types,
                stores,
                route,
                attached,
            }),
        }
    }

    /// The handle to actor `id` of type `A` (no I/O): the type named by
    /// `id`'s actor type, which `A` must run.
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::NotRegistered`] if no type of that name is
    /// registered, or it is not run by `A`; [`RuntimeErrorKind::InvalidInput`]
    /// if `id` has no actor type (use an id like `account-42`,
    /// [`ActorId::with_type`], or [`ActorSystem::actor`]).
    pub fn get<A: Behavior>(&self, id: ActorId) -> Result<ActorRef<A>, RuntimeError> {
        let name = id.actor_type();
        let Some(registered) = self.inner.types.get(name) else {
            return Err(self.unknown_type::<A>(&id));
        };
        let entry = registered
            .entry
            .clone()
            .downcast::<Entry<A>>()
            .ok()
            .filter(|_| registered.behavior == TypeId::of::<A>())
            .ok_or_else(|| {
                RuntimeError::new(
                    RuntimeErrorKind::NotRegistered,
                    format!(
                        "actor type {name:?} is run by another behaviour than {}",
                        std::any::type_name::<A>()
                    ),
                )
            })?;
        Ok(ActorRef { entry, id })
    }

    /// Why `id`'s type is not one to hand out a handle of: `A` runs other
    /// types (the id is of the wrong type), or none at all.
    fn unknown_type<A: Behavior>(&self, id: &ActorId) -> RuntimeError {
        let runs: Vec<Arc<str>> = self
            .inner
            .types
            .names()
            .into_iter()
            .filter(|n| {
                self.inner
                    .types
                    .get(n)
                    .is_some_and(|r| r.behavior == TypeId::of::<A>())
            })
            .collect();
        let Some(first) = runs.first() else {
            return RuntimeError::new(
                RuntimeErrorKind::NotRegistered,
                format!(
                    "{} runs no actor type of this system (actor id {:?})",
                    std::any::type_name::<A>(),
                    id.as_str()
                ),
            );
        };
        RuntimeError::new(
            RuntimeErrorKind::InvalidInput,
            format!(
                "actor id {:?} has actor type {:?}, not {}: use an id like \"{first}-...\", \
                 ActorId::with_type({first:?}, ..), or ActorSystem::actor",
                id.as_str(),
                id.actor_type(),
                runs.iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(" or "),
            ),
        )
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
        self.actor_of(A::TYPE, key)
    }

    /// The handle to the actor of type `name` with `key`: the actor
    /// `<name>-<key>`, run by behaviour `A` (no I/O). What
    /// [`ActorSystem::actor`] is for a type whose name is data (an
    /// executable model's).
    ///
    /// # Errors
    ///
    /// As [`ActorSystem::actor`].
    pub fn actor_of<A: Behavior>(
        &self,
        name: &str,
        key: impl fmt::Display,
    ) -> Result<ActorRef<A>, RuntimeError> {
        // The id written into the thread's buffer, then one allocation for
        // the id itself. (`format!` grew a fresh `String` by `realloc`, and
        // glibc's realloc takes its arena's lock, which a busy process's
        // cross-thread frees contend for: a tenth of a model bench's CPU.)
        let id = with_id_buffer(|buf| {
            buf.push_str(name);
            buf.push('-');
            let _ = fmt::Write::write_fmt(buf, format_args!("{key}"));
            if buf.len() == name.len() + 1 {
                return Err(RuntimeError::new(
                    RuntimeErrorKind::InvalidInput,
                    format!("an empty key names no {name} actor"),
                ));
            }
            ActorId::with_type(name, &*buf)
                .map_err(|e| RuntimeError::new(RuntimeErrorKind::InvalidInput, e.message()))
        })?;
        self.get(id)
    }

    /// The names of the actor types the system runs.
    pub fn types(&self) -> Vec<Arc<str>> {
        self.inner.types.names()
    }

    /// The ids of the actors active on this node now, over all types.
    pub fn active_actor_ids(&self) -> Vec<ActorId> {
        self.actors().iter().flat_map(|(_, a, _)| a.ids()).collect()
    }

    /// Asks actor `id` to passivate once its mailbox is empty, whatever its
    /// type; `false` when it is not active on this node.
    pub fn passivate(&self, id: &ActorId) -> bool {
        passivate_in(self.actors().iter().map(|(n, a, _)| (&**n, a)), id)
    }

    /// Actors active on this node now, over all types.
    pub fn active_actors(&self) -> usize {
        self.actors().iter().map(|(_, a, _)| a.active()).sum()
    }

    fn actors(&self) -> Vec<(Arc<str>, Arc<dyn Actors>, Duration)> {
        self.inner.types.actors()
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
        for (_, actors, _) in self.actors() {
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

/// Runs `f` with this thread's id buffer, emptied (a fresh one if it is in
/// use: a key's `Display` that names an actor itself).
fn with_id_buffer<T>(f: impl FnOnce(&mut String) -> T) -> T {
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUFFER.with(|b| match b.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let out = f(&mut buf);
            // A huge key's buffer is not kept.
            if buf.capacity() > 4096 {
                *buf = String::new();
            }
            out
        }
        Err(_) => f(&mut String::new()),
    })
}

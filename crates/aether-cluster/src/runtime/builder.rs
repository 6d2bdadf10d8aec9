//! [`ActorSystemBuilder`]: the stores, the node's limits and the actor types
//! of a system, for one placement chosen up front: [`OneNode`] here; a
//! cluster member and a system that runs no actor in `cluster/`. Which types
//! a placement accepts is checked when the program compiles: a cluster's
//! builder registers only [`super::Routable`] types.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use aether_core::aggregate::{Aggregate, Behavior};
use aether_core::{EventStore, SnapshotStore};

use super::codec::{Json, Routable};
use super::config::{ActorConfig, RuntimeConfig};
use super::error::{RuntimeError, RuntimeErrorKind};
use super::host::{Actors, Host};
use super::node::Node;
use super::reach::{Entry, Reach, Route};
use super::registry::{Registered, Registry};
use super::serve::{Serve, Served};
use super::stores::Stores;
use super::system::ActorSystem;

/// The placement of a system that runs every actor on this node (see
/// [`ActorSystem::builder`]).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct OneNode;

/// A placement whose nodes run actors, so its builder takes stores:
/// [`OneNode`], and a cluster member.
pub trait RunsActors: sealed::Sealed {}

impl RunsActors for OneNode {}

pub(crate) mod sealed {
    /// Only this crate's placements.
    pub trait Sealed {}
    impl Sealed for super::OneNode {}
}

/// What registering a type needs, known when the system starts (and kept
/// for types added while it runs).
pub(crate) struct Start<'a> {
    pub(crate) stores: &'a Stores,
    pub(crate) node: &'a Arc<Node>,
    /// How calls reach the node serving an actor (`None` on one node).
    pub(crate) route: Option<&'a Arc<Route>>,
}

/// One registration, made when the system starts.
pub(crate) type Register = Box<dyn FnOnce(&Start<'_>) -> Result<Registered, RuntimeError> + Send>;

/// Builds an [`ActorSystem`]: the stores, the node's limits and the actor
/// types it runs, for the placement `P` it was made for
/// ([`ActorSystem::builder`] for one node; `ActorSystem::cluster` and
/// `ActorSystem::remote` with the `nats` feature).
#[must_use]
pub struct ActorSystemBuilder<P = OneNode> {
    pub(crate) stores: Stores,
    pub(crate) config: RuntimeConfig,
    pub(crate) registrations: Vec<(Arc<str>, Register)>,
    pub(crate) placement: P,
}

impl<P: fmt::Debug> fmt::Debug for ActorSystemBuilder<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorSystemBuilder")
            .field("placement", &self.placement)
            .field("config", &self.config)
            .field(
                "types",
                &self.registrations.iter().map(|r| &r.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<P> ActorSystemBuilder<P> {
    pub(crate) fn new(placement: P) -> Self {
        Self {
            stores: Stores::default(),
            config: RuntimeConfig::default(),
            registrations: Vec::new(),
            placement,
        }
    }

    /// The node's limits (default [`RuntimeConfig::default`]).
    pub fn config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        self
    }

    pub(crate) fn add(mut self, name: &str, register: Register) -> Self {
        self.registrations.push((name.into(), register));
        self
    }

    /// Checks what every placement needs: a valid config. (A system may
    /// start without types, and have them defined while it runs.)
    pub(crate) fn check(&self) -> Result<(), RuntimeError> {
        self.config.validate()?;
        if self.registrations.is_empty() {
            tracing::info!("starting without actor types: define them with ActorSystem::define");
        }
        Ok(())
    }

    /// The event store, which a placement that runs actors needs.
    pub(crate) fn require_events(&self) -> Result<(), RuntimeError> {
        if self.stores.events.is_none() {
            return Err(RuntimeError::new(
                RuntimeErrorKind::InvalidConfig,
                "an actor system needs an event store: call ActorSystemBuilder::events",
            ));
        }
        Ok(())
    }

    /// Registers every type, in order.
    pub(crate) fn register_all(
        registrations: Vec<(Arc<str>, Register)>,
        stores: &Stores,
        node: &Arc<Node>,
        route: Option<&Arc<Route>>,
    ) -> Result<Arc<Registry>, RuntimeError> {
        let types = Arc::new(Registry::default());
        for (_, register) in registrations {
            let start = Start {
                stores,
                node,
                route,
            };
            types.insert(register(&start)?)?;
        }
        Ok(types)
    }
}

impl<P: RunsActors> ActorSystemBuilder<P> {
    /// The event store every actor's history lives in (required).
    pub fn events(mut self, store: impl EventStore + 'static) -> Self {
        self.stores.events = Some(Arc::new(store));
        self
    }

    /// The snapshot store (optional: without one, every activation replays
    /// the whole history).
    pub fn snapshots(mut self, store: impl SnapshotStore + 'static) -> Self {
        self.stores.snapshots = Some(Arc::new(store));
        self
    }
}

impl ActorSystem {
    /// A builder of a system that runs every actor on this node, with any
    /// [`EventStore`] (the in-memory store needs no server).
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_cluster::runtime::{ActorConfig, ActorSystem, RuntimeConfig};
    /// use aether_store_memory::InMemoryEventStore;
    /// # use aether_testkit::fixtures::Account;
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let system = ActorSystem::builder()
    ///     .events(InMemoryEventStore::new())
    ///     .config(RuntimeConfig { max_active: 10_000, ..RuntimeConfig::default() })
    ///     .register::<Account>(ActorConfig::default())
    ///     .start()
    ///     .await?;
    /// # system.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> ActorSystemBuilder<OneNode> {
        ActorSystemBuilder::new(OneNode)
    }
}

impl ActorSystemBuilder<OneNode> {
    /// Runs aggregate type `A` with `config`. Ids given to
    /// [`ActorSystem::get`] for it must have `A::TYPE` as their actor type
    /// ([`ActorSystem::actor`] makes them).
    pub fn register<A: Aggregate>(self, config: ActorConfig) -> Self {
        self.define::<A>((), config)
    }

    /// Runs the actor type that behaviour `B` defined by `def` makes (an
    /// executable model: the definition is the compiled model) with
    /// `config`. [`ActorSystemBuilder::register`] is `define::<A>((), ..)`
    /// for an aggregate. Types can be defined while the system runs too
    /// ([`ActorSystem::define`]).
    pub fn define<B: Behavior>(self, def: B::Def, config: ActorConfig) -> Self {
        let name = B::name(&def).to_owned();
        self.add(&name, here::<B>(Arc::new(def), config))
    }

    /// Checks the configuration and starts the system. No I/O: actors load
    /// when their first message arrives. Call it inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::InvalidConfig`] for a setting out of range (the
    /// message names it) or a missing event store;
    /// [`RuntimeErrorKind::NotRegistered`] when two types of one name were
    /// registered.
    pub async fn start(self) -> Result<ActorSystem, RuntimeError> {
        self.check()?;
        self.require_events()?;
        let node = Arc::new(Node::new(self.config, None));
        let types = Self::register_all(self.registrations, &self.stores, &node, None)?;
        Ok(ActorSystem::assemble(node, types, self.stores, None, None))
    }
}

/// An aggregate's definition (`()`: all of it is in the type), typed as its
/// behaviour's, where a bound on the behaviour would hide that it is `()`.
pub(crate) fn aggregate_def<A: Aggregate>() -> Arc<<A as Behavior>::Def> {
    Arc::new(())
}

/// The registration of a type whose actors all run here.
pub(crate) fn here<A: Behavior>(def: Arc<A::Def>, config: ActorConfig) -> Register {
    Box::new(move |start| {
        config.validate()?;
        let host = Arc::new(new_host::<A>(start, def, config.clone())?);
        let entry = Arc::new(Entry {
            reach: Reach::Here(host.clone()),
            deadline: config.deadline,
        });
        Ok(Registered {
            name: host.name.clone(),
            behavior: TypeId::of::<A>(),
            entry,
            actors: Some(host),
            serve: None,
            idle: config.passivation.idle,
        })
    })
}

/// The registration of a type whose calls are routed: its actors run here
/// when this node serves them (and the system has stores), elsewhere
/// otherwise.
pub(crate) fn routed<A: Routable>(def: Arc<A::Def>, config: ActorConfig) -> Register {
    Box::new(move |start| {
        config.validate()?;
        let route = start.route.ok_or_else(|| {
            RuntimeError::new(
                RuntimeErrorKind::InvalidConfig,
                "a routed type needs a routed system",
            )
        })?;
        let name: Arc<str> = A::name(&def).into();
        let host = match start.stores.events {
            Some(_) => Some(Arc::new(new_host::<A>(start, def, config.clone())?)),
            None => None,
        };
        let entry = Arc::new(Entry {
            reach: Reach::Routed {
                host: host.clone(),
                route: route.clone(),
                codec: Arc::new(Json(name.clone())),
            },
            deadline: config.deadline,
        });
        Ok(Registered {
            name,
            behavior: TypeId::of::<A>(),
            entry,
            actors: host.clone().map(|h| h as Arc<dyn Actors>),
            idle: config.passivation.idle,
            serve: host.map(|host| Arc::new(Served { host }) as Arc<dyn Serve>),
        })
    })
}

fn new_host<A: Behavior>(
    start: &Start<'_>,
    def: Arc<A::Def>,
    config: ActorConfig,
) -> Result<Host<A>, RuntimeError> {
    let events = start.stores.events.clone().ok_or_else(|| {
        RuntimeError::new(
            RuntimeErrorKind::InvalidConfig,
            "an actor system needs an event store: call ActorSystemBuilder::events",
        )
    })?;
    Ok(Host::new(
        def,
        config,
        events,
        start.stores.snapshots.clone(),
        start.node.clone(),
    ))
}

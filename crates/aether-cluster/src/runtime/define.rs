//! Actor types defined while the system runs: [`ActorSystem::define`] adds a
//! type, or gives a type a new definition that its actors adopt between
//! turns (how an executable model published to a running cluster takes
//! effect on every node).

use std::any::TypeId;
use std::sync::Arc;

use super::builder::{Start, here, routed};
use super::codec::Routable;
use super::config::ActorConfig;
use super::error::{RuntimeError, RuntimeErrorKind};
use super::reach::Entry;
use super::system::ActorSystem;

/// What [`ActorSystem::define`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Defined {
    /// A new type: its actors activate on their first message.
    Added,
    /// A new definition of a type the system ran: each active actor adopts
    /// it before its next turn (in place when the behaviour keeps its state
    /// across the two, else by reloading from the log); no command is
    /// decided by two definitions, and none in a turn is interrupted.
    Redefined,
}

impl ActorSystem {
    /// Runs the actor type that behaviour `B` defined by `def` makes, from
    /// now on: a type the system does not run yet is added (with `config`,
    /// and in a cluster served on this node's shards like any other); a type
    /// it runs under `B` takes `def` as its new definition (`config` is then
    /// unused). Calls from other nodes reach the type once their nodes
    /// define it too.
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::NotRegistered`] when the name is taken by a type
    /// of another behaviour; [`RuntimeErrorKind::InvalidConfig`] for a
    /// `config` out of range; [`RuntimeErrorKind::ShuttingDown`] once
    /// shutdown has begun.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_cluster::runtime::{ActorConfig, ActorSystem, Defined};
    /// use aether_store_memory::InMemoryEventStore;
    /// use aether_testkit::fixtures::{Account, open};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let system = ActorSystem::builder().events(InMemoryEventStore::new()).start().await?;
    /// assert_eq!(system.define::<Account>((), ActorConfig::default())?, Defined::Added);
    /// system.actor::<Account>("ada")?.ask(open("Ada")).await?;
    /// # system.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn define<B: Routable>(
        &self,
        def: B::Def,
        config: ActorConfig,
    ) -> Result<Defined, RuntimeError> {
        let inner = &self.inner;
        if inner.node.is_shutting_down() {
            return Err(RuntimeError::new(
                RuntimeErrorKind::ShuttingDown,
                "the actor system is shutting down",
            ));
        }
        let def = Arc::new(def);
        let name = B::name(&def);
        if let Some(registered) = inner.types.get(name) {
            let entry = registered
                .entry
                .downcast::<Entry<B>>()
                .ok()
                .filter(|_| registered.behavior == TypeId::of::<B>())
                .ok_or_else(|| {
                    RuntimeError::new(
                        RuntimeErrorKind::NotRegistered,
                        format!("actor type {name:?} is run by another behaviour"),
                    )
                })?;
            if let Some(host) = entry.host() {
                host.redefine(def);
            }
            tracing::info!(r#type = %registered.name, "actor type redefined");
            return Ok(Defined::Redefined);
        }
        let start = Start {
            stores: &inner.stores,
            node: &inner.node,
            route: inner.route.as_ref(),
        };
        let register = match &inner.route {
            Some(_) => routed::<B>(def, config),
            None => here::<B>(def, config),
        };
        let registered = register(&start)?;
        let name = registered.name.clone();
        inner.types.insert(registered)?;
        tracing::info!(r#type = %name, "actor type added");
        Ok(Defined::Added)
    }
}

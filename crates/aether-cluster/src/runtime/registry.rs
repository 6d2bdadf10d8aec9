//! [`Registry`]: the actor types a system runs, by name. The handles, the
//! serving side of routed calls, the shard keeper, the admin endpoint and
//! the idle sweeper all read it, so a type added while the system runs (an
//! executable model published to a running cluster) is served like one
//! registered at start.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::error::{RuntimeError, RuntimeErrorKind};
use super::host::Actors;
use super::serve::Serve;

/// One registered type, as the running system holds it.
#[derive(Clone)]
pub(crate) struct Registered {
    pub(crate) name: Arc<str>,
    /// The Rust type of its behaviour (a handle asks for it by that type).
    pub(crate) behavior: TypeId,
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

/// The types of one system, by name.
#[derive(Default)]
pub(crate) struct Registry {
    types: RwLock<HashMap<Arc<str>, Registered>>,
}

impl Registry {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Registered>> {
        self.types.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a type.
    ///
    /// # Errors
    ///
    /// [`RuntimeErrorKind::NotRegistered`] when a type of that name is
    /// registered already.
    pub(crate) fn insert(&self, registered: Registered) -> Result<(), RuntimeError> {
        let mut types = self.types.write().unwrap_or_else(PoisonError::into_inner);
        if types.contains_key(&registered.name) {
            return Err(RuntimeError::new(
                RuntimeErrorKind::NotRegistered,
                format!("actor type {:?} is registered twice", registered.name),
            ));
        }
        types.insert(registered.name.clone(), registered);
        Ok(())
    }

    /// The type named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Registered> {
        self.read().get(name).cloned()
    }

    /// The serving side of type `name`, if this node serves it.
    pub(crate) fn serve(&self, name: &str) -> Option<Arc<dyn Serve>> {
        self.read().get(name).and_then(|r| r.serve.clone())
    }

    /// The names of the types.
    pub(crate) fn names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<_> = self.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// The types that run actors on this node, with their tables and idle
    /// times.
    pub(crate) fn actors(&self) -> Vec<(Arc<str>, Arc<dyn Actors>, Duration)> {
        self.read()
            .values()
            .filter_map(|r| r.actors.clone().map(|a| (r.name.clone(), a, r.idle)))
            .collect()
    }
}

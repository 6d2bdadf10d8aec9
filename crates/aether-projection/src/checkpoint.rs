//! Where a projection's position is kept: a [`CheckpointStore`] the runner
//! writes to (at least once), or the projection's own storage
//! ([`Checkpointing::InProjection`], exactly once).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aether_core::{BoxFuture, LogCursor, Result};

/// Keeps the position of each projection by name: a [`LogCursor`], one
/// position per partition of the log.
///
/// The runner saves after handling events, so after a crash the events
/// since the last save are handled again: **at-least-once** delivery.
/// Implementations: [`MemoryCheckpoints`] (for tests and single-process
/// use) and [`crate::KvCheckpoints`] (NATS KV).
pub trait CheckpointStore: Send + Sync + fmt::Debug {
    /// The saved cursor of projection `name` (empty: never saved, start at
    /// the beginning of the log).
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<LogCursor>>;
    /// Saves `cursor` as projection `name`'s.
    fn save<'a>(&'a self, name: &'a str, cursor: &'a LogCursor) -> BoxFuture<'a, Result<()>>;
    /// Forgets projection `name`'s position (a rebuild starts over).
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>>;
}

/// Checkpoints in this process's memory, shared by clones.
///
/// ```
/// use aether_core::{LogCursor, LogPosition};
/// use aether_projection::{CheckpointStore, MemoryCheckpoints};
/// # futures_lite(async {
/// let c = MemoryCheckpoints::new();
/// assert!(c.load("p").await.unwrap().is_empty());
/// let at = LogCursor::from(LogPosition::new(3, 0));
/// c.save("p", &at).await.unwrap();
/// assert_eq!(c.load("p").await.unwrap(), at);
/// # });
/// # fn futures_lite(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryCheckpoints {
    positions: Arc<Mutex<HashMap<String, LogCursor>>>,
}

impl MemoryCheckpoints {
    /// No checkpoints yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn positions(&self) -> std::sync::MutexGuard<'_, HashMap<String, LogCursor>> {
        self.positions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CheckpointStore for MemoryCheckpoints {
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<LogCursor>> {
        let found = self.positions().get(name).cloned().unwrap_or_default();
        Box::pin(async move { Ok(found) })
    }

    fn save<'a>(&'a self, name: &'a str, cursor: &'a LogCursor) -> BoxFuture<'a, Result<()>> {
        self.positions().insert(name.to_string(), cursor.clone());
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        self.positions().remove(name);
        Box::pin(async { Ok(()) })
    }
}

/// How a runner keeps its projection's position.
#[derive(Debug, Clone)]
pub enum Checkpointing {
    /// In this store, saved by the runner every
    /// [`crate::RunnerConfig::checkpoint_every`] events and whenever the
    /// projection reaches the head of the log: at least once.
    Store(Arc<dyn CheckpointStore>),
    /// By the projection itself, in the same transaction as each event's
    /// effect; the runner asks [`crate::Projection::position`] where to
    /// start: exactly once.
    InProjection,
}

impl<C: CheckpointStore + 'static> From<C> for Checkpointing {
    fn from(store: C) -> Self {
        Self::Store(Arc::new(store))
    }
}

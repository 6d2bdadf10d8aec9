//! Object-safe forms of the store traits, for `Box<dyn ..>` and `Arc<dyn ..>`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::Result;
use crate::event::Event;
use crate::id::ActorId;
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::store::{EventStore, ExpectedVersion, Replay};

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe twin of [`EventStore`]; every `EventStore` is one.
///
/// `Arc<dyn DynEventStore>` implements [`EventStore`] again, so generic code
/// accepts it:
///
/// ```
/// # use std::sync::Arc;
/// # use aether_core::{DynEventStore, EventStore};
/// fn takes_any<S: EventStore>(_s: S) {}
/// fn erase(store: Arc<dyn DynEventStore>) { takes_any(store) }
/// ```
pub trait DynEventStore: Send + Sync {
    /// See [`EventStore::append`].
    fn append_dyn(&self, event: Event) -> BoxFuture<'_, Result<u64>>;
    /// See [`EventStore::append_batch`].
    fn append_batch_dyn<'a>(
        &'a self,
        actor_id: &'a ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> BoxFuture<'a, Result<u64>>;
    /// See [`EventStore::read`].
    fn read_dyn<'a>(
        &'a self,
        actor_id: &'a ActorId,
        from_version: u64,
    ) -> BoxFuture<'a, Result<Vec<Event>>>;
    /// See [`EventStore::read_with_errors`].
    fn read_with_errors_dyn<'a>(
        &'a self,
        actor_id: &'a ActorId,
        from_version: u64,
    ) -> BoxFuture<'a, Result<Replay>>;
    /// See [`EventStore::latest_version`].
    fn latest_version_dyn<'a>(&'a self, actor_id: &'a ActorId) -> BoxFuture<'a, Result<u64>>;
}

impl<T: EventStore> DynEventStore for T {
    fn append_dyn(&self, event: Event) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.append(event))
    }

    fn append_batch_dyn<'a>(
        &'a self,
        actor_id: &'a ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.append_batch(actor_id, expected, events))
    }

    fn read_dyn<'a>(
        &'a self,
        actor_id: &'a ActorId,
        from_version: u64,
    ) -> BoxFuture<'a, Result<Vec<Event>>> {
        Box::pin(self.read(actor_id, from_version))
    }

    fn read_with_errors_dyn<'a>(
        &'a self,
        actor_id: &'a ActorId,
        from_version: u64,
    ) -> BoxFuture<'a, Result<Replay>> {
        Box::pin(self.read_with_errors(actor_id, from_version))
    }

    fn latest_version_dyn<'a>(&'a self, actor_id: &'a ActorId) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.latest_version(actor_id))
    }
}

impl<'s> EventStore for Arc<dyn DynEventStore + 's> {
    fn append(&self, event: Event) -> impl Future<Output = Result<u64>> + Send {
        (**self).append_dyn(event)
    }

    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<u64> {
        (**self).append_batch_dyn(actor_id, expected, events).await
    }

    async fn read(&self, actor_id: &ActorId, from_version: u64) -> Result<Vec<Event>> {
        (**self).read_dyn(actor_id, from_version).await
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from_version: u64) -> Result<Replay> {
        (**self).read_with_errors_dyn(actor_id, from_version).await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> Result<u64> {
        (**self).latest_version_dyn(actor_id).await
    }
}

/// The object-safe twin of [`SnapshotStore`]; every `SnapshotStore` is one.
pub trait DynSnapshotStore: Send + Sync {
    /// See [`SnapshotStore::latest_snapshot`].
    fn latest_snapshot_dyn<'a>(
        &'a self,
        actor_id: &'a ActorId,
    ) -> BoxFuture<'a, Result<Option<Snapshot>>>;
    /// See [`SnapshotStore::save_snapshot`].
    fn save_snapshot_dyn(&self, snapshot: Snapshot) -> BoxFuture<'_, Result<()>>;
}

impl<T: SnapshotStore> DynSnapshotStore for T {
    fn latest_snapshot_dyn<'a>(
        &'a self,
        actor_id: &'a ActorId,
    ) -> BoxFuture<'a, Result<Option<Snapshot>>> {
        Box::pin(self.latest_snapshot(actor_id))
    }

    fn save_snapshot_dyn(&self, snapshot: Snapshot) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.save_snapshot(snapshot))
    }
}

impl<'s> SnapshotStore for Arc<dyn DynSnapshotStore + 's> {
    async fn latest_snapshot(&self, actor_id: &ActorId) -> Result<Option<Snapshot>> {
        (**self).latest_snapshot_dyn(actor_id).await
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> impl Future<Output = Result<()>> + Send {
        (**self).save_snapshot_dyn(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}

    // Generic code over `S: EventStore` must accept an erased store inside a spawned
    // (higher-ranked) future.
    #[allow(dead_code)]
    fn erased_store_futures_are_send(store: Arc<dyn DynEventStore>, actor: ActorId) {
        async fn generic<S: EventStore>(s: S, a: ActorId) -> Result<Vec<Event>> {
            s.read(&a, 1).await
        }
        assert_send(generic(store, actor));
    }
}

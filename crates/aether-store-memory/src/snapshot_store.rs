//! [`InMemorySnapshotStore`]: the `SnapshotStore` backed by a `DashMap`.

use std::fmt;
use std::sync::Arc;

use aether_core::{ActorId, Result, Snapshot, SnapshotStore};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

/// A thread-safe, in-memory [`SnapshotStore`] keeping the latest snapshot per
/// actor; clones share the same snapshots.
///
/// A save replaces the stored snapshot when its version is greater than or
/// equal to the stored one's; a save with a lower version is ignored (and
/// succeeds), atomically under the actor's shard lock.
///
/// ```
/// use aether_core::{ActorId, Snapshot, SnapshotStore, json};
/// use aether_store_memory::InMemorySnapshotStore;
///
/// # futures::executor::block_on(async {
/// let store = InMemorySnapshotStore::new();
/// let actor = ActorId::new("account-1").unwrap();
/// store.save_snapshot(Snapshot::new(actor.clone(), 10, json!({"balance": 7}))).await.unwrap();
/// store.save_snapshot(Snapshot::new(actor.clone(), 4, json!({"balance": 1}))).await.unwrap();
/// assert_eq!(store.latest_snapshot(&actor).await.unwrap().unwrap().version, 10);
/// # });
/// ```
#[derive(Clone, Default)]
pub struct InMemorySnapshotStore {
    snapshots: Arc<DashMap<ActorId, Snapshot>>,
}

impl InMemorySnapshotStore {
    /// An empty store. Nothing to connect to: it cannot fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::{ActorId, Snapshot, SnapshotStore, json};
    /// use aether_store_memory::InMemorySnapshotStore;
    ///
    /// # futures::executor::block_on(async {
    /// let snapshots = InMemorySnapshotStore::new();
    /// assert!(snapshots.is_empty());
    /// let actor = ActorId::new("account-1")?;
    /// snapshots.save_snapshot(Snapshot::new(actor.clone(), 3, json!({"balance": 70}))).await?;
    /// let latest = snapshots.latest_snapshot(&actor).await?;
    /// assert_eq!(latest.map(|s| s.version), Some(3));
    /// # Ok::<(), aether_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How many actors have a snapshot.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// Whether no actor has a snapshot.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }
}

impl fmt::Debug for InMemorySnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemorySnapshotStore")
            .field("actors", &self.len())
            .finish()
    }
}

impl SnapshotStore for InMemorySnapshotStore {
    async fn latest_snapshot(&self, actor_id: &ActorId) -> Result<Option<Snapshot>> {
        Ok(self.snapshots.get(actor_id).map(|s| s.clone()))
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        match self.snapshots.entry(snapshot.actor_id.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(snapshot);
            }
            Entry::Occupied(mut slot) => {
                if snapshot.version >= slot.get().version {
                    slot.insert(snapshot);
                }
            }
        }
        Ok(())
    }
}

//! [`VersionCacheSync`]: keeps a store's version cache current from
//! `EventStored` notifications.

use std::fmt;

use aether_core::ActorId;
use tokio::task::JoinHandle;

use crate::item::BusItem;
use crate::subscription::StoredSubscription;

/// A running version-cache sync; stops when dropped or [`stopped`](Self::stop).
///
/// Created by [`crate::NatsEventBus::sync_version_cache`] or
/// [`VersionCacheSync::spawn`]. It calls the update function with each
/// notification's actor and version, in the order received. Lag (missed
/// notifications) only leaves cached versions lower than they could be: the
/// cache is a hint, the store's optimistic concurrency check is the guard.
#[must_use = "the sync stops when this handle is dropped"]
pub struct VersionCacheSync {
    task: JoinHandle<()>,
}

impl VersionCacheSync {
    /// Runs `update(actor, version)` for every notification of `subscription`
    /// on a background task. Must be called inside a tokio runtime.
    pub fn spawn<F>(mut subscription: StoredSubscription, update: F) -> Self
    where
        F: Fn(&ActorId, u64) + Send + Sync + 'static,
    {
        let task = tokio::spawn(async move {
            loop {
                match subscription.recv().await {
                    Ok(BusItem::Event(n)) => update(&n.actor_id, n.version),
                    Ok(BusItem::Lagged(missed)) => {
                        tracing::debug!(missed, "version cache sync missed notifications");
                    }
                    Err(_) => return,
                }
            }
        });
        Self { task }
    }

    /// Stops syncing.
    pub fn stop(self) {}

    /// Whether the sync task is still running.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for VersionCacheSync {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for VersionCacheSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionCacheSync")
            .field("running", &self.is_running())
            .finish()
    }
}

//! [`Control`]: signals to one activation from outside its task.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Signals to one activation from outside its task.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Passivate once the mailbox is empty (the node is over its limit, an
    /// operator asked, or the actor's shard is being handed on).
    pub(crate) evict: AtomicBool,
    pub(crate) notify: Notify,
}

impl Control {
    pub(crate) fn evict(&self) {
        self.evict.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.evict.load(Ordering::Acquire)
    }
}

//! [`Node`]: what every actor type of one system shares: the limits, the
//! recovery permits, the LRU of active actors, the shutdown signal, and the
//! fence of the placement (none on one node).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};

use super::config::RuntimeConfig;
use super::fence::Fence;
use super::lru::Lru;
use super::permits::Permits;

/// What the node's actor types share.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) config: RuntimeConfig,
    pub(crate) permits: Permits,
    lru: Mutex<Lru>,
    /// Set once: no new activations, every actor finishes and stops.
    shutting_down: AtomicBool,
    pub(crate) shutdown: watch::Sender<bool>,
    /// Actor tasks running now, and a wake-up when the last one ends.
    pub(crate) tasks: AtomicUsize,
    pub(crate) tasks_done: Notify,
    generation: AtomicU64,
    /// Whether this node may run an actor's turns now (`None`: every actor
    /// runs here, as on one node).
    pub(crate) fence: Option<Arc<dyn Fence>>,
}

impl Node {
    pub(crate) fn new(config: RuntimeConfig, fence: Option<Arc<dyn Fence>>) -> Self {
        Self {
            fence,
            permits: Permits::new(config.recovery_permits),
            config,
            lru: Mutex::new(Lru::default()),
            shutting_down: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            tasks: AtomicUsize::new(0),
            tasks_done: Notify::new(),
            generation: AtomicU64::new(0),
        }
    }

    pub(crate) fn lru(&self) -> MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Stops admitting messages and tells every actor to stop.
    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        let _ = self.shutdown.send(true);
    }

    /// A number no other activation on this node has had.
    pub(crate) fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed)
    }

    /// One actor task started.
    pub(crate) fn task_started(&self) {
        self.tasks.fetch_add(1, Ordering::AcqRel);
        metrics::gauge!("aether_runtime_active_actors").increment(1.0);
    }

    /// One actor task ended.
    pub(crate) fn task_ended(&self) {
        if self.tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tasks_done.notify_waiters();
        }
        metrics::gauge!("aether_runtime_active_actors").decrement(1.0);
    }
}

//! [`GlobalLog`]: the order of every append over all actors, for
//! [`aether_core::EventLog`] subscriptions.
//!
//! Each successful append records `(actor, first version, count)` while it
//! still holds the actor's shard lock, so the global order agrees with every
//! actor's version order. Entry `n` (from 1) is the `n`th append; its events
//! stay in the actor's log, so nothing is stored twice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aether_core::ActorId;
use tokio::sync::Notify;

use crate::chunked::Chunked;

/// One append: `count` events of `actor` from version `first`.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) actor: ActorId,
    pub(crate) first: u64,
    pub(crate) count: u32,
}

/// Every append, in order.
#[derive(Debug, Default)]
pub(crate) struct GlobalLog {
    records: Mutex<Chunked<Record>>,
    /// Woken after appends while some subscription is waiting for one.
    appended: Notify,
    /// Live subscriptions; appends skip the wake-up while there are none.
    subscribers: AtomicUsize,
}

impl GlobalLog {
    /// Records an append. Call while holding the actor's shard lock, then
    /// [`Self::wake`] after releasing it.
    #[inline]
    pub(crate) fn record(&self, actor: &ActorId, first: u64, count: usize) {
        let record = Record {
            actor: actor.clone(),
            first,
            count: u32::try_from(count).unwrap_or(u32::MAX),
        };
        // A poisoned lock only means a panic elsewhere while pushing; the
        // vector itself is intact.
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    /// Wakes waiting subscriptions, if any.
    #[inline]
    pub(crate) fn wake(&self) {
        if self.subscribers.load(Ordering::Acquire) > 0 {
            self.appended.notify_waiters();
        }
    }

    /// How many appends are recorded.
    pub(crate) fn len(&self) -> u64 {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).len() as u64
    }

    /// Up to `max` records from index `from` (0-based), and the log's length.
    pub(crate) fn slice(&self, from: u64, max: usize) -> (Vec<Record>, u64) {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        (
            records.cloned(from, from.saturating_add(max)),
            records.len() as u64,
        )
    }

    /// The notification of the next append; create it before looking at the
    /// log so an append in between is not missed.
    pub(crate) fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    /// Counts a live subscription until the guard drops.
    pub(crate) fn subscribed(&self) -> Subscribed<'_> {
        self.subscribers.fetch_add(1, Ordering::AcqRel);
        Subscribed(self)
    }
}

/// See [`GlobalLog::subscribed`].
#[derive(Debug)]
pub(crate) struct Subscribed<'a>(&'a GlobalLog);

impl Drop for Subscribed<'_> {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::AcqRel);
    }
}

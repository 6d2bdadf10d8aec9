//! Delivering one item to many subscription queues, honouring each queue's
//! overflow policy.

use std::sync::Arc;

use crate::filter::Filter;
use crate::item::Envelope;
use crate::queue::{Push, Queue};

/// A registered subscription as the bus sees it.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    pub(crate) id: u64,
    pub(crate) filter: Filter,
    pub(crate) queue: Arc<Queue<T>>,
}

/// The outcome of delivering one item to the matching subscriptions.
#[derive(Debug)]
pub(crate) struct Delivery<T> {
    /// Queues that were full under policy `Wait`, with the item to push.
    waiting: Vec<(Arc<Entry<T>>, T)>,
    /// Subscriptions the item was queued for.
    pub(crate) delivered: u64,
    /// Older items dropped to make room (drop-oldest).
    pub(crate) dropped_oldest: u64,
    /// Subscriptions closed by this delivery because they overflowed.
    pub(crate) overflowed: Vec<u64>,
}

impl<T> Default for Delivery<T> {
    fn default() -> Self {
        Self {
            waiting: Vec::new(),
            delivered: 0,
            dropped_oldest: 0,
            overflowed: Vec::new(),
        }
    }
}

impl<T> Delivery<T> {
    /// Pushes `item` to `entry` without waiting; a full `Wait` queue is
    /// remembered for [`Delivery::finish`].
    pub(crate) fn offer(&mut self, entry: &Arc<Entry<T>>, item: T) {
        match entry.queue.try_push(item) {
            Push::Queued => self.delivered += 1,
            Push::QueuedDroppedOldest => {
                self.delivered += 1;
                self.dropped_oldest += 1;
            }
            Push::Full(item) => self.waiting.push((entry.clone(), item)),
            Push::Overflowed => self.overflowed.push(entry.id),
            Push::Closed => {}
        }
    }

    /// Whether some queue must be waited for.
    pub(crate) fn must_wait(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Waits for room in every full `Wait` queue, in the order they were met.
    pub(crate) async fn finish(&mut self) {
        for (entry, item) in std::mem::take(&mut self.waiting) {
            if let Push::Queued = entry.queue.push_wait(item).await {
                self.delivered += 1;
            }
        }
    }
}

/// The subscriptions matching one namespace, valid while the subscription
/// set's generation is `generation` (the NATS server's sublist keeps a similar
/// result cache). Publishing to a namespace again then costs one lookup.
#[derive(Debug)]
pub(crate) struct Routes {
    pub(crate) generation: u64,
    pub(crate) entries: Arc<[Arc<Entry<Envelope>>]>,
}

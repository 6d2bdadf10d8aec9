//! [`Subscription`]: the receiving end of a bus subscription, its items,
//! options and overflow policies.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use aether_core::EventStored;
use futures::Stream;

use crate::item::{BusItem, Envelope, OverflowPolicy, RecvError};
use crate::queue::Queue;

/// Removes subscriptions from the bus that created them.
pub(crate) trait Registry: Send + Sync + 'static {
    fn unsubscribe(&self, id: u64);
}

/// A subscription to events ([`Envelope`]s).
pub type EventSubscription = Subscription<Envelope>;
/// A subscription to [`EventStored`] notifications.
pub type StoredSubscription = Subscription<Arc<EventStored>>;

/// The receiving end of a subscription: call [`Subscription::recv`] or use it
/// as a [`Stream`] of `Result<BusItem<T>, RecvError>` (which ends after
/// [`RecvError::Closed`]; an overflow error is yielded once, then it ends).
///
/// Dropping it unsubscribes; so does [`Subscription::unsubscribe`].
#[must_use = "dropping a subscription unsubscribes"]
pub struct Subscription<T> {
    queue: Arc<Queue<T>>,
    /// Items taken from the queue in one batch and not yet returned.
    batch: VecDeque<BusItem<T>>,
    id: u64,
    pattern: Arc<str>,
    registry: Weak<dyn Registry>,
    finished: bool,
}

impl<T> Subscription<T> {
    pub(crate) fn new(
        queue: Arc<Queue<T>>,
        id: u64,
        pattern: Arc<str>,
        registry: Weak<dyn Registry>,
    ) -> Self {
        Self {
            queue,
            batch: VecDeque::new(),
            id,
            pattern,
            registry,
            finished: false,
        }
    }

    /// The next item; `Err` when the subscription has ended (see [`RecvError`]).
    pub async fn recv(&mut self) -> Result<BusItem<T>, RecvError> {
        futures::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Polls for the next item: from the batch taken last time, else takes
    /// everything queued as the next batch, else registers for a wake-up.
    ///
    /// An earlier version spun for about a microsecond before parking; with
    /// publisher and subscriber as tasks of one runtime that spin held a
    /// worker thread the publisher needed, and `benches/local.rs` got both
    /// faster and far steadier without it. Taking part in tokio's
    /// cooperative budget (as tokio's channels do) was measured too and cost
    /// about a quarter of the throughput, so it is not done.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Result<BusItem<T>, RecvError>> {
        self.queue.poll_recv(&mut self.batch, cx)
    }

    /// The next item if one is ready now.
    pub fn try_recv(&mut self) -> Option<Result<BusItem<T>, RecvError>> {
        self.queue.try_recv(&mut self.batch)
    }

    /// Unsubscribes now. Items already queued are discarded.
    pub fn unsubscribe(self) {
        // Drop does the work.
    }

    /// The pattern this subscription was made with.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The subscription's id, unique within its bus.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Events queued and not yet received (including a batch the
    /// subscription has already taken from the queue).
    pub fn len(&self) -> usize {
        self.queue.len()
            + self
                .batch
                .iter()
                .filter(|i| matches!(i, BusItem::Event(_)))
                .count()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> usize {
        self.queue.capacity()
    }

    /// The overflow policy.
    pub fn overflow_policy(&self) -> OverflowPolicy {
        self.queue.policy()
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        self.queue.close_discard();
        if let Some(registry) = self.registry.upgrade() {
            registry.unsubscribe(self.id);
        }
    }
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("pattern", &self.pattern)
            .field("queued", &self.queue.len())
            .field("capacity", &self.queue.capacity())
            .field("overflow", &self.queue.policy())
            .finish()
    }
}

impl<T> Stream for Subscription<T> {
    type Item = Result<BusItem<T>, RecvError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        match this.poll_item(cx) {
            Poll::Ready(Ok(item)) => Poll::Ready(Some(Ok(item))),
            Poll::Ready(Err(RecvError::Closed)) => {
                this.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => {
                this.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

// Nothing in a subscription is structurally pinned.
impl<T> Unpin for Subscription<T> {}

//! What a subscription is made of and yields: its options and overflow
//! policies ([`SubscribeOptions`], [`OverflowPolicy`]), its items
//! ([`BusItem`]) and why it ends ([`RecvError`]).

use std::sync::Arc;

use aether_core::Event;

use crate::error::{BusError, BusErrorKind};

/// What a subscriber does when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// The publisher waits until the subscriber has made room (backpressure).
    /// Nothing is lost, but one stalled subscriber stalls every publisher to
    /// its namespaces.
    Wait,
    /// The oldest queued item is dropped to make room, and the subscriber
    /// receives [`BusItem::Lagged`] with the exact number it missed before
    /// the next item. Publishers never wait. **The default.**
    #[default]
    DropOldest,
    /// The subscription is closed with [`RecvError::Overflowed`] (after the
    /// subscriber has drained what was queued). Publishers never wait.
    Close,
}

/// Per-subscription settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Queue capacity: the most events waiting for the subscriber (at least
    /// 1; 0 is refused). Default 1024. The subscriber takes everything waiting in one batch
    /// once it has finished the previous batch, so it may hold up to
    /// `capacity` more events it has taken but not yet returned from `recv`;
    /// drop-oldest drops the oldest events *not yet taken*.
    pub capacity: usize,
    /// What happens when the queue is full. Default
    /// [`OverflowPolicy::DropOldest`] (never loses an event without telling).
    pub overflow: OverflowPolicy,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            capacity: 1024,
            overflow: OverflowPolicy::default(),
        }
    }
}

impl SubscribeOptions {
    /// Options with `capacity` and `overflow`.
    pub fn new(capacity: usize, overflow: OverflowPolicy) -> Self {
        Self { capacity, overflow }
    }

    /// Checks the options: a capacity of 0 is refused (never raised
    /// quietly).
    pub fn validate(&self) -> Result<(), BusError> {
        if self.capacity == 0 {
            return Err(BusError::new(
                BusErrorKind::InvalidOptions,
                "subscription capacity must be at least 1",
            ));
        }
        Ok(())
    }
}

/// One item of a subscription's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum BusItem<T> {
    /// The next event (or notification).
    Event(T),
    /// The subscriber missed this many items since the previous item
    /// (drop-oldest overflow locally; a sequence gap detected across nodes).
    Lagged(u64),
}

impl<T> BusItem<T> {
    /// The event, if this is one.
    pub fn into_event(self) -> Option<T> {
        match self {
            BusItem::Event(e) => Some(e),
            BusItem::Lagged(_) => None,
        }
    }
}

/// Why a subscription ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// The subscription was unsubscribed or the bus shut down; everything
    /// queued before has been received.
    #[error("subscription closed")]
    Closed,
    /// The queue overflowed under [`OverflowPolicy::Close`]; everything
    /// queued before the overflow has been received, later events were not.
    #[error("subscription closed: its queue of {capacity} items overflowed")]
    Overflowed {
        /// The queue's capacity.
        capacity: usize,
    },
}

/// An event as delivered: the namespace it was published to and the event,
/// shared (not copied) between all subscribers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Envelope {
    /// The concrete namespace the event was published to.
    pub namespace: crate::Namespace,
    /// The event.
    pub event: Arc<Event>,
}

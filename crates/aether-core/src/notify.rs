//! [`EventStored`] notifications and the hook stores call with them.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::id::{ActorId, EventId};
use crate::timestamp::Timestamp;

/// Sent for each event of a successful append, once the store has durably
/// accepted it; never after a failed append. At least once per stored event
/// (see [`crate::EventStore`] for when a backend repeats one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventStored {
    /// The stored event's id.
    pub event_id: EventId,
    /// Its actor.
    pub actor_id: ActorId,
    /// Its version: the actor's latest version once this event is stored.
    pub version: u64,
    /// Its event type.
    pub event_type: String,
    /// The event's timestamp.
    pub timestamp: Timestamp,
}

impl From<&Event> for EventStored {
    fn from(e: &Event) -> Self {
        Self {
            event_id: e.id,
            actor_id: e.actor_id.clone(),
            version: e.version,
            event_type: e.event_type.clone(),
            timestamp: e.timestamp,
        }
    }
}

/// Receives [`EventStored`] notifications from a store.
///
/// Called on the appending task right after the append succeeded, in version
/// order per actor. Implementations must not block: hand the notification to a
/// queue or channel (the bus does) and return.
pub trait EventStoredHook: Send + Sync + 'static {
    /// One event was stored.
    fn event_stored(&self, notification: EventStored);
}

impl<F> EventStoredHook for F
where
    F: Fn(EventStored) + Send + Sync + 'static,
{
    fn event_stored(&self, notification: EventStored) {
        self(notification)
    }
}

/// Where a store keeps its [`EventStoredHook`]: one per store, shared by
/// every clone of the store (made before or after the hook was set), set or
/// replaced at any time. Every Aether store's `with_hook` works through one,
/// so the hook means the same on every backend.
///
/// Checking for a hook is one atomic load, so a store without a hook pays
/// nothing on its append path.
#[derive(Default)]
pub struct HookSlot {
    set: AtomicBool,
    hook: RwLock<Option<Arc<dyn EventStoredHook>>>,
}

impl HookSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the hook, replacing any earlier one.
    pub fn set(&self, hook: Arc<dyn EventStoredHook>) {
        *self.hook.write().unwrap_or_else(PoisonError::into_inner) = Some(hook);
        self.set.store(true, Ordering::Release);
    }

    /// Whether a hook is set.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// The hook, if one is set.
    pub fn get(&self) -> Option<Arc<dyn EventStoredHook>> {
        if !self.is_set() {
            return None;
        }
        self.hook
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Calls the hook (if any) once per event, in order.
    pub fn notify(&self, events: &[Event]) {
        if let Some(hook) = self.get() {
            for e in events {
                hook.event_stored(e.into());
            }
        }
    }
}

impl fmt::Debug for HookSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookSlot")
            .field("set", &self.is_set())
            .finish()
    }
}

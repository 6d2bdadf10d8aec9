//! [`EventStored`] notifications and the hook stores call with them.

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::id::{ActorId, EventId};
use crate::timestamp::Timestamp;

/// Sent for each event of a successful append, once the store has durably
/// accepted it; never after a failed append. At least once per stored event
/// (see [`crate::EventStore`] for when a backend repeats one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

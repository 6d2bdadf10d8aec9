//! [`EventId`]: the unique id of an event.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::InvalidId;

/// The unique id of an event: a UUID (v7 by default, so ids sort by creation time).
///
/// Stores use it for deduplication (a retried append whose event is found
/// stored by its id succeeds without a second copy), so an event keeps its id
/// across retries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

impl EventId {
    /// A new, time-ordered (UUID v7) event id.
    pub fn new() -> Self {
        Self(super::uuid7::now_v7())
    }

    /// A new event id (a UUID v7) of the millisecond of `at`: an event's id
    /// and its timestamp from one clock reading.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::{EventId, Timestamp};
    ///
    /// let now = Timestamp::now();
    /// assert_ne!(EventId::at(now), EventId::at(now));
    /// assert_eq!(EventId::at(now).as_uuid().get_version_num(), 7);
    /// ```
    pub fn at(at: crate::Timestamp) -> Self {
        Self(super::uuid7::at_millis(at.unix_millis()))
    }

    /// Wraps an existing UUID.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for EventId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|e| InvalidId::new(format!("invalid event id {s:?}: {e}")))
    }
}

impl From<Uuid> for EventId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event's id carries the millisecond of its timestamp.
    #[test]
    fn an_id_of_a_timestamp_carries_its_millisecond() {
        let t = crate::Timestamp::from_unix_nanos(1_765_000_000_123_456_789).unwrap();
        let id = EventId::at(t);
        let (secs, nanos) = id.as_uuid().get_timestamp().unwrap().to_unix();
        assert_eq!((secs, nanos / 1_000_000), (1_765_000_000, 123));
        assert_ne!(EventId::at(t), EventId::at(t));
    }

    #[test]
    fn event_id_parse() {
        let id = EventId::new();
        assert_eq!(id.to_string().parse::<EventId>().unwrap(), id);
        assert!("nope".parse::<EventId>().is_err());
    }
}

//! [`Event`]: an immutable fact in an actor's history, and its JSON wire format.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::id::{ActorId, EventId};
use crate::metadata::Metadata;
use crate::payload::Payload;
use crate::timestamp::Timestamp;

/// An immutable fact in one actor's history.
///
/// # Wire format (stable)
///
/// Events are stored and sent as one JSON object with these fields, all
/// present:
///
/// | field        | JSON type        | meaning                                             |
/// |--------------|------------------|-----------------------------------------------------|
/// | `id`         | string (UUID)    | the event id, unique; used for deduplication        |
/// | `event_type` | string           | the event's type name, 1 to 256 bytes               |
/// | `actor_id`   | string or object | the actor; `{"id": .., "type": ..}` when the actor type is explicit |
/// | `version`    | integer ≥ 1      | the event's position in the actor's history         |
/// | `data`       | any JSON         | the payload, inline (a [`Payload`]: its JSON text)  |
/// | `metadata`   | object of strings| correlation, causation, user, trace and span ids, and any other keys |
/// | `timestamp`  | string (RFC 3339)| UTC, nine fractional digits                          |
///
/// Readers ignore unknown fields, so fields may be added in later releases;
/// none will be removed or change meaning.
///
/// ```
/// use aether_core::{ActorId, Event};
/// use serde_json::json;
///
/// let e = Event::new(ActorId::new("account-1").unwrap(), 1, "Opened", json!({"owner": "ada"}));
/// let bytes = e.to_json_bytes().unwrap();
/// assert_eq!(Event::from_json_slice(&bytes).unwrap(), e);
/// assert_eq!(e.data.as_str(), r#"{"owner":"ada"}"#);
/// assert_eq!(e.data.value().unwrap()["owner"], "ada");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// The event id.
    pub id: EventId,
    /// The event's type name.
    pub event_type: String,
    /// The actor whose history this event belongs to.
    pub actor_id: ActorId,
    /// Position in the actor's history, starting at 1.
    pub version: u64,
    /// The payload: its JSON text, decoded by a reader that asks
    /// ([`Payload::decode`], [`Payload::value`]).
    pub data: Payload,
    /// Correlation, causation, user, trace and span ids, and other keys.
    #[serde(default)]
    pub metadata: Metadata,
    /// When the event was created (UTC, nanoseconds).
    pub timestamp: Timestamp,
}

impl Event {
    /// The longest event type name accepted, in bytes.
    pub const MAX_EVENT_TYPE_LEN: usize = 256;

    /// A new event with a fresh id, the current time and empty metadata.
    /// `data` is a [`Payload`] or anything that becomes one (a
    /// [`Value`](serde_json::Value), as `json!` makes).
    pub fn new(
        actor_id: ActorId,
        version: u64,
        event_type: impl Into<String>,
        data: impl Into<Payload>,
    ) -> Self {
        Self {
            id: EventId::new(),
            event_type: event_type.into(),
            actor_id,
            version,
            data: data.into(),
            metadata: Metadata::new(),
            timestamp: Timestamp::now(),
        }
    }

    /// An event with every field given: for decoders that rebuild stored
    /// events (fields added in later releases get their defaults).
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        id: EventId,
        actor_id: ActorId,
        version: u64,
        event_type: impl Into<String>,
        data: impl Into<Payload>,
        metadata: Metadata,
        timestamp: Timestamp,
    ) -> Self {
        Self {
            id,
            event_type: event_type.into(),
            actor_id,
            version,
            data: data.into(),
            metadata,
            timestamp,
        }
    }

    /// Returns self with `id`.
    #[must_use]
    pub fn with_id(mut self, id: EventId) -> Self {
        self.id = id;
        self
    }

    /// Returns self with `timestamp`.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Returns self with `metadata`.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Returns self with metadata derived from the event that caused it (see
    /// [`Metadata::caused_by`]); keys already set on self are kept.
    #[must_use]
    pub fn caused_by(mut self, cause: &Event) -> Self {
        let mut m = Metadata::caused_by(&cause.id.to_string(), &cause.metadata);
        for (k, v) in self.metadata.iter() {
            m.insert(k, v);
        }
        self.metadata = m;
        self
    }

    /// Checks what every store requires: version ≥ 1, a non-empty event
    /// type of at most [`Event::MAX_EVENT_TYPE_LEN`] bytes without NUL, and a
    /// timestamp the wire format can hold (UTC years 0000 to 9999).
    pub fn validate(&self) -> Result<(), Error> {
        if self.version == 0 {
            return Err(Error::invalid_input(format!(
                "event {} for actor {:?} has version 0; versions start at 1",
                self.id,
                self.actor_id.as_str()
            )));
        }
        if self.event_type.is_empty() {
            return Err(Error::invalid_input(format!(
                "event {} has an empty event type",
                self.id
            )));
        }
        if self.event_type.len() > Self::MAX_EVENT_TYPE_LEN {
            return Err(Error::invalid_input(format!(
                "event type is {} bytes; the limit is {}",
                self.event_type.len(),
                Self::MAX_EVENT_TYPE_LEN
            )));
        }
        if self.event_type.contains('\0') {
            return Err(Error::invalid_input("event type must not contain NUL"));
        }
        self.timestamp.checked_wire_range()?;
        Ok(())
    }

    /// Encodes the event in the wire format.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|e| Error::serialization_with("encoding event", e))
    }

    /// Decodes an event from the wire format and validates it. Never panics,
    /// whatever the bytes.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, Error> {
        // One UTF-8 check of the whole text, then a parser that trusts it:
        // cheaper than `from_slice`, which checks every string on its own.
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::serialization_with("decoding event: not UTF-8", e))?;
        let event: Event = serde_json::from_str(text)
            .map_err(|e| Error::serialization_with("decoding event", e))?;
        event.validate()?;
        Ok(event)
    }
}

#[cfg(test)]
mod tests;

//! The append-only event store trait and its request and result types.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::id::ActorId;

/// What the caller expects an actor's latest version to be before a batch append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpectedVersion {
    /// No expectation: the batch's first version must only be greater than the
    /// latest one (as for [`EventStore::append`]).
    #[default]
    Any,
    /// The actor must have no events; the batch starts at version 1.
    NoStream,
    /// The actor's latest version must be exactly this; the batch starts at the
    /// next version. `Exact(0)` is the same as `NoStream`.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether an actor whose latest version is `current` meets the expectation
    /// for a batch whose first event has version `first`.
    pub fn admits(self, current: u64, first: u64) -> bool {
        match self {
            Self::Any => first > current,
            Self::NoStream => current == 0 && first == 1,
            Self::Exact(n) => current == n && n.checked_add(1) == Some(first),
        }
    }
}

/// One stored entry that could not be decoded as an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MalformedEvent {
    /// Where it sits in the backend (for JetStream, the stream sequence; for
    /// other stores, the index in the actor's history).
    pub position: u64,
    /// The raw stored bytes.
    pub raw: Bytes,
    /// Why decoding failed.
    pub error: String,
}

impl MalformedEvent {
    /// The entry at `position` with bytes `raw`, which failed to decode with `error`.
    pub fn new(position: u64, raw: Bytes, error: impl Into<String>) -> Self {
        Self {
            position,
            raw,
            error: error.into(),
        }
    }
}

/// The outcome of a replay: the events, and every malformed entry met on the
/// way instead of a silent skip.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Replay {
    /// The decoded events, in version order.
    pub events: Vec<Event>,
    /// Entries that could not be decoded, in position order.
    pub malformed: Vec<MalformedEvent>,
}

impl Replay {
    /// A replay of `events` with the `malformed` entries met on the way.
    pub fn new(events: Vec<Event>, malformed: Vec<MalformedEvent>) -> Self {
        Self { events, malformed }
    }

    /// Whether every entry decoded.
    pub fn is_clean(&self) -> bool {
        self.malformed.is_empty()
    }

    /// The events, or an error naming the first malformed entry.
    pub fn into_events(self) -> Result<Vec<Event>> {
        match self.malformed.first() {
            None => Ok(self.events),
            Some(m) => Err(Error::serialization(format!(
                "malformed event at position {} ({} more): {}",
                m.position,
                self.malformed.len() - 1,
                m.error
            ))),
        }
    }
}

/// Checks a batch for [`EventStore::append_batch`] and returns its first and
/// last versions: not empty, every event valid and for `actor_id`, versions
/// consecutive. Stores call this before touching their backend.
pub fn validate_batch(actor_id: &ActorId, events: &[Event]) -> Result<(u64, u64)> {
    let Some(first) = events.first() else {
        return Err(Error::invalid_input("a batch needs at least one event"));
    };
    for (i, e) in events.iter().enumerate() {
        e.validate()?;
        if &e.actor_id != actor_id {
            return Err(Error::invalid_input(format!(
                "event {} is for actor {:?}, not {:?}: a batch holds one actor's events",
                e.id,
                e.actor_id.as_str(),
                actor_id.as_str()
            )));
        }
        let expected = first.version.checked_add(i as u64).ok_or_else(|| {
            Error::invalid_input("batch versions run past the largest version (u64::MAX)")
        })?;
        if e.version != expected {
            return Err(Error::invalid_input(format!(
                "batch versions must be consecutive: event {i} has version {}, expected {expected}",
                e.version
            )));
        }
    }
    // Cannot overflow: the loop checked every version up to the last one.
    Ok((first.version, first.version + (events.len() as u64 - 1)))
}

/// An append-only store of per-actor event histories.
///
/// Every implementation guarantees, per actor:
/// - **linearizable appends**: of concurrent appends for the same version,
///   exactly one succeeds; the others get [`Error::VersionConflict`] carrying
///   the real current version;
/// - **atomic batches**: all events of a batch are stored, or none;
/// - **immutability**: no event is ever changed or removed through this API.
///
/// After every successful append (and never after a failed one) a store with a
/// [`crate::EventStoredHook`] calls it once per event of that append. A
/// backend that answers success to a repeated append of events it already
/// stored (JetStream's lost-ack recovery) notifies them again, so hooks see
/// each stored event at least once, and exactly once on the memory store.
///
/// The methods return `Send` futures. For a `dyn` store use
/// [`crate::DynEventStore`].
pub trait EventStore: Send + Sync {
    /// Appends one event. Its version must be greater than the actor's latest
    /// version (versions may skip, as in the original design; use
    /// [`EventStore::append_batch`] with [`ExpectedVersion::Exact`] for strict
    /// succession). Returns the actor's new latest version.
    fn append(&self, event: Event) -> impl Future<Output = Result<u64>> + Send {
        async move {
            let actor_id = event.actor_id.clone();
            self.append_batch(&actor_id, ExpectedVersion::Any, vec![event])
                .await
        }
    }

    /// Appends `events` (one actor's, consecutive versions) atomically if the
    /// actor's latest version meets `expected` (see [`ExpectedVersion::admits`]).
    /// Returns the actor's new latest version.
    fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Reads the actor's events with version ≥ `from_version`, in order. A
    /// malformed stored entry is an error (see [`EventStore::read_with_errors`]).
    /// An actor without events gives an empty list.
    fn read(
        &self,
        actor_id: &ActorId,
        from_version: u64,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send {
        async move {
            self.read_with_errors(actor_id, from_version)
                .await?
                .into_events()
        }
    }

    /// Reads like [`EventStore::read`], but reports each malformed entry in the
    /// result and keeps going.
    fn read_with_errors(
        &self,
        actor_id: &ActorId,
        from_version: u64,
    ) -> impl Future<Output = Result<Replay>> + Send;

    /// The actor's latest version; `0` when it has no events.
    fn latest_version(&self, actor_id: &ActorId) -> impl Future<Output = Result<u64>> + Send;
}

impl<T: EventStore> EventStore for Arc<T> {
    fn append(&self, event: Event) -> impl Future<Output = Result<u64>> + Send {
        (**self).append(event)
    }

    fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> impl Future<Output = Result<u64>> + Send {
        (**self).append_batch(actor_id, expected, events)
    }

    fn read(
        &self,
        actor_id: &ActorId,
        from_version: u64,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send {
        (**self).read(actor_id, from_version)
    }

    fn read_with_errors(
        &self,
        actor_id: &ActorId,
        from_version: u64,
    ) -> impl Future<Output = Result<Replay>> + Send {
        (**self).read_with_errors(actor_id, from_version)
    }

    fn latest_version(&self, actor_id: &ActorId) -> impl Future<Output = Result<u64>> + Send {
        (**self).latest_version(actor_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expected_version_admits() {
        use ExpectedVersion::*;
        assert!(Any.admits(0, 1) && Any.admits(3, 9) && !Any.admits(3, 3));
        assert!(NoStream.admits(0, 1) && !NoStream.admits(1, 2) && !NoStream.admits(0, 2));
        assert!(Exact(4).admits(4, 5) && !Exact(4).admits(5, 6) && !Exact(4).admits(4, 6));
        assert!(Exact(0).admits(0, 1));
    }

    #[test]
    fn batch_validation() {
        let a = ActorId::new("a").unwrap();
        let b = ActorId::new("b").unwrap();
        let ev = |id: &ActorId, v| Event::new(id.clone(), v, "T", json!(null));
        assert_eq!(validate_batch(&a, &[ev(&a, 2), ev(&a, 3)]).unwrap(), (2, 3));
        assert!(validate_batch(&a, &[]).is_err());
        assert!(validate_batch(&a, &[ev(&a, 1), ev(&b, 2)]).is_err());
        assert!(validate_batch(&a, &[ev(&a, 1), ev(&a, 3)]).is_err());
        assert!(validate_batch(&a, &[ev(&a, 0)]).is_err());
        assert_eq!(
            validate_batch(&a, &[ev(&a, u64::MAX)]).unwrap(),
            (u64::MAX, u64::MAX)
        );
        assert!(validate_batch(&a, &[ev(&a, u64::MAX), ev(&a, u64::MAX)]).is_err());
        assert!(!ExpectedVersion::Exact(u64::MAX).admits(u64::MAX, u64::MAX));
    }

    #[test]
    fn replay_into_events_reports_malformed() {
        let r = Replay {
            events: vec![],
            malformed: vec![MalformedEvent {
                position: 7,
                raw: Bytes::from_static(b"x"),
                error: "bad".into(),
            }],
        };
        let err = r.into_events().unwrap_err();
        assert!(err.to_string().contains("position 7"));
    }
}

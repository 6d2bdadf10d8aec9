//! Typed events and commands, and their lossless mapping to stored [`Event`]s.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::event::Event;
use crate::id::{ActorId, CommandId, EventId};
use crate::metadata::Metadata;
use crate::payload::Payload;
use crate::timestamp::Timestamp;

use super::tagging;

/// A typed event of an aggregate, with the name it is stored under.
///
/// # Stored shape
///
/// The stored [`Event::event_type`] is [`DomainEvent::event_type`]; the
/// stored [`Event::data`] is [`DomainEvent::to_data`]. The defaults suit the
/// usual serde enum (externally tagged, one variant per event type, each
/// variant named as its event type): `Deposited { amount: 5 }` is stored as
/// type `"Deposited"` with data `{"amount": 5}`, and a unit variant as data
/// `null`. For any other shape the whole serialized value is stored as data.
/// The event is encoded once, to the stored JSON text, and decoded straight
/// from it. Override both `to_data` and `from_data` for a custom layout.
pub trait DomainEvent:
    Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static
{
    /// The name the event is stored under (1 to 256 bytes, no NUL).
    ///
    /// An implementation may return `&'static str` (the usual enum of
    /// named events); an event whose type is data (an executable model's)
    /// returns its own.
    fn event_type(&self) -> &str;

    /// The stored payload of the event.
    ///
    /// The default encodes the event once and keeps the variant's content
    /// (see the trait docs).
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the event's `Serialize` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::aggregate::DomainEvent;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    /// enum Account {
    ///     Deposited { amount: u64 },
    ///     Closed,
    /// }
    ///
    /// impl DomainEvent for Account {
    ///     fn event_type(&self) -> &'static str {
    ///         match self {
    ///             Account::Deposited { .. } => "Deposited",
    ///             Account::Closed => "Closed",
    ///         }
    ///     }
    /// }
    ///
    /// let data = Account::Deposited { amount: 5 }.to_data().unwrap();
    /// assert_eq!(data.as_str(), r#"{"amount":5}"#);
    /// assert_eq!(Account::from_data("Deposited", &data).unwrap(), Account::Deposited { amount: 5 });
    /// assert!(Account::Closed.to_data().unwrap().is_null());
    /// ```
    fn to_data(&self) -> Result<Payload, Error> {
        tagging::to_data(self, self.event_type())
    }

    /// Decodes an event from its stored type and payload (the inverse of
    /// [`DomainEvent::event_type`] and [`DomainEvent::to_data`]).
    ///
    /// The default decodes `{"<event_type>":<data>}` (the variant named as
    /// its type); else, when `data` is `null`, the unit variant
    /// `"<event_type>"`; else `data` as the whole event.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when none of these decodes.
    fn from_data(event_type: &str, data: &Payload) -> Result<Self, Error> {
        tagging::from_data(event_type, data)
    }
}

/// A typed event with everything the store keeps beside it: the typed twin
/// of [`Event`]. [`EventEnvelope::to_event`] and
/// [`EventEnvelope::from_event`] are inverse: no field is lost either way.
#[derive(Debug, Clone, PartialEq)]
pub struct EventEnvelope<E> {
    /// The event id (kept across retries of the same append).
    pub id: EventId,
    /// The aggregate instance the event belongs to.
    pub actor_id: ActorId,
    /// Position in the aggregate's history, from 1.
    pub version: u64,
    /// The typed event.
    pub event: E,
    /// Correlation, causation, user, trace and span ids, and other keys.
    pub metadata: Metadata,
    /// When the event was created.
    pub timestamp: Timestamp,
}

impl<E: DomainEvent> EventEnvelope<E> {
    /// Decodes a stored event. Fails with [`Error::Serialization`] when the
    /// payload does not decode, or decodes to an event whose
    /// [`DomainEvent::event_type`] differs from the stored type (which would
    /// not round-trip).
    pub fn from_event(event: &Event) -> Result<Self, Error> {
        let typed = Self::typed(event)?;
        Ok(Self {
            id: event.id,
            actor_id: event.actor_id.clone(),
            version: event.version,
            event: typed,
            metadata: event.metadata.clone(),
            timestamp: event.timestamp,
        })
    }

    /// Decodes a stored event like [`EventEnvelope::from_event`], taking its
    /// actor id and metadata instead of copying them (replay decodes every
    /// event once and needs the stored one no more).
    pub(crate) fn from_stored(event: Event) -> Result<Self, Error> {
        let typed = Self::typed(&event)?;
        Ok(Self {
            id: event.id,
            actor_id: event.actor_id,
            version: event.version,
            event: typed,
            metadata: event.metadata,
            timestamp: event.timestamp,
        })
    }

    fn typed(event: &Event) -> Result<E, Error> {
        let typed = E::from_data(&event.event_type, &event.data)?;
        if typed.event_type() != event.event_type {
            return Err(Error::serialization(format!(
                "stored event {} of type {:?} decoded as an event of type {:?}",
                event.id,
                event.event_type,
                typed.event_type()
            )));
        }
        Ok(typed)
    }

    /// Encodes the event for the store.
    pub fn to_event(&self) -> Result<Event, Error> {
        Ok(Event::from_parts(
            self.id,
            self.actor_id.clone(),
            self.version,
            self.event.event_type(),
            self.event.to_data()?,
            self.metadata.clone(),
            self.timestamp,
        ))
    }
}

impl<E: DomainEvent> TryFrom<&Event> for EventEnvelope<E> {
    type Error = Error;

    fn try_from(event: &Event) -> Result<Self, Error> {
        Self::from_event(event)
    }
}

/// A command with its metadata: who sent it, on behalf of which request.
///
/// Every event the command causes gets metadata derived with
/// [`Metadata::caused_by`]`(command_id, metadata)`: the command's correlation
/// id (or, when it has none, its command id), the command id as causation id,
/// and its user, trace and span ids.
///
/// `CommandEnvelope<C>` is `From<C>`, so a bare command may be passed where an
/// envelope is expected.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct CommandEnvelope<C> {
    /// The command.
    pub command: C,
    /// The command's id: unique per command (a fresh UUID v7 by default).
    /// While retrying one execution, the repository uses it to recognise an
    /// append that succeeded although the store reported a failure, so the
    /// command is not applied twice. The repository does not dedupe across
    /// executions (executing the same envelope again decides it again); the
    /// actor runtime does, within its per-actor window of recent ids.
    pub command_id: CommandId,
    /// Correlation, causation, user, trace and span ids.
    pub metadata: Metadata,
}

impl<C> CommandEnvelope<C> {
    /// A command with a fresh command id and empty metadata.
    pub fn new(command: C) -> Self {
        Self {
            command,
            command_id: CommandId::random(),
            metadata: Metadata::new(),
        }
    }

    /// Returns self with `metadata`.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Returns self with the correlation id set.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.metadata.set_correlation_id(id);
        self
    }

    /// Returns self with the user id set.
    pub fn with_user_id(mut self, id: impl Into<String>) -> Self {
        self.metadata.set_user_id(id);
        self
    }

    /// Returns self with `command_id`.
    pub fn with_command_id(mut self, command_id: CommandId) -> Self {
        self.command_id = command_id;
        self
    }

    /// The metadata every event caused by this command carries.
    pub fn event_metadata(&self) -> Metadata {
        Metadata::caused_by_shared(self.command_id.shared(), &self.metadata)
    }

    /// [`CommandEnvelope::event_metadata`] with the entries of `extra` set
    /// too (a writer's stamp), made in one go.
    pub fn event_metadata_with(&self, extra: &Metadata) -> Metadata {
        Metadata::caused_by_with(self.command_id.shared(), &self.metadata, extra)
    }

    /// Stamps typed events decided for this command as the versions after
    /// `current_version` of `actor_id`. Versions that would pass `u64::MAX`
    /// stay at `u64::MAX` (a store rejects such a batch as not consecutive;
    /// the repository refuses it before calling this).
    pub fn envelopes<E: DomainEvent>(
        &self,
        actor_id: &ActorId,
        current_version: u64,
        events: Vec<E>,
    ) -> Vec<EventEnvelope<E>> {
        Self::envelopes_with(actor_id, current_version, events, self.event_metadata())
    }

    /// [`CommandEnvelope::envelopes`] with the events' metadata given (the
    /// command's [`CommandEnvelope::event_metadata`] and whatever a writer
    /// adds to it): every event shares it.
    pub fn envelopes_with<E: DomainEvent>(
        actor_id: &ActorId,
        current_version: u64,
        events: Vec<E>,
        metadata: Metadata,
    ) -> Vec<EventEnvelope<E>> {
        let timestamp = Timestamp::now();
        events
            .into_iter()
            .zip(1u64..)
            .map(|(event, n)| EventEnvelope {
                id: EventId::at(timestamp),
                actor_id: actor_id.clone(),
                version: current_version.saturating_add(n),
                event,
                metadata: metadata.clone(),
                timestamp,
            })
            .collect()
    }
}

impl<C> From<C> for CommandEnvelope<C> {
    fn from(command: C) -> Self {
        Self::new(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Ev {
        Opened { owner: String },
        Deposited(u64),
        Closed,
        MaybeNote(Option<String>),
    }

    impl DomainEvent for Ev {
        fn event_type(&self) -> &'static str {
            match self {
                Ev::Opened { .. } => "Opened",
                Ev::Deposited(_) => "Deposited",
                Ev::Closed => "Closed",
                Ev::MaybeNote(_) => "MaybeNote",
            }
        }
    }

    /// Stored under names that differ from the variant names.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum Renamed {
        A { x: u8 },
    }

    impl DomainEvent for Renamed {
        fn event_type(&self) -> &'static str {
            "renamed.a"
        }
    }

    fn actor() -> ActorId {
        ActorId::new("acc-1").unwrap()
    }

    #[test]
    fn payload_is_the_variant_content() {
        assert_eq!(
            Ev::Opened {
                owner: "ada".into()
            }
            .to_data()
            .unwrap(),
            json!({"owner": "ada"})
        );
        assert_eq!(Ev::Deposited(5).to_data().unwrap(), json!(5));
        assert_eq!(Ev::Closed.to_data().unwrap(), Payload::null());
    }

    #[test]
    fn every_shape_round_trips_through_a_stored_event() {
        let cmd = CommandEnvelope::new(())
            .with_correlation_id("req-9")
            .with_user_id("ada");
        let evs = vec![
            Ev::Opened {
                owner: "ada".into(),
            },
            Ev::Deposited(7),
            Ev::Closed,
            Ev::MaybeNote(None),
            Ev::MaybeNote(Some("x".into())),
        ];
        for env in cmd.envelopes(&actor(), 3, evs.clone()) {
            let stored = env.to_event().unwrap();
            stored.validate().unwrap();
            let bytes = stored.to_json_bytes().unwrap();
            let back =
                EventEnvelope::<Ev>::from_event(&Event::from_json_slice(&bytes).unwrap()).unwrap();
            assert_eq!(back, env);
        }
        let r = EventEnvelope {
            id: EventId::new(),
            actor_id: actor(),
            version: 1,
            event: Renamed::A { x: 3 },
            metadata: Metadata::new().with_trace_id("t"),
            timestamp: Timestamp::now(),
        };
        let stored = r.to_event().unwrap();
        assert_eq!(stored.event_type, "renamed.a");
        assert_eq!(EventEnvelope::<Renamed>::from_event(&stored).unwrap(), r);
    }

    #[test]
    fn command_metadata_flows_to_every_event() {
        let cmd = CommandEnvelope::new(())
            .with_correlation_id("req-1")
            .with_user_id("bob")
            .with_command_id(CommandId::new("cmd-1").unwrap());
        let envs = cmd.envelopes(&actor(), 0, vec![Ev::Deposited(1), Ev::Deposited(2)]);
        assert_eq!(
            envs.iter().map(|e| e.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
        for e in &envs {
            assert_eq!(e.metadata.correlation_id(), Some("req-1"));
            assert_eq!(e.metadata.causation_id(), Some("cmd-1"));
            assert_eq!(e.metadata.user_id(), Some("bob"));
        }
        let uncorrelated =
            CommandEnvelope::new(()).with_command_id(CommandId::new("cmd-2").unwrap());
        assert_eq!(
            uncorrelated.event_metadata().correlation_id(),
            Some("cmd-2")
        );
    }

    #[test]
    fn envelopes_at_the_largest_version_saturate_instead_of_overflowing() {
        let cmd = CommandEnvelope::new(());
        let envs = cmd.envelopes(&actor(), u64::MAX - 1, vec![Ev::Closed, Ev::Closed]);
        assert_eq!(
            envs.iter().map(|e| e.version).collect::<Vec<_>>(),
            vec![u64::MAX, u64::MAX]
        );
    }

    #[test]
    fn undecodable_or_mismatched_payloads_are_errors() {
        let bad = Event::new(actor(), 1, "Deposited", json!("not a number"));
        let err = EventEnvelope::<Ev>::from_event(&bad).unwrap_err();
        assert!(err.to_string().contains("Deposited"), "{err}");
        let unknown = Event::new(actor(), 1, "Frozen", json!({}));
        assert!(EventEnvelope::<Ev>::from_event(&unknown).is_err());
        // Decodes (whole-value fallback) but under the wrong stored type.
        let wrong = Event::new(actor(), 1, "Closed", json!({"Deposited": 3}));
        assert!(EventEnvelope::<Ev>::from_event(&wrong).is_err());
    }
}

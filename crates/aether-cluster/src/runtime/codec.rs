//! What a type needs to be called across nodes ([`Routable`]), the calling
//! side's codec of one type, and the bodies of routed replies: an outcome
//! (its events as stored, encoded once), a rejection (the domain error and
//! its text).

use std::fmt::Write as _;

use aether_core::aggregate::{Answers, Behavior, DomainEvent, EventEnvelope};
use aether_core::{CommandId, Error, Event};
use bytes::{BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::outcome::CommandOutcome;

/// An actor type that can be called across nodes: its commands, domain
/// errors, queries and answers travel as JSON. Implemented for every
/// behaviour that [`Answers`] questions (every [`Queryable`] aggregate, and
/// an executable model) whose `Command` and `Error` are `Serialize +
/// DeserializeOwned` (a type without questions can answer `type Query =
/// (); type Answer = ();`).
///
/// [`Queryable`]: aether_core::aggregate::Queryable
pub trait Routable:
    Answers + Behavior<Command: Serialize + DeserializeOwned, Error: Serialize + DeserializeOwned>
{
}

impl<A> Routable for A where
    A: Answers
        + Behavior<Command: Serialize + DeserializeOwned, Error: Serialize + DeserializeOwned>
{
}

/// The calling side's codec of one type: an object, so that `ActorRef<A>`
/// needs no serde bounds of its own.
pub(crate) trait Codec<A: Behavior>: Send + Sync {
    fn command(&self, command: &A::Command) -> Result<Bytes, Error>;
    fn rejection(&self, body: &[u8]) -> Result<A::Error, Error>;
}

/// The JSON codec of a [`Routable`] type (of this name).
pub(crate) struct Json(pub(crate) std::sync::Arc<str>);

impl<A: Routable> Codec<A> for Json {
    fn command(&self, command: &A::Command) -> Result<Bytes, Error> {
        serde_json::to_vec(command)
            .map(Bytes::from)
            .map_err(|e| Error::serialization_with(format!("encoding a {} command", self.0), e))
    }

    fn rejection(&self, body: &[u8]) -> Result<A::Error, Error> {
        serde_json::from_slice::<Rejection<A::Error>>(body)
            .map(|r| r.error)
            .map_err(|e| Error::serialization_with(format!("decoding a {} rejection", self.0), e))
    }
}

/// The body of a `rejected` reply: the domain error, and its text.
#[derive(Debug, Serialize, Deserialize)]
struct Rejection<E> {
    message: String,
    error: E,
}

/// The body of a `rejected` reply to a command of `A`.
pub(crate) fn rejection_body<A: Routable>(name: &str, error: &A::Error) -> Result<Bytes, Error> {
    serde_json::to_vec(&Rejection {
        message: error.to_string(),
        error,
    })
    .map(Bytes::from)
    .map_err(|e| Error::serialization_with(format!("encoding a {name} rejection"), e))
}

/// The body of an `ok` reply to an ask: `{"version": .., "deduplicated":
/// .., "events": [..]}`, the events as stored (the JSON of
/// [`aether_core::Event`]), each given already encoded.
pub(crate) fn outcome_body<'a>(
    version: u64,
    deduplicated: bool,
    events: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Bytes {
    let mut body = BytesMut::with_capacity(64 + events.len() * 256);
    body.put_slice(b"{\"version\":");
    // Writing to a `BytesMut` cannot fail (no string made on the way).
    let _ = write!(body, "{version}");
    body.put_slice(if deduplicated {
        b",\"deduplicated\":true,\"events\":["
    } else {
        b",\"deduplicated\":false,\"events\":["
    });
    for (i, e) in events.enumerate() {
        if i > 0 {
            body.put_u8(b',');
        }
        body.put_slice(e);
    }
    body.put_slice(b"]}");
    body.freeze()
}

/// The events of an outcome, each encoded as stored: the ones the turn
/// encoded, or (for a recorded outcome read back from the log) encoded now.
pub(crate) fn encoded_events<E: DomainEvent>(
    outcome: &CommandOutcome<E>,
) -> Result<Vec<Bytes>, Error> {
    if let Some(stored) = &outcome.stored {
        return Ok(stored.to_vec());
    }
    outcome
        .events
        .iter()
        .map(|e| e.to_event()?.to_json_bytes().map(Bytes::from))
        .collect()
}

/// The body of an `ok` reply to an ask, as read back by the caller.
#[derive(Deserialize)]
struct Outcome {
    version: u64,
    #[serde(default)]
    deduplicated: bool,
    #[serde(default)]
    events: Vec<Event>,
}

/// Decodes the body of an `ok` reply to an ask.
pub(crate) fn decode_outcome<E: DomainEvent>(
    body: &[u8],
    command_id: CommandId,
) -> Result<CommandOutcome<E>, Error> {
    let o: Outcome = serde_json::from_slice(body)
        .map_err(|e| Error::serialization_with("decoding a routed outcome", e))?;
    let events = o
        .events
        .iter()
        .map(EventEnvelope::from_event)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CommandOutcome::new(
        command_id,
        o.version,
        events,
        o.deduplicated,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::ActorId;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Ev {
        Added { by: u64 },
    }
    impl DomainEvent for Ev {
        fn event_type(&self) -> &'static str {
            "Added"
        }
    }

    #[test]
    fn an_outcome_body_round_trips_without_decoding_its_events_first() {
        let actor = ActorId::new("counter-1").unwrap();
        let events: Vec<Event> = (1..=2)
            .map(|v| Event::new(actor.clone(), v, "Added", serde_json::json!({"by": v})))
            .collect();
        let bytes: Vec<Vec<u8>> = events.iter().map(|e| e.to_json_bytes().unwrap()).collect();
        let body = outcome_body(2, false, bytes.iter().map(Vec::as_slice));
        let back: CommandOutcome<Ev> =
            decode_outcome(&body, CommandId::new("c-1").unwrap()).unwrap();
        assert_eq!((back.version, back.deduplicated), (2, false));
        assert_eq!(back.events[1].event, Ev::Added { by: 2 });
        assert_eq!(back.events[0].id, events[0].id);
        let empty = outcome_body(7, true, std::iter::empty());
        let back: CommandOutcome<Ev> =
            decode_outcome(&empty, CommandId::new("c-2").unwrap()).unwrap();
        assert!(back.deduplicated && back.events.is_empty() && back.version == 7);
        assert!(decode_outcome::<Ev>(b"{nope", CommandId::new("c-3").unwrap()).is_err());
    }
}

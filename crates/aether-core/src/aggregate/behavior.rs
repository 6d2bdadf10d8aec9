//! [`Behavior`]: what an actor type decides and how it evolves, given by a
//! value at run time rather than fixed by a Rust type — the seam through
//! which the actor runtime runs compiled aggregates and models loaded while
//! it runs alike. Every [`Aggregate`] is a `Behavior` whose definition is
//! `()` (all of it is in the type), at no cost.

use std::fmt::Debug;

use serde_json::Value;

use super::{Aggregate, DomainEvent, Queryable, SnapshotPolicy};
use crate::error::Error;
use crate::payload::Payload;

/// An actor type's behaviour: its name, its initial state, how it decides
/// commands and folds events, and how its events and state are stored —
/// each given the behaviour's definition `def`, a value (Chassaing's
/// *decider*, with the storage it needs).
///
/// Implemented by every [`Aggregate`] (with `Def = ()`); a behaviour defined
/// by data (an executable model) implements it with its compiled model as
/// the definition. Like an aggregate's, `decide` and `evolve` must be
/// deterministic and free of I/O.
pub trait Behavior: Send + Sync + 'static {
    /// What defines the behaviour at run time (`()` when the type does).
    type Def: Send + Sync + 'static;
    /// The state of one actor.
    type State: Send + Sync + 'static;
    /// The commands it accepts.
    type Command: Debug + Send + Sync + 'static;
    /// The events it records.
    type Event: Clone + Debug + Send + Sync + 'static;
    /// What it rejects a command with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The type's name: the actor type of its ids (`account` for
    /// `account-42`), in logs, metrics and routing subjects.
    fn name(def: &Self::Def) -> &str;

    /// The state before any event.
    fn initial(def: &Self::Def) -> Self::State;

    /// The events `command` causes in `state`, or why it is rejected.
    ///
    /// # Errors
    ///
    /// The behaviour's rejection (nothing is written).
    fn decide(
        def: &Self::Def,
        state: &Self::State,
        command: &Self::Command,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    /// Folds one event into `state`.
    ///
    /// # Errors
    ///
    /// An event the behaviour cannot fold (a data-defined behaviour may meet
    /// one): the actor's state is then not usable — an activation stops with
    /// this error rather than skip the event. A compiled aggregate never
    /// fails here.
    fn evolve(def: &Self::Def, state: &mut Self::State, event: &Self::Event) -> Result<(), Error>;

    /// The type name `event` is stored under.
    fn event_type<'a>(def: &'a Self::Def, event: &'a Self::Event) -> &'a str;

    /// `event`'s stored data.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when it does not encode.
    fn encode_event(def: &Self::Def, event: &Self::Event) -> Result<Payload, Error>;

    /// The event stored as `event_type` with `data`.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when it does not decode (an upcaster may be
    /// missing).
    fn decode_event(def: &Self::Def, event_type: &str, data: &Payload)
    -> Result<Self::Event, Error>;

    /// The version of the state's stored shape: a snapshot of another
    /// version is ignored (full replay).
    fn state_version(def: &Self::Def) -> u32;

    /// The state as stored in a snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when it does not encode.
    fn encode_state(def: &Self::Def, state: &Self::State) -> Result<Value, Error>;

    /// The state a snapshot stored.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when it does not decode.
    fn decode_state(def: &Self::Def, value: Value) -> Result<Self::State, Error>;

    /// When to snapshot unless the configuration says otherwise.
    fn snapshot_policy(def: &Self::Def) -> SnapshotPolicy {
        let _ = def;
        SnapshotPolicy::default()
    }
}

impl<A: Aggregate> Behavior for A {
    type Def = ();
    type State = A;
    type Command = A::Command;
    type Event = A::Event;
    type Error = A::Error;

    fn name((): &()) -> &str {
        A::TYPE
    }

    fn initial((): &()) -> A {
        A::default()
    }

    fn decide((): &(), state: &A, command: &A::Command) -> Result<Vec<A::Event>, A::Error> {
        state.handle(command)
    }

    fn evolve((): &(), state: &mut A, event: &A::Event) -> Result<(), Error> {
        state.apply(event);
        Ok(())
    }

    fn event_type<'a>((): &'a (), event: &'a A::Event) -> &'a str {
        event.event_type()
    }

    fn encode_event((): &(), event: &A::Event) -> Result<Payload, Error> {
        event.to_data()
    }

    fn decode_event((): &(), event_type: &str, data: &Payload) -> Result<A::Event, Error> {
        let event = A::Event::from_data(event_type, data)?;
        if event.event_type() != event_type {
            return Err(Error::serialization(format!(
                "stored event of type {event_type:?} decoded as an event of type {:?}",
                event.event_type()
            )));
        }
        Ok(event)
    }

    fn state_version((): &()) -> u32 {
        A::SNAPSHOT_SCHEMA_VERSION
    }

    fn encode_state((): &(), state: &A) -> Result<Value, Error> {
        serde_json::to_value(state)
            .map_err(|e| Error::serialization_with("encoding aggregate state for a snapshot", e))
    }

    fn decode_state((): &(), value: Value) -> Result<A, Error> {
        serde_json::from_value(value)
            .map_err(|e| Error::serialization_with("decoding the state of a snapshot", e))
    }

    fn snapshot_policy((): &()) -> SnapshotPolicy {
        A::snapshot_policy()
    }
}

/// Read-only questions a [`Behavior`] answers from an actor's state:
/// implemented by every [`Queryable`] aggregate; a data-defined behaviour
/// answers its named queries.
pub trait Answers: Behavior {
    /// The questions.
    type Query: Debug + Send + Sync + 'static;
    /// The answers.
    type Answer: Debug + Send + 'static;

    /// Answers `query` from `state`.
    ///
    /// # Errors
    ///
    /// Why it cannot be answered (an unknown query; an expression that
    /// fails). A compiled aggregate always answers.
    fn answer(
        def: &Self::Def,
        state: &Self::State,
        query: &Self::Query,
    ) -> Result<Self::Answer, Error>;
}

impl<A: Queryable> Answers for A {
    type Query = A::Query;
    type Answer = A::Answer;

    fn answer((): &(), state: &A, query: &A::Query) -> Result<A::Answer, Error> {
        Ok(state.query(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Tally {
        total: u64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Added {
        Added { n: u64 },
    }

    impl DomainEvent for Added {
        fn event_type(&self) -> &'static str {
            "Added"
        }
    }

    impl Aggregate for Tally {
        const TYPE: &'static str = "tally";
        type Command = u64;
        type Event = Added;
        type Error = std::convert::Infallible;
        fn handle(&self, n: &u64) -> Result<Vec<Added>, Self::Error> {
            Ok(vec![Added::Added { n: *n }])
        }
        fn apply(&mut self, Added::Added { n }: &Added) {
            self.total += n;
        }
    }

    impl Queryable for Tally {
        type Query = ();
        type Answer = u64;
        fn query(&self, (): &()) -> u64 {
            self.total
        }
    }

    /// An aggregate, seen through the seam, is itself.
    #[test]
    fn an_aggregate_behaves_as_itself() {
        let mut s = <Tally as Behavior>::initial(&());
        let events = <Tally as Behavior>::decide(&(), &s, &5).unwrap();
        for e in &events {
            <Tally as Behavior>::evolve(&(), &mut s, e).unwrap();
        }
        assert_eq!(s.total, 5);
        assert_eq!(<Tally as Behavior>::name(&()), "tally");
        let data = <Tally as Behavior>::encode_event(&(), &events[0]).unwrap();
        assert_eq!(data.as_str(), r#"{"n":5}"#);
        assert_eq!(
            <Tally as Behavior>::decode_event(&(), "Added", &data).unwrap(),
            events[0]
        );
        assert!(<Tally as Behavior>::decode_event(&(), "Removed", &data).is_err());
        let v = <Tally as Behavior>::encode_state(&(), &s).unwrap();
        assert_eq!(<Tally as Behavior>::decode_state(&(), v).unwrap(), s);
        assert_eq!(<Tally as Answers>::answer(&(), &s, &()).unwrap(), 5);
    }
}

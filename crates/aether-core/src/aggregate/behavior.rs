//! [`Behavior`]: what an actor type decides and how it evolves, given by a
//! value at run time rather than fixed by a Rust type — the seam through
//! which the actor runtime runs compiled aggregates and models loaded while
//! it runs alike. Every [`Aggregate`] is a `Behavior` whose definition is
//! `()` (all of it is in the type), at no cost.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Aggregate, DomainEvent, Queryable, SnapshotPolicy};
use crate::error::Error;
use crate::event::Event;
use crate::id::{ActorId, CommandId};
use crate::metadata::Metadata;

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
    /// The events it records, stored as [`DomainEvent`]s.
    type Event: DomainEvent;
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
        context: &Context<'_>,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    /// As [`Behavior::decide`], and the state after the events when
    /// deciding worked it out already (a data-defined behaviour folds as it
    /// decides): the runtime then takes it instead of folding the events
    /// again. The default decides, and leaves the folding to
    /// [`Behavior::evolve`].
    ///
    /// # Errors
    ///
    /// As [`Behavior::decide`].
    #[allow(clippy::type_complexity)]
    fn decide_next(
        def: &Self::Def,
        state: &Self::State,
        command: &Self::Command,
        context: &Context<'_>,
    ) -> Result<(Vec<Self::Event>, Option<Self::State>), Self::Error> {
        Self::decide(def, state, command, context).map(|events| (events, None))
    }

    /// Whether [`Behavior::check_command`] checks anything (when it does
    /// not, the runtime does not call it).
    const CHECKS_COMMANDS: bool = false;

    /// Checks a command on its caller's task, before it is queued for its
    /// actor (a data-defined behaviour checks it against the command's
    /// schema): a command that fails is a bad request, handed back to its
    /// caller, not applied. A command that passes may be marked as checked
    /// by `def`, so that its turn under the same `def` does not check it
    /// again (the actor's turn is the serial part of a busy actor).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] saying what is wrong with it.
    fn check_command(def: &Self::Def, command: &mut Self::Command) -> Result<(), Error> {
        let _ = (def, command);
        Ok(())
    }

    /// Folds one event into `state`.
    ///
    /// # Errors
    ///
    /// An event the behaviour cannot fold (a data-defined behaviour may meet
    /// one): the actor's state is then not usable — an activation stops with
    /// this error rather than skip the event. A compiled aggregate never
    /// fails here.
    fn evolve(def: &Self::Def, state: &mut Self::State, event: &Self::Event) -> Result<(), Error>;

    /// The stored (and upcast) `event`, decoded. The default is
    /// [`DomainEvent::from_data`], checked to give back the stored type; a
    /// data-defined behaviour may also refuse an event its definition is too
    /// old to read (written under a later version of it).
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when it does not decode (an upcaster may be
    /// missing); a behaviour's own refusal.
    fn decode_event(def: &Self::Def, event: &Event) -> Result<Self::Event, Error> {
        let _ = def;
        let decoded = Self::Event::from_data(&event.event_type, &event.data)?;
        if decoded.event_type() != event.event_type {
            return Err(Error::serialization(format!(
                "stored event of type {:?} decoded as an event of type {:?}",
                event.event_type,
                decoded.event_type()
            )));
        }
        Ok(decoded)
    }

    /// Metadata every event the behaviour writes carries (a data-defined
    /// behaviour's [`Metadata::KEY_MODEL`], `account@3`); `None` (the
    /// default): none.
    fn stamp(def: &Self::Def) -> Option<&Metadata> {
        let _ = def;
        None
    }

    /// Whether an actor's state folded under `old` stays its state under
    /// `new` (a new definition of the same type taking over while actors
    /// are active): `true` adopts `new` in place at the actor's next turn,
    /// `false` (the default) reloads the actor under `new`.
    fn keeps_state(old: &Self::Def, new: &Self::Def) -> bool {
        let _ = (old, new);
        false
    }

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

    fn decide(
        (): &(),
        state: &A,
        command: &A::Command,
        _: &Context<'_>,
    ) -> Result<Vec<A::Event>, A::Error> {
        state.handle(command)
    }

    fn evolve((): &(), state: &mut A, event: &A::Event) -> Result<(), Error> {
        state.apply(event);
        Ok(())
    }

    fn keeps_state((): &(), (): &()) -> bool {
        true
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

/// What a decision may know besides the state and the command: whose
/// command it is, its id and its metadata (an executable model's
/// expressions read them as `actor` and `meta`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Context<'a> {
    /// The actor deciding.
    pub actor_id: &'a ActorId,
    /// The command's id.
    pub command_id: &'a CommandId,
    /// The command's metadata (correlation id, user, trace).
    pub metadata: &'a Metadata,
}

impl<'a> Context<'a> {
    /// The context of command `command_id` to actor `actor_id`.
    pub fn new(actor_id: &'a ActorId, command_id: &'a CommandId, metadata: &'a Metadata) -> Self {
        Self {
            actor_id,
            command_id,
            metadata,
        }
    }
}

/// Read-only questions a [`Behavior`] answers from an actor's state:
/// implemented by every [`Queryable`] aggregate; a data-defined behaviour
/// answers its named queries.
pub trait Answers: Behavior {
    /// The questions (serializable, so they can travel to the actor's node).
    type Query: Serialize + DeserializeOwned + Debug + Send + Sync + 'static;
    /// The answers.
    type Answer: Serialize + DeserializeOwned + Debug + Send + 'static;

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
        let id = crate::ActorId::new("tally-1").unwrap();
        let command_id = crate::CommandId::new("c-1").unwrap();
        let meta = Metadata::new();
        let context = Context::new(&id, &command_id, &meta);
        let events = <Tally as Behavior>::decide(&(), &s, &5, &context).unwrap();
        for e in &events {
            <Tally as Behavior>::evolve(&(), &mut s, e).unwrap();
        }
        assert_eq!(s.total, 5);
        assert_eq!(<Tally as Behavior>::name(&()), "tally");
        let stored = crate::Event::new(id.clone(), 1, "Added", serde_json::json!({"n": 5}));
        assert_eq!(
            <Tally as Behavior>::decode_event(&(), &stored).unwrap(),
            events[0]
        );
        let wrong = crate::Event::new(id, 1, "Removed", serde_json::json!({"n": 5}));
        assert!(<Tally as Behavior>::decode_event(&(), &wrong).is_err());
        let v = <Tally as Behavior>::encode_state(&(), &s).unwrap();
        assert_eq!(<Tally as Behavior>::decode_state(&(), v).unwrap(), s);
        assert_eq!(<Tally as Answers>::answer(&(), &s, &()).unwrap(), 5);
    }
}

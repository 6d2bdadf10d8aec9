//! [`AggregateTest`]: a given/when/then harness for aggregates.
//!
//! Meant for tests: its `then_*` methods panic with a clear message when an
//! expectation fails.

use std::fmt;

use crate::error::Error;
use crate::event::Event;
use crate::id::ActorId;

use super::Aggregate;
use super::typed::{CommandEnvelope, DomainEvent, EventEnvelope};
use super::upcast::UpcasterChain;

/// Given a history, when a command, then events or an error.
///
/// ```
/// # use aether_core::aggregate::*;
/// # fn doc<A: Aggregate>(history: Vec<A::Event>, cmd: A::Command, expected: Vec<A::Event>)
/// # where A::Event: PartialEq {
/// AggregateTest::<A>::given(history).when(cmd).then_expect_events(expected);
/// # }
/// ```
#[must_use = "an AggregateTest checks nothing until `when` and a `then_*` method run"]
pub struct AggregateTest<A: Aggregate> {
    state: A,
    upcasters: UpcasterChain,
}

impl<A: Aggregate + fmt::Debug> fmt::Debug for AggregateTest<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateTest")
            .field("state", &self.state)
            .finish()
    }
}

impl<A: Aggregate> AggregateTest<A> {
    /// A fresh aggregate with no history.
    pub fn given_no_previous_events() -> Self {
        Self {
            state: A::default(),
            upcasters: UpcasterChain::new(),
        }
    }

    /// An aggregate with `events` applied in order.
    pub fn given(events: Vec<A::Event>) -> Self {
        Self::given_no_previous_events().and(events)
    }

    /// Returns self with more events applied.
    pub fn and(mut self, events: Vec<A::Event>) -> Self {
        for e in &events {
            self.state.apply(e);
        }
        self
    }

    /// Returns self with `upcasters` for [`AggregateTest::and_stored`].
    pub fn with_upcasters(mut self, upcasters: UpcasterChain) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// Returns self with stored events (as a store would return them, possibly
    /// of old types or shapes) upcast, decoded and applied.
    ///
    /// # Panics
    /// If an event does not upcast or decode.
    pub fn and_stored(mut self, events: Vec<Event>) -> Self {
        for e in events {
            let env = self
                .upcasters
                .upcast(e)
                .and_then(|e| EventEnvelope::<A::Event>::from_event(&e))
                .unwrap_or_else(|err| panic!("given stored event does not decode: {err}"));
            self.state.apply(&env.event);
        }
        self
    }

    /// The state so far.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// Runs `command` against the state.
    pub fn when(self, command: A::Command) -> AggregateTestResult<A> {
        let result = self.state.handle(&command);
        AggregateTestResult {
            state: self.state,
            result,
        }
    }
}

/// The outcome of [`AggregateTest::when`], to check with `then_*`.
#[must_use = "the command's outcome is only checked by a `then_*` method"]
pub struct AggregateTestResult<A: Aggregate> {
    state: A,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> fmt::Debug for AggregateTestResult<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateTestResult")
            .field("result", &self.result)
            .finish()
    }
}

impl<A: Aggregate> AggregateTestResult<A> {
    /// The raw outcome.
    pub fn result(&self) -> &Result<Vec<A::Event>, A::Error> {
        &self.result
    }

    /// The events, checked to survive the trip through a stored event.
    ///
    /// # Panics
    /// If the command was rejected, or an event does not round-trip.
    pub fn events(&self) -> &[A::Event] {
        let events = match &self.result {
            Ok(events) => events,
            Err(e) => panic!("expected events, but the command was rejected: {e}"),
        };
        for e in events {
            check_round_trip(e);
        }
        events
    }

    /// Asserts the command caused exactly `expected` (and that each event
    /// round-trips through a stored event); returns the state after them.
    ///
    /// # Panics
    /// If it did not.
    pub fn then_expect_events(self, expected: Vec<A::Event>) -> A
    where
        A::Event: PartialEq,
    {
        let got = self.events();
        assert_eq!(got, &expected[..], "the command caused other events");
        self.into_state()
    }

    /// Asserts the command caused no events.
    ///
    /// # Panics
    /// If it was rejected or caused events.
    pub fn then_expect_no_events(self) {
        let got = self.events();
        assert!(got.is_empty(), "expected no events, got {got:?}");
    }

    /// Asserts the command was rejected with an error whose `Display` is
    /// `message`.
    ///
    /// # Panics
    /// If it was not.
    pub fn then_expect_error_message(self, message: &str) {
        match self.result {
            Ok(events) => panic!("expected error {message:?}, but the command caused {events:?}"),
            Err(e) => assert_eq!(e.to_string(), message, "the command failed differently"),
        }
    }

    /// Asserts the command was rejected with an error matching `predicate`,
    /// and returns the error.
    ///
    /// # Panics
    /// If it was not.
    pub fn then_expect_error(self, predicate: impl FnOnce(&A::Error) -> bool) -> A::Error {
        match self.result {
            Ok(events) => panic!("expected an error, but the command caused {events:?}"),
            Err(e) => {
                assert!(
                    predicate(&e),
                    "the command failed with an unexpected error: {e:?}"
                );
                e
            }
        }
    }

    /// The state after applying the command's events (the state before, if
    /// it was rejected).
    pub fn into_state(mut self) -> A {
        if let Ok(events) = &self.result {
            for e in events {
                self.state.apply(e);
            }
        }
        self.state
    }

    /// Asserts `check` holds for the state after the command's events.
    ///
    /// # Panics
    /// If it does not.
    pub fn then_expect_state(self, check: impl FnOnce(&A) -> bool) {
        let state = self.into_state();
        assert!(check(&state), "unexpected state after the command");
    }
}

fn check_round_trip<E: DomainEvent>(event: &E) {
    let env = EventEnvelope {
        id: crate::id::EventId::new(),
        actor_id: ActorId::new("harness-1").unwrap_or_else(|e| panic!("{e}")),
        version: 1,
        event: event.clone(),
        metadata: CommandEnvelope::new(()).event_metadata(),
        timestamp: crate::timestamp::Timestamp::now(),
    };
    let back: Result<EventEnvelope<E>, Error> = env
        .to_event()
        .and_then(|stored| stored.validate().map(|()| stored))
        .and_then(|stored| EventEnvelope::from_event(&stored));
    match back {
        Ok(back) => {
            let a = serde_json::to_value(&back.event).ok();
            let b = serde_json::to_value(event).ok();
            assert_eq!(a, b, "event {event:?} changes when stored and read back");
        }
        Err(e) => panic!("event {event:?} does not survive storage: {e}"),
    }
}

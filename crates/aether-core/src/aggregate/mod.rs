//! Event-sourced aggregates: the programming model of Aether actors.
//!
//! An [`Aggregate`] is a consistency boundary with typed commands, typed
//! events, a state (the aggregate value itself) and a domain error type. It
//! *decides* ([`Aggregate::handle`]: command → events or a domain error) and
//! *evolves* ([`Aggregate::apply`]: state + event → state). It never does I/O.
//!
//! A [`Repository`] runs aggregates over any [`crate::EventStore`] (and,
//! optionally, any [`crate::SnapshotStore`]):
//!
//! - [`Repository::load`]: latest usable snapshot, then replay of only the
//!   events after it, through the [`Upcaster`]s, decoded into typed events
//!   (the [`Loader`], which the actor runtime uses too, so both read the one
//!   snapshot format, [`SnapshotEnvelope`]);
//! - [`Repository::execute`]: load, decide, append the new events atomically
//!   with [`crate::ExpectedVersion::Exact`], apply, and snapshot when the
//!   [`SnapshotPolicy`] says so; on a version conflict it retries under a
//!   [`RetryPolicy`] (bounded attempts, exponential or gap-adaptive backoff with
//!   jitter, an optional [`CircuitBreaker`]); a command that cannot be
//!   committed is handed back in the error, ready for a [`DeferredCommands`]
//!   queue;
//! - [`Repository::execute_loaded`]: the same on an aggregate the caller keeps
//!   in memory (as an actor does): no load, only a catch-up on a conflict.
//!
//! Typed events map to stored [`crate::Event`]s and back without loss
//! ([`EventEnvelope`]); each event of a command carries the command's
//! correlation id and names the command as its cause ([`CommandEnvelope`]).
//!
//! [`AggregateTest`] is a given/when/then harness for unit-testing aggregates.
//!
//! # Example
//!
//! ```
//! use aether_core::aggregate::{Aggregate, AggregateTest, DomainEvent};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Default, Serialize, Deserialize)]
//! struct Counter { value: u64 }
//!
//! #[derive(Debug)]
//! enum CounterCommand { Add(u64) }
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! enum CounterEvent { Added { by: u64 } }
//!
//! impl DomainEvent for CounterEvent {
//!     fn event_type(&self) -> &'static str { "Added" }
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("cannot add zero")]
//! struct AddZero;
//!
//! impl Aggregate for Counter {
//!     const TYPE: &'static str = "counter";
//!     type Command = CounterCommand;
//!     type Event = CounterEvent;
//!     type Error = AddZero;
//!
//!     fn handle(&self, command: &CounterCommand) -> Result<Vec<CounterEvent>, AddZero> {
//!         match *command {
//!             CounterCommand::Add(0) => Err(AddZero),
//!             CounterCommand::Add(by) => Ok(vec![CounterEvent::Added { by }]),
//!         }
//!     }
//!
//!     fn apply(&mut self, event: &CounterEvent) {
//!         match event { CounterEvent::Added { by } => self.value += by }
//!     }
//! }
//!
//! AggregateTest::<Counter>::given(vec![CounterEvent::Added { by: 2 }])
//!     .when(CounterCommand::Add(3))
//!     .then_expect_events(vec![CounterEvent::Added { by: 3 }]);
//! AggregateTest::<Counter>::given_no_previous_events()
//!     .when(CounterCommand::Add(0))
//!     .then_expect_error_message("cannot add zero");
//! ```

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

mod behavior;
mod deferred;
mod error;
mod harness;
mod load;
mod query;
mod repository;
mod retry;
mod snapshot_format;
mod snapshot_policy;
mod tagging;
mod typed;
mod upcast;

pub use behavior::{Answers, Behavior, Context};
pub use deferred::{DeferredCommands, DrainReport};
pub use error::ExecuteError;
pub use harness::{AggregateTest, AggregateTestResult};
pub use load::{Loaded, Loader, NoSnapshots, decode_stored};
pub use query::Queryable;
pub use repository::{Committed, CommittedEvents, ExecError, Repository};
pub use retry::{Backoff, CircuitBreaker, CircuitBreakerConfig, CircuitState, Jitter, RetryPolicy};
pub use snapshot_format::{RecentCommand, SNAPSHOT_FORMAT, SnapshotEnvelope, write_snapshot};
pub use snapshot_policy::SnapshotPolicy;
pub use typed::{CommandEnvelope, DomainEvent, EventEnvelope};
pub use upcast::{Upcaster, UpcasterChain};

/// An event-sourced aggregate: the state of one actor, the commands it
/// accepts, the events it records and the errors it rejects commands with.
///
/// The aggregate value is its state. [`Default`] is the state before any
/// event; [`Serialize`]/[`DeserializeOwned`] give snapshots (bump
/// [`Aggregate::SNAPSHOT_SCHEMA_VERSION`] whenever the serialized shape
/// changes, so older snapshots are ignored instead of mis-read).
///
/// Both methods must be deterministic and free of I/O: [`Aggregate::apply`]
/// is called on every replay, and [`Aggregate::handle`] may be called more
/// than once for one command when a conflict forces a retry.
pub trait Aggregate: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The aggregate type name (used in logs, metrics and spans; by convention
    /// the actor type of its ids, as in `"account"` for `account-42`).
    const TYPE: &'static str;

    /// The schema version of the serialized state, stored in every snapshot.
    /// Snapshots with another schema version are ignored (full replay).
    const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

    /// The commands this aggregate accepts.
    type Command: Debug + Send + Sync + 'static;

    /// The events this aggregate records.
    type Event: DomainEvent;

    /// The domain error a command is rejected with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decides: the events `command` causes in the current state, or the
    /// reason it is rejected. Must not change anything.
    fn handle(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Evolves: folds one event into the state. Must not fail: the event is a
    /// fact that already happened.
    fn apply(&mut self, event: &Self::Event);

    /// The snapshot policy of this aggregate type; the repository uses it
    /// unless [`Repository::with_snapshot_policy`] overrides it.
    fn snapshot_policy() -> SnapshotPolicy {
        SnapshotPolicy::default()
    }
}

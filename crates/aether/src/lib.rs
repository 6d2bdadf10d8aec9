//! Distributed, event-sourced virtual actors on NATS JetStream.
//!
//! This crate is the facade: it re-exports the Aether crates behind features.
//! Most programs need only the [`prelude`].
//!
//! What you write is an [`Aggregate`](prelude::Aggregate): the state of one
//! actor, the commands it takes, the events it records, the error it refuses
//! with, and two functions without I/O: [`handle`](prelude::Aggregate::handle)
//! decides (a command becomes events, or a refusal) and
//! [`apply`](prelude::Aggregate::apply) evolves (an event changes the state).
//! A bank account:
//!
//! ```
//! use aether::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Default, Serialize, Deserialize)]
//! struct Account { balance: u64 }
//!
//! #[derive(Debug)]
//! enum AccountCommand { Deposit(u64), Withdraw(u64) }
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! enum AccountEvent { Deposited { amount: u64 }, Withdrawn { amount: u64 } }
//!
//! impl DomainEvent for AccountEvent {
//!     fn event_type(&self) -> &'static str {
//!         match self {
//!             Self::Deposited { .. } => "Deposited",
//!             Self::Withdrawn { .. } => "Withdrawn",
//!         }
//!     }
//! }
//!
//! #[derive(Debug)]
//! struct InsufficientFunds { balance: u64 }
//!
//! impl std::fmt::Display for InsufficientFunds {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         write!(f, "insufficient funds: the balance is {}", self.balance)
//!     }
//! }
//! impl std::error::Error for InsufficientFunds {}
//!
//! impl Aggregate for Account {
//!     const TYPE: &'static str = "account"; // its actors are `account-<key>`
//!     type Command = AccountCommand;
//!     type Event = AccountEvent;
//!     type Error = InsufficientFunds;
//!
//!     fn handle(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, InsufficientFunds> {
//!         match *command {
//!             AccountCommand::Deposit(amount) => Ok(vec![AccountEvent::Deposited { amount }]),
//!             AccountCommand::Withdraw(amount) if amount > self.balance => {
//!                 Err(InsufficientFunds { balance: self.balance })
//!             }
//!             AccountCommand::Withdraw(amount) => Ok(vec![AccountEvent::Withdrawn { amount }]),
//!         }
//!     }
//!
//!     fn apply(&mut self, event: &AccountEvent) {
//!         match event {
//!             AccountEvent::Deposited { amount } => self.balance += amount,
//!             AccountEvent::Withdrawn { amount } => self.balance -= amount,
//!         }
//!     }
//! }
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Balance; // a question the actor answers from its state
//!
//! impl Queryable for Account {
//!     type Query = Balance;
//!     type Answer = u64;
//!     fn query(&self, _: &Balance) -> u64 { self.balance }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // An actor system runs it as virtual actors, here on the in-memory store.
//! let system = ActorSystem::builder()
//!     .events(aether::memory::InMemoryEventStore::new())
//!     .register::<Account>(ActorConfig::default())
//!     .start()
//!     .await?;
//! let ada = system.actor::<Account>("ada")?;
//! ada.ask(AccountCommand::Deposit(100)).await?; // committed when it returns
//! let refused = ada.ask(AccountCommand::Withdraw(500)).await;
//! assert!(matches!(refused, Err(AskError::Rejected(InsufficientFunds { balance: 100 }))));
//! assert_eq!(ada.query(Balance).await?, 100);
//! system.shutdown().await?;
//!
//! // Without actors, a repository loads, decides and appends per command.
//! let accounts = Repository::<Account, _>::new(aether::memory::InMemoryEventStore::new());
//! let done = accounts.execute(&ActorId::new("account-bob")?, AccountCommand::Deposit(5)).await?;
//! assert_eq!((done.version, done.state.balance), (1, 5));
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! | feature     | default | what it adds                                   |
//! |-------------|---------|------------------------------------------------|
//! | `memory`    | yes     | [`memory`]: the in-memory store                |
//! | `runtime`   | yes     | [`runtime`]: the virtual-actor runtime (on one node with any store) |
//! | `jetstream` | no      | [`jetstream`]: the NATS JetStream store        |
//! | `bus`       | no      | [`bus`]: the local and cross-node event bus    |
//! | `cluster`   | no      | [`cluster`]: hash ring, shards, membership, leader election |
//! | `full`      | no      | all of the above                               |
//!
//! Any of `jetstream`, `bus` and `cluster` also adds [`nats`] (server
//! addresses and connect settings every NATS-backed component shares) and
//! [`async_nats`].

#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use aether_core as core;

#[doc(inline)]
pub use aether_core::aggregate;

#[doc(inline)]
pub use aether_core::{
    ActorId, BoxError, CommandId, ComponentError, DynEventStore, DynSnapshotStore, Error,
    ErrorKind, Event, EventId, EventLog, EventStore, EventStored, EventStoredHook, ExpectedVersion,
    InvalidId, LogCursor, LogEntry, LogPosition, LogSelection, LogSubscription, MAX_DURATION,
    Metadata, NodeId, Payload, Replay, Result, SharedError, Snapshot, SnapshotStore, Timestamp,
    VersionConflict, error_chain, validate_name,
};

#[cfg(feature = "memory")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory")))]
#[doc(inline)]
pub use aether_store_memory as memory;

#[cfg(feature = "jetstream")]
#[cfg_attr(docsrs, doc(cfg(feature = "jetstream")))]
#[doc(inline)]
pub use aether_store_jetstream as jetstream;

#[cfg(feature = "bus")]
#[cfg_attr(docsrs, doc(cfg(feature = "bus")))]
#[doc(inline)]
pub use aether_bus as bus;

#[cfg(feature = "cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
#[doc(inline)]
pub use aether_cluster as cluster;

#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
#[doc(inline)]
pub use aether_cluster::runtime;

#[cfg(feature = "projection")]
#[cfg_attr(docsrs, doc(cfg(feature = "projection")))]
#[doc(inline)]
pub use aether_projection as projection;

#[cfg(any(
    feature = "jetstream",
    feature = "bus",
    feature = "cluster",
    feature = "projection"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "jetstream",
        feature = "bus",
        feature = "cluster",
        feature = "projection"
    )))
)]
#[doc(inline)]
pub use aether_nats as nats;

/// The NATS client the JetStream store, the NATS bus and the cluster are built on,
/// re-exported so that callers use the same version (for example to build the
/// `async_nats::Client` the components' `open` and `start` take).
#[cfg(any(
    feature = "jetstream",
    feature = "bus",
    feature = "cluster",
    feature = "projection"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "jetstream",
        feature = "bus",
        feature = "cluster",
        feature = "projection"
    )))
)]
pub use async_nats;

/// The programming model: the names an Aether program writes with.
///
/// Aggregates ([`Aggregate`](prelude::Aggregate), [`DomainEvent`](prelude::DomainEvent)),
/// running them ([`Repository`](prelude::Repository), [`CommandEnvelope`](prelude::CommandEnvelope),
/// [`RetryPolicy`](prelude::RetryPolicy), [`SnapshotPolicy`](prelude::SnapshotPolicy)),
/// what can go wrong ([`Error`], [`ExecuteError`](prelude::ExecuteError)),
/// the ids, and the store traits.
pub mod prelude {
    #[cfg(feature = "runtime")]
    pub use aether_cluster::runtime::{
        ActorConfig, ActorRef, ActorSystem, AskError, CommandOutcome, RuntimeConfig,
    };
    pub use aether_core::aggregate::{
        Aggregate, CommandEnvelope, DomainEvent, EventEnvelope, ExecError, ExecuteError, Loaded,
        Queryable, Repository, RetryPolicy, SnapshotPolicy,
    };
    pub use aether_core::{
        ActorId, CommandId, Error, Event, EventLog, EventStore, ExpectedVersion, LogCursor,
        LogPosition, Metadata, NodeId, Payload, Snapshot, SnapshotStore, json,
    };
    #[cfg(feature = "projection")]
    pub use aether_projection::{Checkpointing, Filter, Projection, ProjectionRunner};
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

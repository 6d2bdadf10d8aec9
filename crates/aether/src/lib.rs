//! Distributed, event-sourced virtual actors on NATS JetStream.
//!
//! This crate is the facade: it re-exports the Aether crates behind features.
//! Most programs need only the [`prelude`]:
//!
//! ```
//! use aether::prelude::*;
//! use aether::memory::InMemoryEventStore;
//! use aether_testkit::fixtures::Counter; // an `Aggregate`: adds its command to a value
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let counters = Repository::<Counter, _>::new(InMemoryEventStore::new());
//! let id = ActorId::new("counter-1")?;
//! let done = counters.execute(&id, 5).await?;
//! assert_eq!((done.version, done.state.value), (1, 5));
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
    InvalidId, LogEntry, LogPosition, LogSelection, LogSubscription, MAX_DURATION, Metadata,
    NodeId, Replay, Result, SharedError, Snapshot, SnapshotStore, Timestamp, VersionConflict,
    error_chain, validate_name,
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
        ActorId, CommandId, Error, Event, EventLog, EventStore, ExpectedVersion, LogPosition,
        Metadata, NodeId, Snapshot, SnapshotStore, json,
    };
    #[cfg(feature = "projection")]
    pub use aether_projection::{Checkpointing, Filter, Projection, ProjectionRunner};
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

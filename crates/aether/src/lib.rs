//! Distributed, event-sourced virtual actors on NATS JetStream.
//!
//! This crate is the facade: it re-exports the Aether crates behind features.
//!
//! # Feature flags
//!
//! | feature     | default | what it adds                                   |
//! |-------------|---------|------------------------------------------------|
//! | `memory`    | yes     | [`memory`]: the in-memory store                |
//! | `jetstream` | no      | [`jetstream`]: the NATS JetStream store        |
//! | `bus`       | no      | [`bus`]: the local and cross-node event bus    |
//! | `cluster`   | no      | [`cluster`]: hash ring, shards, membership, leader election |
//! | `full`      | no      | all of the above                               |
//!
//! # Example
//!
//! ```
//! use aether::prelude::*;
//!
//! let actor = ActorId::new("account-1").unwrap();
//! let event = Event::new(actor, 1, "Opened", json!({"owner": "ada"}));
//! assert_eq!(event.version, 1);
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use aether_core as core;

#[doc(inline)]
pub use aether_core::aggregate;

#[doc(inline)]
pub use aether_core::{
    ActorId, DynEventStore, DynSnapshotStore, Error, Event, EventId, EventStore, EventStored,
    EventStoredHook, ExpectedVersion, Metadata, Replay, Result, Snapshot, SnapshotStore, Timestamp,
    VersionConflict,
};

#[cfg(feature = "memory")]
#[doc(inline)]
pub use aether_store_memory as memory;

#[cfg(feature = "jetstream")]
#[doc(inline)]
pub use aether_store_jetstream as jetstream;

#[cfg(feature = "bus")]
#[doc(inline)]
pub use aether_bus as bus;

#[cfg(feature = "cluster")]
#[doc(inline)]
pub use aether_cluster as cluster;

/// The NATS client the JetStream store, the NATS bus and the cluster are built on,
/// re-exported so that callers use the same version (for example to build the
/// `async_nats::Client` that `cluster::ClusterNode::start` takes).
#[cfg(any(feature = "jetstream", feature = "bus", feature = "cluster"))]
pub use async_nats;

/// The names most programs need.
pub mod prelude {
    pub use aether_core::{
        ActorId, Error, Event, EventStore, ExpectedVersion, Metadata, Snapshot, SnapshotStore, json,
    };
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

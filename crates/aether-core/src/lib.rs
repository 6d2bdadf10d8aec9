//! Core types of Aether: events, ids, errors and the async store traits.
//!
//! Aether is a library for distributed, event-sourced virtual actors on NATS
//! JetStream. This crate holds what every other Aether crate shares and has no
//! I/O of its own:
//!
//! - [`Event`] (with [`EventId`], [`ActorId`], [`Payload`], [`Metadata`],
//!   [`Timestamp`]) and its stable JSON wire format; an event's data is a
//!   [`Payload`], its JSON text, encoded once and decoded only by a reader
//!   that asks;
//! - [`NodeId`] (which process this is) and [`CommandId`] (one command
//!   across its retries), with the one name rule ([`validate_name`]) for
//!   cluster names, stream names and namespaces;
//! - [`Error`], whose [`Error::VersionConflict`] carries the actor, the
//!   attempted and the current version, and [`ComponentError`], the one
//!   kind-plus-source shape of component errors (bus, cluster, runtime);
//! - the store traits: [`EventStore`] (append-only, per-actor optimistic
//!   concurrency, atomic batches, replay that reports malformed entries) and
//!   [`SnapshotStore`], with object-safe twins [`DynEventStore`] and
//!   [`DynSnapshotStore`];
//! - [`EventStored`] notifications and the [`EventStoredHook`] stores call;
//! - the [`aggregate`] programming model: typed commands and events, a
//!   [`aggregate::Repository`] that loads (snapshot + tail), executes with
//!   optimistic concurrency, retries conflicts and snapshots by policy, and a
//!   given/when/then test harness.
//!
//! Backends live in `aether-store-memory` and `aether-store-jetstream`.
//!
//! # Example
//!
//! ```
//! use aether_core::{ActorId, Event, Metadata};
//! use serde_json::json;
//!
//! let actor = ActorId::new("account-7").unwrap();
//! assert_eq!(actor.actor_type(), "account");
//! let opened = Event::new(actor.clone(), 1, "AccountOpened", json!({"owner": "ada"}))
//!     .with_metadata(Metadata::new().with_correlation_id("req-1").with_user_id("ada"));
//! let deposited = Event::new(actor, 2, "Deposited", json!({"amount": 10})).caused_by(&opened);
//! assert_eq!(deposited.metadata.correlation_id(), Some("req-1"));
//! ```

pub mod aggregate;
mod chain;
mod component_error;
mod dyn_store;
mod error;
mod event;
pub mod hash;
mod id;
mod log;
mod metadata;
mod notify;
mod payload;
mod snapshot;
mod source;
mod store;
mod timestamp;

pub use chain::error_chain;
pub use component_error::{ComponentError, ErrorKind};
pub use dyn_store::{BoxFuture, DynEventStore, DynSnapshotStore};
pub use error::{Error, Result, VersionConflict};
pub use event::Event;
pub use id::{ActorId, CommandId, EventId, InvalidId, MAX_NAME_LEN, NodeId, validate_name};
pub use log::{
    EventLog, LOG_CHUNK, LogCursor, LogEntry, LogFeed, LogPosition, LogSelection, LogSubscription,
};
pub use metadata::Metadata;
pub use notify::{EventStored, EventStoredHook, HookSlot};
pub use payload::Payload;
pub use snapshot::{Snapshot, SnapshotStore};
pub use source::{BoxError, SharedError};
pub use store::{EventStore, ExpectedVersion, MalformedEvent, Replay, validate_batch};
pub use timestamp::Timestamp;

/// The longest duration any Aether setting accepts (timeouts, leases,
/// intervals): one day. Keeps every deadline computed from settings
/// (`now + 4 × timeout`, `sent + lease`, ...) far from overflowing.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Re-exported so users need not depend on `serde_json` for event data.
pub use serde_json::{self, Value, json};

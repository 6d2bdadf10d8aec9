//! In-memory event and snapshot store for Aether: exact, thread-safe, no I/O.
//!
//! [`InMemoryEventStore`] implements [`aether_core::EventStore`] and
//! [`InMemorySnapshotStore`] implements [`aether_core::SnapshotStore`]. Both
//! keep everything in a [`dashmap::DashMap`] keyed by actor, so writers to
//! different actors rarely contend, and both are cheap to clone: clones share
//! the same data.
//!
//! The event store gives the same guarantees as every Aether backend (it passes
//! the `aether_testkit::conformance` suite):
//!
//! - **exact optimistic concurrency**: the version check and the append happen
//!   under the actor's shard lock, so of concurrent appends for the same
//!   version exactly one wins and the others get
//!   [`aether_core::Error::VersionConflict`] with the real current version;
//! - **atomic batches**: a batch is validated with [`aether_core::validate_batch`]
//!   and checked with [`aether_core::ExpectedVersion::admits`] before anything
//!   is stored; it is stored whole or not at all;
//! - **ordered notifications**: with [`InMemoryEventStore::with_hook`], the
//!   hook gets one [`aether_core::EventStored`] per stored event, in version
//!   order per actor, never for a failed append, and never while a store lock
//!   is held (a hook may call the store again).
//!
//! Use it in tests, in examples, and for single-process deployments that do not
//! need durability: everything is lost when the process ends. There is no size
//! limit on events.
//!
//! # Example
//!
//! ```
//! use aether_core::{ActorId, Event, EventStore, ExpectedVersion, Snapshot, SnapshotStore, json};
//! use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
//!
//! # futures::executor::block_on(async {
//! let store = InMemoryEventStore::new();
//! let account = ActorId::new("account-1").unwrap();
//!
//! store.append(Event::new(account.clone(), 1, "Opened", json!({"owner": "ada"}))).await?;
//! let batch = vec![
//!     Event::new(account.clone(), 2, "Deposited", json!({"amount": 10})),
//!     Event::new(account.clone(), 3, "Deposited", json!({"amount": 5})),
//! ];
//! assert_eq!(store.append_batch(&account, ExpectedVersion::Exact(1), batch).await?, 3);
//!
//! // A stale writer loses with the current version in hand.
//! let stale = Event::new(account.clone(), 2, "Withdrawn", json!({"amount": 1}));
//! let conflict = store.append(stale).await.unwrap_err();
//! assert_eq!(conflict.as_conflict().unwrap().current, 3);
//!
//! assert_eq!(store.read(&account, 2).await?.len(), 2);
//!
//! let snapshots = InMemorySnapshotStore::new();
//! snapshots.save_snapshot(Snapshot::new(account.clone(), 3, json!({"balance": 15}))).await?;
//! assert_eq!(snapshots.latest_snapshot(&account).await?.unwrap().version, 3);
//! # Ok::<(), aether_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Feature flags
//!
//! None.

mod chunked;
mod event_store;
mod global;
mod key;
mod log;
mod snapshot_store;
mod subscribe;

pub use event_store::InMemoryEventStore;
pub use snapshot_store::InMemorySnapshotStore;

// Compile-time checks: the public handles can be shared across tasks and threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<InMemoryEventStore>();
    assert_send_sync::<InMemorySnapshotStore>();
};

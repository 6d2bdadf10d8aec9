//! NATS JetStream event and snapshot store for Aether.
//!
//! [`JetStreamEventStore`] implements [`aether_core::EventStore`] for many
//! processes on many machines writing to one NATS cluster:
//!
//! - **One subject per actor**: `<stream>.events.<actor type>.<actor id>`, both
//!   tokens encoded injectively ([`encode_token`]), so `a.b`, `a_b` and `a b`
//!   are three actors.
//! - **Optimistic concurrency enforced by the server**: every append carries
//!   `Nats-Expected-Last-Subject-Sequence`; of concurrent appends for one
//!   version exactly one wins, across connections and machines. A bounded
//!   local cache of (version, sequence) saves a lookup per append; a stale
//!   entry costs one conflict-and-refresh, never a wrong accept.
//! - **Atomic batches** with the server's atomic batch publish (nats-server
//!   ≥ 2.12; older servers get [`aether_core::Error::Unsupported`]).
//! - **Dedupe**: the expected sequence lets at most one publish of an append
//!   land, and an append that finds its own event already at the tip reports
//!   success, so retrying after a lost ack never stores a second copy.
//! - **One header per event**: a one-event message carries only the
//!   expected sequence; version and id are read from the payload (every
//!   header costs client time on each replay, bytes on disk and server work).
//! - **Latest version in one round trip** (last message for the subject,
//!   direct get on single-replica streams), no consumer.
//! - **Replay** of short histories by batched direct get, of long ones
//!   through a pull consumer filtered to the actor's subject (ordered-consumer
//!   settings, a [`PULL_BATCH`]-message window, deliveries checked in order),
//!   from a start sequence found by binary search for late `from_version`s;
//!   malformed messages are reported, never skipped silently. The global log
//!   ([`aether_core::EventLog`]) reads the same kind of consumer.
//! - **Namespaces**: each namespace has its own stream.
//! - **One ack subscription per store**: appends publish with reply subjects
//!   under one inbox of the connection (its inbox prefix, so the permissions
//!   any NATS request needs suffice) and the store routes every ack through
//!   one wildcard subscription, read by one task.
//!
//! [`JetStreamSnapshotStore`] keeps the latest snapshot per actor.
//!
//! # Example
//!
//! ```no_run
//! use aether_core::{ActorId, Event, EventStore, ExpectedVersion, json};
//! use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
//!
//! # async fn run() -> aether_core::Result<()> {
//! let config = JetStreamConfig { namespace: "shop".into(), ..Default::default() };
//! let store = JetStreamEventStore::connect("nats://127.0.0.1:4222", config).await?;
//!
//! let cart = ActorId::new("cart-42")?;
//! let added = Event::new(cart.clone(), 1, "ItemAdded", json!({"sku": "tea"}));
//! store.append(added).await?;
//!
//! // Strict succession, two events atomically:
//! let batch = vec![
//!     Event::new(cart.clone(), 2, "ItemAdded", json!({"sku": "milk"})),
//!     Event::new(cart.clone(), 3, "CheckedOut", json!({})),
//! ];
//! store.append_batch(&cart, ExpectedVersion::Exact(1), batch).await?;
//!
//! assert_eq!(store.latest_version(&cart).await?, 3);
//! let history = store.read(&cart, 1).await?;
//! assert_eq!(history.len(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! # Durability
//!
//! An acknowledged append is as durable as the stream: use `replicas: 3` and
//! run the servers with `jetstream { sync_interval: always }` for events that
//! must survive power loss (see `docs/guarantees.md`).

mod admin;
mod cache;
mod config;
mod error;
mod headers;
mod layout;
mod repartition;
mod snapshot;
mod store;
mod subject;

pub use admin::{LeaderMove, PartitionInfo};
pub use aether_nats::{ConnectConfig, StorageType, ToServerAddrs};
pub use config::JetStreamConfig;
pub use headers::{COUNT as HEADER_COUNT, EVENT_ID as HEADER_EVENT_ID, VERSION as HEADER_VERSION};
pub use repartition::{RepartitionReport, repartition};
pub use snapshot::JetStreamSnapshotStore;
pub use store::{JetStreamEventStore, MAX_BATCH_EVENTS, PULL_BATCH};
pub use subject::{Subjects, decode_token, encode_token};

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn public_handles_are_send_sync_and_clone() {
        send_sync_clone::<JetStreamEventStore>();
        send_sync_clone::<JetStreamSnapshotStore>();
        send_sync_clone::<JetStreamConfig>();
        send_sync_clone::<Subjects>();
    }
}

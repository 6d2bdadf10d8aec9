//! Local and cross-node event bus for Aether.
//!
//! - [`LocalEventBus`]: in-process publish/subscribe by namespace with
//!   NATS-style wildcards (`*` one token, `>` one or more trailing tokens),
//!   filters by event type and actor-id pattern, and a bounded queue per
//!   subscription with a declared [`OverflowPolicy`]. Subscriptions are indexed
//!   in a token trie, so publishing costs the same with 10,000 non-matching
//!   subscriptions as with one.
//! - [`NatsEventBus`]: the same API ([`EventBus`]) across processes over core
//!   NATS, with namespace isolation, exact event round-trips, lag detection by
//!   per-publisher sequence numbers, and [`aether_core::EventStored`]
//!   notifications shared between nodes (see [`NatsEventBus::sync_version_cache`]).
//!   Publications go out through a bounded outbox; events that queue up share
//!   NATS messages, in a compact binary format (see [`NatsBusConfig`]).
//!
//! # No silent drops
//!
//! Each subscription declares what happens when it cannot keep up:
//! [`OverflowPolicy::Wait`] (publishers wait), [`OverflowPolicy::DropOldest`]
//! (the default: the subscriber receives [`BusItem::Lagged`] with the exact
//! number it missed) or [`OverflowPolicy::Close`] (the subscription ends with
//! [`RecvError::Overflowed`]). Every drop is counted (see [`BusStats`] and the
//! `metrics` counters listed in the `metrics` module docs).
//!
//! # Namespaces, isolation and security
//!
//! A namespace is one or more `.`-separated NATS tokens; its first token is
//! the isolation boundary (typically the tenant: `tenant-a.orders`).
//! Publishing requires a concrete namespace (no wildcards).
//! [`EventBus::subscribe`] refuses patterns whose first token is a wildcard;
//! [`EventBus::subscribe_cross_namespace`] accepts them, for trusted consumers
//! that must see several tenants. This is an API guard against mistakes, not
//! an access-control boundary: anyone holding the same NATS credentials can
//! subscribe to the raw subjects. Enforce tenant separation between untrusted
//! processes with NATS accounts or subject permissions on
//! `<prefix>.ev.<tenant>.>`.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), aether_bus::BusError> {
//! use aether_bus::{BusItem, Filter, LocalEventBus, OverflowPolicy, SubscribeOptions};
//! use aether_core::{ActorId, Event, json};
//!
//! let bus = LocalEventBus::new();
//! let mut deposits = bus.subscribe_with(
//!     "bank.>",
//!     Filter::new().event_types(["Deposited"]).actor_pattern("account-*")?,
//!     SubscribeOptions::new(256, OverflowPolicy::DropOldest),
//! )?;
//! let e = Event::new(ActorId::new("account-1").unwrap(), 1, "Deposited", json!({"amount": 5}));
//! assert_eq!(bus.publish("bank.eu", e).await?, 1);
//! assert!(matches!(deposits.recv().await, Ok(BusItem::Event(_))));
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! None.

mod bus;
mod core;
mod dispatch;
mod error;
mod filter;
mod gaps;
mod hash;
mod item;
mod local;
mod metrics;
mod namespace;
mod nats;
mod pattern;
mod queue;
mod sublist;
mod subscription;
mod sync;
mod wire;

pub use bus::EventBus;
pub use error::{BusError, BusErrorKind};
pub use filter::Filter;
pub use item::{BusItem, Envelope, OverflowPolicy, RecvError, SubscribeOptions};
pub use local::LocalEventBus;
pub use metrics::BusStats;
pub use namespace::Namespace;
pub use nats::{NatsBusConfig, NatsEventBus, VersionCacheSync};
pub use pattern::{MAX_NAMESPACE_LEN, Pattern, is_wildcard, matches_pattern, validate_namespace};
pub use subscription::{EventSubscription, StoredSubscription, Subscription};

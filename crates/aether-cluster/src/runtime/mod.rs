//! The virtual-actor runtime: aggregates as actors, activated on demand,
//! run in turns with group commit, passivated when idle.
//!
//! Register aggregate types with an [`ActorSystem`], get an [`ActorRef`] by
//! id (no I/O), and [`ask`](ActorRef::ask), [`tell`](ActorRef::tell) or
//! [`query`](ActorRef::query) it:
//!
//! - **Activation.** The first message for an actor loads it (its latest
//!   snapshot, then the events after it) once, however many messages arrive
//!   meanwhile; at most [`RuntimeConfig::recovery_permits`] loads run at once
//!   on a node, loads for a waiting caller first.
//! - **Turns with group commit, run by their callers.** An active actor has
//!   no task of its own. An `ask` or a `query` that finds its actor at rest
//!   runs it right there, in the caller's task (no hand-off, no wake-up);
//!   messages that arrive meanwhile queue in its bounded mailbox, and the
//!   runner takes them in turns: a turn decides the queued commands one
//!   after another and commits all their events as **one atomic append with
//!   one expected-version check**, then answers each caller (group commit
//!   as flat combining). A caller that ran its own command hands what queued
//!   behind it to a task, and an actor whose mailbox is empty is at rest
//!   again. A rejected command does not spoil the others; a conflict
//!   (someone else wrote) means reload from the log and decide again; a
//!   panic in the aggregate fails only the command or query it ran for.
//! - **Exactly-once effects per command id.** Each actor remembers the ids
//!   of its recent commands ([`ActorConfig::dedupe_window`], kept in its
//!   snapshots and rebuilt from the events' causation ids), so a retry with
//!   the same id returns the recorded outcome instead of deciding again,
//!   across passivation and restarts.
//! - **Passivation.** After [`Passivation::idle`] without messages (one
//!   sweep per node finds them: no timer per actor), or when the node is
//!   over [`RuntimeConfig::max_active`] (the least recently used first, by
//!   the CLOCK approximation; a new activation is never refused), with a
//!   snapshot when enough events were committed since the last one.
//! - **Answers say whether the command took effect.** [`AskError::Timeout`]
//!   is the only "maybe" (retry with the same id); every other error but a
//!   rejection hands the command back, surely not applied. No call waits past
//!   its deadline.
//!
//! # Placements
//!
//! The placement is chosen when the system is built, and decides which
//! types it accepts when the program compiles:
//!
//! - [`ActorSystem::builder`]: every actor on this node, with any
//!   [`aether_core::EventStore`] (the in-memory store needs no server) and
//!   any [`aether_core::aggregate::Aggregate`]. Needs no NATS: this part of
//!   the crate builds without its `nats` feature.
//! - `ActorSystem::cluster(node)` (feature `nats`): a cluster member runs
//!   the actors of the shards the map gives it and routes calls for the
//!   others to the node serving their shard; only [`Routable`] types.
//! - `ActorSystem::remote(client, config)` (feature `nats`): a caller that
//!   runs no actor and takes no stores; every call goes to the cluster.
//!
//! The local runtime knows the distributed side only through two seams: a
//! *fence* (may this node run this actor's turns now, and what do its
//! events say about their writer) and a *transport* (one attempt of a call,
//! as encoded bytes, to whoever serves the actor). The one loop of routed
//! calls, the one table between wire statuses and errors, and the serving
//! side of a request are transport-free; the NATS side implements the
//! seams with shard claims and NATS requests.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use aether_cluster::runtime::{ActorConfig, ActorSystem, AskError};
//! use aether_core::CommandId;
//! use aether_store_memory::InMemoryEventStore;
//! use aether_testkit::fixtures::{Account, AccountError, Balance, deposit, open, withdraw};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let system = ActorSystem::builder()
//!     .events(InMemoryEventStore::new())
//!     .register::<Account>(ActorConfig::default())
//!     .start()
//!     .await?;
//! let ada = system.actor::<Account>("ada")?; // the actor `account-ada`
//! ada.ask(open("Ada")).await?;
//!
//! // A retry with the same command id returns the recorded outcome.
//! let id = CommandId::new("pay-7")?;
//! let first = ada.ask(deposit(100)).command_id(id.clone()).await?;
//! let again = ada.ask(deposit(100)).command_id(id).deadline(Duration::from_secs(1)).await?;
//! assert!(again.deduplicated && again.version == first.version);
//! assert_eq!(ada.query(Balance).await?, 100);
//!
//! match ada.ask(withdraw(500)).await {
//!     Err(AskError::Rejected(AccountError::InsufficientFunds { .. })) => {}
//!     other => panic!("{other:?}"),
//! }
//! system.shutdown().await?;
//! # Ok(())
//! # }
//! ```

// The transport-free half of routed calls (the loop, the serving side, the
// status table, the codec) has one transport today, NATS, behind the `nats`
// feature: without it those parts are compiled (and unit-tested) but unused.
#![cfg_attr(not(feature = "nats"), allow(dead_code))]

mod actor;
mod actor_ref;
mod actors;
mod backoff;
mod builder;
mod call;
mod clock;
#[cfg(feature = "nats")]
mod cluster;
mod codec;
mod config;
mod decision;
mod dedupe;
mod define;
mod dehydrated;
mod dispatch;
mod error;
mod fence;
mod handoff;
mod host;
mod local;
mod message;
mod node;
mod outcome;
mod permits;
mod reach;
mod registry;
mod serve;
mod state;
mod status;
mod stores;
mod system;
mod transport;
mod turn;
mod type_metrics;

pub use actor_ref::{ActorRef, Ask, CallFuture, Query, Tell, Timer};
pub use builder::{ActorSystemBuilder, OneNode, RunsActors};
#[cfg(feature = "nats")]
pub use cluster::{InCluster, Remote, RemoteConfig, admin_subject};
pub use codec::Routable;
pub use config::{ActorConfig, GroupCommit, Passivation, RoutingConfig, RuntimeConfig};
pub use define::Defined;
pub use error::{AskError, RuntimeError, RuntimeErrorKind};
pub use outcome::CommandOutcome;
pub use system::ActorSystem;

#[cfg(feature = "nats")]
pub(crate) use cluster::claims;

/// The most events one turn may append (the stores' batch limit).
pub const MAX_TURN_EVENTS: usize = 1000;

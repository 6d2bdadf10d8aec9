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
//! - **Turns with group commit.** One task per active actor takes its bounded
//!   mailbox in turns: a turn decides the queued commands one after another
//!   and commits all their events as **one atomic append with one
//!   expected-version check**, then answers each caller. With one command
//!   queued that is a plain append; under load one store round trip serves
//!   many commands. A rejected command does not spoil the others; a conflict
//!   (someone else wrote) means reload from the log and decide again.
//! - **Exactly-once effects per command id.** Each actor remembers the ids
//!   of its recent commands ([`ActorConfig::dedupe_window`], kept in its
//!   snapshots and rebuilt from the events' causation ids), so a retry with
//!   the same id returns the recorded outcome instead of deciding again,
//!   across passivation and restarts.
//! - **Passivation.** After [`Passivation::idle`] without messages, or when
//!   the node is over [`RuntimeConfig::max_active`] (least recently used
//!   first; a new activation is never refused), with a snapshot when enough
//!   events were committed since the last one.
//! - **Answers say whether the command took effect.** [`AskError::Timeout`]
//!   is the only "maybe" (retry with the same id); every other error but a
//!   rejection hands the command back, surely not applied. No call waits past
//!   its deadline.
//!
//! It runs on one node with any [`aether_core::EventStore`] (the in-memory
//! store needs no server). The cluster-wide runtime (routing to the owner of
//! an actor's shard across nodes) builds on it.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use aether_cluster::runtime::{ActorConfig, ActorSystem, AskError};
//! use aether_core::{ActorId, CommandId};
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
//! let ada = system.get::<Account>(ActorId::new("account-ada")?)?;
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

mod actor;
mod actor_ref;
pub(crate) mod cluster;
mod config;
mod dedupe;
mod error;
mod host;
mod local;
mod lru;
mod mailbox;
mod outcome;
mod permits;
mod state;
mod system;
mod turn;

pub use actor_ref::{ActorRef, Ask, CallFuture, Query, Tell, Timer};
pub use cluster::admin::admin_subject;
pub use cluster::{RemoteConfig, Routable, RoutingConfig};
pub use config::{ActorConfig, GroupCommit, Passivation, RuntimeConfig};
pub use error::{AskError, RuntimeError, RuntimeErrorKind};
pub use outcome::CommandOutcome;
pub use system::{ActorSystem, ActorSystemBuilder};

/// The most events one turn may append (the stores' batch limit).
pub const MAX_TURN_EVENTS: usize = 1000;

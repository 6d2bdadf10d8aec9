//! The read side of Aether: **projections** over a store's global log.
//!
//! A [`Projection`] is a read model: it is shown every event its [`Filter`]
//! selects, in one global order (the JetStream stream sequence; the append
//! order on the in-memory store), each with its [`aether_core::LogPosition`].
//! A [`ProjectionRunner`] feeds it: from its checkpoint through the stored
//! history (catch-up), then live, in one subscription with no gap or repeat
//! at the switch.
//!
//! - **Checkpoints**: a [`CheckpointStore`] the runner saves to
//!   ([`KvCheckpoints`] in NATS KV, [`MemoryCheckpoints`]): at-least-once
//!   delivery; or the projection's own database, written in the transaction
//!   of each event's effect ([`Checkpointing::InProjection`]; the `sqlite`
//!   module for SQLite): exactly-once effects.
//! - **One active instance** per projection across processes with
//!   [`ProjectionLeases`] (a lease in NATS KV, fenced by its token); a
//!   standby takes over when the lease runs out.
//! - **Rebuilds** ([`ProjectionRunner::rebuild`]) with [`Progress`] (done,
//!   total, rate, time left).
//! - A handler error is retried ([`RunnerConfig::retry`]), then stops the
//!   projection **at** that event ([`State::Failed`] with its position);
//!   a malformed stored entry does the same unless the projection accepts
//!   it ([`Projection::malformed`]). Nothing is skipped silently.
//! - **Operator control** ([`ProjectionRunner::with_control`], [`control`]): the
//!   active instance answers `aether rebuild` and publishes its status.
//! - Metrics: `aether_projection_events_total`, `aether_projection_lag`
//!   (entries behind the head), `aether_projection_failures_total`, labelled
//!   by projection; a tracing span `aether.projection` per runner.
//!
//! See the example `projection_sqlite` (bank balances in SQLite, kept
//! exactly once) and `docs/guarantees.md`.

mod checkpoint;
pub mod control;
mod kv;
mod lease;
mod projection;
mod runner;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod status;

pub use checkpoint::{CheckpointStore, Checkpointing, MemoryCheckpoints};
pub use kv::{KvCheckpointConfig, KvCheckpoints};
pub use lease::{Lease, LeaseConfig, ProjectionLeases};
pub use projection::{Filter, Projection};
pub use runner::{ProjectionRunner, RunnerConfig, RunningProjection};
pub use status::{Progress, State, Status};

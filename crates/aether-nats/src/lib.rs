//! What Aether's NATS-backed crates share: one way to name servers, one way
//! to connect, and one typed classification of async-nats errors.
//!
//! The JetStream store, the NATS bus and the cluster node each open with the
//! same two doors:
//!
//! - `connect(addrs, config)`: dials the servers in `addrs` ([`ToServerAddrs`]:
//!   a URL, a comma-separated list of URLs as the `nats` CLI and `NATS_URL`
//!   take them, or a list) with [`connect`] and the component's
//!   [`ConnectConfig`], then opens;
//! - `open(client, config)`: opens on an `async_nats::Client` the caller
//!   built (its own connection options, credentials, TLS).
//!
//! [`connect`] bounds the whole dial by [`ConnectConfig::timeout`] and names
//! the client (`aether-<component>` unless [`ConnectConfig::name`] says
//! otherwise), so a server's connection list shows who is who. It also gives
//! the connection its own [`Refusals`], the record of the permission
//! refusals its server sends: the components opened on the client end a
//! refused operation at once with a [`Refusal`] ([`Refusable`]), and only
//! for their own connection's refusals. A client built otherwise opts in by
//! attaching one (see [`Refusals`]).
//!
//! [`encode_token`] and [`decode_token`] turn any string (an actor type or
//! id) into one subject token and back, injectively.
//!
//! [`is_transient`] and [`jetstream_code`] read async-nats's typed errors
//! (their kinds, and JetStream API error codes), never error texts.
//!
//! # Example
//!
//! ```no_run
//! use aether_nats::{ConnectConfig, connect};
//!
//! # async fn run() -> Result<(), aether_nats::ConnectError> {
//! let client = connect("nats://10.0.0.1:4222,nats://10.0.0.2:4222", &ConnectConfig::default(), "aether-tool").await?;
//! # drop(client);
//! # Ok(())
//! # }
//! ```

mod addrs;
mod auth;
mod classify;
mod connect;
mod error;
mod kv;
mod refusal;
mod token;

pub use addrs::ToServerAddrs;
pub use auth::{Auth, TlsConfig};
pub use classify::{is_stream_not_found, is_transient, jetstream_code};
pub use connect::{ConnectConfig, connect, connect_with};
pub use error::{ConnectError, ConnectErrorKind};
pub use kv::{is_already_exists, is_cas_failure, open_bucket};
pub use refusal::{Refusable, Refusal, Refusals};
pub use token::{decode_token, encode_token, encode_token_into, token_is};

/// How JetStream keeps a stream's or bucket's data (re-exported from
/// async-nats, so the store's and the cluster's configurations name the
/// same type).
pub use async_nats::jetstream::stream::StorageType;

//! Permission refusals, reported as they happen, per connection.
//!
//! A NATS server refuses a publish or a subscription the user may not make
//! by sending `-ERR 'Permissions Violation for Publish to "<subject>"'` on
//! the connection, and drops the message: a request to a refused subject
//! would otherwise only end in its timeout.
//!
//! Each connection has its own record of them, a [`Refusals`]:
//! [`crate::connect`] creates one for every connection it dials, installs
//! it as the connection's event callback and attaches it to the client, and
//! the components opened on that client (or a clone of it) find it with
//! [`Refusals::of`]. An operation run as [`Refusable`] ends with the
//! [`Refusal`] as soon as the server refuses its connection a subject the
//! operation uses; a refusal on another connection, even of the same
//! subject (another tenant, another account), never touches it.
//!
//! - `record.rs`: [`Refusal`], and reading one from a server error;
//! - `registry.rs`: [`Refusals`], one connection's record;
//! - `clients.rs`: which client has which record;
//! - `watch.rs`: [`Refusable`] (and [`Refusals::refusable`]), an operation
//!   that ends at its refusal.

mod clients;
mod record;
mod registry;
mod watch;

pub use record::Refusal;
pub use registry::Refusals;
pub use watch::Refusable;

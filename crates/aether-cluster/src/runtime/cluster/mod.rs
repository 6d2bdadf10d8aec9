//! The runtime across nodes: every node of a cluster serves the shards the
//! shard map gives it, and a call from any node (or from any NATS client)
//! reaches the one node serving the actor's shard.
//!
//! - **Routing** (`route.rs`, `serve.rs`, `wire.rs`, `subject.rs`): a call
//!   is a NATS request to `aether.rt.<cluster>.s.<shard>.<type>.<id>`; only
//!   the node serving the shard subscribes to it, so NATS routes the call,
//!   callers need no map, and "no responders" means nobody serves it now.
//! - **Claims and the fence** (`claims.rs`, `fence.rs`): a node serves a
//!   shard only while the map names it, it holds the shard's claim (a KV
//!   compare-and-swap whose revision is a fencing token stamped on every
//!   event it writes) and its member lease is valid.
//! - **The keeper** (`keeper.rs`): claims, serves and releases shards as
//!   the map and the members change (failover after a lease expires; cold
//!   planned moves with `Releasing` and `Released` phases).

pub(crate) mod admin;
pub(crate) mod claims;
mod config;
mod fence;
mod gate;
mod handler;
mod keeper;
mod route;
mod serve;
mod subject;
mod wire;

pub use config::{RemoteConfig, RoutingConfig};
pub use handler::Routable;

pub(crate) use claims::Claims;
pub(crate) use fence::{Fence, Stamp};
pub(crate) use gate::Gates;
pub(crate) use handler::{Codec, Json, Serve, ServeCtx, Served};
pub(crate) use keeper::Keeper;
pub(crate) use route::{Routing, command, query};
pub(crate) use serve::Handlers;
pub(crate) use subject::Subjects;
pub(crate) use wire::Kind;

/// Opens (or creates) the claims bucket of `node`'s cluster.
pub(crate) async fn open_claims(
    node: &crate::node::ClusterNode,
) -> Result<Claims, crate::runtime::RuntimeError> {
    let config = node.config();
    let js = crate::nats::context(node.client().clone(), &config.kv);
    let store = crate::nats::open_bucket(&js, config, config.claims_bucket(), None)
        .await
        .map_err(|e| {
            crate::runtime::RuntimeError::with_source(
                crate::runtime::RuntimeErrorKind::Unavailable,
                "opening the shard claims bucket",
                e,
            )
        })?;
    Ok(Claims::new(store, config.kv.request_timeout))
}

/// The event store of a system that runs no actor: never called (such a
/// system serves no shard), and says so if it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unhosted;

impl Unhosted {
    fn refuse<T>() -> aether_core::Result<T> {
        Err(aether_core::Error::unsupported(
            "this actor system runs no actors (it was built with `remote`)",
        ))
    }
}

impl aether_core::EventStore for Unhosted {
    async fn append_batch(
        &self,
        _: &aether_core::ActorId,
        _: aether_core::ExpectedVersion,
        _: Vec<aether_core::Event>,
    ) -> aether_core::Result<u64> {
        Self::refuse()
    }

    async fn read(
        &self,
        _: &aether_core::ActorId,
        _: u64,
    ) -> aether_core::Result<Vec<aether_core::Event>> {
        Self::refuse()
    }

    async fn read_with_errors(
        &self,
        _: &aether_core::ActorId,
        _: u64,
    ) -> aether_core::Result<aether_core::Replay> {
        Self::refuse()
    }

    async fn latest_version(&self, _: &aether_core::ActorId) -> aether_core::Result<u64> {
        Self::refuse()
    }
}

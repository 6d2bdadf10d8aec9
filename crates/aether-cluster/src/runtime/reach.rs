//! How the handles of one registered type reach its actors: [`Reach::Here`]
//! on a system of one node (every actor runs here), [`Reach::Routed`] in a
//! cluster (through a [`Route`]: the actor runs here when this node serves
//! it, else on the node that does) and on a system that runs no actor.

use std::sync::Arc;
use std::time::Duration;

use aether_core::ActorId;
use aether_core::aggregate::Behavior;

use super::codec::Codec;
use super::config::RoutingConfig;
use super::fence::Fence;
use super::host::Host;
use super::transport::Transport;

/// How a routed system's calls reach the node serving an actor.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) transport: Arc<dyn Transport>,
    /// Which actors run on this node (`None`: none, the system runs no
    /// actor).
    pub(crate) fence: Option<Arc<dyn Fence>>,
    pub(crate) config: RoutingConfig,
}

impl Route {
    /// Whether this node serves `actor` now (the call then takes the
    /// in-process path).
    pub(crate) fn serves(&self, actor: &ActorId) -> bool {
        self.fence
            .as_ref()
            .is_some_and(|f| f.check(actor).is_some())
    }
}

/// Where the actors of one type run, as its handles see it.
pub(crate) enum Reach<A: Behavior> {
    /// All on this node.
    Here(Arc<Host<A>>),
    /// Wherever the placement puts them.
    Routed {
        /// This node's table of the type (`None` on a system that runs no
        /// actor).
        host: Option<Arc<Host<A>>>,
        route: Arc<Route>,
        codec: Arc<dyn Codec<A>>,
    },
}

/// One registered type, as its handles ([`super::ActorRef`]) hold it.
pub(crate) struct Entry<A: Behavior> {
    pub(crate) reach: Reach<A>,
    /// The deadline of a call that sets none.
    pub(crate) deadline: Duration,
}

impl<A: Behavior> Entry<A> {
    /// This node's table of the type, if it runs the type's actors.
    pub(crate) fn host(&self) -> Option<&Arc<Host<A>>> {
        match &self.reach {
            Reach::Here(host) => Some(host),
            Reach::Routed { host, .. } => host.as_ref(),
        }
    }
}

//! How the handles of one registered type reach its actors: [`Reach::Here`]
//! on a system of one node (every actor runs here), [`Reach::Routed`] in a
//! cluster (through a [`Route`]: the actor runs here when this node serves
//! it, else on the node that does) and on a system that runs no actor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The replies' round trip, smoothed (µs; 0 before the first).
    latency_us: AtomicU64,
}

impl Route {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        fence: Option<Arc<dyn Fence>>,
        config: RoutingConfig,
    ) -> Self {
        Self {
            transport,
            fence,
            config,
            latency_us: AtomicU64::new(0),
        }
    }

    /// How long the first attempt of a call waits for its reply: eight
    /// times the smoothed round trip, within `first_attempt_timeout` and
    /// `attempt_timeout`. Short, so that a call to a node that went silent
    /// (paused, cut off) is sent again soon — to the new owner once it
    /// serves — and never shorter than replies take.
    pub(crate) fn first_attempt(&self) -> Duration {
        let typical = Duration::from_micros(self.latency_us.load(Ordering::Relaxed) * 8);
        typical
            .max(self.config.first_attempt_timeout)
            .min(self.config.attempt_timeout)
    }

    /// Records a reply's round trip.
    pub(crate) fn replied_after(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.latency_us.store(new, Ordering::Relaxed);
    }

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

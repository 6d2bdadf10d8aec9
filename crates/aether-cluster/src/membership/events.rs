//! Membership events and their subscription.

use tokio::sync::broadcast;

use crate::id::NodeId;
use crate::membership::Member;

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaveReason {
    /// It deleted its entry (graceful shutdown).
    Graceful,
    /// Its lease expired (crash, partition, lost connection).
    Expired,
}

/// A membership change, in the order the local node observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MembershipEvent {
    /// A node registered (or re-registered with a new incarnation).
    Joined(Member),
    /// A member's heartbeats stopped for the suspicion time. It keeps its
    /// shards until it leaves.
    Suspected(NodeId),
    /// A suspected member's heartbeats resumed.
    Recovered(NodeId),
    /// A member started to leave gracefully: maps place no shard on it, and
    /// it hands its shards on before it leaves.
    Draining(NodeId),
    /// A member left the membership.
    Left {
        /// Who.
        node: NodeId,
        /// Why.
        reason: LeaveReason,
    },
}

impl MembershipEvent {
    /// The node the event is about.
    pub fn node(&self) -> &NodeId {
        match self {
            Self::Joined(m) => &m.info.id,
            Self::Suspected(n) | Self::Recovered(n) | Self::Draining(n) => n,
            Self::Left { node, .. } => node,
        }
    }
}

/// Why [`MembershipEvents::recv`] returned no event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// The subscriber fell behind and `0` events were dropped for it. **What to
    /// do:** resynchronise from [`crate::ClusterNode::members`], then keep receiving.
    #[error("membership subscriber lagged; {0} events were skipped")]
    Lagged(u64),
    /// The node shut down; no more events will come.
    #[error("the cluster node shut down")]
    Closed,
}

/// A subscription to membership events (from [`crate::ClusterNode::subscribe`]).
/// Never drops silently: a slow subscriber gets [`EventsError::Lagged`].
#[derive(Debug)]
#[must_use = "membership events stop arriving when the subscription is dropped"]
pub struct MembershipEvents {
    rx: broadcast::Receiver<MembershipEvent>,
}

impl MembershipEvents {
    pub(crate) fn new(rx: broadcast::Receiver<MembershipEvent>) -> Self {
        Self { rx }
    }

    /// The next event.
    pub async fn recv(&mut self) -> Result<MembershipEvent, EventsError> {
        match self.rx.recv().await {
            Ok(e) => Ok(e),
            Err(broadcast::error::RecvError::Lagged(n)) => Err(EventsError::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => Err(EventsError::Closed),
        }
    }

    /// The events as a [`futures::Stream`]: items are events or
    /// [`EventsError::Lagged`]; the stream ends when the node shuts down.
    pub fn into_stream(
        self,
    ) -> impl futures::Stream<Item = Result<MembershipEvent, EventsError>> + Send + 'static {
        futures::stream::unfold(self, |mut events| async move {
            match events.recv().await {
                Err(EventsError::Closed) => None,
                item => Some((item, events)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn stream_reports_lag_and_ends_on_close() {
        let (tx, rx) = broadcast::channel(2);
        let mut stream = Box::pin(MembershipEvents::new(rx).into_stream());
        let n = |s: &str| NodeId::new(s).unwrap();
        for i in 0..3 {
            tx.send(MembershipEvent::Suspected(n(&format!("n{i}"))))
                .unwrap();
        }
        assert_eq!(stream.next().await, Some(Err(EventsError::Lagged(1))));
        let e = stream.next().await.unwrap().unwrap();
        assert_eq!(e.node(), &n("n1"));
        assert_eq!(stream.next().await.unwrap().unwrap().node(), &n("n2"));
        drop(tx);
        assert_eq!(stream.next().await, None);
    }
}

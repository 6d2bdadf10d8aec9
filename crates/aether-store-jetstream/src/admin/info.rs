//! [`PartitionInfo`]: one partition's stream as the servers see it.

use aether_core::{Error, Result};
use async_nats::jetstream::stream::Info;

use crate::JetStreamEventStore;
use crate::store::stream_info;

/// One partition's stream as the servers see it now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionInfo {
    /// The partition, from 0.
    pub index: u16,
    /// Its stream.
    pub stream: String,
    /// The server leading it (taking its writes); `None` on a standalone
    /// server, or while it elects one.
    pub leader: Option<String>,
    /// Every server holding it, the leader first; a server that is not
    /// current (catching up, or offline) is marked with its name in
    /// [`PartitionInfo::lagging`].
    pub servers: Vec<String>,
    /// Servers of [`PartitionInfo::servers`] not caught up with the leader.
    pub lagging: Vec<String>,
    /// The placement tags it is placed by (empty: the server's choice).
    pub tags: Vec<String>,
    /// Messages stored (an atomic append of several events is one).
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// The stream sequence of its last message (0 when empty): sampled
    /// twice, the difference over the interval is its write rate.
    pub last_sequence: u64,
}

impl PartitionInfo {
    pub(crate) fn of(index: u16, info: &Info) -> Self {
        let cluster = info.cluster.as_ref();
        let leader = cluster.and_then(|c| c.leader.clone());
        let mut servers: Vec<String> = leader.iter().cloned().collect();
        let mut lagging = Vec::new();
        for peer in cluster.map(|c| c.replicas.as_slice()).unwrap_or_default() {
            servers.push(peer.name.clone());
            if !peer.current || peer.offline {
                lagging.push(peer.name.clone());
            }
        }
        PartitionInfo {
            index,
            stream: info.config.name.clone(),
            leader,
            servers,
            lagging,
            tags: info
                .config
                .placement
                .as_ref()
                .map(|p| p.tags.clone())
                .unwrap_or_default(),
            messages: info.state.messages,
            bytes: info.state.bytes,
            last_sequence: info.state.last_sequence,
        }
    }
}

impl JetStreamEventStore {
    /// Every partition's stream as the servers see it now (one stream info
    /// request each, at once), by partition.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`] when a partition's stream is gone;
    /// [`Error::Unavailable`] when JetStream does not answer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: aether_store_jetstream::JetStreamEventStore) -> aether_core::Result<()> {
    /// for p in store.partition_infos().await? {
    ///     println!("{} led by {:?}: {} messages", p.stream, p.leader, p.messages);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn partition_infos(&self) -> Result<Vec<PartitionInfo>> {
        let layout = self.layout();
        let timeout = self.inner.config.request_timeout;
        let infos = futures::future::join_all(
            layout
                .partitions
                .iter()
                .map(|p| stream_info(&self.inner.js, &p.name, timeout)),
        )
        .await;
        layout
            .partitions
            .iter()
            .zip(infos)
            .map(|(p, info)| match info? {
                Some(info) => Ok(PartitionInfo::of(p.index, &info)),
                None => Err(Error::missing(format!(
                    "partition {}: the stream {} is missing",
                    p.index, p.name
                ))),
            })
            .collect()
    }
}

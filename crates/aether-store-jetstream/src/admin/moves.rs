//! Moving a partition's stream to other servers, online: a placement
//! update. The JetStream meta layer adds the new servers to the stream's
//! group, catches them up, hands the leadership over and drops the old ones;
//! appends go on meanwhile (they wait out the one leader change, as for any
//! election). Subjects never change, so nothing else moves with it.

use aether_core::{Error, Result};
use async_nats::jetstream::stream::Placement;

use crate::JetStreamEventStore;
use crate::store::stream_info;

impl JetStreamEventStore {
    /// Moves partition `partition`'s stream to servers with all of `tags`
    /// (nats-server `server_tags`), online. Returns once the server accepted
    /// the new placement; the move itself follows: watch it with
    /// [`Self::partition_infos`] (the old and new servers both hold it, the
    /// new ones listed as lagging, until the old ones are dropped).
    ///
    /// Store processes opened later keep this placement (an open never
    /// changes an existing partition's placement).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a partition the namespace does not have or
    /// no tags; [`Error::Storage`] when the server refuses the placement (no
    /// servers with those tags, or too few for the stream's replicas);
    /// [`Error::Unavailable`] when JetStream does not answer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: aether_store_jetstream::JetStreamEventStore) -> aether_core::Result<()> {
    /// // Partition 3 to the servers tagged `rack:b`.
    /// store.move_partition(3, vec!["rack:b".into()]).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn move_partition(&self, partition: u16, tags: Vec<String>) -> Result<()> {
        if tags.is_empty() || tags.iter().any(String::is_empty) {
            return Err(Error::invalid_input(
                "a move needs at least one placement tag, none empty",
            ));
        }
        let layout = self.layout();
        let part = layout
            .partitions
            .get(usize::from(partition))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "partition {partition}: the namespace has {}",
                    layout.count()
                ))
            })?;
        let timeout = self.inner.config.request_timeout;
        let info = stream_info(&self.inner.js, &part.name, timeout)
            .await?
            .ok_or_else(|| Error::missing(format!("the stream {} is missing", part.name)))?;
        let mut config = info.config;
        config.placement = Some(Placement {
            cluster: config.placement.and_then(|p| p.cluster),
            tags,
        });
        self.refused(|| self.inner.js.update_stream(config))
            .await?
            .map_err(|e| {
                Error::storage_with(format!("moving {}: the server refused", part.name), e)
            })?;
        Ok(())
    }
}

//! Translating a log cursor of the layout a repartition replaced into the
//! layout in force, from the streams themselves: every message the
//! repartition copied carries its sequence in the old stream
//! (`Aether-Source-Sequence`), and each partition holds its copies as a
//! prefix in the old order, so the last copy at or before a position is
//! found by binary search over each partition (a few message gets).

use aether_core::{Error, LogCursor, LogPosition, Result};

use super::JetStreamEventStore;
use crate::headers;
use crate::layout::{Layout, Partition, SOURCE_SEQUENCE};

impl JetStreamEventStore {
    /// `cursor` in the log's layout in force: unchanged when it is of that
    /// layout (or empty); translated when it is of the unpartitioned layout
    /// a repartition replaced (see `docs/operations.md`, "Repartitioning"):
    /// in every partition, the position of the last event copied from at or
    /// before the cursor's position, so a reader goes on after exactly what
    /// it had read.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a cursor of another layout that the
    /// streams cannot translate (not the one the repartition copied from,
    /// or a partition the log does not have); [`Error::Unavailable`] when
    /// the servers do not answer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: aether_store_jetstream::JetStreamEventStore) -> aether_core::Result<()> {
    /// // A checkpoint saved before the namespace was repartitioned.
    /// let old: aether_core::LogCursor = "1042.0".parse()?;
    /// let now = store.translate(&old).await?;
    /// println!("{old} is {now} in the new layout");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn translate(&self, cursor: &LogCursor) -> Result<LogCursor> {
        let layout = self.layout();
        self.translate_in(&layout, cursor).await
    }

    pub(crate) async fn translate_in(
        &self,
        layout: &Layout,
        cursor: &LogCursor,
    ) -> Result<LogCursor> {
        let Some(epoch) = cursor.epoch() else {
            return Ok(cursor.clone());
        };
        if epoch == layout.epoch {
            return Ok(cursor.clone());
        }
        let copied = layout.partitions.iter().all(|p| p.source.is_some());
        let only_partition_0 = cursor.positions().iter().all(|p| p.partition == 0);
        let (Some(at), true, true, true) = (
            cursor.get(0),
            copied,
            only_partition_0,
            epoch.checked_add(1) == Some(layout.epoch),
        ) else {
            return Err(Error::invalid_input(format!(
                "log cursor {cursor} is of layout epoch {epoch}, and the log of {} is of epoch {} \
                 and cannot translate it: rebuild the projection (docs/operations.md, \
                 \"Repartitioning\")",
                self.inner.stream_name, layout.epoch
            )));
        };
        let found = futures::future::join_all(
            layout
                .partitions
                .iter()
                .map(|part| self.last_copy_at_or_before(part, at.sequence)),
        )
        .await;
        let mut positions = Vec::new();
        for (part, found) in layout.partitions.iter().zip(found) {
            if let Some((seq, source, count)) = found? {
                let index = if source == at.sequence {
                    at.index.min(count.saturating_sub(1))
                } else {
                    count.saturating_sub(1)
                };
                positions.push(
                    LogPosition::in_partition(part.index, seq, index).with_epoch(layout.epoch),
                );
            }
        }
        LogCursor::from_positions(positions)
    }

    /// The last message of `part` copied from at or before `source` (its
    /// sequence, its source sequence and its event count), if any.
    async fn last_copy_at_or_before(
        &self,
        part: &Partition,
        source: u64,
    ) -> Result<Option<(u64, u64, u32)>> {
        let Some(info) = super::stream_info(
            &self.inner.js,
            &part.name,
            self.inner.config.request_timeout,
        )
        .await?
        else {
            return Err(Error::missing(format!(
                "the stream {} is missing",
                part.name
            )));
        };
        // Copies are the prefix [first, first + n); later messages carry no
        // source sequence (they count as after every position).
        let (mut lo, mut hi) = (
            part.first_sequence,
            info.state.last_sequence.saturating_add(1),
        );
        let mut best = None;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.copy_at(part, mid).await? {
                Some((s, count)) if s <= source => {
                    best = Some((mid, s, count));
                    lo = mid + 1;
                }
                _ => hi = mid,
            }
        }
        Ok(best)
    }

    /// The source sequence and event count of message `seq` of `part`
    /// (`None`: not a copy).
    async fn copy_at(&self, part: &Partition, seq: u64) -> Result<Option<(u64, u32)>> {
        let msg =
            part.stream.get_raw_message(seq).await.map_err(|e| {
                Error::unavailable_with(format!("reading {} at {seq}", part.name), e)
            })?;
        let source = msg
            .headers
            .get(SOURCE_SEQUENCE)
            .and_then(|v| v.as_str().parse::<u64>().ok());
        let count = headers::count(&msg.headers).unwrap_or(1);
        Ok(source.map(|s| (s, u32::try_from(count).unwrap_or(u32::MAX))))
    }
}

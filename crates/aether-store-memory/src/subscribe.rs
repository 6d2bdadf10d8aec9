//! [`EventLog`] for [`InMemoryEventStore`]: subscriptions over the global
//! log, fed by a task per subscription.

use std::sync::Arc;

use aether_core::{
    Error, EventLog, LOG_CHUNK, LogCursor, LogEntry, LogFeed, LogPosition, LogSelection,
    LogSubscription, Result,
};

use crate::event_store::{InMemoryEventStore, Inner};
use crate::key::view;

impl EventLog for InMemoryEventStore {
    /// The log is one partition (0, layout epoch 0): entry `n` is the `n`th
    /// successful append (an atomic batch is one entry, its events at indexes
    /// 0, 1, ...). Needs a Tokio runtime (the subscription is fed by a task).
    async fn subscribe(
        &self,
        selection: LogSelection,
        after: impl Into<LogCursor> + Send,
    ) -> Result<LogSubscription> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(Error::unsupported(
                "subscribing to the in-memory store's log needs a Tokio runtime",
            ));
        };
        let after = single_partition(&after.into())?;
        if !selection.admits_partition(0) {
            // Nothing selected: a subscription that stays quiet until dropped.
            let (subscription, feed) = LogSubscription::channel(0);
            runtime.spawn(async move { feed.closed().await });
            return Ok(subscription);
        }
        let inner = self.inner().clone();
        // Start at the entry holding `after` (its later events may remain).
        let start = after.map_or(0, |p| p.sequence.saturating_sub(1));
        let backlog = inner.global.len().saturating_sub(start);
        let (subscription, feed) = LogSubscription::channel(backlog);
        runtime.spawn(feed_log(inner, selection, after, start, feed));
        Ok(subscription)
    }

    async fn head(&self) -> Result<LogCursor> {
        let global = &self.inner().global;
        let len = global.len();
        if len == 0 {
            return Ok(LogCursor::new());
        }
        let (last, _) = global.slice(len - 1, 1);
        let count = last.first().map_or(1, |r| r.count);
        Ok(LogPosition::new(len, count.saturating_sub(1)).into())
    }
}

/// The position in partition 0 of `cursor`, the only partition this log has.
fn single_partition(cursor: &LogCursor) -> Result<Option<LogPosition>> {
    if let Some(p) = cursor
        .positions()
        .iter()
        .find(|p| p.partition != 0 || p.epoch != 0)
    {
        return Err(Error::invalid_input(format!(
            "log cursor {cursor} does not fit the in-memory store's log: it has one partition \
             (0) of layout epoch 0, and the cursor names {p}"
        )));
    }
    Ok(cursor.get(0))
}

/// Reads the global log from index `next` into `feed` until the subscriber
/// goes away, waiting for appends at the head.
async fn feed_log(
    inner: Arc<Inner>,
    selection: LogSelection,
    after: Option<LogPosition>,
    mut next: u64,
    feed: LogFeed,
) {
    let _live = inner.global.subscribed();
    loop {
        let appended = inner.global.appended();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let (records, len) = inner.global.slice(next, LOG_CHUNK);
        if records.is_empty() {
            tokio::select! {
                _ = appended => continue,
                _ = feed.closed() => return,
            }
        }
        let mut entries = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let sequence = next + i as u64 + 1;
            if !selection.admits(&record.actor) {
                continue;
            }
            let events = match inner.logs.get(view(&record.actor)) {
                Some(log) => log.read_append(record.first, record.count),
                None => Vec::new(),
            };
            for (index, event) in events.into_iter().enumerate() {
                let position = LogPosition::new(sequence, index as u32);
                if after.is_some_and(|a| position <= a) {
                    continue;
                }
                entries.push(LogEntry::new(position, Ok(event), len - sequence));
            }
        }
        next += records.len() as u64;
        if !feed.send(entries).await {
            return;
        }
    }
}

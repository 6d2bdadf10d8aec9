//! [`ActorLog`]: one actor's history plus its queue of undelivered notifications.

use std::collections::VecDeque;

use aether_core::{Error, Event, EventStored, ExpectedVersion, Result};

/// One actor's events, in version order, and the notifications waiting for
/// delivery to the hook. Always used under its dashmap shard lock.
#[derive(Debug, Default)]
pub(crate) struct ActorLog {
    /// The events, strictly increasing by version.
    events: Vec<Event>,
    /// Notifications for stored events not yet handed to the hook.
    pending: VecDeque<EventStored>,
    /// Whether some task is delivering `pending` to the hook right now.
    draining: bool,
}

/// What an append asks the caller to do after the lock is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterAppend {
    /// Nothing: no hook, or another task is already delivering notifications.
    Nothing,
    /// Deliver this actor's pending notifications (this task became the drainer).
    Drain,
}

impl ActorLog {
    /// The latest version, `0` when empty.
    pub(crate) fn latest(&self) -> u64 {
        self.events.last().map_or(0, |e| e.version)
    }

    /// Appends one already validated event whose version must exceed the latest.
    pub(crate) fn append_one(&mut self, event: Event, notify: bool) -> Result<AfterAppend> {
        let current = self.latest();
        if event.version <= current {
            return Err(Error::conflict(
                event.actor_id.clone(),
                event.version,
                current,
            ));
        }
        let after = if notify {
            self.pending.push_back(EventStored::from(&event));
            self.claim_drain()
        } else {
            AfterAppend::Nothing
        };
        self.events.push(event);
        Ok(after)
    }

    /// Appends an already validated batch (one actor, consecutive versions
    /// starting at `first`) if `expected` admits it; all or nothing.
    pub(crate) fn append_batch(
        &mut self,
        expected: ExpectedVersion,
        first: u64,
        events: Vec<Event>,
        notify: bool,
    ) -> Result<AfterAppend> {
        let current = self.latest();
        if !expected.admits(current, first) {
            // validate_batch guarantees a non-empty batch.
            let actor = events[0].actor_id.clone();
            return Err(Error::conflict(actor, first, current));
        }
        let after = if notify {
            self.pending.extend(events.iter().map(EventStored::from));
            self.claim_drain()
        } else {
            AfterAppend::Nothing
        };
        self.events.extend(events);
        Ok(after)
    }

    fn claim_drain(&mut self) -> AfterAppend {
        if self.draining {
            AfterAppend::Nothing
        } else {
            self.draining = true;
            AfterAppend::Drain
        }
    }

    /// The next notification to deliver; when none is left, gives up the
    /// drainer role and returns `None`.
    pub(crate) fn next_notification(&mut self) -> Option<EventStored> {
        let next = self.pending.pop_front();
        if next.is_none() {
            self.draining = false;
        }
        next
    }

    /// Gives up the drainer role without delivering (used when a hook panics,
    /// so that the next append delivers what is left).
    pub(crate) fn release_drain(&mut self) {
        self.draining = false;
    }

    /// The events with version ≥ `from_version`, cloned.
    pub(crate) fn read_from(&self, from_version: u64) -> Vec<Event> {
        let start = self.events.partition_point(|e| e.version < from_version);
        self.events[start..].to_vec()
    }

    /// How many events are stored.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::{ActorId, json};

    fn ev(v: u64) -> Event {
        Event::new(ActorId::new("a").unwrap(), v, "T", json!(v))
    }

    #[test]
    fn read_from_uses_versions_not_indices() {
        let mut log = ActorLog::default();
        for v in [1, 2, 5, 9] {
            log.append_one(ev(v), false).unwrap();
        }
        let versions = |from| {
            log.read_from(from)
                .iter()
                .map(|e| e.version)
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(0), [1, 2, 5, 9]);
        assert_eq!(versions(3), [5, 9]);
        assert_eq!(versions(5), [5, 9]);
        assert_eq!(versions(9), [9]);
        assert!(versions(10).is_empty());
        assert_eq!(log.latest(), 9);
    }

    #[test]
    fn conflicts_leave_log_untouched() {
        let mut log = ActorLog::default();
        log.append_one(ev(3), false).unwrap();
        let err = log.append_one(ev(3), true).unwrap_err();
        let c = err.as_conflict().unwrap();
        assert_eq!((c.attempted, c.current), (3, 3));
        let err = log
            .append_batch(ExpectedVersion::Exact(2), 3, vec![ev(3), ev(4)], true)
            .unwrap_err();
        assert!(err.is_conflict());
        assert_eq!(log.len(), 1);
        assert!(log.pending.is_empty());
        assert!(!log.draining);
    }

    #[test]
    fn only_the_first_appender_drains() {
        let mut log = ActorLog::default();
        assert_eq!(log.append_one(ev(1), true).unwrap(), AfterAppend::Drain);
        assert_eq!(log.append_one(ev(2), true).unwrap(), AfterAppend::Nothing);
        assert_eq!(log.next_notification().unwrap().version, 1);
        assert_eq!(log.next_notification().unwrap().version, 2);
        assert!(log.next_notification().is_none());
        assert_eq!(log.append_one(ev(3), true).unwrap(), AfterAppend::Drain);
    }
}

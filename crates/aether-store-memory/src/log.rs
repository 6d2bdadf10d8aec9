//! [`ActorLog`]: one actor's history plus its queue of undelivered notifications.

use aether_core::{Error, Event, EventStored, ExpectedVersion, Result};

use crate::chunked::Chunked;

/// One actor's events, in version order, and the notifications waiting for
/// delivery to the hook. Always used under its dashmap shard lock.
#[derive(Debug, Default)]
pub(crate) struct ActorLog {
    /// The events, strictly increasing by version.
    events: Chunked<Event>,
    /// Notifications for stored events not yet handed to the hook. Empty
    /// whenever `draining` is false (except after a hook panicked).
    pending: Vec<EventStored>,
    /// Whether some task is delivering `pending` to the hook right now.
    draining: bool,
}

/// What an append asks the caller to do after the lock is released.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterAppend {
    /// Nothing: no hook, or another task is already delivering notifications
    /// (it will deliver ours too, after the earlier ones).
    Nothing,
    /// This task became the drainer: deliver these, in order, then collect
    /// more with [`ActorLog::take_pending`] until none is left.
    Deliver(Notifications),
}

/// Notifications taken out of the log for delivery.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Notifications {
    /// One (the common single append; no allocation).
    One(EventStored),
    /// Several, in version order.
    Many(Vec<EventStored>),
}

impl Notifications {
    /// Hands each notification to `f`, in order.
    pub(crate) fn for_each(self, mut f: impl FnMut(EventStored)) {
        match self {
            Self::One(n) => f(n),
            Self::Many(ns) => ns.into_iter().for_each(f),
        }
    }
}

impl ActorLog {
    /// The latest version, `0` when empty.
    #[inline]
    pub(crate) fn latest(&self) -> u64 {
        self.events.last().map_or(0, |e| e.version)
    }

    /// Appends one already validated event whose version must exceed the
    /// latest; the fast path for stores without a hook.
    #[inline(always)]
    pub(crate) fn push(&mut self, event: Event) -> Result<()> {
        let current = self.latest();
        if event.version <= current {
            return Err(conflict(&event, current));
        }
        self.events.push(event);
        Ok(())
    }

    /// Appends one already validated event whose version must exceed the
    /// latest, queueing its notification when `notify`.
    pub(crate) fn append_one(&mut self, event: Event, notify: bool) -> Result<AfterAppend> {
        let current = self.latest();
        if event.version <= current {
            return Err(conflict(&event, current));
        }
        let after = if !notify {
            AfterAppend::Nothing
        } else if self.draining {
            self.pending.push(EventStored::from(&event));
            AfterAppend::Nothing
        } else {
            self.draining = true;
            let mine = EventStored::from(&event);
            if self.pending.is_empty() {
                AfterAppend::Deliver(Notifications::One(mine))
            } else {
                self.pending.push(mine);
                AfterAppend::Deliver(Notifications::Many(std::mem::take(&mut self.pending)))
            }
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
            if self.draining {
                AfterAppend::Nothing
            } else {
                self.draining = true;
                AfterAppend::Deliver(Notifications::Many(std::mem::take(&mut self.pending)))
            }
        } else {
            AfterAppend::Nothing
        };
        self.events.extend(events);
        Ok(after)
    }

    /// For the drainer: the notifications queued since it last looked; when
    /// none is left, gives up the drainer role and returns `None`.
    pub(crate) fn take_pending(&mut self) -> Option<Notifications> {
        if self.pending.is_empty() {
            self.draining = false;
            None
        } else {
            Some(Notifications::Many(std::mem::take(&mut self.pending)))
        }
    }

    /// Gives up the drainer role without delivering (used when a hook panics,
    /// so that the next append delivers what is left).
    pub(crate) fn release_drain(&mut self) {
        self.draining = false;
    }

    /// The events with version ≥ `from_version`, cloned.
    pub(crate) fn read_from(&self, from_version: u64) -> Vec<Event> {
        let start = self.events.partition_point(|e| e.version < from_version);
        self.events.cloned(start, usize::MAX)
    }

    /// `count` events from version `first` (one recorded append), cloned.
    pub(crate) fn read_append(&self, first: u64, count: u32) -> Vec<Event> {
        let start = self.events.partition_point(|e| e.version < first);
        self.events
            .cloned(start, start.saturating_add(count as usize))
    }

    /// How many events are stored.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}

#[cold]
fn conflict(event: &Event, current: u64) -> Error {
    Error::conflict(event.actor_id.clone(), event.version, current)
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

    fn versions(n: Notifications) -> Vec<u64> {
        let mut v = Vec::new();
        n.for_each(|n| v.push(n.version));
        v
    }

    #[test]
    fn only_the_first_appender_drains_and_order_is_kept() {
        let mut log = ActorLog::default();
        let AfterAppend::Deliver(first) = log.append_one(ev(1), true).unwrap() else {
            panic!("the first appender delivers");
        };
        assert_eq!(versions(first), [1]);
        assert_eq!(log.append_one(ev(2), true).unwrap(), AfterAppend::Nothing);
        assert_eq!(
            log.append_batch(ExpectedVersion::Exact(2), 3, vec![ev(3), ev(4)], true)
                .unwrap(),
            AfterAppend::Nothing
        );
        assert_eq!(versions(log.take_pending().unwrap()), [2, 3, 4]);
        assert!(log.take_pending().is_none());
        assert!(matches!(
            log.append_one(ev(5), true).unwrap(),
            AfterAppend::Deliver(Notifications::One(_))
        ));
    }

    #[test]
    fn leftovers_after_a_hook_panic_go_out_first() {
        let mut log = ActorLog::default();
        let _ = log.append_one(ev(1), true).unwrap();
        assert_eq!(log.append_one(ev(2), true).unwrap(), AfterAppend::Nothing);
        log.release_drain(); // the drainer's hook panicked
        let AfterAppend::Deliver(next) = log.append_one(ev(3), true).unwrap() else {
            panic!("the next appender delivers");
        };
        assert_eq!(versions(next), [2, 3]);
    }
}

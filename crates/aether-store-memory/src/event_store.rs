//! [`InMemoryEventStore`]: the `EventStore` backed by a `DashMap`.

use std::fmt;
use std::sync::Arc;

use aether_core::{
    ActorId, Error, Event, EventStore, EventStoredHook, ExpectedVersion, HookSlot, Replay, Result,
    validate_batch,
};
use dashmap::DashMap;

use crate::global::GlobalLog;
use crate::key::{LogKey, view};
use crate::log::{ActorLog, AfterAppend};

/// A thread-safe, in-memory [`EventStore`]; clones share the same events.
///
/// Every check-and-append runs under the actor's shard lock, so concurrent
/// appends to one actor are exactly linearized: of 50 tasks appending the same
/// next version, one wins and 49 get [`Error::VersionConflict`] carrying the
/// winner's version. Reads clone the requested events; nothing is ever changed
/// or removed. There is no size limit on events.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use aether_core::{ActorId, Event, EventStore, EventStored, json};
/// use aether_store_memory::InMemoryEventStore;
///
/// # futures::executor::block_on(async {
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let store = InMemoryEventStore::new().with_hook(move |n: EventStored| {
///     sink.lock().unwrap().push(n.version)
/// });
/// let actor = ActorId::new("counter-1").unwrap();
/// store.append(Event::new(actor.clone(), 1, "Incremented", json!(1))).await.unwrap();
/// assert!(store.append(Event::new(actor, 1, "Incremented", json!(1))).await.is_err());
/// assert_eq!(*seen.lock().unwrap(), [1]); // nothing for the failed append
/// # });
/// ```
#[derive(Clone, Default)]
pub struct InMemoryEventStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) logs: DashMap<LogKey, ActorLog>,
    pub(crate) global: GlobalLog,
    hook: HookSlot,
}

impl InMemoryEventStore {
    /// An empty store without a hook. Nothing to connect to: it cannot fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::{ActorId, Event, EventStore, json};
    /// use aether_store_memory::InMemoryEventStore;
    ///
    /// # futures::executor::block_on(async {
    /// let store = InMemoryEventStore::new();
    /// let actor = ActorId::new("account-1")?;
    /// store.append(Event::new(actor.clone(), 1, "Opened", json!({"owner": "ada"}))).await?;
    ///
    /// let clone = store.clone(); // shares the events
    /// assert_eq!(clone.latest_version(&actor).await?, 1);
    /// # Ok::<(), aether_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the store calling `hook` once per stored event, after each
    /// successful append, in version order per actor.
    ///
    /// The hook belongs to the store, not to this handle: every clone, made
    /// before or after, notifies it, and a later `with_hook` replaces it (the
    /// same on every Aether store; see [`aether_core::HookSlot`]).
    ///
    /// The hook is never called while a store lock is held, so it may call the
    /// store again (a nested append's notifications are delivered after the
    /// current ones, still in order). It should not block. A hook that panics
    /// makes the append that was delivering panic (its events are stored) and
    /// loses the notifications of that delivery round; later appends deliver
    /// what was queued after them.
    pub fn with_hook(self, hook: impl EventStoredHook) -> Self {
        self.inner.hook.set(Arc::new(hook));
        self
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// How many actors have at least one event (a refused write creates none).
    pub fn actor_count(&self) -> usize {
        self.inner.logs.len()
    }

    /// How many events are stored, over all actors.
    pub fn event_count(&self) -> usize {
        self.inner.logs.iter().map(|log| log.len()).sum()
    }

    #[inline(always)]
    fn append_now(&self, event: Event) -> Result<u64> {
        event.validate()?;
        let version = event.version;
        let logs = &self.inner.logs;
        let global = &self.inner.global;
        let actor = event.actor_id.clone();
        if !self.inner.hook.is_set() {
            // Fast path: check and push under the shard lock (recording the
            // append in the global log before it is released).
            match logs.get_mut(view(&actor)) {
                Some(mut log) => {
                    log.push(event)?;
                    global.record(&actor, version, 1);
                }
                None => {
                    let mut log = logs.entry(LogKey(actor.clone())).or_default();
                    log.push(event)?;
                    global.record(&actor, version, 1);
                }
            }
            global.wake();
            return Ok(version);
        }
        // As above, and the hook runs only after the lock is released.
        let after = match logs.get_mut(view(&actor)) {
            Some(mut log) => {
                let after = log.append_one(event, true)?;
                global.record(&actor, version, 1);
                after
            }
            None => {
                let mut log = logs.entry(LogKey(actor.clone())).or_default();
                let after = log.append_one(event, true)?;
                global.record(&actor, version, 1);
                after
            }
        };
        global.wake();
        self.deliver(after, &actor);
        Ok(version)
    }

    fn append_batch_now(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<u64> {
        check_version_range(&events)?;
        let (first, last) = validate_batch(actor_id, &events)?;
        check_expectation(expected, first)?;
        let notify = self.inner.hook.is_set();
        let logs = &self.inner.logs;
        let global = &self.inner.global;
        let count = events.len();
        let after = match logs.get_mut(view(actor_id)) {
            Some(mut log) => {
                let after = log.append_batch(expected, first, events, notify)?;
                global.record(actor_id, first, count);
                after
            }
            // Do not create an entry for a batch that cannot apply to an empty history.
            None if !expected.admits(0, first) => {
                return Err(Error::conflict(actor_id.clone(), first, 0));
            }
            None => {
                let mut log = logs.entry(LogKey(actor_id.clone())).or_default();
                let after = log.append_batch(expected, first, events, notify)?;
                global.record(actor_id, first, count);
                after
            }
        };
        global.wake();
        self.deliver(after, actor_id);
        Ok(last)
    }

    /// Hands `after`'s notifications to the hook, then any queued meanwhile by
    /// other appenders to this actor, taking the shard lock only to collect
    /// them; stops (giving up the drainer role) when none is left.
    fn deliver(&self, after: AfterAppend, actor: &ActorId) {
        let (AfterAppend::Deliver(first), Some(hook)) = (after, self.inner.hook.get()) else {
            return;
        };
        let mut guard = DrainGuard {
            logs: &self.inner.logs,
            actor,
            armed: true,
        };
        let mut batch = first;
        loop {
            batch.for_each(|n| hook.event_stored(n));
            // The shard lock is held only inside this statement.
            let more = self
                .inner
                .logs
                .get_mut(view(actor))
                .and_then(|mut log| log.take_pending());
            match more {
                Some(next) => batch = next,
                None => {
                    // take_pending gave up the drainer role itself.
                    guard.armed = false;
                    return;
                }
            }
        }
    }

    fn read_now(&self, actor_id: &ActorId, from_version: u64) -> Vec<Event> {
        match self.inner.logs.get(view(actor_id)) {
            Some(log) => log.read_from(from_version),
            None => Vec::new(),
        }
    }
}

/// Releases the drainer role if a hook panics, so later appends deliver the rest.
struct DrainGuard<'a> {
    logs: &'a DashMap<LogKey, ActorLog>,
    actor: &'a ActorId,
    armed: bool,
}

impl Drop for DrainGuard<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Some(mut log) = self.logs.get_mut(view(self.actor))
        {
            log.release_drain();
        }
    }
}

/// Rejects batches reaching `u64::MAX` (their last version would not fit, or
/// would leave no room for the next one), before `validate_batch` runs.
/// `append` of a single event still accepts `u64::MAX`.
fn check_version_range(events: &[Event]) -> Result<()> {
    if let Some(first) = events.first()
        && first.version.checked_add(events.len() as u64).is_none()
    {
        return Err(Error::invalid_input(format!(
            "a batch of {} events starting at version {} reaches the largest version; \
             batches must end below u64::MAX",
            events.len(),
            first.version
        )));
    }
    Ok(())
}

/// Rejects an expectation that no history could meet with this batch: a
/// `NoStream` batch not starting at 1, an `Exact(n)` batch not starting at n + 1.
fn check_expectation(expected: ExpectedVersion, first: u64) -> Result<()> {
    let required = match expected {
        ExpectedVersion::Any => return Ok(()),
        ExpectedVersion::NoStream => Some(1),
        ExpectedVersion::Exact(n) => n.checked_add(1),
    };
    if required == Some(first) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "expected version {expected:?} needs a batch starting at version {}, \
             but it starts at {first}",
            required.map_or_else(|| "u64::MAX + 1".to_owned(), |r| r.to_string())
        )))
    }
}

impl fmt::Debug for InMemoryEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryEventStore")
            .field("actors", &self.actor_count())
            .field("events", &self.event_count())
            .field("hook", &self.inner.hook.is_set())
            .finish()
    }
}

impl EventStore for InMemoryEventStore {
    async fn append(&self, event: Event) -> Result<u64> {
        self.append_now(event)
    }

    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<u64> {
        self.append_batch_now(actor_id, expected, events)
    }

    async fn read(&self, actor_id: &ActorId, from_version: u64) -> Result<Vec<Event>> {
        Ok(self.read_now(actor_id, from_version))
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from_version: u64) -> Result<Replay> {
        Ok(Replay::new(
            self.read_now(actor_id, from_version),
            Vec::new(),
        ))
    }

    async fn latest_version(&self, actor_id: &ActorId) -> Result<u64> {
        Ok(self
            .inner
            .logs
            .get(view(actor_id))
            .map_or(0, |log| log.latest()))
    }
}

#[cfg(test)]
mod tests;

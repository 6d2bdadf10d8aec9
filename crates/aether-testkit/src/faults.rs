//! [`FaultyStore`]: a real event store with faults injected on demand.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aether_core::{ActorId, Error, Event, EventStore, ExpectedVersion, Replay, Result};
use tokio::sync::RwLock;

/// Builds the event another writer appends in [`FaultyStore::interleave_writes`]:
/// gets the actor and the version the event must have.
pub type Interloper = Arc<dyn Fn(&ActorId, u64) -> Event + Send + Sync>;

/// Wraps a real [`EventStore`] (the in-memory store, JetStream, ...) and
/// injects faults into its operations when told to. Without faults it is the
/// wrapped store, plus call counters. Clones share the faults and counters.
///
/// | fault | what the caller sees | what the store holds |
/// |---|---|---|
/// | [`lose_next_acks(n)`](Self::lose_next_acks) | `Unavailable` (an ack that never came) | the events |
/// | [`fail_next_appends(n)`](Self::fail_next_appends) | `Unavailable` (transient) | nothing |
/// | [`break_appends`](Self::break_appends) | `Missing` (not transient), until [`heal`](Self::heal) | nothing |
/// | [`interleave_writes(n, f)`](Self::interleave_writes) | a real conflict: another writer appended `f(actor, version)` first | the other writer's event, then (if still admitted) the caller's |
/// | [`stall_appends`](Self::stall_appends) | appends wait until the guard is dropped | — |
/// | [`delay_appends(d)`](Self::delay_appends) | each append takes `d` longer | — |
/// | [`fail_next_reads(n)`](Self::fail_next_reads) | reads and version lookups fail `Unavailable` | — |
/// | [`delay_reads(d)`](Self::delay_reads) | each read and lookup takes `d` longer ([`max_concurrent_reads`](Self::max_concurrent_reads) tells how many overlapped) | — |
///
/// ```
/// use aether_core::{ActorId, Event, EventStore, json};
/// use aether_store_memory::InMemoryEventStore;
/// use aether_testkit::FaultyStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = FaultyStore::new(InMemoryEventStore::new());
/// let actor = ActorId::new("a-1").unwrap();
/// store.lose_next_acks(1);
/// let lost = store.append(Event::new(actor.clone(), 1, "E", json!(null))).await;
/// assert!(lost.unwrap_err().is_transient());           // the caller was told "unavailable"
/// assert_eq!(store.inner().latest_version(&actor).await.unwrap(), 1); // but it landed
/// assert_eq!(store.appends(), 1);
/// # }
/// ```
#[derive(Clone)]
pub struct FaultyStore<S> {
    inner: S,
    faults: Arc<Faults>,
}

#[derive(Default)]
struct Faults {
    lose_acks: AtomicU32,
    fail_appends: AtomicU32,
    broken: std::sync::atomic::AtomicBool,
    interleave: Mutex<Option<(u32, Interloper)>>,
    stall: Arc<RwLock<()>>,
    delay_nanos: AtomicU64,
    read_delay_nanos: AtomicU64,
    fail_reads: AtomicU32,
    reads_in_flight: AtomicU64,
    max_reads_in_flight: AtomicU64,
    appends: AtomicU64,
    reads: AtomicU64,
    history_loads: AtomicU64,
    lookups: AtomicU64,
}

/// Holds appends of a [`FaultyStore`] until dropped (see
/// [`FaultyStore::stall_appends`]).
#[must_use = "appends resume when the guard is dropped"]
pub struct StallGuard {
    _guard: tokio::sync::OwnedRwLockWriteGuard<()>,
}

impl fmt::Debug for StallGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StallGuard")
    }
}

/// Takes one from `counter` if it is above zero.
fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl<S> FaultyStore<S> {
    /// `inner`, with no faults.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            faults: Arc::new(Faults::default()),
        }
    }

    /// The wrapped store (no faults: what is really stored).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The next `n` appends are stored, but reported as `Unavailable`, as
    /// when the acknowledgement is lost.
    pub fn lose_next_acks(&self, n: u32) -> &Self {
        self.faults.lose_acks.store(n, Ordering::SeqCst);
        self
    }

    /// The next `n` appends fail with `Unavailable` (transient) without
    /// storing anything.
    pub fn fail_next_appends(&self, n: u32) -> &Self {
        self.faults.fail_appends.store(n, Ordering::SeqCst);
        self
    }

    /// Every append fails with `Missing` (not transient) without storing
    /// anything, until [`FaultyStore::heal`].
    pub fn break_appends(&self) -> &Self {
        self.faults.broken.store(true, Ordering::SeqCst);
        self
    }

    /// Before each of the next `n` appends, another writer appends
    /// `event(actor, latest + 1)` to the same actor: a real concurrent write,
    /// so an append expecting the old version meets a real conflict.
    pub fn interleave_writes(
        &self,
        n: u32,
        event: impl Fn(&ActorId, u64) -> Event + Send + Sync + 'static,
    ) -> &Self {
        *self
            .faults
            .interleave
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((n, Arc::new(event)));
        self
    }

    /// Holds every append (before it reaches the store) until the guard is
    /// dropped: a hung connection. `None` if appends are stalled already.
    pub fn stall_appends(&self) -> Option<StallGuard> {
        Arc::clone(&self.faults.stall)
            .try_write_owned()
            .ok()
            .map(|g| StallGuard { _guard: g })
    }

    /// Adds `delay` before every append reaches the store (a slow network);
    /// `Duration::ZERO` removes it.
    pub fn delay_appends(&self, delay: Duration) -> &Self {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.faults.delay_nanos.store(nanos, Ordering::SeqCst);
        self
    }

    /// Adds `delay` to every read and version lookup; `Duration::ZERO`
    /// removes it.
    pub fn delay_reads(&self, delay: Duration) -> &Self {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.faults.read_delay_nanos.store(nanos, Ordering::SeqCst);
        self
    }

    /// The most reads and lookups that were in flight at once so far.
    pub fn max_concurrent_reads(&self) -> u64 {
        self.faults.max_reads_in_flight.load(Ordering::SeqCst)
    }

    /// The next `n` reads or version lookups fail with `Unavailable`.
    pub fn fail_next_reads(&self, n: u32) -> &Self {
        self.faults.fail_reads.store(n, Ordering::SeqCst);
        self
    }

    /// Clears every fault (a stall ends when its guard is dropped).
    pub fn heal(&self) -> &Self {
        let f = &self.faults;
        f.lose_acks.store(0, Ordering::SeqCst);
        f.fail_appends.store(0, Ordering::SeqCst);
        f.broken.store(false, Ordering::SeqCst);
        f.fail_reads.store(0, Ordering::SeqCst);
        f.delay_nanos.store(0, Ordering::SeqCst);
        f.read_delay_nanos.store(0, Ordering::SeqCst);
        *f.interleave.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self
    }

    /// Appends called (`append` and `append_batch`), faulty or not.
    pub fn appends(&self) -> u64 {
        self.faults.appends.load(Ordering::SeqCst)
    }

    /// Reads called (`read` and `read_with_errors`).
    pub fn reads(&self) -> u64 {
        self.faults.reads.load(Ordering::SeqCst)
    }

    /// Reads of whole histories (from version 1): the loads of actors that
    /// had no snapshot to start from, apart from other reads (a retried
    /// command's outcome read back by version range, a catch-up).
    pub fn history_loads(&self) -> u64 {
        self.faults.history_loads.load(Ordering::SeqCst)
    }

    /// `latest_version` calls.
    pub fn lookups(&self) -> u64 {
        self.faults.lookups.load(Ordering::SeqCst)
    }

    fn take_interloper(&self) -> Option<Interloper> {
        let mut slot = self
            .faults
            .interleave
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (left, f) = slot.as_mut()?;
        let f = Arc::clone(f);
        *left -= 1;
        if *left == 0 {
            *slot = None;
        }
        Some(f)
    }

    /// Counts a read, applies the read faults, and runs `read` while it is
    /// counted as in flight.
    async fn read_with<T>(
        &self,
        counter: &AtomicU64,
        read: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let f = &self.faults;
        counter.fetch_add(1, Ordering::SeqCst);
        if take(&f.fail_reads) {
            return Err(Error::unavailable("read failed (injected fault)"));
        }
        let now = f.reads_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        f.max_reads_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = f.read_delay_nanos.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_nanos(delay)).await;
        }
        let result = read.await;
        f.reads_in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

impl<S: EventStore> EventStore for FaultyStore<S> {
    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<u64> {
        let f = &self.faults;
        f.appends.fetch_add(1, Ordering::SeqCst);
        let _resume = f.stall.read().await;
        let delay = f.delay_nanos.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_nanos(delay)).await;
        }
        if f.broken.load(Ordering::SeqCst) {
            return Err(Error::missing("the store is broken (injected fault)"));
        }
        if take(&f.fail_appends) {
            return Err(Error::unavailable("append failed (injected fault)"));
        }
        if let Some(make) = self.take_interloper() {
            let v = self.inner.latest_version(actor_id).await?;
            let other = make(actor_id, v + 1);
            self.inner
                .append_batch(actor_id, ExpectedVersion::Exact(v), vec![other])
                .await?;
        }
        let result = self.inner.append_batch(actor_id, expected, events).await;
        if result.is_ok() && take(&f.lose_acks) {
            return Err(Error::unavailable(
                "no acknowledgement (injected fault: the append was stored)",
            ));
        }
        result
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from_version: u64) -> Result<Replay> {
        if from_version <= 1 {
            self.faults.history_loads.fetch_add(1, Ordering::SeqCst);
        }
        self.read_with(
            &self.faults.reads,
            self.inner.read_with_errors(actor_id, from_version),
        )
        .await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> Result<u64> {
        self.read_with(&self.faults.lookups, self.inner.latest_version(actor_id))
            .await
    }
}

impl<S: fmt::Debug> fmt::Debug for FaultyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyStore")
            .field("inner", &self.inner)
            .field("appends", &self.appends())
            .field("reads", &self.reads())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::json;
    use aether_store_memory::InMemoryEventStore;

    fn ev(actor: &ActorId, v: u64) -> Event {
        Event::new(actor.clone(), v, "E", json!(v))
    }

    #[tokio::test]
    async fn each_fault_does_what_it_says() {
        let s = FaultyStore::new(InMemoryEventStore::new());
        let a = ActorId::new("a").unwrap();
        s.fail_next_appends(1);
        assert!(s.append(ev(&a, 1)).await.unwrap_err().is_transient());
        assert_eq!(s.inner().event_count(), 0);
        s.append(ev(&a, 1)).await.unwrap();
        s.break_appends();
        let e = s.append(ev(&a, 2)).await.unwrap_err();
        assert!(!e.is_transient());
        s.heal();
        s.interleave_writes(1, ev);
        let e = s
            .append_batch(&a, ExpectedVersion::Exact(1), vec![ev(&a, 2)])
            .await
            .unwrap_err();
        assert_eq!(e.as_conflict().map(|c| c.current), Some(2));
        s.fail_next_reads(2);
        assert!(s.read(&a, 1).await.is_err());
        assert!(s.latest_version(&a).await.is_err());
        assert_eq!(s.latest_version(&a).await.unwrap(), 2);
        assert_eq!((s.appends(), s.reads(), s.lookups()), (4, 1, 2));
    }

    #[tokio::test]
    async fn a_stall_holds_appends_until_released() {
        let s = FaultyStore::new(InMemoryEventStore::new());
        let a = ActorId::new("a").unwrap();
        let guard = s.stall_appends().unwrap();
        assert!(s.stall_appends().is_none());
        let pending = tokio::spawn({
            let s = s.clone();
            let a = a.clone();
            async move { s.append(ev(&a, 1)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!pending.is_finished());
        assert_eq!(s.inner().event_count(), 0);
        drop(guard);
        assert_eq!(pending.await.unwrap().unwrap(), 1);
    }
}

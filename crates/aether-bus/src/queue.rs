//! The bounded per-subscription queue and its overflow policies.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use crate::item::{BusItem, OverflowPolicy, RecvError};

/// A bounded single-consumer queue shared by the bus (many producers) and one
/// [`crate::Subscription`].
#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    /// Wakes publishers waiting for space (policy `Wait`).
    space: Notify,
    capacity: usize,
    policy: OverflowPolicy,
}

#[derive(Debug)]
struct State<T> {
    /// Events and in-place lag markers (remote gaps), oldest first.
    buf: VecDeque<BusItem<T>>,
    /// Events in `buf` (lag markers do not take capacity).
    events: usize,
    /// Items dropped (policy `DropOldest`) and not yet reported.
    lagged: u64,
    closed: Option<RecvError>,
    /// The receiver's waker while it waits for an item.
    waker: Option<Waker>,
    /// Publishers waiting for space.
    send_waiters: usize,
}

/// What happened to a pushed item.
#[derive(Debug)]
pub(crate) enum Push<T> {
    /// Queued.
    Queued,
    /// Queued after dropping the oldest item (policy `DropOldest`).
    QueuedDroppedOldest,
    /// The queue is full and the policy is `Wait`: the item comes back to be
    /// pushed with [`Queue::push_wait`].
    Full(T),
    /// The queue was full and the policy is `Close`: the subscription is now
    /// closed with an overflow error; the item was not queued.
    Overflowed,
    /// The subscription is closed; the item was not queued.
    Closed,
}

impl<T> Queue<T> {
    /// A queue of `capacity` (at least 1: callers validate their options
    /// first, see [`crate::SubscribeOptions::validate`]).
    pub(crate) fn new(capacity: usize, policy: OverflowPolicy) -> Self {
        debug_assert!(capacity > 0, "validated by SubscribeOptions::validate");
        Self {
            state: Mutex::new(State {
                // Grows on demand; the receiver swaps buffers, so both keep
                // their allocations while the subscription is busy.
                buf: VecDeque::new(),
                events: 0,
                lagged: 0,
                closed: None,
                waker: None,
                send_waiters: 0,
            }),
            space: Notify::new(),
            capacity,
            policy,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the state inconsistent
        // (every critical section is a few field updates), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn policy(&self) -> OverflowPolicy {
        self.policy
    }

    /// Pushes without waiting.
    pub(crate) fn try_push(&self, item: T) -> Push<T> {
        let mut st = self.lock();
        if st.closed.is_some() {
            return Push::Closed;
        }
        let mut outcome = Push::Queued;
        if st.events >= self.capacity {
            match self.policy {
                OverflowPolicy::Wait => return Push::Full(item),
                OverflowPolicy::DropOldest => {
                    // Drop the oldest event; lag markers before it merge into
                    // the lag reported next.
                    while let Some(front) = st.buf.pop_front() {
                        match front {
                            BusItem::Lagged(n) => st.lagged += n,
                            BusItem::Event(_) => {
                                st.lagged += 1;
                                st.events -= 1;
                                break;
                            }
                        }
                    }
                    // Markers now at the front are reported with the lag.
                    while let Some(BusItem::Lagged(n)) = st.buf.front() {
                        let n = *n;
                        st.buf.pop_front();
                        st.lagged += n;
                    }
                    outcome = Push::QueuedDroppedOldest;
                }
                OverflowPolicy::Close => {
                    st.closed = Some(RecvError::Overflowed {
                        capacity: self.capacity,
                    });
                    let waker = st.waker.take();
                    drop(st);
                    if let Some(w) = waker {
                        w.wake();
                    }
                    return Push::Overflowed;
                }
            }
        }
        st.buf.push_back(BusItem::Event(item));
        st.events += 1;
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        outcome
    }

    /// Records that `n` items were lost upstream at this point of the stream:
    /// the receiver gets `Lagged(n)` after everything queued so far. Lag
    /// markers take no capacity (consecutive ones merge). Returns `false` if
    /// the queue is closed.
    pub(crate) fn push_lag(&self, n: u64) -> bool {
        let mut st = self.lock();
        if st.closed.is_some() {
            return false;
        }
        let state = &mut *st;
        match state.buf.back_mut() {
            Some(BusItem::Lagged(m)) => *m += n,
            None if state.lagged > 0 => state.lagged += n,
            _ => state.buf.push_back(BusItem::Lagged(n)),
        }
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Pushes, waiting for space however long it takes (policy `Wait`).
    /// Returns [`Push::Queued`] or [`Push::Closed`].
    pub(crate) async fn push_wait(&self, item: T) -> Push<T> {
        let mut item = item;
        loop {
            let mut notified = pin!(self.space.notified());
            notified.as_mut().enable();
            {
                let mut st = self.lock();
                if st.closed.is_some() {
                    return Push::Closed;
                }
                if st.events < self.capacity {
                    drop(st);
                    return match self.try_push(item) {
                        Push::Full(back) => {
                            item = back;
                            continue;
                        }
                        other => other,
                    };
                }
                st.send_waiters += 1;
            }
            let _guard = WaiterGuard(self);
            notified.await;
        }
    }

    /// Closes the queue: buffered items can still be received, then `reason`.
    /// Wakes the receiver and any waiting publisher. The first reason wins.
    pub(crate) fn close(&self, reason: RecvError) {
        let mut st = self.lock();
        if st.closed.is_none() {
            st.closed = Some(reason);
        }
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        self.space.notify_waiters();
    }

    /// Closes the queue and discards buffered items (the receiver is gone).
    pub(crate) fn close_discard(&self) {
        let mut st = self.lock();
        st.closed = Some(RecvError::Closed);
        st.buf = VecDeque::new(); // frees the buffer
        st.events = 0;
        drop(st);
        self.space.notify_waiters();
    }

    /// The receiver's side. `batch` is the receiver's private buffer: when it
    /// is empty, everything queued is moved into it under one lock, so the
    /// receiver takes the lock once per batch rather than once per item.
    pub(crate) fn poll_recv(
        &self,
        batch: &mut VecDeque<BusItem<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<BusItem<T>, RecvError>> {
        if let Some(item) = batch.pop_front() {
            return Poll::Ready(Ok(item));
        }
        let mut st = self.lock();
        if st.lagged > 0 {
            let n = std::mem::take(&mut st.lagged);
            return Poll::Ready(Ok(BusItem::Lagged(n)));
        }
        if !st.buf.is_empty() {
            std::mem::swap(&mut st.buf, batch);
            let had_events = st.events > 0;
            st.events = 0;
            let wake_senders = had_events && st.send_waiters > 0;
            drop(st);
            if wake_senders {
                self.space.notify_waiters();
            }
            if let Some(item) = batch.pop_front() {
                return Poll::Ready(Ok(item));
            }
            st = self.lock();
        }
        if let Some(reason) = &st.closed {
            return Poll::Ready(Err(reason.clone()));
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Non-blocking receive: `None` when nothing is ready.
    pub(crate) fn try_recv(
        &self,
        batch: &mut VecDeque<BusItem<T>>,
    ) -> Option<Result<BusItem<T>, RecvError>> {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        match self.poll_recv(batch, &mut cx) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => {
                self.lock().waker = None;
                None
            }
        }
    }

    /// Events currently buffered.
    pub(crate) fn len(&self) -> usize {
        self.lock().events
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

struct WaiterGuard<'a, T>(&'a Queue<T>);

impl<T> Drop for WaiterGuard<'_, T> {
    fn drop(&mut self) {
        self.0.lock().send_waiters -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue with a receiver-side batch, for tests.
    struct Rx<T>(Queue<T>, VecDeque<BusItem<T>>);

    impl<T> Rx<T> {
        fn new(capacity: usize, policy: OverflowPolicy) -> Self {
            Self(Queue::new(capacity, policy), VecDeque::new())
        }
        fn try_push(&self, item: T) -> Push<T> {
            self.0.try_push(item)
        }
        fn push_lag(&self, n: u64) -> bool {
            self.0.push_lag(n)
        }
        fn try_recv(&mut self) -> Option<Result<BusItem<T>, RecvError>> {
            self.0.try_recv(&mut self.1)
        }
        fn len(&self) -> usize {
            self.0.len()
        }
    }

    #[test]
    fn drop_oldest_reports_exact_lag_before_newer_items() {
        let mut q = Rx::new(2, OverflowPolicy::DropOldest);
        for i in 0..5 {
            q.try_push(i);
        }
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Lagged(3)))));
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Event(3)))));
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Event(4)))));
        assert!(q.try_recv().is_none());
    }

    #[test]
    fn lag_markers_keep_their_place_and_merge() {
        let mut q = Rx::new(4, OverflowPolicy::DropOldest);
        q.try_push(1);
        assert!(q.push_lag(2));
        assert!(q.push_lag(3));
        q.try_push(2);
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Event(1)))));
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Lagged(5)))));
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Event(2)))));
    }

    #[test]
    fn dropping_past_a_lag_marker_merges_it() {
        let mut q = Rx::new(1, OverflowPolicy::DropOldest);
        q.try_push(1);
        q.push_lag(4);
        q.try_push(2); // drops 1 and the marker's 4 merges: 5 missed
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Lagged(5)))));
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Event(2)))));
    }

    #[test]
    fn close_policy_keeps_buffer_then_errors() {
        let mut q = Rx::new(1, OverflowPolicy::Close);
        assert!(matches!(q.try_push(1), Push::Queued));
        assert!(matches!(q.try_push(2), Push::Overflowed));
        assert!(matches!(q.try_push(3), Push::Closed));
        assert!(matches!(q.try_recv(), Some(Ok(BusItem::Event(1)))));
        assert!(matches!(
            q.try_recv(),
            Some(Err(RecvError::Overflowed { capacity: 1 }))
        ));
    }

    #[test]
    fn wait_policy_hands_item_back() {
        let q = Rx::new(1, OverflowPolicy::Wait);
        assert!(matches!(q.try_push(1), Push::Queued));
        assert!(matches!(q.try_push(2), Push::Full(2)));
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn push_wait_resumes_when_space_frees() {
        let q = std::sync::Arc::new(Queue::new(1, OverflowPolicy::Wait));
        let mut batch = VecDeque::new();
        q.try_push(0);
        let q2 = q.clone();
        let pusher = tokio::spawn(async move { matches!(q2.push_wait(1).await, Push::Queued) });
        tokio::task::yield_now().await;
        assert!(matches!(
            q.try_recv(&mut batch),
            Some(Ok(BusItem::Event(0)))
        ));
        assert!(pusher.await.unwrap());
        assert!(matches!(
            q.try_recv(&mut batch),
            Some(Ok(BusItem::Event(1)))
        ));
    }

    #[tokio::test]
    async fn push_wait_returns_on_close() {
        let q = std::sync::Arc::new(Queue::new(1, OverflowPolicy::Wait));
        q.try_push(0);
        let q2 = q.clone();
        let pusher = tokio::spawn(async move { matches!(q2.push_wait(1).await, Push::Closed) });
        tokio::task::yield_now().await;
        q.close_discard();
        assert!(pusher.await.unwrap());
    }
}

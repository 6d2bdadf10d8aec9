//! [`Mailbox`]: an actor's bounded queue of messages, many senders, one
//! receiver (the actor's task).
//!
//! A plain `VecDeque` behind a lock, with a wake-up: it allocates nothing
//! until the first message and gives back what a burst grew, so an idle
//! actor's mailbox costs about a hundred bytes (a tokio channel preallocates
//! a block of 32 slots, ~800 bytes).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Why a message was not queued (it comes back with the error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// `capacity` messages are waiting.
    Full,
    /// The receiver has closed the mailbox.
    Closed,
}

struct State<T> {
    queue: VecDeque<T>,
    closed: bool,
}

/// A bounded multi-producer, single-consumer queue.
pub(crate) struct Mailbox<T> {
    state: Mutex<State<T>>,
    ready: Notify,
    capacity: usize,
}

/// Capacity a drained mailbox keeps; more is given back.
const KEEP: usize = 16;

impl<T> std::fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("Mailbox")
            .field("queued", &s.queue.len())
            .field("capacity", &self.capacity)
            .field("closed", &s.closed)
            .finish()
    }
}

impl<T> Mailbox<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
            }),
            ready: Notify::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `msg` unless the mailbox is full or closed.
    pub(crate) fn try_send(&self, msg: T) -> Result<(), (T, Full)> {
        let mut s = self.lock();
        if s.closed {
            return Err((msg, Full::Closed));
        }
        if s.queue.len() >= self.capacity {
            return Err((msg, Full::Full));
        }
        s.queue.push_back(msg);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// The next message, waiting for one; `None` once closed and empty.
    pub(crate) async fn recv(&self) -> Option<T> {
        loop {
            let ready = self.ready.notified();
            {
                let mut s = self.lock();
                if let Some(m) = s.queue.pop_front() {
                    if s.queue.is_empty() && s.queue.capacity() > KEEP {
                        s.queue.shrink_to(KEEP);
                    }
                    return Some(m);
                }
                if s.closed {
                    return None;
                }
            }
            ready.await;
        }
    }

    /// The next message, if one is waiting.
    pub(crate) fn try_recv(&self) -> Option<T> {
        self.lock().queue.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().queue.is_empty()
    }

    /// Refuses every later message; those queued can still be taken.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    #[cfg(test)]
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn bounded_ordered_and_closable() {
        let m = Arc::new(Mailbox::new(2));
        m.try_send(1).unwrap();
        m.try_send(2).unwrap();
        assert_eq!(m.try_send(3), Err((3, Full::Full)));
        assert_eq!(m.recv().await, Some(1));
        let waiter = tokio::spawn({
            let m = m.clone();
            async move { (m.recv().await, m.recv().await, m.recv().await) }
        });
        tokio::task::yield_now().await;
        m.try_send(4).unwrap();
        m.close();
        assert_eq!(m.try_send(5), Err((5, Full::Closed)));
        assert_eq!(waiter.await.unwrap(), (Some(2), Some(4), None));
        assert!(m.is_empty() && m.is_closed());
    }

    #[tokio::test]
    async fn a_burst_is_given_back() {
        let m = Mailbox::new(1000);
        for i in 0..500 {
            m.try_send(i).unwrap();
        }
        for _ in 0..500 {
            m.recv().await.unwrap();
        }
        assert!(m.lock().queue.capacity() <= KEEP);
    }
}

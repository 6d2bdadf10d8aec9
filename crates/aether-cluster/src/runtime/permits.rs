//! [`Permits`]: recovery permits, a bound on concurrent actor loads per node,
//! with loads for a waiting caller served first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// Who waits for a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    /// A caller waits for the answer (`ask`, `query`): goes first.
    Caller,
    /// Nobody waits (`tell`, a timer).
    Background,
}

#[derive(Debug)]
struct State {
    free: usize,
    callers: VecDeque<oneshot::Sender<Permit>>,
    background: VecDeque<oneshot::Sender<Permit>>,
}

/// Counting permits with two queues: a released permit goes to the oldest
/// waiting caller, else to the oldest background load.
#[derive(Debug, Clone)]
pub(crate) struct Permits {
    state: Arc<Mutex<State>>,
}

/// One load's permit; released on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    state: Option<Arc<Mutex<State>>>,
}

impl Permits {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                free: n,
                callers: VecDeque::new(),
                background: VecDeque::new(),
            })),
        }
    }

    /// Waits for a permit.
    pub(crate) async fn acquire(&self, priority: Priority) -> Permit {
        let rx = {
            let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if s.free > 0 {
                s.free -= 1;
                return Permit {
                    state: Some(self.state.clone()),
                };
            }
            let (tx, rx) = oneshot::channel();
            match priority {
                Priority::Caller => s.callers.push_back(tx),
                Priority::Background => s.background.push_back(tx),
            }
            metrics::gauge!("aether_runtime_recovery_permits_waiting")
                .set((s.callers.len() + s.background.len()) as f64);
            rx
        };
        // The sender is only dropped after handing a permit over.
        rx.await.unwrap_or(Permit { state: None })
    }

    /// Permits free now.
    #[cfg(test)]
    pub(crate) fn free(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .free
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let next = s.callers.pop_front().or_else(|| s.background.pop_front());
            let Some(tx) = next else {
                s.free += 1;
                break;
            };
            // A waiter that gave up (its load was cancelled) hands it on.
            let permit = Permit {
                state: Some(state.clone()),
            };
            match tx.send(permit) {
                Ok(()) => break,
                Err(mut unused) => unused.state = None,
            }
        }
        metrics::gauge!("aether_runtime_recovery_permits_waiting")
            .set((s.callers.len() + s.background.len()) as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn callers_go_before_background_loads() {
        let p = Permits::new(1);
        let held = p.acquire(Priority::Caller).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let bg = tokio::spawn({
            let (p, order) = (p.clone(), order.clone());
            async move {
                let _g = p.acquire(Priority::Background).await;
                order.lock().unwrap().push("background");
            }
        });
        tokio::task::yield_now().await;
        let caller = tokio::spawn({
            let (p, order) = (p.clone(), order.clone());
            async move {
                let _g = p.acquire(Priority::Caller).await;
                order.lock().unwrap().push("caller");
            }
        });
        tokio::task::yield_now().await;
        drop(held);
        caller.await.unwrap();
        bg.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["caller", "background"]);
        assert_eq!(p.free(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_passes_the_permit_on() {
        let p = Permits::new(1);
        let held = p.acquire(Priority::Caller).await;
        let gone = tokio::spawn({
            let p = p.clone();
            async move {
                let _g = p.acquire(Priority::Caller).await;
            }
        });
        tokio::task::yield_now().await;
        gone.abort();
        let _ = gone.await;
        drop(held);
        let _again = p.acquire(Priority::Caller).await;
        assert_eq!(p.free(), 0);
    }
}

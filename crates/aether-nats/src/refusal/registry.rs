//! [`Refusals`]: one connection's record of the server's permission
//! refusals.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::record::Refusal;

/// The most recent refusals kept per connection.
const KEPT: usize = 64;

/// Waiting operations are spread over this many [`Notify`]s (by address),
/// so the operations of one busy connection rarely register with the same.
pub(super) const STRIPES: usize = 8;

/// One connection's record of the permission refusals its server sent.
///
/// [`crate::connect`] and [`crate::connect_with`] create one for every
/// connection they dial; components find it with [`Refusals::of`]. A client
/// you build yourself gets one in three lines: [`install`](Self::install)
/// it on your `ConnectOptions` (or call [`on_event`](Self::on_event) from
/// your own event callback), connect, and [`attach`](Self::attach) it to
/// the client before opening components on it. On a client without one,
/// components still work; a refused operation then ends by its own timeout
/// instead of at once.
///
/// Cheap to clone; clones share the record.
///
/// # Examples
///
/// Opting in with a client built by hand (own options, TLS, credentials):
///
/// ```no_run
/// use aether_nats::Refusals;
///
/// # async fn run() -> Result<(), async_nats::ConnectError> {
/// let refusals = Refusals::new();
/// let options = async_nats::ConnectOptions::new().name("my-service");
/// let client = refusals.install(options).connect("nats://127.0.0.1:4222").await?;
/// refusals.attach(&client);
/// // Stores, buses and nodes opened on `client` now end a refused
/// // operation at once with a permission error.
/// assert!(Refusals::of(&client).is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Refusals {
    pub(super) inner: Arc<Registry>,
}

/// The shared state of a [`Refusals`].
pub(super) struct Registry {
    /// Refusals recorded so far (the last one's sequence number). Written
    /// under `recent`'s lock, read without it.
    pub(super) count: AtomicU64,
    /// The most recent refusals, with their sequence numbers, oldest first.
    recent: Mutex<VecDeque<(u64, Refusal)>>,
    /// Woken at every refusal.
    pub(super) notify: [Notify; STRIPES],
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            count: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::new()),
            notify: std::array::from_fn(|_| Notify::new()),
        }
    }
}

impl Registry {
    /// The first refusal after sequence number `after` that concerns one of
    /// `parts`.
    pub(super) fn find<S: AsRef<str>>(&self, parts: &[S], after: u64) -> Option<Refusal> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .iter()
            .filter(|(n, _)| *n > after)
            .find(|(_, r)| parts.iter().any(|p| r.concerns(p.as_ref())))
            .map(|(_, r)| r.clone())
    }
}

impl fmt::Debug for Refusals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refusals")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

impl Refusals {
    /// An empty record, not yet anyone's.
    pub fn new() -> Self {
        Self::default()
    }

    /// `options` with an event callback that records this connection's
    /// refusals here (and logs the server's other errors). It replaces any
    /// event callback `options` had: to keep yours, call
    /// [`on_event`](Self::on_event) from it instead.
    ///
    /// # Examples
    ///
    /// See [`Refusals`].
    pub fn install(&self, options: async_nats::ConnectOptions) -> async_nats::ConnectOptions {
        let refusals = self.clone();
        options.event_callback(move |event| {
            refusals.on_event(&event);
            std::future::ready(())
        })
    }

    /// Records `event` if it is a permissions violation (and logs the
    /// server's other errors): for a client's own event callback.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_nats::Refusals;
    /// use async_nats::{Event, ServerError};
    ///
    /// let refusals = Refusals::new();
    /// let mine = refusals.clone();
    /// let options = async_nats::ConnectOptions::new().event_callback(move |event| {
    ///     mine.on_event(&event);
    ///     async move { /* your own handling of `event` */ }
    /// });
    /// # drop(options);
    ///
    /// // What the server sends when it refuses a publish:
    /// refusals.on_event(&Event::ServerError(ServerError::Other(
    ///     r#"Permissions Violation for Publish to "orders.placed""#.into(),
    /// )));
    /// assert_eq!(refusals.count(), 1);
    /// assert!(refusals.refused_since(&["orders.placed"], 0).is_some());
    /// ```
    pub fn on_event(&self, event: &async_nats::Event) {
        use async_nats::{Event, ServerError};
        match event {
            Event::ServerError(ServerError::Other(text)) if self.record(text).is_some() => {}
            Event::ServerError(e) => tracing::warn!(error = %e, "NATS server error"),
            _ => {}
        }
    }

    /// Records a server error text if it is a permissions violation, and
    /// wakes the operations waiting on this connection.
    pub(super) fn record(&self, server_error: &str) -> Option<Refusal> {
        let refusal = Refusal::parse(server_error)?;
        tracing::warn!(operation = %refusal.operation, subject = %refusal.subject, "NATS permissions violation");
        let registry = &*self.inner;
        {
            let mut recent = registry.recent.lock().unwrap_or_else(|e| e.into_inner());
            let n = registry.count.load(Ordering::Relaxed) + 1;
            if recent.len() == KEPT {
                recent.pop_front();
            }
            recent.push_back((n, refusal.clone()));
            // After the push: whoever reads `n` finds the refusal.
            registry.count.store(n, Ordering::Release);
        }
        for notify in &registry.notify {
            notify.notify_waiters();
        }
        Some(refusal)
    }

    /// How many refusals this connection has had: a mark for
    /// [`refused_since`](Self::refused_since).
    pub fn count(&self) -> u64 {
        self.inner.count.load(Ordering::Acquire)
    }

    /// The first refusal recorded after [`count`](Self::count) returned
    /// `count` that concerns one of `parts` (its subject is a part, or one
    /// of its tokens is): for operations whose refusal arrives after they
    /// returned, like a subscription (take the count before, flush, then
    /// ask). Only the last 64 refusals are kept.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_nats::{ConnectConfig, Refusals, connect};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = connect("nats://127.0.0.1:4222", &ConnectConfig::default(), "tool").await?;
    /// let refusals = Refusals::of(&client).expect("connect attaches one");
    /// let before = refusals.count();
    /// let _subscriber = client.subscribe("orders.>").await?;
    /// client.flush().await?;
    /// if let Some(refusal) = refusals.refused_since(&["orders.>"], before) {
    ///     eprintln!("{refusal}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn refused_since<S: AsRef<str>>(&self, parts: &[S], count: u64) -> Option<Refusal> {
        if self.count() == count {
            return None;
        }
        self.inner.find(parts, count)
    }
}

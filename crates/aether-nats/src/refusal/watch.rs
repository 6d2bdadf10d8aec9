//! [`Refusable`]: an operation that ends as soon as the server refuses its
//! connection a subject the operation uses.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::sync::futures::Notified;

use super::record::Refusal;
use super::registry::{Refusals, Registry, STRIPES};

pin_project! {
    /// An operation that ends with a [`Refusal`] as soon as the server
    /// refuses its connection a subject that is one of `parts` or has one
    /// as a token (a stream name), instead of waiting for the operation's
    /// own timeout; made by [`Refusals::refusable`] or [`Refusable::new`].
    /// Its output is `Ok` with the operation's, or `Err` with the refusal.
    ///
    /// Only refusals recorded after it was made count, and only those of
    /// its own connection. The operation is kept in place (nothing is
    /// allocated), and is polled first: one that completes at its first poll
    /// costs one atomic read more. One that waits also waits on a tokio
    /// `Notify` of its connection (one of 8, by address), which takes that
    /// `Notify`'s own short lock when polled while waiting and when dropped;
    /// the connection's list of refusals is locked only after a new refusal
    /// on the connection, to see whether it concerns the operation.
    #[must_use = "futures do nothing unless polled"]
    pub struct Refusable<'a, S, F> {
        #[pin]
        operation: F,
        #[pin]
        watch: Option<Watch<'a, S>>,
    }
}

pin_project! {
    /// Watching one connection's refusals for an operation.
    struct Watch<'a, S> {
        registry: &'a Registry,
        parts: &'a [S],
        // The connection's refusals up to this sequence number have been
        // looked at.
        seen: u64,
        // Wakes the operation's task at the next refusal; made at the first
        // poll, where the watch has its place (which picks the stripe).
        #[pin]
        notified: Option<Notified<'a>>,
    }
}

impl<'a, S: AsRef<str>, F: Future> Refusable<'a, S, F> {
    /// Runs `operation`, watching the refusals of `refusals` for `parts`;
    /// with `None` (a client without a record, see [`Refusals::of`]) it is
    /// just the operation, which then ends only by its own timeout when
    /// refused.
    ///
    /// # Errors
    ///
    /// The future's output is the [`Refusal`] when the server refused the
    /// connection a subject concerning `parts` after this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_nats::{Refusable, Refusals};
    /// use async_nats::{Event, ServerError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let refusals = Refusals::new();
    /// // An operation that would wait for ever, ended by a refusal of its stream.
    /// let waiting = Refusable::new(Some(&refusals), &["AETHER_orders"], std::future::pending::<()>());
    /// let refuse = async {
    ///     refusals.on_event(&Event::ServerError(ServerError::Other(
    ///         r#"Permissions Violation for Publish to "$JS.API.STREAM.INFO.AETHER_orders""#.into(),
    ///     )));
    /// };
    /// let (refused, ()) = tokio::join!(waiting, refuse);
    /// assert_eq!(refused.unwrap_err().subject, "$JS.API.STREAM.INFO.AETHER_orders");
    ///
    /// // Without a record, the operation alone.
    /// assert_eq!(Refusable::new(None, &["AETHER_orders"], async { 7 }).await, Ok(7));
    /// # }
    /// ```
    pub fn new(
        refusals: Option<&'a Refusals>,
        parts: &'a [S],
        operation: impl IntoFuture<IntoFuture = F>,
    ) -> Self {
        let watch = refusals.map(|r| Watch {
            registry: &r.inner,
            parts,
            seen: r.inner.count.load(Ordering::Acquire),
            notified: None,
        });
        Self {
            operation: operation.into_future(),
            watch,
        }
    }
}

impl Refusals {
    /// Runs `operation`; if meanwhile the server refuses this connection a
    /// subject that is one of `parts` or has one as a token (a stream name),
    /// ends at once with that [`Refusal`] instead of waiting for the
    /// operation's timeout. See [`Refusable`].
    ///
    /// # Errors
    ///
    /// The [`Refusal`], when the server refused this connection a subject
    /// concerning `parts` after the call (the refused message took no
    /// effect). `operation`'s own errors are in its output.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_nats::{ConnectConfig, Refusals, connect};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = connect("nats://127.0.0.1:4222", &ConnectConfig::default(), "tool").await?;
    /// let refusals = Refusals::of(&client).expect("connect attaches one");
    /// let js = async_nats::jetstream::new(client.clone());
    /// match refusals.refusable(&["AETHER_orders"], js.get_stream("AETHER_orders")).await {
    ///     Err(refusal) => eprintln!("not permitted: {refusal}"),
    ///     Ok(Err(e)) => eprintln!("failed: {e}"),
    ///     Ok(Ok(_stream)) => {}
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn refusable<'a, S, F>(
        &'a self,
        parts: &'a [S],
        operation: F,
    ) -> Refusable<'a, S, F::IntoFuture>
    where
        S: AsRef<str>,
        F: IntoFuture,
    {
        Refusable::new(Some(self), parts, operation)
    }
}

impl<S: AsRef<str>, F: Future> Future for Refusable<'_, S, F> {
    type Output = Result<F::Output, Refusal>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(done) = this.operation.poll(cx) {
            return Poll::Ready(Ok(done));
        }
        match this.watch.as_pin_mut() {
            Some(watch) => watch.poll_refused(cx).map(Err),
            None => Poll::Pending,
        }
    }
}

impl<S: AsRef<str>> Watch<'_, S> {
    /// Ready with the first refusal concerning the parts; pending, with a
    /// wake-up registered, while there is none.
    fn poll_refused(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Refusal> {
        let mut this = self.project();
        loop {
            let Some(notified) = this.notified.as_mut().as_pin_mut() else {
                // Made before the count is read below: a refusal recorded
                // after that read wakes it.
                let place = std::ptr::from_ref(&*this.notified).addr();
                let stripe = (place / 64) % STRIPES;
                this.notified
                    .set(Some(this.registry.notify[stripe].notified()));
                continue;
            };
            let count = this.registry.count.load(Ordering::Acquire);
            if count != *this.seen {
                let found = this.registry.find(this.parts, *this.seen);
                *this.seen = count;
                if let Some(refusal) = found {
                    return Poll::Ready(refusal);
                }
            }
            if notified.poll(cx).is_pending() {
                return Poll::Pending;
            }
            // A refusal was recorded: look at it, then wait again.
            this.notified.set(None);
        }
    }
}

impl<S: AsRef<str>, F> fmt::Debug for Refusable<'_, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Option<Vec<&str>> = self
            .watch
            .as_ref()
            .map(|w| w.parts.iter().map(AsRef::as_ref).collect());
        f.debug_struct("Refusable")
            .field("parts", &parts)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn refuse(refusals: &Refusals, subject: &str) {
        let text = format!("Permissions Violation for Publish to \"{subject}\"");
        assert!(refusals.record(&text).is_some());
    }

    #[tokio::test]
    async fn a_refusal_ends_the_operation_at_once() {
        let refusals = Refusals::new();
        let waiting = tokio::spawn({
            let refusals = refusals.clone();
            async move {
                refusals
                    .refusable(&["AETHER_a"], std::future::pending::<()>())
                    .await
            }
        });
        tokio::task::yield_now().await;
        refuse(&refusals, "$JS.API.STREAM.INFO.AETHER_a");
        let refusal = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert_eq!(refusal.subject, "$JS.API.STREAM.INFO.AETHER_a");
        let e: aether_core::Error = refusal.into();
        assert!(e.is_permission_denied(), "{e}");
        // Made after the refusal: not concerned by it.
        assert_eq!(refusals.refusable(&["AETHER_a"], async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn only_its_own_connection_and_parts_concern_an_operation() {
        let (mine, theirs) = (Refusals::new(), Refusals::new());
        let mut waiting =
            std::pin::pin!(mine.refusable(&["AETHER_a"], std::future::pending::<()>()));
        let poll = |w: Pin<&mut Refusable<'_, &str, std::future::Pending<()>>>| {
            let waker = std::task::Waker::noop();
            w.poll(&mut Context::from_waker(waker)).is_pending()
        };
        assert!(poll(waiting.as_mut()));
        // Another connection refused the same subject; this one, another stream.
        refuse(&theirs, "AETHER_a.events.t.1");
        refuse(&mine, "AETHER_b.events.t.1");
        refuse(&mine, "$JS.API.STREAM.INFO.AETHER_ab");
        assert!(poll(waiting.as_mut()), "still waiting");
        assert_eq!(mine.count(), 2);
        assert_eq!(theirs.count(), 1);
        refuse(&mine, "AETHER_a.events.t.1");
        assert!(!poll(waiting.as_mut()), "ended by its own refusal");
    }

    #[tokio::test]
    async fn refused_since_sees_only_later_refusals_of_its_parts() {
        let refusals = Refusals::new();
        refuse(&refusals, "aether.bus.ev.a");
        let before = refusals.count();
        assert_eq!(refusals.refused_since(&["aether.bus.ev.a"], before), None);
        refuse(&refusals, "aether.bus.ev.b");
        assert_eq!(refusals.refused_since(&["aether.bus.ev.a"], before), None);
        let r = refusals
            .refused_since(&["aether.bus.ev.b"], before)
            .unwrap();
        assert_eq!(r.subject, "aether.bus.ev.b");
        assert_eq!(r.operation, "Publish");
    }

    #[tokio::test]
    async fn a_woken_operation_waits_again_for_the_next_refusal() {
        let refusals = Refusals::new();
        let waiting = tokio::spawn({
            let refusals = refusals.clone();
            async move {
                refusals
                    .refusable(&["AETHER_a"], std::future::pending::<()>())
                    .await
            }
        });
        // Many refusals of other streams, each waking it; then its own.
        for i in 0..100 {
            refuse(&refusals, &format!("AETHER_b.events.t.{i}"));
            tokio::task::yield_now().await;
        }
        refuse(&refusals, "AETHER_a.events.t.1");
        let refusal = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert_eq!(refusal.subject, "AETHER_a.events.t.1");
    }
}

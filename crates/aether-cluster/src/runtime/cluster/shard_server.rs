//! [`ShardServer`]: the subscription of one served shard. While serving, each
//! request runs on this node's activation of its actor; while the shard is
//! being handed on, requests are answered `not-owner` (the caller retries at
//! once), then ignored for a moment once the new owner serves (its reply
//! wins), then the subscription ends. Unsubscribing only after the new owner
//! subscribed means no request falls into the gap where a server still
//! routes to an interest that is gone (measured: `benches/interest.rs`).

use std::sync::Arc;

use aether_core::{ActorId, BoxFuture};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::claim_fence::ClaimFence;
use super::headers;
use crate::id::ShardId;
use crate::runtime::registry::Registry;
use crate::runtime::serve::bad_request;
use crate::runtime::status::Status;
use crate::runtime::transport::{Incoming, Reply};

/// What the server does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Serving,
    NotOwner,
    Silent,
    Stop,
}

/// The serving side's types, by actor type name: the system's registry
/// (read per request, so a type defined while the system runs is served).
pub(crate) type Handlers = Registry;

/// What every served shard's subscription shares.
#[derive(Debug)]
pub(crate) struct ServeCtx {
    pub(crate) client: async_nats::Client,
    pub(crate) fence: Arc<ClaimFence>,
}

impl ServeCtx {
    /// Sends `reply` to `to` (naming the actor's owner in a `not-owner`).
    pub(crate) async fn send(&self, to: &async_nats::Subject, actor: &ActorId, reply: Reply) {
        let owner = if reply.status == Status::NotOwner {
            metrics::counter!("aether_runtime_not_owner_sent_total").increment(1);
            self.fence.node.place(actor)
        } else {
            None
        };
        let headers = headers::reply_headers(&reply, self.fence.epoch(), owner.as_ref());
        // Boxed: async-nats's publish future is 700 bytes, and the task a
        // waiting call's reply is sent from stays under 1 KiB without it
        // (see `local::ask`).
        let publish = self
            .client
            .publish_with_headers(to.clone(), headers, reply.body);
        if let Err(e) = Box::pin(publish).await {
            tracing::debug!(error = %e, "a routed reply could not be sent");
        }
    }

    async fn not_owner(&self, to: &async_nats::Subject, actor: &ActorId) {
        self.send(to, actor, Reply::new(Status::NotOwner, bytes::Bytes::new()))
            .await;
    }
}

pub(crate) struct ShardServer {
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for ShardServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardServer")
            .field("mode", &*self.mode.borrow())
            .finish()
    }
}

impl ShardServer {
    /// Subscribes to `shard`'s subject. The server has the subscription
    /// (requests sent after that reach it) a moment after the client is
    /// flushed (the keeper flushes once for all the shards it starts
    /// together); a request before it finds no responders and is retried.
    pub(crate) async fn start(
        shard: ShardId,
        ctx: Arc<ServeCtx>,
        handlers: Arc<Handlers>,
    ) -> Result<Self, async_nats::SubscribeError> {
        let subject = ctx.fence.subjects.shard(shard);
        let sub = ctx.client.subscribe(subject).await?;
        let (mode, rx) = watch::channel(Mode::Serving);
        let span = tracing::debug_span!("aether.runtime.shard", shard = shard.0);
        let task = tokio::spawn(run(shard, sub, rx, ctx, handlers).instrument(span));
        Ok(Self { mode, task })
    }

    pub(crate) fn set(&self, mode: Mode) {
        let _ = self.mode.send(mode);
    }

    /// Ends the subscription (requests still buffered are answered
    /// `not-owner`) and waits for the task.
    pub(crate) async fn stop(self) {
        let _ = self.mode.send(Mode::Stop);
        let _ = self.task.await;
    }
}

async fn run(
    shard: ShardId,
    mut sub: async_nats::Subscriber,
    mut mode: watch::Receiver<Mode>,
    ctx: Arc<ServeCtx>,
    handlers: Arc<Handlers>,
) {
    loop {
        let m = tokio::select! {
            biased;
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow() == Mode::Stop {
                    break;
                }
                continue;
            }
            m = sub.next() => match m {
                Some(m) => m,
                None => return,
            },
        };
        let current = *mode.borrow();
        handle(shard, m, current, &ctx, &handlers).await;
    }
    let _ = sub.unsubscribe().await;
    // What was delivered before the server saw the unsubscribe.
    while let Ok(Some(m)) =
        tokio::time::timeout(std::time::Duration::from_millis(20), sub.next()).await
    {
        handle(shard, m, Mode::NotOwner, &ctx, &handlers).await;
    }
}

async fn handle(
    shard: ShardId,
    m: async_nats::Message,
    mode: Mode,
    ctx: &Arc<ServeCtx>,
    handlers: &Handlers,
) {
    let Some(to) = m.reply.clone() else {
        tracing::debug!(subject = %m.subject, "a routed call without a reply subject was dropped");
        metrics::counter!("aether_runtime_bad_requests_total").increment(1);
        return;
    };
    let actor = match ctx.fence.subjects.parse(&m.subject) {
        Ok((s, actor)) if s == shard => actor,
        Ok((_, actor)) => return ctx.send(&to, &actor, bad_request("wrong shard")).await,
        Err(why) => {
            let reply = bad_request(&why);
            let headers = headers::reply_headers(&reply, ctx.fence.epoch(), None);
            let _ = ctx
                .client
                .publish_with_headers(to, headers, reply.body)
                .await;
            return;
        }
    };
    match mode {
        Mode::Silent => {}
        Mode::NotOwner | Mode::Stop => ctx.not_owner(&to, &actor).await,
        Mode::Serving => {
            let read = || headers::incoming(m.headers.as_ref(), m.payload);
            match serve_request(ctx, handlers, shard, &actor, read) {
                Served::Now(reply) => ctx.send(&to, &actor, reply).await,
                Served::Later(reply) => {
                    let ctx = ctx.clone();
                    tokio::spawn(async move {
                        let reply = reply.await;
                        ctx.send(&to, &actor, reply).await;
                    });
                }
            }
        }
    }
}

/// How a request served on this node goes on.
pub(crate) enum Served {
    /// Answered already: run at once, or refused.
    Now(Reply),
    /// Its turn waits (on the store, on the mailbox): the reply once done.
    Later(BoxFuture<'static, Reply>),
}

/// Serves a request for `actor` of `shard`, wherever it came from (its
/// subject, a batch): `not-owner` unless this node serves the shard now
/// (fence), `bad-request` for a type this node does not run or a request
/// `read` finds malformed; else the call, run here while it runs without
/// waiting (an actor at rest on a store that answers at once: the usual
/// ask), so that a task takes over only what would make other calls wait.
pub(crate) fn serve_request(
    ctx: &ServeCtx,
    handlers: &Handlers,
    shard: ShardId,
    actor: &ActorId,
    read: impl FnOnce() -> Result<Incoming, String>,
) -> Served {
    if ctx.fence.check_shard(shard).is_none() {
        return Served::Now(Reply::new(Status::NotOwner, bytes::Bytes::new()));
    }
    let Some(handler) = handlers.serve(actor.actor_type()) else {
        let message = format!(
            "actor type {:?} is not run by this cluster",
            actor.actor_type()
        );
        return Served::Now(bad_request(&message));
    };
    let request = match read() {
        Ok(r) => r,
        Err(message) => return Served::Now(bad_request(&message)),
    };
    let mut served = handler.serve(actor.clone(), request);
    let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
    match served.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(reply) => Served::Now(reply),
        // Polled again, with its task's waker, by whoever awaits it.
        std::task::Poll::Pending => Served::Later(served),
    }
}

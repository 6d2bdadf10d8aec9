//! [`ShardServer`]: the subscription of one served shard. While serving, each
//! request runs on this node's activation of its actor; while the shard is
//! being handed on, requests are answered `not-owner` (the caller retries at
//! once), then ignored for a moment once the new owner serves (its reply
//! wins), then the subscription ends. Unsubscribing only after the new owner
//! subscribed means no request falls into the gap where a server still
//! routes to an interest that is gone (measured: `benches/interest.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::handler::{Serve, ServeCtx};
use super::wire::Status;
use crate::id::ShardId;

/// What the server does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Serving,
    NotOwner,
    Silent,
    Stop,
}

/// The serving side's types, by actor type name.
pub(crate) type Handlers = HashMap<&'static str, Arc<dyn Serve>>;

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
    /// (requests sent after that reach it) once the client is flushed: the
    /// keeper flushes once for all the shards it starts together.
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
        return;
    };
    let parsed = ctx.fence.subjects.parse(&m.subject);
    let actor = match parsed {
        Ok((s, actor)) if s == shard => actor,
        Ok(_) | Err(_) => {
            let why = parsed.err().unwrap_or_else(|| "wrong shard".into());
            return ctx.problem(&to, Status::BadRequest, why).await;
        }
    };
    match mode {
        Mode::Silent => {}
        Mode::NotOwner | Mode::Stop => ctx.not_owner(&to, &actor).await,
        Mode::Serving => {
            if ctx.fence.check_shard(shard).is_none() {
                return ctx.not_owner(&to, &actor).await;
            }
            let Some(handler) = handlers.get(actor.actor_type()) else {
                let message = format!(
                    "actor type {:?} is not run by this cluster",
                    actor.actor_type()
                );
                return ctx.problem(&to, Status::BadRequest, message).await;
            };
            tokio::spawn(handler.serve(actor, m, ctx.clone()));
        }
    }
}

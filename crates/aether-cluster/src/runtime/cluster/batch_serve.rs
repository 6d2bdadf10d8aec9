//! The serving side of batched calls (`batch_calls.rs`): a member reads the
//! frames sent to `aether.rt.<cluster>.n.<node>` and serves each call in
//! them exactly as a request on its actor's subject (`shard_server.rs`):
//! the fence checked per call (a call for a shard this node does not serve
//! now is answered `not-owner`, and its caller sends it to the actor's
//! subject), then the actor's turn. The answers go back many to a message,
//! each as soon as it is ready (an outbox per calling member).

use std::sync::Arc;

use async_nats::Subject;
use futures::StreamExt;
use tokio::task::JoinHandle;

use super::frame::{self, FrameBuf, Received};
use super::outbox::{Framed, Outboxes, Unsent};
use super::shard_server::{Handlers, ServeCtx};
use crate::runtime::serve::bad_request;
use crate::runtime::status::Status;
use crate::runtime::transport::Reply;

impl Framed for Reply {
    fn write(&self, id: u64, frame: &mut FrameBuf) -> bool {
        frame.answer(id, self);
        true
    }
}

type Answers = Arc<Outboxes<ReplyTo, Reply>>;

/// A calling member's reply subject, as the key of its outbox.
#[derive(Clone, PartialEq, Eq)]
struct ReplyTo(Subject);

impl std::hash::Hash for ReplyTo {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

/// Subscribes to `subject` (this member's batch subject) and serves the
/// calls that arrive on it until the task is aborted.
pub(crate) async fn start(
    subject: String,
    ctx: Arc<ServeCtx>,
    handlers: Arc<Handlers>,
) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
    let mut frames = ctx.client.subscribe(subject).await?;
    let answers: Answers = Outboxes::new(
        ctx.client.clone(),
        Box::new(|to: &ReplyTo| (to.0.clone(), None)),
        Box::new(|_, why| {
            if why == Unsent::Failed {
                // Its caller waits out the attempt and sends it again.
                tracing::debug!("a batch of answers could not be sent");
            }
        }),
    );
    Ok(tokio::spawn(async move {
        while let Some(m) = frames.next().await {
            let Some(to) = m.reply.map(ReplyTo) else {
                metrics::counter!("aether_runtime_bad_requests_total").increment(1);
                tracing::debug!("a batch of calls without a reply subject was dropped");
                continue;
            };
            match frame::calls(m.payload) {
                Ok(calls) => {
                    // A call alone in its frame is answered at once, from
                    // the task that ran it (its caller had no other in
                    // flight: nothing to batch with).
                    let alone = calls.len() == 1;
                    for call in calls {
                        serve(call, &to, alone, &ctx, &handlers, &answers).await;
                    }
                }
                Err(e) => {
                    // Its callers wait out their attempts and send again.
                    metrics::counter!("aether_runtime_bad_requests_total").increment(1);
                    tracing::warn!(error = %e, "an unreadable batch of calls was dropped");
                }
            }
        }
    }))
}

async fn answer(answers: &Answers, to: &ReplyTo, id: u64, reply: Reply, alone: bool) {
    if alone {
        answers.send_now(to, id, reply).await;
    } else {
        answers.push(to, id, reply);
    }
}

async fn serve(
    received: Received,
    to: &ReplyTo,
    alone: bool,
    ctx: &Arc<ServeCtx>,
    handlers: &Handlers,
    answers: &Answers,
) {
    let Received { id, call } = received;
    let answer = |reply: Reply| answer(answers, to, id, reply, alone);
    let (actor, request) = match call {
        Ok(c) => c,
        Err(message) => return answer(bad_request(&message)).await,
    };
    if ctx
        .fence
        .check_shard(ctx.fence.subjects.shard_of(&actor))
        .is_none()
    {
        metrics::counter!("aether_runtime_not_owner_sent_total").increment(1);
        return answer(Reply::new(Status::NotOwner, bytes::Bytes::new())).await;
    }
    let Some(handler) = handlers.serve(actor.actor_type()) else {
        let message = format!(
            "actor type {:?} is not run by this cluster",
            actor.actor_type()
        );
        return answer(bad_request(&message)).await;
    };
    // As on the actor's subject: run here while it runs without waiting,
    // a task only for a call that waits.
    let mut served = handler.serve(actor, request);
    match futures::poll!(served.as_mut()) {
        std::task::Poll::Ready(reply) => answer(reply).await,
        std::task::Poll::Pending => {
            let (answers, to) = (answers.clone(), to.clone());
            tokio::spawn(async move {
                let reply = served.await;
                self::answer(&answers, &to, id, reply, alone).await;
            });
        }
    }
}

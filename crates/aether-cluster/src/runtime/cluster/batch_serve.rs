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
use super::shard_server::{Handlers, ServeCtx, Served, serve_request};
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
    if reply.status == Status::NotOwner {
        metrics::counter!("aether_runtime_not_owner_sent_total").increment(1);
    }
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
    let (actor, request) = match call {
        Ok(c) => c,
        Err(message) => return answer(answers, to, id, bad_request(&message), alone).await,
    };
    let shard = ctx.fence.subjects.shard_of(&actor);
    match serve_request(ctx, handlers, shard, &actor, || Ok(request)) {
        Served::Now(reply) => answer(answers, to, id, reply, alone).await,
        Served::Later(reply) => {
            let (answers, to) = (answers.clone(), to.clone());
            tokio::spawn(async move {
                let reply = reply.await;
                answer(&answers, &to, id, reply, alone).await;
            });
        }
    }
}

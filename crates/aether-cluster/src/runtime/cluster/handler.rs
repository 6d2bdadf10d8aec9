//! What a type needs to be called across nodes ([`Routable`]), its codec
//! for the calling side, and the serving side of one routed request: decode
//! it, run it on this node's activation, reply with a status.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aether_core::aggregate::{Aggregate, CommandEnvelope, Queryable};
use aether_core::{ActorId, CommandId, Error, Metadata};
use async_nats::{HeaderMap, Message};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::fence::Fence;
use super::wire::{self, Kind, Status};
use crate::runtime::error::{AskError, RuntimeErrorKind};
use crate::runtime::host::Host;
use crate::runtime::local;

/// An aggregate type that can be called across nodes: its commands, domain
/// errors, queries and answers travel as JSON. Implemented for every
/// [`Queryable`] aggregate whose `Command` and `Error` are `Serialize +
/// DeserializeOwned` (a type without questions can answer `type Query =
/// (); type Answer = ();`).
pub trait Routable:
    Queryable + Aggregate<Command: Serialize + DeserializeOwned, Error: Serialize + DeserializeOwned>
{
}

impl<A> Routable for A where
    A: Queryable
        + Aggregate<Command: Serialize + DeserializeOwned, Error: Serialize + DeserializeOwned>
{
}

/// The calling side's codec of one type (an object, so that `ActorRef<A>`
/// needs no serde bounds of its own).
pub(crate) trait Codec<A: Aggregate>: Send + Sync {
    fn command(&self, command: &A::Command) -> Result<Bytes, Error>;
    fn rejection(&self, body: &[u8]) -> Result<A::Error, Error>;
}

pub(crate) struct Json;

impl<A: Routable> Codec<A> for Json {
    fn command(&self, command: &A::Command) -> Result<Bytes, Error> {
        serde_json::to_vec(command)
            .map(Bytes::from)
            .map_err(|e| Error::serialization_with(format!("encoding a {} command", A::TYPE), e))
    }

    fn rejection(&self, body: &[u8]) -> Result<A::Error, Error> {
        serde_json::from_slice::<wire::Rejection<A::Error>>(body)
            .map(|r| r.error)
            .map_err(|e| Error::serialization_with(format!("decoding a {} rejection", A::TYPE), e))
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the serving side needs besides the type.
#[derive(Debug)]
pub(crate) struct ServeCtx {
    pub(crate) client: async_nats::Client,
    pub(crate) fence: Arc<Fence>,
}

impl ServeCtx {
    fn epoch(&self) -> u64 {
        self.fence.epoch()
    }

    /// Replies `status` with `body`.
    pub(crate) async fn reply(&self, to: &async_nats::Subject, status: Status, body: Bytes) {
        self.reply_with(to, wire::reply_headers(status, self.epoch()), body)
            .await;
    }

    async fn reply_with(&self, to: &async_nats::Subject, headers: HeaderMap, body: Bytes) {
        if let Err(e) = self
            .client
            .publish_with_headers(to.clone(), headers, body)
            .await
        {
            tracing::debug!(error = %e, "a routed reply could not be sent");
        }
    }

    /// Replies `not-owner`, naming the owner this node's map has.
    pub(crate) async fn not_owner(&self, to: &async_nats::Subject, actor: &ActorId) {
        let mut h = wire::reply_headers(Status::NotOwner, self.epoch());
        if let Some(owner) = self.fence.node.place(actor) {
            h.insert(wire::OWNER, owner.as_str());
        }
        metrics::counter!("aether_runtime_not_owner_sent_total").increment(1);
        self.reply_with(to, h, Bytes::new()).await;
    }

    /// Replies with an error status and a message.
    pub(crate) async fn problem(&self, to: &async_nats::Subject, status: Status, message: String) {
        let body = serde_json::to_vec(&wire::Problem { message }).unwrap_or_default();
        self.reply(to, status, Bytes::from(body)).await;
    }
}

/// The serving side of one type.
pub(crate) trait Serve: Send + Sync {
    /// Runs the request `msg` for `actor` (of this type) and replies.
    fn serve(&self, actor: ActorId, msg: Message, ctx: Arc<ServeCtx>) -> BoxFuture;
}

pub(crate) struct Served<A: Aggregate> {
    pub(crate) host: Arc<Host<A>>,
}

impl<A: Routable> Serve for Served<A> {
    fn serve(&self, actor: ActorId, msg: Message, ctx: Arc<ServeCtx>) -> BoxFuture {
        Box::pin(serve_one(self.host.clone(), actor, msg, ctx))
    }
}

async fn serve_one<A: Routable>(
    host: Arc<Host<A>>,
    actor: ActorId,
    msg: Message,
    ctx: Arc<ServeCtx>,
) {
    let Some(to) = msg.reply.clone() else {
        tracing::debug!(subject = %msg.subject, "a routed call without a reply subject was dropped");
        metrics::counter!("aether_runtime_bad_requests_total").increment(1);
        return;
    };
    let headers = msg.headers.as_ref();
    let kind = match wire::header(headers, wire::KIND) {
        None => Kind::Command,
        Some(k) => match Kind::parse(k) {
            Some(k) => k,
            None => {
                return bad(&ctx, &to, format!("unknown {} {k:?}", wire::KIND)).await;
            }
        },
    };
    let timeout = wire::millis(headers, wire::TIMEOUT)
        .unwrap_or(host.config.deadline)
        .min(aether_core::MAX_DURATION);
    let deadline = Instant::now() + timeout;
    if kind == Kind::Query {
        let query: A::Query = match serde_json::from_slice(&msg.payload) {
            Ok(q) => q,
            Err(e) => {
                return bad(
                    &ctx,
                    &to,
                    format!("the body is not a {} query: {e}", A::TYPE),
                )
                .await;
            }
        };
        return match local::query(&host, &actor, query, deadline).await {
            Ok(answer) => match serde_json::to_vec(&answer) {
                Ok(body) => ctx.reply(&to, Status::Ok, Bytes::from(body)).await,
                Err(e) => {
                    ctx.problem(
                        &to,
                        Status::Unavailable,
                        format!("encoding the answer: {e}"),
                    )
                    .await
                }
            },
            Err(e) => {
                let status = match e.kind() {
                    RuntimeErrorKind::NotOwner => return ctx.not_owner(&to, &actor).await,
                    RuntimeErrorKind::Overloaded => Status::Overloaded,
                    RuntimeErrorKind::ShuttingDown => Status::ShuttingDown,
                    RuntimeErrorKind::Timeout => Status::Timeout,
                    _ => Status::Unavailable,
                };
                ctx.problem(&to, status, aether_core::error_chain(&e)).await
            }
        };
    }
    let envelope = match envelope::<A>(&msg, headers) {
        Ok(e) => e,
        Err(message) => return bad(&ctx, &to, message).await,
    };
    let result = local::ask(&host, &actor, envelope, deadline, kind == Kind::Command).await;
    match result {
        Ok(None) => ctx.reply(&to, Status::Ok, Bytes::new()).await,
        Ok(Some(o)) => {
            let events: Result<Vec<aether_core::Event>, Error> =
                o.events.iter().map(|e| e.to_event()).collect();
            match events {
                Ok(events) => {
                    let body = wire::Outcome {
                        version: o.version,
                        deduplicated: o.deduplicated,
                        events,
                    };
                    let body = serde_json::to_vec(&body).unwrap_or_default();
                    ctx.reply(&to, Status::Ok, Bytes::from(body)).await;
                }
                // Applied; the outcome cannot be shown: unknown to the caller.
                Err(e) => ctx.problem(&to, Status::Timeout, e.to_string()).await,
            }
        }
        Err(AskError::Rejected(e)) => {
            let body = wire::Rejection {
                message: e.to_string(),
                error: e,
            };
            match serde_json::to_vec(&body) {
                Ok(b) => ctx.reply(&to, Status::Rejected, Bytes::from(b)).await,
                Err(err) => {
                    ctx.problem(
                        &to,
                        Status::Unavailable,
                        format!("rejected: {} ({err})", body.message),
                    )
                    .await
                }
            }
        }
        Err(AskError::NotOwner { .. }) => ctx.not_owner(&to, &actor).await,
        Err(AskError::Overloaded { retry_after, .. }) => {
            let mut h = wire::reply_headers(Status::Overloaded, ctx.epoch());
            h.insert(wire::RETRY_AFTER, retry_after.as_millis().to_string());
            ctx.reply_with(&to, h, Bytes::new()).await;
        }
        Err(AskError::ShuttingDown { .. }) => {
            ctx.reply(&to, Status::ShuttingDown, Bytes::new()).await
        }
        Err(AskError::Unavailable { cause, .. }) => {
            ctx.problem(&to, Status::Unavailable, aether_core::error_chain(&cause))
                .await
        }
        Err(AskError::Timeout { .. }) => ctx.reply(&to, Status::Timeout, Bytes::new()).await,
    }
}

async fn bad(ctx: &ServeCtx, to: &async_nats::Subject, message: String) {
    metrics::counter!("aether_runtime_bad_requests_total").increment(1);
    ctx.problem(to, Status::BadRequest, message).await;
}

/// The command of a request, with its id, correlation id and metadata.
fn envelope<A: Routable>(
    msg: &Message,
    headers: Option<&HeaderMap>,
) -> Result<CommandEnvelope<A::Command>, String> {
    let command: A::Command = serde_json::from_slice(&msg.payload)
        .map_err(|e| format!("the body is not a {} command: {e}", A::TYPE))?;
    let mut envelope = CommandEnvelope::new(command);
    if let Some(meta) = wire::header(headers, wire::META) {
        envelope.metadata = serde_json::from_str::<Metadata>(meta)
            .map_err(|e| format!("{} is not a JSON object of strings: {e}", wire::META))?;
    }
    if let Some(id) = wire::header(headers, wire::CMD_ID) {
        envelope.command_id = CommandId::new(id).map_err(|e| format!("{}: {e}", wire::CMD_ID))?;
    }
    if let Some(c) = wire::header(headers, wire::CORR) {
        envelope.metadata.set_correlation_id(c);
    }
    if let Some(t) = wire::header(headers, wire::TRACEPARENT) {
        envelope.metadata.insert(wire::TRACEPARENT, t);
    }
    Ok(envelope)
}

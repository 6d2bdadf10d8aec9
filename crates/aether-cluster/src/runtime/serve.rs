//! The serving side of routed calls: one request from another node (or any
//! client speaking `docs/wire.md`) decoded, run on this node's activation of
//! its actor, and answered with a status through the one table
//! (`status.rs`). Transport-free: the NATS side hands requests in and sends
//! the replies.

use std::sync::Arc;

use aether_core::aggregate::{Behavior, CommandEnvelope};
use aether_core::{ActorId, BoxFuture, CommandId, MAX_DURATION, error_chain};
use bytes::Bytes;
use futures::FutureExt;
use futures::future::ready;
use tokio::time::Instant;

use super::codec::{Routable, encoded_events, outcome_body, rejection_body};
use super::error::AskError;
use super::host::Host;
use super::local::{self, Caller};
use super::status::Status;
use super::transport::{Incoming, Kind, Reply};

/// The serving side of one routed type (an object: the transport holds one
/// per type name).
pub(crate) trait Serve: Send + Sync {
    /// Runs `request` for `actor` (of this type) and returns the reply.
    fn serve(&self, actor: ActorId, request: Incoming) -> BoxFuture<'static, Reply>;
}

/// The serving side of type `A`.
pub(crate) struct Served<A: Behavior> {
    pub(crate) host: Arc<Host<A>>,
}

impl<A: Routable> Serve for Served<A> {
    fn serve(&self, actor: ActorId, request: Incoming) -> BoxFuture<'static, Reply> {
        let host = self.host.clone();
        let timeout = request
            .timeout
            .unwrap_or(host.config.deadline)
            .min(MAX_DURATION);
        let deadline = Instant::now() + timeout;
        match request.kind {
            Kind::Query => {
                Box::pin(async move { query(&host, &actor, &request.body, deadline).await })
            }
            Kind::Command | Kind::Tell => command(host, &actor, request, deadline),
        }
    }
}

/// A `bad-request` reply (counted).
pub(crate) fn bad_request(message: &str) -> Reply {
    metrics::counter!("aether_runtime_bad_requests_total").increment(1);
    Reply::problem(Status::BadRequest, message)
}

async fn query<A: Routable>(
    host: &Arc<Host<A>>,
    actor: &ActorId,
    body: &[u8],
    deadline: Instant,
) -> Reply {
    let query: A::Query = match serde_json::from_slice(body) {
        Ok(q) => q,
        Err(e) => return bad_request(&format!("the body is not a {} query: {e}", host.name)),
    };
    match local::query(host, actor, query, deadline).await {
        Ok(answer) => match serde_json::to_vec(&answer) {
            Ok(body) => Reply::new(Status::Ok, body),
            Err(e) => Reply::problem(Status::Unavailable, &format!("encoding the answer: {e}")),
        },
        Err(e) => Reply::problem(Status::of_query(e.kind()), &error_chain(&e)),
    }
}

/// Decodes and dispatches a command at once; the future is the call's own
/// (`local::ask`) with the reply made from its result: no block holding
/// it, so that the box stays small (see `local::ask`).
fn command<A: Routable>(
    host: Arc<Host<A>>,
    actor: &ActorId,
    request: Incoming,
    deadline: Instant,
) -> BoxFuture<'static, Reply> {
    let command: A::Command = match serde_json::from_slice(&request.body) {
        Ok(c) => c,
        Err(e) => {
            let message = format!("the body is not a {} command: {e}", host.name);
            return Box::pin(ready(bad_request(&message)));
        }
    };
    // The caller's command id (a fresh one only for a caller that sent none).
    let envelope = CommandEnvelope {
        command,
        command_id: request.command_id.unwrap_or_else(CommandId::random),
        metadata: request.metadata,
    };
    let caller = match request.kind {
        Kind::Tell => Caller::Nobody,
        _ => Caller::Routed,
    };
    let run = local::ask(&host, actor, envelope, deadline, caller);
    Box::pin(run.map(move |result| match result {
        Ok(None) => Reply::new(Status::Ok, Bytes::new()),
        // The events as the turn encoded them (no copy of the list).
        Ok(Some(ref o)) if let Some(stored) = &o.stored => Reply::new(
            Status::Ok,
            outcome_body(o.version, o.deduplicated, stored.iter().map(|e| &e[..])),
        ),
        Ok(Some(o)) => match encoded_events(&o) {
            Ok(events) => Reply::new(
                Status::Ok,
                outcome_body(o.version, o.deduplicated, events.iter().map(|e| &e[..])),
            ),
            // Applied; the outcome cannot be shown: unknown to the caller.
            Err(e) => Reply::problem(Status::Timeout, &e.to_string()),
        },
        Err(e) => error_reply(&host.name, e),
    }))
}

/// The reply to a command that did not end `ok`.
fn error_reply<A: Routable>(name: &str, error: AskError<A>) -> Reply {
    let status = Status::of_ask(&error);
    match error {
        AskError::Rejected(e) => match rejection_body::<A>(name, &e) {
            Ok(body) => Reply::new(status, body),
            Err(err) => Reply::problem(Status::Unavailable, &format!("rejected: {e} ({err})")),
        },
        AskError::Overloaded { retry_after, .. } => Reply {
            retry_after: Some(retry_after),
            ..Reply::new(status, Bytes::new())
        },
        // A bad request's message alone: the caller's side makes it an
        // invalid-input error again (not "invalid input: invalid input: …").
        AskError::Unavailable {
            cause: aether_core::Error::InvalidInput { message, .. },
            ..
        } => Reply::problem(status, &message),
        AskError::Unavailable { cause, .. } => Reply::problem(status, &error_chain(&cause)),
        AskError::ShuttingDown { .. } | AskError::NotOwner { .. } | AskError::Timeout { .. } => {
            Reply::new(status, Bytes::new())
        }
    }
}

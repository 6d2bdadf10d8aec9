//! The one loop of routed calls, for commands and queries alike: while the
//! deadline allows, run the call here if this node serves the actor, else
//! send it to whoever does and read the reply's status through the one
//! table (`status.rs`). Retries always carry the same command id: after "no
//! responders" and `not-owner` (nobody serves the actor's shard now: a
//! handoff or a failover is under way), after a lost reply, and after
//! `overloaded`, with a growing pause.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aether_core::aggregate::{Answers, Behavior, CommandEnvelope};
use aether_core::{ActorId, Error};
use bytes::Bytes;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::codec::{Codec, decode_outcome};
use super::error::{AskError, RuntimeError, RuntimeErrorKind};
use super::host::Host;
use super::local::{self, Caller};
use super::outcome::CommandOutcome;
use super::reach::Route;
use super::status::{Failure, Next, RETRY_AFTER};
use super::transport::{Kind, Reply, Request, Sent};

/// One routed call: what it does on this node, what it sends to another,
/// and how it ends.
pub(crate) trait Routed: Sized + Send {
    type Output: Send;

    /// The actor type's name (for metrics).
    fn type_name(&self) -> &str;

    /// Runs the call on this node's activation; the call back when the node
    /// turned out not to serve the actor.
    fn here(self) -> impl Future<Output = Result<Self::Output, Self>> + Send;

    /// The request of one attempt (`by_map`: see [`Request::by_map`]); an
    /// error if it cannot be encoded.
    fn request(&mut self, timeout: Duration, by_map: bool) -> Result<Request<'_>, Error>;

    /// The call cannot be sent: it does not encode (surely not applied).
    fn unsendable(self, cause: Error) -> Self::Output;

    /// An `ok` reply.
    fn done(self, reply: Reply) -> Self::Output;

    /// A `rejected` reply.
    fn rejected(self, reply: Reply) -> Self::Output;

    /// A reply that ends the call, surely not applied.
    fn failed(self, failure: Failure, problem: String) -> Self::Output;

    /// Overloaded, and the deadline leaves less than `retry_after`.
    fn overloaded(self, retry_after: Duration) -> Self::Output;

    /// The deadline passed (`maybe`: an attempt may have run it).
    fn expired(self, maybe: bool) -> Self::Output;
}

/// Runs `call` for `actor` until it ends or `deadline` passes.
pub(crate) async fn run<C: Routed>(
    route: &Route,
    actor: &ActorId,
    deadline: Instant,
    mut call: C,
) -> C::Output {
    let mut backoff = Backoff::new(route.config.max_backoff);
    // Attempts wait longer each time one goes unanswered, up to
    // `attempt_timeout`.
    let mut attempt_timeout = route.first_attempt();
    // Whether an attempt may have reached the actor: then running out of
    // time means "unknown", not "not applied".
    let mut maybe = false;
    let mut attempts = 0u32;
    // Until an attempt finds nobody serving the actor where the map says.
    let mut by_map = true;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        attempts += 1;
        if attempts > 1 {
            metrics::counter!("aether_runtime_ask_retries_total", "type" => call.type_name().to_owned())
                .increment(1);
        }
        if route.serves(actor) {
            // Boxed: a routed call's future does not carry a local one
            // (each stays under 1 KiB: see `local::ask`).
            call = match Box::pin(call.here()).await {
                Ok(out) => return out,
                Err(back) => back,
            };
            if backoff.pause(deadline).await {
                continue;
            }
            break;
        }
        // The serving node is told how long this attempt is waited for, so
        // that it skips the call if it only gets it after the caller moved on.
        let timeout = (deadline - now).min(attempt_timeout);
        let request = match call.request(timeout, by_map) {
            Ok(r) => r,
            Err(cause) => return call.unsendable(cause),
        };
        let sent_at = Instant::now();
        let sent = route.transport.send(actor, request, deadline).await;
        if matches!(sent, Sent::Reply(_)) {
            route.replied_after(sent_at.elapsed());
        }
        let pause = match sent {
            Sent::Late => break,
            // The transport paces the next try of a shard nobody serves.
            Sent::NoResponders => {
                by_map = false;
                continue;
            }
            // The node may be busy: do not pile another copy on at once.
            Sent::Lost => {
                maybe = true;
                attempt_timeout = (attempt_timeout * 2).min(route.config.attempt_timeout);
                None
            }
            Sent::Reply(reply) => match reply.status.next() {
                Next::Done => return call.done(reply),
                Next::Rejected => return call.rejected(reply),
                Next::Fail(failure) => return call.failed(failure, reply.problem_message()),
                Next::Retry => {
                    by_map = false;
                    metrics::counter!("aether_runtime_not_owner_replies_total", "type" => call.type_name().to_owned())
                        .increment(1);
                    None
                }
                Next::RetryMaybeApplied => {
                    maybe = true;
                    None
                }
                Next::RetryAfterHint => Some(reply.retry_after.unwrap_or(RETRY_AFTER)),
            },
        };
        match pause {
            None if backoff.pause(deadline).await => {}
            None => break,
            Some(wait) if backoff.pause_for(wait, deadline).await => {}
            Some(wait) => return call.overloaded(wait),
        }
    }
    call.expired(maybe)
}

/// An ask or a tell, routed.
pub(crate) struct CommandCall<'a, A: Behavior> {
    pub(crate) host: Option<&'a Arc<Host<A>>>,
    pub(crate) codec: &'a dyn Codec<A>,
    pub(crate) actor: &'a ActorId,
    pub(crate) envelope: CommandEnvelope<A::Command>,
    pub(crate) deadline: Instant,
    /// `Kind::Command` (an ask) or `Kind::Tell`.
    pub(crate) kind: Kind,
    /// The command, encoded at the first attempt that needs it.
    pub(crate) body: Option<Bytes>,
}

/// What a routed command ends with: the outcome of an ask, `None` for a
/// tell.
pub(crate) type CommandResult<A> =
    Result<Option<CommandOutcome<<A as Behavior>::Event>>, AskError<A>>;

impl<A: Behavior> Routed for CommandCall<'_, A> {
    type Output = CommandResult<A>;

    fn type_name(&self) -> &str {
        self.actor.actor_type()
    }

    async fn here(mut self) -> Result<Self::Output, Self> {
        let Some(host) = self.host else {
            return Err(self);
        };
        let caller = if self.kind == Kind::Tell {
            Caller::Nobody
        } else {
            Caller::Here
        };
        match local::ask(host, self.actor, self.envelope, self.deadline, caller).await {
            // Not served here after all: the command comes back.
            Err(AskError::NotOwner { command }) => {
                self.envelope = *command;
                Err(self)
            }
            other => Ok(other),
        }
    }

    fn request(&mut self, timeout: Duration, by_map: bool) -> Result<Request<'_>, Error> {
        let body = match &self.body {
            Some(b) => b.clone(),
            None => self
                .body
                .insert(self.codec.command(&self.envelope.command)?)
                .clone(),
        };
        Ok(Request {
            kind: self.kind,
            command_id: Some(&self.envelope.command_id),
            metadata: Some(&self.envelope.metadata),
            timeout,
            body,
            by_map,
        })
    }

    fn unsendable(self, cause: Error) -> Self::Output {
        Err(AskError::Unavailable {
            command: Box::new(self.envelope),
            cause,
        })
    }

    fn done(self, reply: Reply) -> Self::Output {
        if self.kind == Kind::Tell {
            return Ok(None);
        }
        let command_id = self.envelope.command_id;
        decode_outcome(&reply.body, command_id.clone())
            .map(Some)
            .map_err(|e| {
                // Applied, but the outcome cannot be shown.
                tracing::warn!(error = %e, "undecodable routed outcome");
                AskError::Timeout { command_id }
            })
    }

    fn rejected(self, reply: Reply) -> Self::Output {
        match self.codec.rejection(&reply.body) {
            Ok(e) => Err(AskError::Rejected(e)),
            Err(_) => Err(AskError::Unavailable {
                cause: Error::serialization(format!(
                    "rejected, with an undecodable reason: {}",
                    String::from_utf8_lossy(&reply.body)
                )),
                command: Box::new(self.envelope),
            }),
        }
    }

    fn failed(self, failure: Failure, problem: String) -> Self::Output {
        Err(failure.ask_error(Box::new(self.envelope), problem))
    }

    fn overloaded(self, retry_after: Duration) -> Self::Output {
        Err(AskError::Overloaded {
            command: Box::new(self.envelope),
            retry_after,
        })
    }

    fn expired(self, maybe: bool) -> Self::Output {
        if maybe {
            return Err(AskError::Timeout {
                command_id: self.envelope.command_id,
            });
        }
        let cause = Error::unavailable(format!(
            "no node served actor {:?} before the deadline",
            self.actor.as_str()
        ));
        Err(AskError::Unavailable {
            command: Box::new(self.envelope),
            cause,
        })
    }
}

/// A query, routed. Its body is encoded before the first attempt: a query
/// that went into this node's mailbox and came back `NotOwner` is decoded
/// again from it (queries need not be `Clone`).
pub(crate) struct QueryCall<'a, A: Answers> {
    pub(crate) host: Option<&'a Arc<Host<A>>>,
    pub(crate) actor: &'a ActorId,
    pub(crate) query: Option<A::Query>,
    pub(crate) body: Bytes,
    pub(crate) deadline: Instant,
}

impl<'a, A: Answers> QueryCall<'a, A> {
    pub(crate) fn new(
        host: Option<&'a Arc<Host<A>>>,
        actor: &'a ActorId,
        query: A::Query,
        deadline: Instant,
    ) -> Result<Self, RuntimeError> {
        let body = serde_json::to_vec(&query).map_err(|e| {
            RuntimeError::with_source(RuntimeErrorKind::InvalidInput, "encoding the query", e)
        })?;
        Ok(Self {
            host,
            actor,
            query: Some(query),
            body: Bytes::from(body),
            deadline,
        })
    }
}

impl<A: Answers> Routed for QueryCall<'_, A> {
    type Output = Result<A::Answer, RuntimeError>;

    fn type_name(&self) -> &str {
        self.actor.actor_type()
    }

    async fn here(mut self) -> Result<Self::Output, Self> {
        let Some(host) = self.host else {
            return Err(self);
        };
        let query = match self.query.take() {
            Some(q) => q,
            None => match serde_json::from_slice(&self.body) {
                Ok(q) => q,
                Err(e) => {
                    return Ok(Err(RuntimeError::with_source(
                        RuntimeErrorKind::InvalidInput,
                        "decoding the query again",
                        e,
                    )));
                }
            },
        };
        match local::query(host, self.actor, query, self.deadline).await {
            Err(e) if e.kind() == RuntimeErrorKind::NotOwner => Err(self),
            other => Ok(other),
        }
    }

    fn request(&mut self, timeout: Duration, by_map: bool) -> Result<Request<'_>, Error> {
        Ok(Request {
            kind: Kind::Query,
            command_id: None,
            metadata: None,
            timeout,
            body: self.body.clone(),
            by_map,
        })
    }

    fn unsendable(self, cause: Error) -> Self::Output {
        Err(RuntimeError::with_source(
            RuntimeErrorKind::InvalidInput,
            "sending the query",
            cause,
        ))
    }

    fn done(self, reply: Reply) -> Self::Output {
        serde_json::from_slice(&reply.body).map_err(|e| {
            RuntimeError::with_source(RuntimeErrorKind::BadRequest, "decoding a routed answer", e)
        })
    }

    fn rejected(self, reply: Reply) -> Self::Output {
        // Queries are never rejected: a serving node that says so is wrong.
        Err(Failure::Unavailable.query_error(reply.problem_message()))
    }

    fn failed(self, failure: Failure, problem: String) -> Self::Output {
        Err(failure.query_error(problem))
    }

    fn overloaded(self, _: Duration) -> Self::Output {
        Err(RuntimeError::new(
            RuntimeErrorKind::Overloaded,
            "the actor's mailbox is full",
        ))
    }

    fn expired(self, _: bool) -> Self::Output {
        Err(RuntimeError::new(
            RuntimeErrorKind::Timeout,
            format!(
                "no answer from actor {:?} before the deadline",
                self.actor.as_str()
            ),
        ))
    }
}

//! Calls on this node's activation of an actor: queue a command or a query
//! in its mailbox and wait for the answer. [`super::ActorRef`] uses them on
//! one node, and in a cluster for actors this node serves; the serving side
//! of routed calls uses them for requests from other nodes.

use std::sync::Arc;

use aether_core::aggregate::{Aggregate, CommandEnvelope, Queryable};
use aether_core::{ActorId, CommandId};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::actor::dispatch;
use super::error::{AskError, RuntimeError, RuntimeErrorKind};
use super::host::Host;
use super::message::{CommandMsg, Msg, QueryMsg, Refusal};
use super::outcome::CommandOutcome;
use super::status::RETRY_AFTER;

/// Where an ask's outcome arrives.
pub(crate) type Pending<A> =
    oneshot::Receiver<Result<CommandOutcome<<A as Aggregate>::Event>, AskError<A>>>;

/// Who waits for a command's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A caller on this node (an ask).
    Here,
    /// A caller on another node (a routed ask): the outcome keeps its events
    /// as encoded, for the reply.
    Routed,
    /// Nobody (a tell): done once queued.
    Nobody,
}

/// Queues `envelope` for `id`; returns the receiver of its outcome (`None`
/// for a tell), or the refusal with the command handed back.
pub(crate) fn queue<A: Aggregate>(
    host: &Arc<Host<A>>,
    id: &ActorId,
    envelope: CommandEnvelope<A::Command>,
    deadline: Instant,
    caller: Caller,
) -> Result<Option<Pending<A>>, AskError<A>> {
    let (tx, rx) = if caller == Caller::Nobody {
        (None, None)
    } else {
        let (tx, rx) = oneshot::channel();
        (Some(tx), Some(rx))
    };
    let msg = Msg::Command(Box::new(CommandMsg {
        envelope,
        deadline,
        reply: tx,
        routed: caller == Caller::Routed,
    }));
    match dispatch(host, id, msg) {
        Ok(()) => Ok(rx),
        Err((Msg::Command(c), why)) => {
            let command = Box::new(c.envelope);
            Err(match why {
                Refusal::Full => {
                    metrics::counter!("aether_runtime_overloaded_total", "type" => A::TYPE)
                        .increment(1);
                    AskError::Overloaded {
                        command,
                        retry_after: RETRY_AFTER,
                    }
                }
                Refusal::ShuttingDown => AskError::ShuttingDown { command },
            })
        }
        Err((Msg::Query(_), _)) => unreachable!("a command was dispatched"),
    }
}

/// Waits for a queued ask's outcome until `deadline`.
pub(crate) async fn outcome<A: Aggregate>(
    rx: Pending<A>,
    deadline: Instant,
    command_id: CommandId,
) -> Result<CommandOutcome<A::Event>, AskError<A>> {
    match tokio::time::timeout_at(deadline, rx).await {
        Ok(Ok(result)) => result,
        // The actor went away without answering (a panic in the aggregate),
        // or the deadline passed: unknown.
        Ok(Err(_)) | Err(_) => {
            metrics::counter!("aether_runtime_ask_timeouts_total", "type" => A::TYPE).increment(1);
            Err(AskError::Timeout { command_id })
        }
    }
}

/// Asks `envelope` of this node's activation of `id` (a tell, for
/// `Caller::Nobody`, is answered `None` once queued).
pub(crate) async fn ask<A: Aggregate>(
    host: &Arc<Host<A>>,
    id: &ActorId,
    envelope: CommandEnvelope<A::Command>,
    deadline: Instant,
    caller: Caller,
) -> Result<Option<CommandOutcome<A::Event>>, AskError<A>> {
    let command_id = envelope.command_id.clone();
    match queue(host, id, envelope, deadline, caller)? {
        Some(rx) => outcome(rx, deadline, command_id).await.map(Some),
        None => Ok(None),
    }
}

/// Asks `query` of this node's activation of `id`.
pub(crate) async fn query<A: Queryable>(
    host: &Arc<Host<A>>,
    id: &ActorId,
    query: A::Query,
    deadline: Instant,
) -> Result<A::Answer, RuntimeError> {
    let (tx, rx) = oneshot::channel();
    let msg = Msg::Query(Box::new(QueryMsg {
        deadline,
        answer: Box::new(move |state: Result<&A, RuntimeError>| {
            let _ = tx.send(state.map(|s| s.query(&query)));
        }),
    }));
    if let Err((_, why)) = dispatch(host, id, msg) {
        return Err(match why {
            Refusal::Full => {
                RuntimeError::new(RuntimeErrorKind::Overloaded, "the actor's mailbox is full")
            }
            Refusal::ShuttingDown => RuntimeError::new(
                RuntimeErrorKind::ShuttingDown,
                "the actor system is shutting down",
            ),
        });
    }
    match tokio::time::timeout_at(deadline, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) | Err(_) => Err(RuntimeError::new(
            RuntimeErrorKind::Timeout,
            format!("no answer from actor {:?} before the deadline", id.as_str()),
        )),
    }
}

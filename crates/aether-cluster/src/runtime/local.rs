//! Calls on this node's activation of an actor: run a command or a query
//! at once when the actor is at rest, or queue it behind whoever runs it,
//! and wait for the answer. [`super::ActorRef`] uses them on one node, and
//! in a cluster for actors this node serves; the serving side of routed
//! calls uses them for requests from other nodes.

use std::future::Future;
use std::sync::Arc;

use aether_core::aggregate::{Answers, Behavior, CommandEnvelope};
use aether_core::{ActorId, CommandId};
use futures::FutureExt;
use futures::future::{Either, ready};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::actor::run_inline;
use super::dispatch::{Dispatched, dispatch};
use super::error::{AskError, RuntimeError, RuntimeErrorKind};
use super::host::Host;
use super::message::{Answered, CommandMsg, Msg, QueryMsg, Refusal, Responder};
use super::outcome::CommandOutcome;
use super::status::RETRY_AFTER;

/// Where a queued ask's outcome arrives.
pub(crate) type Pending<A> = oneshot::Receiver<Answered<A>>;

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

/// Runs or queues `envelope` for `id`: run by the caller itself when the
/// actor is at rest with nothing queued (an ask), else queued; `None` for a
/// tell once queued.
///
/// The call is dispatched when this is called, not when the future is
/// first polled; the future owns what it needs. It is one of three small
/// futures (no wait, a queued ask's answer, the caller's own turn): every
/// ask's future is boxed, and one under 1 KiB stays on the allocator's fast
/// path (glibc's thread cache and small bins end at 1,024 bytes; a larger
/// block took a slow path with consolidation on every ask, measured).
pub(crate) fn ask<A: Behavior>(
    host: &Arc<Host<A>>,
    id: &ActorId,
    mut envelope: CommandEnvelope<A::Command>,
    deadline: Instant,
    caller: Caller,
) -> impl Future<Output = AskResult<A>> + Send + 'static + use<A> {
    if A::CHECKS_COMMANDS
        && let Err(cause) = A::check_command(&host.current().0, &mut envelope.command)
    {
        // A bad request: not queued, handed back.
        return Either::Left(ready(Err(AskError::Unavailable {
            command: Box::new(envelope),
            cause,
        })));
    }
    let command_id = envelope.command_id.clone();
    let asked = caller != Caller::Nobody;
    let msg = Msg::Command(Box::new(CommandMsg {
        id_hash: super::dedupe::hash(&envelope.command_id),
        envelope,
        deadline,
        reply: asked.then_some(Responder::Inline),
        routed: caller == Caller::Routed,
    }));
    match dispatch(host, id, msg, asked) {
        Ok(Dispatched::Queued(None)) => Either::Left(ready(Ok(None))),
        Ok(Dispatched::Queued(Some(rx))) => {
            let host = host.clone();
            let id = id.clone();
            Either::Right(Either::Left(async move {
                outcome(&host, &id, rx, deadline, command_id)
                    .await
                    .map(Some)
            }))
        }
        Ok(Dispatched::Run { cell, rest, msg }) => {
            let host = host.clone();
            let id = cell.id.clone();
            let run = tokio::time::timeout_at(deadline, run_inline(&host, cell, rest, msg));
            Either::Right(Either::Right(run.map(move |ran| match ran {
                Ok(Some(result)) => result.map(|c| Some(c.into_outcome(&id))),
                // Dropped unrun past its deadline, or cut short: unknown.
                Ok(None) | Err(_) => Err(timed_out(&host, command_id)),
            })))
        }
        Err((Msg::Command(c), why)) => {
            let command = Box::new(c.envelope);
            Either::Left(ready(Err(match why {
                Refusal::Full => {
                    metrics::counter!("aether_runtime_overloaded_total", "type" => host.name.clone())
                        .increment(1);
                    AskError::Overloaded {
                        command,
                        retry_after: RETRY_AFTER,
                    }
                }
                Refusal::ShuttingDown => AskError::ShuttingDown { command },
            })))
        }
        Err((Msg::Query(_), _)) => unreachable!("a command was dispatched"),
    }
}

/// What [`ask`] ends with: the outcome (`None` for a tell, once queued).
pub(crate) type AskResult<A> = Result<Option<CommandOutcome<<A as Behavior>::Event>>, AskError<A>>;

fn timed_out<A: Behavior>(host: &Host<A>, command_id: CommandId) -> AskError<A> {
    metrics::counter!("aether_runtime_ask_timeouts_total", "type" => host.name.clone())
        .increment(1);
    AskError::Timeout { command_id }
}

/// Waits for a queued ask's outcome (of actor `id`) until `deadline`.
async fn outcome<A: Behavior>(
    host: &Host<A>,
    id: &ActorId,
    rx: Pending<A>,
    deadline: Instant,
    command_id: CommandId,
) -> Result<CommandOutcome<A::Event>, AskError<A>> {
    match tokio::time::timeout_at(deadline, rx).await {
        Ok(Ok(Answered { result, spent })) => {
            // Dropped here, on the caller's task (see `Answered`).
            drop(spent);
            result.map(|c| c.into_outcome(id))
        }
        // The runner went away without answering (a panic in the aggregate),
        // or the deadline passed: unknown.
        Ok(Err(_)) | Err(_) => Err(timed_out(host, command_id)),
    }
}

/// Asks `query` of this node's activation of `id` (run by the caller
/// itself when the actor is at rest with nothing queued).
pub(crate) async fn query<A: Answers>(
    host: &Arc<Host<A>>,
    id: &ActorId,
    query: A::Query,
    deadline: Instant,
) -> Result<A::Answer, RuntimeError> {
    let (tx, rx) = oneshot::channel();
    let msg = Msg::Query(Box::new(QueryMsg {
        deadline,
        answer: Box::new(move |state: Result<(&A::Def, &A::State), RuntimeError>| {
            let answer = state.and_then(|(def, s)| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| A::answer(def, s, &query)))
                    .map_err(|_| {
                        RuntimeError::new(
                            RuntimeErrorKind::BadRequest,
                            "the aggregate panicked answering the query",
                        )
                    })?
                    .map_err(|e| {
                        RuntimeError::with_source(
                            RuntimeErrorKind::BadRequest,
                            "the query cannot be answered",
                            e,
                        )
                    })
            });
            let _ = tx.send(answer);
        }),
    }));
    let answered = async {
        match dispatch(host, id, msg, true) {
            Err((_, why)) => Err(match why {
                Refusal::Full => {
                    RuntimeError::new(RuntimeErrorKind::Overloaded, "the actor's mailbox is full")
                }
                Refusal::ShuttingDown => RuntimeError::new(
                    RuntimeErrorKind::ShuttingDown,
                    "the actor system is shutting down",
                ),
            }),
            Ok(Dispatched::Run { cell, rest, msg }) => {
                run_inline(host, cell, rest, msg).await;
                rx.await.map_err(|_| no_answer(id))?
            }
            Ok(Dispatched::Queued(_)) => rx.await.map_err(|_| no_answer(id))?,
        }
    };
    tokio::time::timeout_at(deadline, answered)
        .await
        .unwrap_or_else(|_| Err(no_answer(id)))
}

fn no_answer(id: &ActorId) -> RuntimeError {
    RuntimeError::new(
        RuntimeErrorKind::Timeout,
        format!("no answer from actor {:?} before the deadline", id.as_str()),
    )
}

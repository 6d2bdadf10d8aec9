//! What travels through an actor's mailbox: commands (with the caller's
//! reply channel) and queries (with the function that answers them).

use aether_core::aggregate::{Aggregate, CommandEnvelope};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::error::{AskError, RuntimeError};
use super::outcome::CommandOutcome;
use super::permits::Priority;

/// Where an ask's outcome goes.
pub(crate) type Responder<A> =
    oneshot::Sender<Result<CommandOutcome<<A as Aggregate>::Event>, AskError<A>>>;

/// A command on its way to an actor.
pub(crate) struct CommandMsg<A: Aggregate> {
    pub(crate) envelope: CommandEnvelope<A::Command>,
    pub(crate) deadline: Instant,
    /// `None` for a `tell`.
    pub(crate) reply: Option<Responder<A>>,
    /// The caller is on another node: keep the events as encoded for its
    /// reply.
    pub(crate) routed: bool,
}

/// A query: answers itself from the committed state (or the reason there is
/// none).
pub(crate) type Answer<A> = Box<dyn FnOnce(Result<&A, RuntimeError>) + Send + Sync>;

/// A query on its way to an actor.
pub(crate) struct QueryMsg<A: Aggregate> {
    pub(crate) deadline: Instant,
    pub(crate) answer: Answer<A>,
}

/// What a mailbox holds. Boxed, so that a mailbox's buffer costs an idle
/// actor little.
pub(crate) enum Msg<A: Aggregate> {
    Command(Box<CommandMsg<A>>),
    Query(Box<QueryMsg<A>>),
}

impl<A: Aggregate> Msg<A> {
    pub(crate) fn priority(&self) -> Priority {
        match self {
            Msg::Command(c) if c.reply.is_none() => Priority::Background,
            _ => Priority::Caller,
        }
    }
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The actor's mailbox is full.
    Full,
    /// The system is shutting down.
    ShuttingDown,
}

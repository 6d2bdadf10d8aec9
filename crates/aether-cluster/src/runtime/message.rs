//! What travels through an actor's mailbox: commands (with where their
//! result goes) and queries (with the function that answers them).

use aether_core::aggregate::{Behavior, CommandEnvelope};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::error::{AskError, RuntimeError};
use super::outcome::Concluded;
use super::permits::Priority;

/// What a command ends with: its outcome, or why it has none.
/// (The outcome's events are put in their envelopes by the caller:
/// [`Concluded::into_outcome`].)
pub(crate) type CommandResult<A> = Result<Concluded<<A as Behavior>::Event>, AskError<A>>;

/// What a caller waiting behind an actor's queue receives: the result,
/// and the command's box once the turn is done with it (when the result
/// does not hand the command back), to be dropped on the caller's task. The
/// box and a command's heap blocks (a model command's JSON body: a B-tree
/// node and strings) were allocated there; glibc frees a block from another
/// thread through its arena's lock, and the actor's turn, the serial part
/// of a busy actor, spent a tenth of its time in those frees (measured,
/// 2026-12-06).
pub(crate) struct Answered<A: Behavior> {
    pub(crate) result: CommandResult<A>,
    pub(crate) spent: Option<Box<CommandMsg<A>>>,
}

impl<A: Behavior> Answered<A> {
    /// `result`, nothing handed back.
    pub(crate) fn only(result: CommandResult<A>) -> Self {
        Self {
            result,
            spent: None,
        }
    }
}

/// Where a command's result goes.
pub(crate) enum Responder<A: Behavior> {
    /// A caller waiting for it behind the actor's queue.
    Channel(oneshot::Sender<Answered<A>>),
    /// The caller running the actor itself (it takes the result when its
    /// turn is over).
    Inline,
}

/// A command on its way to an actor.
pub(crate) struct CommandMsg<A: Behavior> {
    pub(crate) envelope: CommandEnvelope<A::Command>,
    /// The command id's hash in the actor's dedupe window
    /// (`dedupe::hash`), taken by the caller.
    pub(crate) id_hash: u64,
    pub(crate) deadline: Instant,
    /// `None` for a `tell`.
    pub(crate) reply: Option<Responder<A>>,
    /// The caller is on another node: keep the events as encoded for its
    /// reply.
    pub(crate) routed: bool,
}

/// The commands of one turn, in mailbox order, in the boxes their callers
/// made.
pub(crate) type Batch<A> = Vec<Box<CommandMsg<A>>>;

/// A query: answers itself from the committed state (or the reason there is
/// none).
pub(crate) type Answer<A> = Box<
    dyn FnOnce(Result<(&<A as Behavior>::Def, &<A as Behavior>::State), RuntimeError>)
        + Send
        + Sync,
>;

/// A query on its way to an actor.
pub(crate) struct QueryMsg<A: Behavior> {
    pub(crate) deadline: Instant,
    pub(crate) answer: Answer<A>,
}

/// What a mailbox holds. Boxed, so that a mailbox's buffer costs an idle
/// actor little.
pub(crate) enum Msg<A: Behavior> {
    Command(Box<CommandMsg<A>>),
    Query(Box<QueryMsg<A>>),
}

impl<A: Behavior> Msg<A> {
    /// A command whose result was to go to its sender running the actor
    /// (`Responder::Inline`) goes by a channel instead: its receiver.
    pub(crate) fn reply_by_channel(&mut self) -> Option<oneshot::Receiver<Answered<A>>> {
        match self {
            Msg::Command(c) if matches!(c.reply, Some(Responder::Inline)) => {
                let (tx, rx) = oneshot::channel();
                c.reply = Some(Responder::Channel(tx));
                Some(rx)
            }
            _ => None,
        }
    }

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

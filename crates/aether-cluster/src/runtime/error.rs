//! What the runtime fails with: [`AskError`] for commands (it says whether
//! the command took effect, and hands it back when it surely did not), and
//! [`RuntimeError`] for everything else (queries, setup).

use std::fmt;
use std::time::Duration;

use aether_core::aggregate::{Behavior, CommandEnvelope};
use aether_core::{CommandId, ComponentError, Error, ErrorKind, SharedError};

/// Why an `ask` (or `tell`) did not return a committed outcome.
///
/// Exactly one variant means "the outcome is unknown": [`AskError::Timeout`].
/// [`AskError::Rejected`] means the aggregate refused it. Every other variant
/// means the command **surely did not take effect**, and hands it back
/// ([`AskError::into_command`]) so the caller can retry it later (with the
/// same command id, which makes a retry safe in any case).
#[non_exhaustive]
pub enum AskError<A: Behavior> {
    /// The aggregate refused the command (a domain rule). Nothing was
    /// written. **What to do:** report it; retrying cannot help.
    Rejected(A::Error),
    /// The actor's mailbox is full. Not applied. **What to do:** retry after
    /// `retry_after` (or shed load).
    Overloaded {
        /// The command, handed back.
        command: Box<CommandEnvelope<A::Command>>,
        /// A hint for when to retry.
        retry_after: Duration,
    },
    /// The actor could not run the command: its history could not be loaded,
    /// or the store refused the append in a way that surely stored nothing
    /// (too large, invalid, missing stream, conflicts that kept coming).
    /// Not applied. **What to do:** see `cause`; retry later if it is
    /// transient.
    Unavailable {
        /// The command, handed back.
        command: Box<CommandEnvelope<A::Command>>,
        /// Why.
        cause: Error,
    },
    /// The system is shutting down (or has). Not applied. **What to do:**
    /// send it to another node, or after a restart.
    ShuttingDown {
        /// The command, handed back.
        command: Box<CommandEnvelope<A::Command>>,
    },
    /// This node does not serve the actor's shard (any more): the shard
    /// moved, or the node's lease lapsed, before the command ran. Not
    /// applied. **What to do:** nothing: the [`super::ActorRef`]s of a
    /// cluster system retry by themselves on the shard's current owner
    /// within the call's deadline; this variant reaches callers only from a
    /// node's serving side (and, as `not-owner`, thin clients).
    NotOwner {
        /// The command, handed back.
        command: Box<CommandEnvelope<A::Command>>,
    },
    /// No outcome before the deadline: the command **may or may not have
    /// taken effect**. **What to do:** retry with the same command id; the
    /// actor then returns the recorded outcome if it did (within its dedupe
    /// window), or decides it once.
    Timeout {
        /// The command's id, for the retry.
        command_id: CommandId,
    },
}

impl<A: Behavior> AskError<A> {
    /// The command, if it surely did not take effect (every variant but
    /// `Rejected` and `Timeout`).
    pub fn into_command(self) -> Option<CommandEnvelope<A::Command>> {
        match self {
            Self::Overloaded { command, .. }
            | Self::Unavailable { command, .. }
            | Self::ShuttingDown { command }
            | Self::NotOwner { command } => Some(*command),
            Self::Rejected(_) | Self::Timeout { .. } => None,
        }
    }

    /// Whether the command may have taken effect (only for `Timeout`).
    pub fn may_have_applied(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// Whether the aggregate rejected the command.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }

    /// The domain error, if the command was rejected.
    pub fn as_rejection(&self) -> Option<&A::Error> {
        match self {
            Self::Rejected(e) => Some(e),
            _ => None,
        }
    }

    /// The command id, whatever the variant (`None` for a rejection, whose
    /// command the caller still holds the id of).
    pub fn command_id(&self) -> Option<&CommandId> {
        match self {
            Self::Overloaded { command, .. }
            | Self::Unavailable { command, .. }
            | Self::ShuttingDown { command }
            | Self::NotOwner { command } => Some(&command.command_id),
            Self::Timeout { command_id } => Some(command_id),
            Self::Rejected(_) => None,
        }
    }
}

impl<A: Behavior> fmt::Debug for AskError<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(e) => f.debug_tuple("Rejected").field(e).finish(),
            Self::Overloaded {
                command,
                retry_after,
            } => f
                .debug_struct("Overloaded")
                .field("command", command)
                .field("retry_after", retry_after)
                .finish(),
            Self::Unavailable { command, cause } => f
                .debug_struct("Unavailable")
                .field("command", command)
                .field("cause", cause)
                .finish(),
            Self::ShuttingDown { command } => f
                .debug_struct("ShuttingDown")
                .field("command", command)
                .finish(),
            Self::NotOwner { command } => f
                .debug_struct("NotOwner")
                .field("command", command)
                .finish(),
            Self::Timeout { command_id } => f
                .debug_struct("Timeout")
                .field("command_id", command_id)
                .finish(),
        }
    }
}

impl<A: Behavior> fmt::Display for AskError<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(e) => write!(f, "command rejected: {e}"),
            Self::Overloaded {
                command,
                retry_after,
            } => write!(
                f,
                "command {} not applied: the actor is overloaded; retry in {retry_after:?}",
                command.command_id
            ),
            Self::Unavailable { command, .. } => write!(
                f,
                "command {} not applied: the actor is unavailable",
                command.command_id
            ),
            Self::ShuttingDown { command } => write!(
                f,
                "command {} not applied: the actor system is shutting down",
                command.command_id
            ),
            Self::NotOwner { command } => write!(
                f,
                "command {} not applied: this node does not serve the actor's shard",
                command.command_id
            ),
            Self::Timeout { command_id } => write!(
                f,
                "command {command_id}: no outcome before the deadline (it may have been applied; \
                 retrying with the same command id is safe)"
            ),
        }
    }
}

impl<A: Behavior> std::error::Error for AskError<A> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unavailable { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

/// What went wrong in the runtime outside a command's outcome (queries,
/// registration, configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuntimeErrorKind {
    /// A configuration value is out of range. **What to do:** fix it.
    InvalidConfig,
    /// The aggregate type was not registered with the system, or registered
    /// twice. **What to do:** register it once when building the system.
    NotRegistered,
    /// An argument is invalid (an actor id of another type). **What to do:**
    /// fix it.
    InvalidInput,
    /// The actor's mailbox is full. **What to do:** retry later.
    Overloaded,
    /// The actor could not be loaded (the store failed). **What to do:**
    /// retry later.
    Unavailable,
    /// No answer before the deadline. **What to do:** retry (queries change
    /// nothing).
    Timeout,
    /// The system is shutting down. **What to do:** ask another node, or
    /// after a restart.
    ShuttingDown,
    /// This node does not serve the actor's shard (routed calls retry on
    /// the owner by themselves). **What to do:** retry.
    NotOwner,
    /// A request or reply on the wire is malformed, or names a type the
    /// serving node does not run. **What to do:** fix the caller.
    BadRequest,
}

impl fmt::Display for RuntimeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidConfig => "invalid configuration",
            Self::NotRegistered => "aggregate type not registered",
            Self::InvalidInput => "invalid input",
            Self::Overloaded => "overloaded",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timed out",
            Self::ShuttingDown => "shutting down",
            Self::NotOwner => "not the owner",
            Self::BadRequest => "bad request",
        })
    }
}

impl ErrorKind for RuntimeErrorKind {
    fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Overloaded | Self::Unavailable | Self::Timeout | Self::NotOwner
        )
    }

    fn is_invalid_input(self) -> bool {
        matches!(
            self,
            Self::InvalidConfig | Self::NotRegistered | Self::InvalidInput | Self::BadRequest
        )
    }

    fn into_core(self, message: String, source: Option<SharedError>) -> Error {
        match (self, source) {
            (k, _) if k.is_invalid_input() => Error::invalid_input(message),
            (Self::ShuttingDown, _) => Error::missing(message),
            (_, Some(s)) => Error::unavailable_with(message, s),
            (_, None) => Error::unavailable(message),
        }
    }
}

/// The error of queries and of building a system: a [`RuntimeErrorKind`], a
/// message and a source (see [`ComponentError`]).
pub type RuntimeError = ComponentError<RuntimeErrorKind>;

#[cfg(test)]
mod tests {
    use super::*;
    use aether_testkit_free::*;

    /// The smallest aggregate, local to the test (the test kit depends on
    /// this crate).
    mod aether_testkit_free {
        use aether_core::aggregate::{Aggregate, DomainEvent};
        use serde::{Deserialize, Serialize};

        #[derive(Debug, Default, Serialize, Deserialize)]
        pub(super) struct Probe;
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub(super) struct Poked;
        impl DomainEvent for Poked {
            fn event_type(&self) -> &'static str {
                "Poked"
            }
        }
        #[derive(Debug, thiserror::Error)]
        #[error("no")]
        pub(super) struct No;
        impl Aggregate for Probe {
            const TYPE: &'static str = "probe";
            type Command = u8;
            type Event = Poked;
            type Error = No;
            fn handle(&self, _: &u8) -> Result<Vec<Poked>, No> {
                Err(No)
            }
            fn apply(&mut self, _: &Poked) {}
        }
    }

    #[test]
    fn only_timeout_may_have_applied_and_the_others_hand_the_command_back() {
        let cmd = || Box::new(CommandEnvelope::new(7u8));
        let surely_not: Vec<AskError<Probe>> = vec![
            AskError::Overloaded {
                command: cmd(),
                retry_after: Duration::from_millis(5),
            },
            AskError::Unavailable {
                command: cmd(),
                cause: Error::unavailable("down"),
            },
            AskError::ShuttingDown { command: cmd() },
            AskError::NotOwner { command: cmd() },
        ];
        for e in surely_not {
            assert!(!e.may_have_applied(), "{e}");
            assert!(e.command_id().is_some());
            assert_eq!(e.into_command().map(|c| c.command), Some(7));
        }
        let t: AskError<Probe> = AskError::Timeout {
            command_id: CommandId::new("c-1").unwrap(),
        };
        assert!(t.may_have_applied());
        assert!(t.to_string().contains("same command id"));
        assert!(t.into_command().is_none());
        let r: AskError<Probe> = AskError::Rejected(No);
        assert!(r.is_rejected() && !r.may_have_applied());
        assert_eq!(r.to_string(), "command rejected: no");
    }
}

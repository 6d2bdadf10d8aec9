//! [`ExecuteError`]: why a command was not committed.

use std::time::Duration;

use crate::error::{Error, VersionConflict};

use super::typed::CommandEnvelope;

/// Why [`super::Repository::execute`] did not commit a command. `E` is the
/// aggregate's domain error, `C` its command type.
///
/// Each variant says what the caller should do. The two variants where the
/// command was never decided against an up-to-date state hand the command
/// back ([`ExecuteError::into_command`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError<E, C> {
    /// The aggregate rejected the command (a domain rule, such as
    /// insufficient funds). **What to do:** report it to the user; retrying
    /// the same command cannot help.
    #[error("command rejected: {0}")]
    Rejected(E),

    /// The store failed (unavailable, storage failure, an undecodable stored
    /// event, ...). **What to do:** see [`Error`]; transient failures were
    /// already retried if the retry policy allowed it.
    #[error(transparent)]
    Store(Error),

    /// Every attempt met a version conflict (or the conflict's version gap was
    /// over the policy's limit). **What to do:** retry later with the handed
    /// back command (for example through a [`super::DeferredCommands`]
    /// queue), or report contention.
    #[error("gave up after {attempts} attempt(s): {conflict}")]
    ConflictsExhausted {
        /// The attempts made.
        attempts: u32,
        /// The last conflict.
        conflict: VersionConflict,
        /// The command, handed back.
        command: Box<CommandEnvelope<C>>,
    },

    /// The retry policy's circuit breaker is open; the command was not tried.
    /// **What to do:** retry after `retry_after` with the handed back command.
    #[error("circuit breaker open; retry in {retry_after:?}")]
    CircuitOpen {
        /// When a trial will be allowed.
        retry_after: Duration,
        /// The command, handed back.
        command: Box<CommandEnvelope<C>>,
    },
}

impl<E, C> ExecuteError<E, C> {
    /// Whether the aggregate rejected the command.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }

    /// Whether conflicts were exhausted or the breaker was open: the command
    /// is intact and may be retried later.
    pub fn is_retryable_later(&self) -> bool {
        matches!(
            self,
            Self::ConflictsExhausted { .. } | Self::CircuitOpen { .. }
        )
    }

    /// The domain error, if the command was rejected.
    pub fn as_rejection(&self) -> Option<&E> {
        match self {
            Self::Rejected(e) => Some(e),
            _ => None,
        }
    }

    /// The last conflict, if conflicts were exhausted.
    pub fn as_conflict(&self) -> Option<&VersionConflict> {
        match self {
            Self::ConflictsExhausted { conflict, .. } => Some(conflict),
            _ => None,
        }
    }

    /// The command handed back, for the variants that carry it.
    pub fn into_command(self) -> Option<CommandEnvelope<C>> {
        match self {
            Self::ConflictsExhausted { command, .. } | Self::CircuitOpen { command, .. } => {
                Some(*command)
            }
            _ => None,
        }
    }
}

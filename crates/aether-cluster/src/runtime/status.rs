//! [`Status`]: what a routed call's reply says happened, and the one table
//! between statuses and the runtime's errors, both directions: the serving
//! side turns an [`AskError`] or a query's [`RuntimeErrorKind`] into a
//! status ([`Status::of_ask`], [`Status::of_query`]); the calling side reads
//! a status as what to do next ([`Status::next`]) and, when the call ends
//! there, as the error its caller gets ([`Failure::ask_error`],
//! [`Failure::query_error`]). `docs/wire.md` documents the statuses for
//! callers in other languages.

use std::time::Duration;

use aether_core::Error;
use aether_core::aggregate::{Behavior, CommandEnvelope};

use super::error::{AskError, RuntimeError, RuntimeErrorKind};

/// What a reply says happened. Every status but `ok`, `rejected` and
/// `timeout` means "not applied".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Done: the outcome (or the answer) is the body.
    Ok,
    /// Refused by the aggregate; nothing written. Body: the domain error.
    Rejected,
    /// This node does not serve the actor's shard: retry (the owner changes).
    NotOwner,
    /// The actor's mailbox is full: retry after the reply's hint.
    Overloaded,
    /// The node is shutting down: retry (another node takes over).
    ShuttingDown,
    /// The actor cannot run it now (its history could not be loaded, the
    /// store refused): not applied. Body: a problem.
    Unavailable,
    /// No outcome before the deadline: it may have been applied; retry with
    /// the same command id.
    Timeout,
    /// Malformed request, or a type the node does not run. Body: a problem.
    BadRequest,
}

/// Every status, for tests and docs.
#[cfg(test)]
pub(crate) const ALL: [Status; 8] = [
    Status::Ok,
    Status::Rejected,
    Status::NotOwner,
    Status::Overloaded,
    Status::ShuttingDown,
    Status::Unavailable,
    Status::Timeout,
    Status::BadRequest,
];

/// How the calling side goes on after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Done: decode the body.
    Done,
    /// The aggregate refused: decode the domain error from the body.
    Rejected,
    /// Not applied; try again after a backoff pause (the actor's shard is
    /// moving, or its node is shutting down).
    Retry,
    /// Not applied; the actor is overloaded: try again after the reply's
    /// hint, or end with `Overloaded` when the deadline leaves less.
    RetryAfterHint,
    /// It may have been applied (the serving node gave up on it): try again
    /// with the same command id after a backoff pause.
    RetryMaybeApplied,
    /// Not applied; the call ends with this failure.
    Fail(Failure),
}

/// Why a routed call ended without being applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The actor could not run it (see the problem's message).
    Unavailable,
    /// The request was malformed, or names a type the node does not run.
    BadRequest,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::NotOwner => "not-owner",
            Self::Overloaded => "overloaded",
            Self::ShuttingDown => "shutting-down",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::BadRequest => "bad-request",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Self::Ok,
            "rejected" => Self::Rejected,
            "not-owner" => Self::NotOwner,
            "overloaded" => Self::Overloaded,
            "shutting-down" => Self::ShuttingDown,
            "unavailable" => Self::Unavailable,
            "timeout" => Self::Timeout,
            "bad-request" => Self::BadRequest,
            _ => return None,
        })
    }

    /// The calling side's half of the table.
    pub(crate) fn next(self) -> Next {
        match self {
            Self::Ok => Next::Done,
            Self::Rejected => Next::Rejected,
            Self::NotOwner | Self::ShuttingDown => Next::Retry,
            Self::Overloaded => Next::RetryAfterHint,
            Self::Timeout => Next::RetryMaybeApplied,
            Self::Unavailable => Next::Fail(Failure::Unavailable),
            Self::BadRequest => Next::Fail(Failure::BadRequest),
        }
    }

    /// The serving side's half of the table, for a command's error.
    pub(crate) fn of_ask<A: Behavior>(error: &AskError<A>) -> Self {
        match error {
            AskError::Rejected(_) => Self::Rejected,
            AskError::Overloaded { .. } => Self::Overloaded,
            // The command itself is wrong (it failed its type's checks).
            AskError::Unavailable {
                cause: Error::InvalidInput { .. },
                ..
            } => Self::BadRequest,
            AskError::Unavailable { .. } => Self::Unavailable,
            AskError::ShuttingDown { .. } => Self::ShuttingDown,
            AskError::NotOwner { .. } => Self::NotOwner,
            AskError::Timeout { .. } => Self::Timeout,
        }
    }

    /// The serving side's half of the table, for a query's error.
    pub(crate) fn of_query(kind: RuntimeErrorKind) -> Self {
        match kind {
            RuntimeErrorKind::NotOwner => Self::NotOwner,
            RuntimeErrorKind::Overloaded => Self::Overloaded,
            RuntimeErrorKind::ShuttingDown => Self::ShuttingDown,
            RuntimeErrorKind::Timeout => Self::Timeout,
            RuntimeErrorKind::BadRequest
            | RuntimeErrorKind::InvalidInput
            | RuntimeErrorKind::NotRegistered => Self::BadRequest,
            _ => Self::Unavailable,
        }
    }
}

impl Failure {
    /// The error a command's caller gets, with the command handed back.
    pub(crate) fn ask_error<A: Behavior>(
        self,
        command: Box<CommandEnvelope<A::Command>>,
        problem: String,
    ) -> AskError<A> {
        let cause = match self {
            Self::Unavailable => Error::unavailable(problem),
            Self::BadRequest => Error::invalid_input(problem),
        };
        AskError::Unavailable { command, cause }
    }

    /// The error a query's caller gets.
    pub(crate) fn query_error(self, problem: String) -> RuntimeError {
        let kind = match self {
            Self::Unavailable => RuntimeErrorKind::Unavailable,
            Self::BadRequest => RuntimeErrorKind::BadRequest,
        };
        RuntimeError::new(kind, problem)
    }
}

/// How long a caller is told to wait after `overloaded` when the reply
/// gives no hint.
pub(crate) const RETRY_AFTER: Duration = Duration::from_millis(10);

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::CommandId;

    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    struct Probe;
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Poked;
    impl aether_core::aggregate::DomainEvent for Poked {
        fn event_type(&self) -> &'static str {
            "Poked"
        }
    }
    #[derive(Debug, thiserror::Error)]
    #[error("no")]
    struct No;
    impl aether_core::aggregate::Aggregate for Probe {
        const TYPE: &'static str = "probe";
        type Command = u8;
        type Event = Poked;
        type Error = No;
        fn handle(&self, _: &u8) -> Result<Vec<Poked>, No> {
            Err(No)
        }
        fn apply(&mut self, _: &Poked) {}
    }

    fn cmd() -> Box<CommandEnvelope<u8>> {
        Box::new(CommandEnvelope::new(7))
    }

    /// What a caller ends up with for each error the serving side had:
    /// the same variant (or a retry, for those the caller retries), and the
    /// same "applied?" answer.
    #[test]
    fn every_ask_error_survives_the_wire() {
        let errors: Vec<AskError<Probe>> = vec![
            AskError::Rejected(No),
            AskError::Overloaded {
                command: cmd(),
                retry_after: RETRY_AFTER,
            },
            AskError::Unavailable {
                command: cmd(),
                cause: Error::unavailable("down"),
            },
            AskError::ShuttingDown { command: cmd() },
            AskError::NotOwner { command: cmd() },
            AskError::Timeout {
                command_id: CommandId::new("c-1").unwrap(),
            },
        ];
        for e in errors {
            let status = Status::parse(Status::of_ask(&e).as_str()).unwrap();
            let next = status.next();
            match (&e, next) {
                (AskError::Rejected(_), Next::Rejected)
                | (AskError::Overloaded { .. }, Next::RetryAfterHint)
                | (AskError::ShuttingDown { .. } | AskError::NotOwner { .. }, Next::Retry)
                | (AskError::Timeout { .. }, Next::RetryMaybeApplied) => {}
                (AskError::Unavailable { .. }, Next::Fail(f)) => {
                    let back = f.ask_error::<Probe>(cmd(), "down".into());
                    assert!(matches!(back, AskError::Unavailable { .. }));
                    assert_eq!(back.may_have_applied(), e.may_have_applied());
                }
                other => panic!("{other:?}"),
            }
            // Only `timeout` may have applied, on both sides.
            assert_eq!(next == Next::RetryMaybeApplied, e.may_have_applied(), "{e}");
        }
    }

    #[test]
    fn every_query_error_kind_survives_the_wire() {
        use RuntimeErrorKind as K;
        for kind in [
            K::Overloaded,
            K::Unavailable,
            K::Timeout,
            K::ShuttingDown,
            K::NotOwner,
            K::BadRequest,
        ] {
            let status = Status::parse(Status::of_query(kind).as_str()).unwrap();
            let back = match status.next() {
                Next::Fail(f) => f.query_error("x".into()).kind(),
                Next::Retry if status == Status::NotOwner => K::NotOwner,
                Next::Retry => K::ShuttingDown,
                Next::RetryAfterHint => K::Overloaded,
                Next::RetryMaybeApplied => K::Timeout,
                other => panic!("{kind:?} came back as {other:?}"),
            };
            assert_eq!(back, kind);
        }
        assert_eq!(Status::of_query(K::InvalidInput), Status::BadRequest);
    }

    #[test]
    fn statuses_round_trip_and_unknown_words_are_none() {
        for s in ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse(""), None);
        assert_eq!(Status::parse("OK"), None);
    }
}

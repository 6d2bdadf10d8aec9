//! [`Violation`]: one broken rule, with its evidence.

use std::fmt;

use aether_core::ActorId;

use super::record::Outcome;

/// Versions `first..=last` of an actor's log: the events of one command
/// (consecutive events with its causation id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// The first version.
    pub first: u64,
    /// The last version.
    pub last: u64,
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..={}", self.first, self.last)
        }
    }
}

/// One broken rule of the history checker, with the evidence. One variant
/// per rule; [`rule`](Self::rule) names it, `Display` says it in words.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// Rule 1: a command answered `Ok` does not match the log: its events
    /// end at another version than the answer gave, or it has none and the
    /// answer names a version past the end of the log (an acknowledged
    /// write was lost).
    OkNotInLog {
        /// The actor.
        actor: ActorId,
        /// The command.
        command_id: String,
        /// The version the `Ok` gave.
        answered: u64,
        /// Where its events are, if anywhere.
        found: Option<VersionRange>,
        /// How many events the actor's log holds.
        log_len: u64,
    },
    /// Rule 2: one command id has events at two or more version ranges (it
    /// was applied more than once).
    AppliedTwice {
        /// The actor.
        actor: ActorId,
        /// The command.
        command_id: String,
        /// Every range its events cover.
        ranges: Vec<VersionRange>,
    },
    /// Rule 3: an actor's versions are not gapless from 1 (a gap, a
    /// duplicate or a step back).
    VersionGap {
        /// The actor.
        actor: ActorId,
        /// The version due at this place in the log.
        expected: u64,
        /// The version found there.
        found: u64,
    },
    /// Rule 4: real-time order: `earlier` was answered `Ok` before `later`
    /// was first sent, yet `later`'s events come first in the log.
    OutOfOrder {
        /// The actor.
        actor: ActorId,
        /// The command answered first.
        earlier: String,
        /// Where its events start.
        earlier_at: u64,
        /// The command sent after that answer.
        later: String,
        /// Where its events start (not after `earlier_at`).
        later_at: u64,
    },
    /// Rule 5: along an actor's log, a shard's claim revision went back: a
    /// stale owner wrote after a newer one.
    ClaimWentBack {
        /// The actor.
        actor: ActorId,
        /// The shard (as stamped).
        shard: String,
        /// The revision stamped before.
        from: u64,
        /// The version stamped with `from`.
        from_version: u64,
        /// The lower revision stamped after.
        to: u64,
        /// The version stamped with `to`.
        at_version: u64,
    },
    /// Rule 6: an event's claim stamp is not `"<shard>/<revision>"`.
    MalformedClaim {
        /// The actor.
        actor: ActorId,
        /// The event's version.
        version: u64,
        /// The stamp as found.
        claim: String,
    },
    /// Rule 7: a command answered `Ok` was written under a claim the test
    /// had seen superseded (the shard claimed by another node at a newer
    /// revision) before the command was first sent.
    OkFromSupersededOwner {
        /// The actor.
        actor: ActorId,
        /// The command.
        command_id: String,
        /// The node that wrote its events.
        writer: String,
        /// The shard.
        shard: u32,
        /// The claim revision its events carry.
        revision: u64,
        /// The newer revision seen before the command was sent.
        superseded_by: u64,
        /// The node holding that newer claim.
        new_owner: String,
    },
    /// Rule 8: a command that surely did not take effect (answered
    /// "not applied", or rejected, and never `Ok`) has events in the log.
    RefusedButInLog {
        /// The actor.
        actor: ActorId,
        /// The command.
        command_id: String,
        /// Its best answer: `NotApplied` or `Rejected`.
        outcome: Outcome,
        /// Where its events are.
        found: VersionRange,
    },
}

impl Violation {
    /// The rule broken, in a few words (the same for every violation of one
    /// rule).
    pub fn rule(&self) -> &'static str {
        match self {
            Violation::OkNotInLog { .. } => "Ok not in the log",
            Violation::AppliedTwice { .. } => "applied twice",
            Violation::VersionGap { .. } => "versions not gapless",
            Violation::OutOfOrder { .. } => "real-time order",
            Violation::ClaimWentBack { .. } => "claim revision went back",
            Violation::MalformedClaim { .. } => "malformed claim",
            Violation::OkFromSupersededOwner { .. } => "Ok from a superseded owner",
            Violation::RefusedButInLog { .. } => "refused but in the log",
        }
    }

    /// The actor whose log or commands show the violation.
    pub fn actor(&self) -> &ActorId {
        match self {
            Violation::OkNotInLog { actor, .. }
            | Violation::AppliedTwice { actor, .. }
            | Violation::VersionGap { actor, .. }
            | Violation::OutOfOrder { actor, .. }
            | Violation::ClaimWentBack { actor, .. }
            | Violation::MalformedClaim { actor, .. }
            | Violation::OkFromSupersededOwner { actor, .. }
            | Violation::RefusedButInLog { actor, .. } => actor,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: ", self.rule(), self.actor())?;
        match self {
            Violation::OkNotInLog {
                command_id,
                answered,
                found: Some(found),
                ..
            } => write!(
                f,
                "command {command_id} answered Ok at version {answered}, its events are at {found}"
            ),
            Violation::OkNotInLog {
                command_id,
                answered,
                found: None,
                log_len,
                ..
            } => write!(
                f,
                "command {command_id} answered Ok at version {answered}, past the log \
                 ({log_len} events), and has no events: lost"
            ),
            Violation::AppliedTwice {
                command_id, ranges, ..
            } => {
                write!(f, "command {command_id} has events at versions ")?;
                for (i, r) in ranges.iter().enumerate() {
                    write!(f, "{}{r}", if i == 0 { "" } else { " and " })?;
                }
                write!(f, " (applied more than once)")
            }
            Violation::VersionGap {
                expected, found, ..
            } => write!(
                f,
                "version {found} where {expected} was due (a gap or a duplicate)"
            ),
            Violation::OutOfOrder {
                earlier,
                earlier_at,
                later,
                later_at,
                ..
            } => write!(
                f,
                "command {later} was sent after {earlier} was answered Ok, but comes first in \
                 the log (version {later_at}, {earlier} at {earlier_at})"
            ),
            Violation::ClaimWentBack {
                shard,
                from,
                from_version,
                to,
                at_version,
                ..
            } => write!(
                f,
                "shard {shard}'s claim revision went back from {from} (version {from_version}) \
                 to {to} (version {at_version}): a stale owner wrote after a newer one"
            ),
            Violation::MalformedClaim { version, claim, .. } => write!(
                f,
                "claim stamp {claim:?} at version {version} is not \"<shard>/<revision>\""
            ),
            Violation::OkFromSupersededOwner {
                command_id,
                writer,
                shard,
                revision,
                superseded_by,
                new_owner,
                ..
            } => write!(
                f,
                "command {command_id} answered Ok from {writer} under claim {shard}/{revision}, \
                 but {new_owner} had claimed shard {shard} at revision {superseded_by} before \
                 the command was sent"
            ),
            Violation::RefusedButInLog {
                command_id,
                outcome,
                found,
                ..
            } => {
                let answer = match outcome {
                    Outcome::Rejected => "rejected",
                    _ => "answered \"not applied\"",
                };
                write!(
                    f,
                    "command {command_id} was {answer} but its events are at {found}"
                )
            }
        }
    }
}

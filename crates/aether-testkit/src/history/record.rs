//! The recorder: [`History`] and what it records ([`Op`], [`ClaimSeen`]).

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use aether_core::ActorId;

/// What came back for a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Committed; the actor's version after it.
    Ok {
        /// The version the answer gave.
        version: u64,
    },
    /// Refused by the aggregate (nothing written).
    Rejected,
    /// Surely not applied (the command came back: overloaded, unavailable,
    /// shutting down, not the owner).
    NotApplied,
    /// No answer, or a timeout: it may have been applied.
    Unknown,
}

impl Outcome {
    /// The order of answers, when one command id was sent several times:
    /// the best answer an id got is the one the checker holds it to.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Outcome::Unknown => 0,
            Outcome::NotApplied => 1,
            Outcome::Rejected => 2,
            Outcome::Ok { .. } => 3,
        }
    }
}

/// One recorded command.
#[derive(Debug, Clone)]
pub struct Op {
    /// The command id (retries reuse it: several ops may share one).
    pub command_id: String,
    /// The actor.
    pub actor: ActorId,
    /// When it was sent.
    pub issued: Instant,
    /// When the answer came (`None`: not answered yet, or never).
    pub answered: Option<Instant>,
    /// What came back (`Unknown` until answered).
    pub outcome: Outcome,
    /// The node that answered, if known.
    pub node: Option<String>,
}

/// A shard claim the test saw written (e.g. by watching the claims bucket):
/// from `seen` on, `owner` held `shard` at KV revision `revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSeen {
    /// The shard.
    pub shard: u32,
    /// The claim's KV revision (the token stamped on the events written
    /// under it).
    pub revision: u64,
    /// The node named by the claim.
    pub owner: String,
    /// When the test saw it (after it was written).
    pub seen: Instant,
}

/// Records the commands of a test, from many tasks at once, and the shard
/// claims it saw written.
#[derive(Debug, Default)]
pub struct History {
    ops: Mutex<Vec<Op>>,
    claims: Mutex<Vec<ClaimSeen>>,
}

/// A recorded command not answered yet (see [`History::answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(usize);

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that command `command_id` is sent to `actor` now.
    pub fn issue(&self, command_id: &str, actor: &ActorId) -> Ticket {
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        ops.push(Op {
            command_id: command_id.to_owned(),
            actor: actor.clone(),
            issued: Instant::now(),
            answered: None,
            outcome: Outcome::Unknown,
            node: None,
        });
        Ticket(ops.len() - 1)
    }

    /// Records the answer to `ticket`, now.
    pub fn answer(&self, ticket: Ticket, outcome: Outcome, node: Option<&str>) {
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(op) = ops.get_mut(ticket.0) {
            op.answered = Some(Instant::now());
            op.outcome = outcome;
            op.node = node.map(str::to_owned);
        }
    }

    /// Records that `owner` holds `shard` at claim revision `revision`, as
    /// seen now.
    pub fn claim_seen(&self, shard: u32, revision: u64, owner: &str) {
        self.claims
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ClaimSeen {
                shard,
                revision,
                owner: owner.to_owned(),
                seen: Instant::now(),
            });
    }

    /// Every command recorded so far.
    pub fn ops(&self) -> Vec<Op> {
        self.ops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every claim seen so far.
    pub fn claims(&self) -> Vec<ClaimSeen> {
        self.claims
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

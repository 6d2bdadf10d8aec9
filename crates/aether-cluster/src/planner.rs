//! The rebalance planner: from the assignment in force and the new membership
//! to the new assignment and the migrations that get there.

use crate::assignment::ShardAssignment;
use crate::id::{NodeId, ShardId};
use crate::strategy::{PlacementInput, PlacementStrategy};

/// Which copy of a shard moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShardRole {
    /// The primary: the node that runs the shard's actors.
    Primary,
    /// A secondary replica.
    Replica,
}

/// One migration of a shard copy.
///
/// Contract for the runtime: for a [`ShardRole::Primary`] move, `from` stops
/// running the shard's actors and `to` starts them. `from` may be a node that
/// is no longer a member (it died): there is nothing to hand off, and `to`
/// recovers state from the event store. `from` is `None` for a first placement;
/// `to` is `None` when a replica is dropped without replacement (fewer members
/// than the replication factor).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardMove {
    /// The shard.
    pub shard: ShardId,
    /// Primary or replica copy.
    pub role: ShardRole,
    /// The node giving the copy up.
    pub from: Option<NodeId>,
    /// The node taking the copy on.
    pub to: Option<NodeId>,
}

/// The result of planning: the target assignment and the moves to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RebalancePlan {
    /// The assignment after the moves.
    pub assignment: ShardAssignment,
    /// The moves, in shard order (primary move first within a shard).
    pub moves: Vec<ShardMove>,
    /// Shards whose primary the strategy moves but [`limit_moves`] held
    /// back for a later round (0 for [`plan_rebalance`]).
    pub deferred: usize,
}

impl RebalancePlan {
    /// Whether nothing moves.
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty()
    }

    /// The number of shards whose primary changes.
    pub fn primary_moves(&self) -> usize {
        self.moves
            .iter()
            .filter(|m| m.role == ShardRole::Primary)
            .count()
    }

    /// The number of distinct shards with any move.
    pub fn shards_touched(&self) -> usize {
        let mut shards: Vec<ShardId> = self.moves.iter().map(|m| m.shard).collect();
        shards.dedup();
        shards.len()
    }
}

/// Plans the move from `current` to the placement `strategy` gives for `members`.
///
/// The movement is what the strategy allows: with [`crate::ConsistentHashStrategy`]
/// a join moves about `1/(N+1)` of the shards (all to the newcomer) and a leave
/// moves only the leaver's shards. `current` may be empty (first placement) or
/// have another shard count (then every shard is placed afresh).
pub fn plan_rebalance(
    strategy: &dyn PlacementStrategy,
    current: &ShardAssignment,
    members: &[NodeId],
    shard_count: u32,
    replication_factor: usize,
) -> RebalancePlan {
    let same_layout = current.shard_count() == shard_count;
    let input = PlacementInput {
        members,
        shard_count,
        replication_factor,
        previous: same_layout.then_some(current),
    };
    let assignment = strategy.place(&input);
    let empty: &[NodeId] = &[];
    let mut moves = Vec::new();
    for (shard, new) in assignment.iter() {
        let old = if same_layout {
            current.replicas(shard)
        } else {
            empty
        };
        diff_shard(shard, old, new, &mut moves);
    }
    RebalancePlan {
        assignment,
        moves,
        deferred: 0,
    }
}

/// One round of the way from `current` to `target`: every shard whose copies
/// must move goes to its `target` placement, and at most `max_moves` of the
/// shards whose primary would merely move from one member to another; the
/// other such shards keep their `current` placement, counted in
/// [`RebalancePlan::deferred`], for a later round.
///
/// A shard must move (it is never held back) when it is unassigned, when
/// any of its copies is on a node that is not in `members` (it left, it
/// died, or it is draining), when only its secondary copies change (nothing
/// is handed off), when `exempt` says so (an operator's pin), or when the
/// layouts differ (another shard count: everything is placed afresh).
///
/// Each shard moves straight from its `current` placement to its `target`
/// one, so rounds toward a fixed `target` move every shard at most once and
/// only the shards the strategy moves; with `max_moves ≥ 1`, `k` shards
/// whose primary moves between members arrive in `⌈k / max_moves⌉` rounds
/// (one at least). `max_moves = 0` holds back every such move.
///
/// # Examples
///
/// ```
/// use aether_cluster::{ConsistentHashStrategy, ShardAssignment, limit_moves, plan_rebalance};
/// use aether_core::NodeId;
///
/// let s = ConsistentHashStrategy::default();
/// let [a, b, c] = ["a", "b", "c"].map(|n| NodeId::new(n).unwrap());
/// let two = [a.clone(), b.clone()];
/// let first = plan_rebalance(&s, &ShardAssignment::unassigned(64), &two, 64, 1);
/// // A join: the strategy moves about a third of the shards to `c`.
/// let three = [a, b, c];
/// let target = plan_rebalance(&s, &first.assignment, &three, 64, 1).assignment;
/// let mut current = first.assignment;
/// let mut rounds = 0;
/// loop {
///     let round = limit_moves(&current, &target, &three, 4, |_| false);
///     assert!(round.primary_moves() <= 4);
///     current = round.assignment;
///     rounds += 1;
///     if round.deferred == 0 {
///         break;
///     }
/// }
/// assert_eq!(current, target);
/// assert!(rounds <= 64 / 4 + 1);
/// ```
pub fn limit_moves(
    current: &ShardAssignment,
    target: &ShardAssignment,
    members: &[NodeId],
    max_moves: usize,
    exempt: impl Fn(ShardId) -> bool,
) -> RebalancePlan {
    let same_layout = current.shard_count() == target.shard_count();
    let mut budget = max_moves;
    let mut deferred = 0;
    let mut moves = Vec::new();
    let mut round: Vec<Vec<NodeId>> = Vec::with_capacity(target.shard_count() as usize);
    for (shard, new) in target.iter() {
        let old: &[NodeId] = if same_layout {
            current.replicas(shard)
        } else {
            &[]
        };
        let must = old.is_empty()
            || old.first() == new.first()
            || old.iter().any(|n| !members.contains(n))
            || exempt(shard);
        let take = if old == new || must {
            true
        } else if budget > 0 {
            budget -= 1;
            true
        } else {
            deferred += 1;
            false
        };
        let chosen = if take { new } else { old };
        diff_shard(shard, old, chosen, &mut moves);
        round.push(chosen.to_vec());
    }
    RebalancePlan {
        assignment: ShardAssignment::from_replicas_unchecked(round),
        moves,
        deferred,
    }
}

fn diff_shard(shard: ShardId, old: &[NodeId], new: &[NodeId], moves: &mut Vec<ShardMove>) {
    let (old_p, new_p) = (old.first(), new.first());
    if old_p != new_p {
        moves.push(ShardMove {
            shard,
            role: ShardRole::Primary,
            from: old_p.cloned(),
            to: new_p.cloned(),
        });
    }
    // Secondary copies: nodes holding a copy before but not after (and not as
    // the new primary) hand over to nodes holding one after but not before.
    let old_rest: Vec<&NodeId> = old.iter().skip(1).collect();
    let new_rest: Vec<&NodeId> = new.iter().skip(1).collect();
    let gone: Vec<&NodeId> = old_rest
        .iter()
        .copied()
        .filter(|n| !new.contains(n))
        .collect();
    let came: Vec<&NodeId> = new_rest
        .iter()
        .copied()
        .filter(|n| !old.contains(n))
        .collect();
    for i in 0..gone.len().max(came.len()) {
        moves.push(ShardMove {
            shard,
            role: ShardRole::Replica,
            from: gone.get(i).map(|n| (*n).clone()),
            to: came.get(i).map(|n| (*n).clone()),
        });
    }
}

#[cfg(test)]
mod tests;

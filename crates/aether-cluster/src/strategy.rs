//! Placement strategies: how shards map to nodes.
//!
//! A [`PlacementStrategy`] is a pure, deterministic function from
//! ([`PlacementInput`]: members, shard count, replication factor, previous
//! assignment) to a [`ShardAssignment`]. The leader runs it; every other node
//! receives its result in the shard map, so strategies need not be identical
//! across releases, but they must be deterministic within one.

use std::fmt;

use crate::assignment::ShardAssignment;
use crate::error::Result;
use crate::id::{NodeId, ShardId};
use crate::ring::{DEFAULT_VIRTUAL_NODES, RingSnapshot};

/// The ring position of a shard: shards sit at evenly spaced points
/// (`(2·shard + 1) · 2⁶³ / shard_count`), so the share of shards a node gets
/// follows its share of the ring without extra sampling noise.
pub fn shard_ring_position(shard: ShardId, shard_count: u32) -> u64 {
    if shard_count == 0 {
        return 0;
    }
    // Below 2⁶⁴ for `shard < shard_count`; a larger shard number wraps around
    // the ring (the cast keeps the low 64 bits) rather than panicking.
    (((2 * u128::from(shard.get()) + 1) << 63) / u128::from(shard_count)) as u64
}

/// What a strategy places.
#[derive(Debug, Clone, Copy)]
pub struct PlacementInput<'a> {
    /// The live members (any order; duplicates ignored).
    pub members: &'a [NodeId],
    /// Number of shards.
    pub shard_count: u32,
    /// Replicas per shard (capped at the number of members).
    pub replication_factor: usize,
    /// The assignment in force, if any; strategies may use it to move less.
    pub previous: Option<&'a ShardAssignment>,
}

/// A placement strategy. Implementations must be deterministic: the same input
/// gives the same assignment.
pub trait PlacementStrategy: Send + Sync + fmt::Debug {
    /// A short name for logs and the shard map.
    fn name(&self) -> &'static str;

    /// Places every shard of `input` on `min(replication_factor, members)`
    /// distinct members, primary first.
    fn place(&self, input: &PlacementInput<'_>) -> ShardAssignment;
}

/// Consistent hashing with ring-share quotas (the default strategy).
///
/// Each node's share `fᵢ` of the ring (the arcs of its virtual nodes) sets its
/// quota `fᵢ · shards · replicas`; each shard goes to the first nodes clockwise
/// from its ring position ([`shard_ring_position`]) that are under
/// `⌈quota⌉`. Three deterministic passes: **keep** previous replicas on
/// survivors while under their cap (shards a newcomer's arcs now own are shed
/// first), **fill** missing replicas clockwise (first up to each node's
/// `⌊quota⌋`, then up to `⌈quota⌉`), and **catch up**: a newcomer below its
/// floor takes primaries from nodes above theirs, its own ring arcs first.
///
/// Why quotas: hashing each shard independently adds sampling noise on top of
/// the ring's own (a node's count is then binomial: 1,024 shards over 100
/// nodes gives a 31 % coefficient of variation from that alone). With quotas,
/// shard counts follow ring shares, whose variation is about `1/√vnodes`
/// (≈ 8 % at 150). Movement stays that of consistent hashing: a newcomer takes
/// about its ring share, all moves go to it; when a node leaves, survivors'
/// shares only grow, so only the leaver's shards move.
#[derive(Debug, Clone)]
pub struct ConsistentHashStrategy {
    virtual_nodes: usize,
}

impl ConsistentHashStrategy {
    /// With `virtual_nodes` points per node (1 to 65,536).
    pub fn new(virtual_nodes: usize) -> Result<Self> {
        check_vnodes(virtual_nodes)?;
        Ok(Self { virtual_nodes })
    }

    /// Virtual nodes per node.
    pub fn virtual_nodes(&self) -> usize {
        self.virtual_nodes
    }
}

impl Default for ConsistentHashStrategy {
    fn default() -> Self {
        Self {
            virtual_nodes: DEFAULT_VIRTUAL_NODES,
        }
    }
}

fn check_vnodes(virtual_nodes: usize) -> Result<()> {
    crate::ring::check_virtual_nodes(virtual_nodes)
}

impl PlacementStrategy for ConsistentHashStrategy {
    fn name(&self) -> &'static str {
        "consistent-hash"
    }

    fn place(&self, input: &PlacementInput<'_>) -> ShardAssignment {
        let ring = RingSnapshot::build_valid(self.virtual_nodes, input.members.iter().cloned());
        let n = ring.len();
        if n == 0 {
            return ShardAssignment::unassigned(input.shard_count);
        }
        let r = input.replication_factor.clamp(1, n);
        let count = input.shard_count as usize;
        let total = (count * r) as f64;
        let quotas: Vec<f64> = ring.shares().iter().map(|f| f * total).collect();
        let mut caps: Vec<usize> = quotas
            .iter()
            .map(|q| ((q - 1e-9).ceil().max(0.0) as usize).min(count))
            .collect();
        let floors: Vec<usize> = quotas
            .iter()
            .map(|q| (q.floor() as usize).min(count))
            .collect();
        raise_caps(&mut caps, count * r, count);
        place_capacitated(&ring, input, r, &caps, &floors)
    }
}

/// Raises caps (up to `max` each) until they hold `total` replicas.
fn raise_caps(caps: &mut [usize], total: usize, max: usize) {
    let mut sum: usize = caps.iter().sum();
    let mut i = 0;
    while sum < total && caps.iter().any(|&c| c < max) {
        if caps[i] < max {
            caps[i] += 1;
            sum += 1;
        }
        i = (i + 1) % caps.len();
    }
}

/// Capacitated ring placement shared by both strategies: every node `i` holds
/// at most `caps[i]` replicas; a node below `floors[i]` that held nothing
/// before (a newcomer, or everyone on a first placement) takes back the shards
/// whose ring owner it is.
///
/// 1. **keep**: previous replicas on surviving members stay while under the
///    cap: first those whose holder is the shard's ring owner, then overflow
///    held for another old node, last those a newcomer's arcs now own (so a
///    shrunken node sheds exactly those first);
/// 2. **fill**: each missing replica goes to the first node clockwise from the
///    shard's ring position that is under its floor; what remains, under its cap;
/// 3. **catch up**: newcomers (nodes that held nothing) below their floor take
///    primaries from holders above their own floor: their ring-owned shards
///    first, then any.
///
/// Survivors never lose a shard when a node leaves as long as their caps do
/// not shrink, which holds for both strategies.
fn place_capacitated(
    ring: &RingSnapshot,
    input: &PlacementInput<'_>,
    r: usize,
    caps: &[usize],
    floors: &[usize],
) -> ShardAssignment {
    let nodes = ring.nodes();
    let n = nodes.len();
    let count = input.shard_count as usize;
    let index_of = |node: &NodeId| nodes.binary_search(node).ok();
    let owner: Vec<usize> = (0..count)
        .map(|s| {
            let pos = shard_ring_position(ShardId(s as u32), input.shard_count);
            ring.node_for_hash(pos).and_then(index_of).unwrap_or(0)
        })
        .collect();
    let mut load = vec![0usize; n];
    let mut result: Vec<Vec<usize>> = vec![Vec::with_capacity(r); count];
    let mut held_before = vec![false; n];

    // 1. keep
    if let Some(prev) = input.previous {
        for (s, _) in prev.iter() {
            for node in prev.replicas(s) {
                if let Some(i) = index_of(node) {
                    held_before[i] = true;
                }
            }
        }
        // Class 0: the holder is the ring owner. Class 1: the ring owner is an
        // old node (overflow the holder absorbed). Class 2: the ring owner is a
        // newcomer: shed these first when a cap shrinks.
        for class in 0..3u8 {
            for (s, slot) in result.iter_mut().enumerate() {
                for node in prev.replicas(ShardId(s as u32)) {
                    let Some(i) = index_of(node) else { continue };
                    let c = if i == owner[s] {
                        0
                    } else if held_before[owner[s]] {
                        1
                    } else {
                        2
                    };
                    if c != class || slot.len() == r || slot.contains(&i) {
                        continue;
                    }
                    if load[i] < caps[i] {
                        slot.push(i);
                        load[i] += 1;
                    }
                }
            }
        }
        // Keep slot order as it was (primary first) for kept replicas.
        for (s, slot) in result.iter_mut().enumerate() {
            let prev = prev.replicas(ShardId(s as u32));
            slot.sort_by_key(|&i| prev.iter().position(|p| *p == nodes[i]));
        }
    }
    // 2. fill: first every node up to its floor, then up to its cap.
    for limits in [floors, caps] {
        for (s, slot) in result.iter_mut().enumerate() {
            if slot.len() == r {
                continue;
            }
            let pos = shard_ring_position(ShardId(s as u32), input.shard_count);
            for node in ring.walk(pos) {
                if slot.len() == r {
                    break;
                }
                let i = index_of(node).unwrap_or(0);
                if load[i] < limits[i] && !slot.contains(&i) {
                    slot.push(i);
                    load[i] += 1;
                }
            }
        }
    }
    // A shard still short has spare capacity only on nodes that already
    // hold it (greedy filling under tight caps ends so): swap with another
    // shard, which gives one of its replicas to such a node and frees a
    // place for this shard. Only if no swap exists (the caps cannot hold
    // every replica) does a node go over its cap: never leave a shard short.
    // Which nodes held each shard before: a swap never takes those replicas
    // (a leave must move only the leaver's shards).
    let before: Vec<Vec<usize>> = match input.previous {
        Some(prev) => (0..count)
            .map(|s| {
                prev.replicas(ShardId(s as u32))
                    .iter()
                    .filter_map(index_of)
                    .collect()
            })
            .collect(),
        None => Vec::new(),
    };
    for s in 0..count {
        while result[s].len() < r {
            if swap_into(&mut result, &mut load, caps, &before, s) {
                continue;
            }
            let slot = &mut result[s];
            let Some(i) = (0..n)
                .filter(|i| !slot.contains(i))
                .min_by_key(|&i| (load[i], i))
            else {
                break;
            };
            slot.push(i);
            load[i] += 1;
        }
    }
    // 3. catch up: newcomers below their floor take primaries from holders
    // above theirs: first the shards they own on the ring, then any.
    for ring_owned_only in [true, false] {
        for (s, slot) in result.iter_mut().enumerate() {
            // cannot fail: `n ≥ 1` and pass 2 filled every slot to `r ≥ 1`.
            let h = slot[0];
            if load[h] <= floors[h] {
                continue;
            }
            let u = if ring_owned_only {
                owner[s]
            } else {
                match (0..n).find(|&u| !held_before[u] && load[u] < floors[u] && !slot.contains(&u))
                {
                    Some(u) => u,
                    None => break,
                }
            };
            if held_before[u] || load[u] >= floors[u] || slot.contains(&u) {
                continue;
            }
            slot[0] = u;
            load[u] += 1;
            load[h] -= 1;
        }
    }
    ShardAssignment::from_replicas_unchecked(
        result
            .into_iter()
            .map(|slot| slot.into_iter().map(|i| nodes[i].clone()).collect())
            .collect(),
    )
}

/// Gives short shard `s` one more replica without any node passing its cap:
/// a node `w` of `s` under its cap takes the place of node `v` in another
/// shard `t` (`w` not in `t`, `v` not in `s`), and `v` joins `s`. `w` gains
/// one replica, `v` keeps its load. Only replicas placed in this planning
/// are taken (`before[t]`: the nodes that held `t` in the previous
/// assignment, if any), so no survivor loses a shard it held. False when no
/// such pair exists.
fn swap_into(
    result: &mut [Vec<usize>],
    load: &mut [usize],
    caps: &[usize],
    before: &[Vec<usize>],
    s: usize,
) -> bool {
    let spare: Vec<usize> = result[s]
        .iter()
        .copied()
        .filter(|&w| load[w] < caps[w])
        .collect();
    for &w in &spare {
        for t in 0..result.len() {
            if t == s || result[t].contains(&w) {
                continue;
            }
            // A non-primary place first: the shard keeps its primary.
            let len = result[t].len();
            for k in (1..len).chain(0..len.min(1)) {
                let v = result[t][k];
                if result[s].contains(&v) || before.get(t).is_some_and(|b| b.contains(&v)) {
                    continue;
                }
                result[t][k] = w;
                load[w] += 1;
                result[s].push(v);
                return true;
            }
        }
    }
    false
}

/// Consistent hashing with bounded loads: no node holds more than
/// `⌈(1 + ε) · shards · replicas / nodes⌉` shard replicas.
///
/// Same passes as [`ConsistentHashStrategy`] (keep, fill, catch up), with one
/// cap for every node instead of ring-share quotas: a leave moves only the
/// leaver's shards; a newcomer is filled up to the average from its ring arcs.
#[derive(Debug, Clone)]
pub struct BoundedLoadStrategy {
    virtual_nodes: usize,
    epsilon: f64,
}

impl BoundedLoadStrategy {
    /// The default ε: no node above 1.25 × the average.
    pub const DEFAULT_EPSILON: f64 = 0.25;

    /// With `virtual_nodes` points per node and balance parameter `epsilon`
    /// (finite, 0 to 10).
    pub fn new(virtual_nodes: usize, epsilon: f64) -> Result<Self> {
        check_vnodes(virtual_nodes)?;
        if !epsilon.is_finite() || !(0.0..=10.0).contains(&epsilon) {
            return Err(crate::error::config_error(format!(
                "bounded-load epsilon must be within 0..=10, got {epsilon}"
            )));
        }
        Ok(Self {
            virtual_nodes,
            epsilon,
        })
    }

    /// ε.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The per-node cap for `total` replicas over `nodes` nodes.
    pub fn capacity(&self, total: usize, nodes: usize) -> usize {
        if nodes == 0 {
            return 0;
        }
        let avg = total as f64 / nodes as f64;
        let cap = ((1.0 + self.epsilon) * avg - 1e-9).ceil() as usize;
        cap.max(total.div_ceil(nodes))
    }
}

impl Default for BoundedLoadStrategy {
    fn default() -> Self {
        Self {
            virtual_nodes: DEFAULT_VIRTUAL_NODES,
            epsilon: Self::DEFAULT_EPSILON,
        }
    }
}

impl PlacementStrategy for BoundedLoadStrategy {
    fn name(&self) -> &'static str {
        "bounded-load"
    }

    fn place(&self, input: &PlacementInput<'_>) -> ShardAssignment {
        let ring = RingSnapshot::build_valid(self.virtual_nodes, input.members.iter().cloned());
        let n = ring.len();
        if n == 0 {
            return ShardAssignment::unassigned(input.shard_count);
        }
        let r = input.replication_factor.clamp(1, n);
        let count = input.shard_count as usize;
        let cap = self.capacity(count * r, n).min(count);
        let mut caps = vec![cap; n];
        raise_caps(&mut caps, count * r, count);
        let floors = vec![(count * r) / n; n];
        place_capacitated(&ring, input, r, &caps, &floors)
    }
}

#[cfg(test)]
mod tests;

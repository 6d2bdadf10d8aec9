//! [`ConsistentHashRing`]: nodes on a 64-bit hash ring, each at many virtual points.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::error::Result;
use crate::hash::{stable_hash, vnode_hash};
use crate::id::NodeId;

/// The default number of virtual nodes per node.
pub const DEFAULT_VIRTUAL_NODES: usize = 150;

/// The most virtual nodes per node.
const MAX_VIRTUAL_NODES: usize = 65_536;

/// Checks a virtual-node count: 1 to 65,536.
pub(crate) fn check_virtual_nodes(virtual_nodes: usize) -> Result<()> {
    if virtual_nodes == 0 || virtual_nodes > MAX_VIRTUAL_NODES {
        return Err(crate::error::config_error(format!(
            "virtual nodes per node must be 1 to {MAX_VIRTUAL_NODES}, got {virtual_nodes}"
        )));
    }
    Ok(())
}

/// A consistent hash ring.
///
/// Each node sits at `virtual_nodes` points given by [`crate::hash::vnode_hash`];
/// a key hashed with [`crate::hash::stable_hash`] belongs to the first point at
/// or after its hash, wrapping around. Adding a node takes over only the keys
/// of its new arcs; removing one hands only its own keys to their successors.
///
/// **Concurrency:** all methods take `&self`. Membership changes build a new
/// immutable [`RingSnapshot`] and swap it in (copy-on-write); readers either
/// look up under a short read lock or take a [`RingSnapshot`] and keep reading
/// it without any lock while membership changes.
///
/// ```
/// use aether_cluster::ConsistentHashRing;
/// use aether_core::NodeId;
/// let ring = ConsistentHashRing::new();
/// ring.add(NodeId::new("a").unwrap());
/// ring.add(NodeId::new("b").unwrap());
/// let owner = ring.node_for_key(b"order-42").unwrap();
/// assert_eq!(ring.nodes_for_key(b"order-42", 2)[0], owner);
/// ```
pub struct ConsistentHashRing {
    virtual_nodes: usize,
    state: RwLock<Arc<RingSnapshot>>,
}

impl ConsistentHashRing {
    /// An empty ring with [`DEFAULT_VIRTUAL_NODES`] virtual nodes per node.
    pub fn new() -> Self {
        Self {
            virtual_nodes: DEFAULT_VIRTUAL_NODES,
            state: RwLock::new(Arc::new(RingSnapshot::empty())),
        }
    }

    /// An empty ring with `virtual_nodes` points per node (1 to 65,536).
    pub fn with_virtual_nodes(virtual_nodes: usize) -> Result<Self> {
        check_virtual_nodes(virtual_nodes)?;
        Ok(Self {
            virtual_nodes,
            state: RwLock::new(Arc::new(RingSnapshot::empty())),
        })
    }

    /// A ring holding `nodes` (duplicates ignored).
    pub fn from_nodes(
        virtual_nodes: usize,
        nodes: impl IntoIterator<Item = NodeId>,
    ) -> Result<Self> {
        let ring = Self::with_virtual_nodes(virtual_nodes)?;
        let snapshot = RingSnapshot::build_valid(virtual_nodes, nodes);
        *ring.state.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
        Ok(ring)
    }

    /// Virtual nodes per node.
    pub fn virtual_nodes(&self) -> usize {
        self.virtual_nodes
    }

    /// The current immutable view; lookups on it take no lock.
    pub fn snapshot(&self) -> Arc<RingSnapshot> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, f: impl FnOnce(&RingSnapshot) -> Option<RingSnapshot>) -> bool {
        let mut guard = self.state.write().unwrap_or_else(PoisonError::into_inner);
        match f(&guard) {
            Some(next) => {
                *guard = Arc::new(next);
                true
            }
            None => false,
        }
    }

    /// Adds `node`; returns `false` if it was already on the ring.
    pub fn add(&self, node: NodeId) -> bool {
        let vn = self.virtual_nodes;
        self.replace(|cur| cur.with_node(vn, node))
    }

    /// Removes `node`; returns `false` if it was not on the ring.
    pub fn remove(&self, node: &NodeId) -> bool {
        self.replace(|cur| cur.without_node(node))
    }

    /// Whether `node` is on the ring.
    pub fn contains(&self, node: &NodeId) -> bool {
        self.snapshot().contains(node)
    }

    /// The node owning `key` (hashed with [`stable_hash`]); `None` if the ring is empty.
    pub fn node_for_key(&self, key: &[u8]) -> Option<NodeId> {
        let guard = self.state.read().unwrap_or_else(PoisonError::into_inner);
        guard.node_for_hash(stable_hash(key)).cloned()
    }

    /// Up to `n` distinct nodes for `key`, in ring order (the owner first): the
    /// replica set of `key` for replication factor `n`.
    pub fn nodes_for_key(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        let guard = self.state.read().unwrap_or_else(PoisonError::into_inner);
        guard.nodes_for_hash(stable_hash(key), n)
    }

    /// Whether the ring has no node.
    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// The nodes, sorted by id.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.snapshot().nodes().to_vec()
    }
}

impl Default for ConsistentHashRing {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsistentHashRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snap = self.snapshot();
        f.debug_struct("ConsistentHashRing")
            .field("virtual_nodes", &self.virtual_nodes)
            .field("nodes", &snap.nodes)
            .finish()
    }
}

/// An immutable view of a ring: sorted points and their owners.
#[derive(Clone)]
pub struct RingSnapshot {
    /// Nodes sorted by id.
    nodes: Vec<NodeId>,
    /// Sorted ring points.
    points: Vec<u64>,
    /// `owners[i]` indexes `nodes` for `points[i]`.
    owners: Vec<u32>,
}

impl RingSnapshot {
    fn empty() -> Self {
        Self {
            nodes: Vec::new(),
            points: Vec::new(),
            owners: Vec::new(),
        }
    }

    /// Builds a snapshot holding `nodes` with `virtual_nodes` points each
    /// (1 to 65,536; anything else is a [`crate::ClusterErrorKind::InvalidConfig`] error).
    pub fn build(virtual_nodes: usize, nodes: impl IntoIterator<Item = NodeId>) -> Result<Self> {
        check_virtual_nodes(virtual_nodes)?;
        Ok(Self::build_valid(virtual_nodes, nodes))
    }

    /// [`RingSnapshot::build`] for a `virtual_nodes` already checked.
    pub(crate) fn build_valid(
        virtual_nodes: usize,
        nodes: impl IntoIterator<Item = NodeId>,
    ) -> Self {
        // Keeps the products and `u32` casts below in range even if a caller
        // forgot the check.
        let virtual_nodes = virtual_nodes.clamp(1, MAX_VIRTUAL_NODES);
        let mut nodes: Vec<NodeId> = nodes.into_iter().collect();
        nodes.sort();
        nodes.dedup();
        let mut pairs: Vec<(u64, u32)> = Vec::with_capacity(nodes.len() * virtual_nodes);
        // cannot fail: `v < 65_536`, and `i` counts nodes held in memory
        // (far fewer than `u32::MAX`).
        for (i, node) in nodes.iter().enumerate() {
            for v in 0..virtual_nodes {
                pairs.push((vnode_hash(node.as_str(), v as u32), i as u32));
            }
        }
        // Ties (astronomically rare) break by node id order: deterministic everywhere.
        pairs.sort_unstable();
        let (points, owners) = pairs.into_iter().unzip();
        Self {
            nodes,
            points,
            owners,
        }
    }

    fn with_node(&self, virtual_nodes: usize, node: NodeId) -> Option<Self> {
        if self.contains(&node) {
            return None;
        }
        let mut nodes = self.nodes.clone();
        nodes.push(node);
        Some(Self::build_valid(virtual_nodes, nodes))
    }

    fn without_node(&self, node: &NodeId) -> Option<Self> {
        let idx = self.nodes.binary_search(node).ok()? as u32;
        let mut points = Vec::with_capacity(self.points.len());
        let mut owners = Vec::with_capacity(self.points.len());
        for (&p, &o) in self.points.iter().zip(&self.owners) {
            if o != idx {
                points.push(p);
                owners.push(if o > idx { o - 1 } else { o });
            }
        }
        let mut nodes = self.nodes.clone();
        nodes.remove(idx as usize);
        Some(Self {
            nodes,
            points,
            owners,
        })
    }

    /// Whether `node` is on the ring.
    pub fn contains(&self, node: &NodeId) -> bool {
        self.nodes.binary_search(node).is_ok()
    }

    /// The nodes, sorted by id.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// Whether the ring has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Each node's share of the ring (fractions summing to 1), in the order of
    /// [`RingSnapshot::nodes`]. A point owns the arc from the previous point
    /// (exclusive) to itself (inclusive).
    pub fn shares(&self) -> Vec<f64> {
        let mut shares = vec![0.0; self.nodes.len()];
        let Some(&last) = self.points.last() else {
            return shares;
        };
        let mut prev = last;
        for (&p, &o) in self.points.iter().zip(&self.owners) {
            let arc = p.wrapping_sub(prev);
            // A single point owns the whole ring.
            let arc = if self.points.len() == 1 {
                u64::MAX
            } else {
                arc
            };
            shares[o as usize] += arc as f64 / 18_446_744_073_709_551_616.0;
            prev = p;
        }
        shares
    }

    /// The index of the first point at or after `hash`, wrapping to 0.
    #[inline]
    fn start(&self, hash: u64) -> usize {
        let i = self.points.partition_point(|&p| p < hash);
        if i == self.points.len() { 0 } else { i }
    }

    /// The node owning ring position `hash`.
    #[inline]
    pub fn node_for_hash(&self, hash: u64) -> Option<&NodeId> {
        if self.points.is_empty() {
            return None;
        }
        Some(&self.nodes[self.owners[self.start(hash)] as usize])
    }

    /// The node owning `key`.
    pub fn node_for_key(&self, key: &[u8]) -> Option<&NodeId> {
        self.node_for_hash(stable_hash(key))
    }

    /// Up to `n` distinct nodes clockwise from ring position `hash`.
    pub fn nodes_for_hash(&self, hash: u64, n: usize) -> Vec<NodeId> {
        self.walk(hash).take(n).cloned().collect()
    }

    /// Every node once, in clockwise order of first appearance from `hash`:
    /// the preference list of that position.
    pub fn walk(&self, hash: u64) -> Walk<'_> {
        Walk {
            ring: self,
            pos: if self.points.is_empty() {
                0
            } else {
                self.start(hash)
            },
            steps: 0,
            seen: vec![false; self.nodes.len()],
            found: 0,
        }
    }
}

impl fmt::Debug for RingSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingSnapshot")
            .field("nodes", &self.nodes)
            .field("points", &self.points.len())
            .finish()
    }
}

/// Iterator over the distinct nodes clockwise from a position; see [`RingSnapshot::walk`].
#[derive(Debug)]
pub struct Walk<'a> {
    ring: &'a RingSnapshot,
    pos: usize,
    steps: usize,
    seen: Vec<bool>,
    found: usize,
}

impl<'a> Iterator for Walk<'a> {
    type Item = &'a NodeId;

    fn next(&mut self) -> Option<&'a NodeId> {
        let total = self.ring.points.len();
        while self.found < self.ring.nodes.len() && self.steps < total {
            let owner = self.ring.owners[self.pos] as usize;
            self.pos = (self.pos + 1) % total;
            self.steps += 1;
            if !self.seen[owner] {
                self.seen[owner] = true;
                self.found += 1;
                return Some(&self.ring.nodes[owner]);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;

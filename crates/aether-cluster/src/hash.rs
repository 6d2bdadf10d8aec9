//! The stable hash behind every placement decision.
//!
//! Placement must agree across processes, platforms and releases, so it never
//! uses std's randomly seeded hasher. Aether uses **64-bit FNV-1a** (offset
//! basis `0xcbf29ce484222325`, prime `0x100000001b3`, bytes in order) followed
//! by the **MurmurHash3 `fmix64` finalizer**, which spreads FNV's weak low bits
//! (similar keys such as `node-1#0`, `node-1#1` otherwise land close together).
//! Both are fixed, public algorithms; the test below pins known outputs, and
//! changing them is a breaking change of the wire contract (every node of a
//! cluster must place shards identically). The hash itself lives in
//! [`aether_core::hash`], shared with the event store (an actor's log
//! partition follows from the same hash as its shard); this module
//! re-exports it and adds the ring's virtual-node hash.

pub use aether_core::hash::{
    FNV_OFFSET_BASIS, FNV_PRIME, fmix64, fnv1a64, fnv1a64_continue, hash_to_range, stable_hash,
};

/// The ring position of virtual node `index` of a node:
/// `fmix64(fnv1a64(node_id ‖ 0x00 ‖ index as u32 big-endian))`.
/// Node ids never contain NUL, so distinct (node, index) pairs hash distinct inputs.
#[inline]
pub fn vnode_hash(node_id: &str, index: u32) -> u64 {
    let h = fnv1a64(node_id.as_bytes());
    let h = fnv1a64_continue(h, &[0]);
    fmix64(fnv1a64_continue(h, &index.to_be_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The hash itself is pinned in `aether_core::hash`; the ring's own
    // virtual-node positions here.
    #[test]
    fn vnode_hash_is_pinned() {
        // Pinned outputs: if these change, placement changes for every cluster.
        assert_eq!(vnode_hash("node-1", 0), 0x85dd_7253_e566_172d);
        assert_eq!(vnode_hash("node-1", 149), 0x70f9_1e0e_4f82_595e);
    }
}

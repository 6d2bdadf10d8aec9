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

    #[test]
    fn fnv1a64_matches_published_vectors() {
        // Vectors from the FNV reference (isthe.com/chongo/tech/comp/fnv).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn stable_hash_is_pinned() {
        // Pinned outputs: if these change, placement changes for every cluster.
        assert_eq!(fmix64(0), 0);
        assert_eq!(stable_hash(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(stable_hash(b"order-42"), PINNED_ORDER_42);
        assert_eq!(vnode_hash("node-1", 0), PINNED_NODE1_V0);
        assert_eq!(vnode_hash("node-1", 149), PINNED_NODE1_V149);
    }

    const PINNED_ORDER_42: u64 = 0x8e47_543c_313c_6386;
    const PINNED_NODE1_V0: u64 = 0x85dd_7253_e566_172d;
    const PINNED_NODE1_V149: u64 = 0x70f9_1e0e_4f82_595e;

    #[test]
    fn range_mapping_is_in_bounds() {
        assert_eq!(hash_to_range(u64::MAX, 1024), 1023);
        assert_eq!(hash_to_range(0, 1024), 0);
        assert_eq!(hash_to_range(u64::MAX, 0), 0);
    }
}

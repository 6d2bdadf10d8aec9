//! The stable hash behind every placement decision: an actor's runtime shard
//! and its event log partition both come from [`shard_of`].
//!
//! Placement must agree across processes, platforms and releases, so it never
//! uses std's randomly seeded hasher. Aether uses **64-bit FNV-1a** (offset
//! basis `0xcbf29ce484222325`, prime `0x100000001b3`, bytes in order) followed
//! by the **MurmurHash3 `fmix64` finalizer**, which spreads FNV's weak low bits
//! (similar keys such as `node-1#0`, `node-1#1` otherwise land close together),
//! mapped onto `0..n` by **multiply-shift** (Lemire). All three are fixed,
//! public algorithms; the tests below pin known outputs, and changing them is
//! a breaking change of the wire contract (every node of a cluster must place
//! shards identically, and every store must find an actor's partition where
//! it was written).
//!
//! # Why ranges nest
//!
//! Multiply-shift maps a hash `h` onto `0..n` as `⌊h·n / 2⁶⁴⌋`. For `k`
//! dividing `n`, `⌊⌊h·n/2⁶⁴⌋ · k/n⌋ = ⌊h·k/2⁶⁴⌋`: the shard of an actor among
//! `k` is the shard among `n` scaled down. So an actor's event-log slice
//! (one of [`SLICES`]) determines its partition among any power of two up to
//! 1,024, and a runtime shard among `S` (a multiple of the partition count)
//! holds actors of exactly one partition ([`nests`]).
//!
//! ```
//! use aether_core::ActorId;
//! use aether_core::hash::{SLICES, shard_of, slice_of};
//!
//! let actor = ActorId::new("counter-py1").unwrap();
//! assert_eq!(shard_of(&actor, 1024), 114); // pinned by docs/wire.md
//! assert_eq!(slice_of(&actor), 114);
//! // The partition among 4 is the slice scaled down.
//! assert_eq!(shard_of(&actor, 4), slice_of(&actor) * 4 / SLICES);
//! ```

use crate::id::ActorId;

/// The FNV-1a 64-bit offset basis.
pub const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// The FNV-1a 64-bit prime.
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The fixed number of slices of a partitioned event log: the slice of an
/// actor ([`slice_of`]) is written in its event subject, and a partition is a
/// contiguous range of slices. Equal to the runtime's default shard count,
/// so with default settings shard `s` writes to slice `s`.
pub const SLICES: u32 = 1024;

/// Plain 64-bit FNV-1a of `bytes`.
#[inline]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_continue(FNV_OFFSET_BASIS, bytes)
}

/// Continues an FNV-1a 64-bit hash from state `h` over `bytes`.
#[inline]
pub fn fnv1a64_continue(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The MurmurHash3 64-bit finalizer (`fmix64`).
#[inline]
pub fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Aether's stable hash: `fmix64(fnv1a64(bytes))`.
#[inline]
pub fn stable_hash(bytes: &[u8]) -> u64 {
    fmix64(fnv1a64(bytes))
}

/// Maps a 64-bit hash onto `0..n` without modulo bias (Lemire's multiply-shift).
/// Returns 0 when `n` is 0.
#[inline]
pub fn hash_to_range(hash: u64, n: u32) -> u32 {
    ((u128::from(hash) * u128::from(n)) >> 64) as u32
}

/// The stable hash of an actor: `fmix64(fnv1a64(actor_type ‖ 0x00 ‖ id))`.
/// Actor types and ids never contain NUL, so the input is injective.
#[inline]
pub fn actor_hash(actor: &ActorId) -> u64 {
    let h = fnv1a64(actor.actor_type().as_bytes());
    let h = fnv1a64_continue(h, &[0]);
    fmix64(fnv1a64_continue(h, actor.as_str().as_bytes()))
}

/// The shard of `actor` among `count` ([`actor_hash`] by multiply-shift):
/// the runtime's shard for the runtime's shard count, the log partition for a
/// namespace's partition count. Returns 0 when `count` is 0.
#[inline]
pub fn shard_of(actor: &ActorId, count: u32) -> u32 {
    hash_to_range(actor_hash(actor), count)
}

/// The slice of `actor` in a partitioned event log: its shard among
/// [`SLICES`].
#[inline]
pub fn slice_of(actor: &ActorId) -> u32 {
    shard_of(actor, SLICES)
}

/// Whether shards among `fine` nest in shards among `coarse`: every shard
/// among `fine` holds actors of exactly one shard among `coarse`, namely
/// `s · coarse / fine`. True when `coarse` divides `fine` (and both are above
/// zero).
///
/// ```
/// use aether_core::hash::nests;
/// assert!(nests(1024, 4)); // 1,024 runtime shards over 4 log partitions
/// assert!(nests(4, 4));
/// assert!(!nests(64, 128)); // a shard would span two partitions
/// assert!(!nests(1000, 16));
/// ```
pub fn nests(fine: u32, coarse: u32) -> bool {
    coarse > 0 && fine > 0 && fine.is_multiple_of(coarse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        assert_eq!(stable_hash(b"order-42"), 0x8e47_543c_313c_6386);
    }

    #[test]
    fn actor_shards_are_pinned() {
        // docs/wire.md: counter-py1 is shard 114 of 1,024.
        let a = ActorId::new("counter-py1").unwrap();
        assert_eq!(shard_of(&a, 1024), 114);
        assert_eq!(slice_of(&a), 114);
        assert_eq!(shard_of(&a, 0), 0);
    }

    #[test]
    fn range_mapping_is_in_bounds() {
        assert_eq!(hash_to_range(u64::MAX, 1024), 1023);
        assert_eq!(hash_to_range(0, 1024), 0);
        assert_eq!(hash_to_range(u64::MAX, 0), 0);
    }

    proptest! {
        /// The partition among any power of two up to 1,024 is the slice
        /// scaled down, and a runtime shard among S nests in one partition
        /// among K whenever K divides S.
        #[test]
        fn ranges_nest(h in any::<u64>(), k in 0u32..=10, s in 0u32..=16) {
            let (k, s) = (1u32 << k, 1u32 << s);
            let slice = hash_to_range(h, SLICES);
            prop_assert_eq!(hash_to_range(h, k), slice * k / SLICES);
            if nests(s, k) {
                let shard = hash_to_range(h, s);
                prop_assert_eq!(hash_to_range(h, k), (u64::from(shard) * u64::from(k) / u64::from(s)) as u32);
            }
        }
    }
}

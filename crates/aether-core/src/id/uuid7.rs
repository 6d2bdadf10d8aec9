//! Fresh UUID v7s without a system call each: the milliseconds since the
//! Unix epoch, then 74 random bits from the thread's generator (seeded from
//! the operating system once and reseeded by it now and then, never per
//! id). Event ids and generated command ids are made here: `Uuid::now_v7`
//! asked the kernel for random bytes on every call (a `getrandom` system
//! call per id, two per command).

use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use uuid::{Builder, Uuid};

/// A new UUID v7 (time-ordered to the millisecond; random within it).
pub(crate) fn now_v7() -> Uuid {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    at_millis(millis)
}

/// A new UUID v7 of the given millisecond since the Unix epoch (an event's
/// own timestamp: one clock reading for both).
pub(crate) fn at_millis(millis: u64) -> Uuid {
    let mut random = [0u8; 10];
    rand::rng().fill_bytes(&mut random);
    Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_7_time_ordered_by_the_millisecond_and_distinct() {
        let a = now_v7();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = now_v7();
        assert_eq!(a.get_version_num(), 7);
        assert!(b > a, "a later millisecond sorts later");
        let many: std::collections::HashSet<Uuid> = (0..10_000).map(|_| now_v7()).collect();
        assert_eq!(many.len(), 10_000);
    }
}

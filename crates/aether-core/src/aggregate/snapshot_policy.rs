//! [`SnapshotPolicy`]: when the repository takes a snapshot by itself.

/// When a [`super::Repository`] snapshots an aggregate after a commit.
///
/// The policy is consulted after every successful commit with the version
/// of the aggregate's latest snapshot (`0` when it has none), and its version
/// before and after the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotPolicy {
    /// Never snapshot; every load replays the full history.
    Never,
    /// Snapshot once at least this many events were committed since the
    /// latest snapshot.
    EveryNEvents(u64),
    /// Snapshot when a commit reaches or crosses a multiple of this version
    /// (100, 200, ...), whatever the batch sizes.
    VersionBoundary(u64),
    /// Snapshot on crossing a multiple of `boundary`, but only if at least
    /// `min_events` were committed since the latest snapshot; and always once
    /// `max_events` were.
    Hybrid {
        /// The version boundary.
        boundary: u64,
        /// No snapshot closer than this many events to the latest one.
        min_events: u64,
        /// A snapshot at the latest this many events after the latest one.
        max_events: u64,
    },
}

impl Default for SnapshotPolicy {
    /// Every 100 events.
    fn default() -> Self {
        Self::EveryNEvents(100)
    }
}

impl SnapshotPolicy {
    /// Whether to snapshot after a commit took the aggregate from
    /// `old_version` to `new_version`, the latest snapshot being at
    /// `last_snapshot` (`0` = none). A zero interval never snapshots.
    pub fn should_snapshot(&self, last_snapshot: u64, old_version: u64, new_version: u64) -> bool {
        if new_version <= old_version || new_version <= last_snapshot {
            return false;
        }
        let since = new_version - last_snapshot;
        let crosses = |b: u64| b > 0 && new_version / b > old_version / b;
        match *self {
            Self::Never => false,
            Self::EveryNEvents(n) => n > 0 && since >= n,
            Self::VersionBoundary(b) => crosses(b),
            Self::Hybrid {
                boundary,
                min_events,
                max_events,
            } => {
                (max_events > 0 && since >= max_events)
                    || (crosses(boundary) && since >= min_events)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SnapshotPolicy::*;

    #[test]
    fn every_n_counts_from_the_latest_snapshot() {
        let p = EveryNEvents(10);
        assert!(!p.should_snapshot(0, 0, 9));
        assert!(p.should_snapshot(0, 9, 10));
        assert!(p.should_snapshot(0, 5, 12));
        assert!(!p.should_snapshot(12, 12, 21));
        assert!(p.should_snapshot(12, 21, 22));
        assert!(!EveryNEvents(0).should_snapshot(0, 0, 1000));
    }

    #[test]
    fn boundaries_fire_when_crossed_by_any_batch() {
        let p = VersionBoundary(100);
        assert!(!p.should_snapshot(0, 0, 99));
        assert!(p.should_snapshot(0, 99, 100));
        assert!(p.should_snapshot(0, 98, 103));
        assert!(!p.should_snapshot(100, 100, 199));
        assert!(p.should_snapshot(100, 150, 250));
        assert!(!VersionBoundary(0).should_snapshot(0, 0, 10));
    }

    #[test]
    fn hybrid_respects_min_and_max() {
        let p = Hybrid {
            boundary: 100,
            min_events: 30,
            max_events: 250,
        };
        // Boundary crossed but the last snapshot is only 20 events back.
        assert!(!p.should_snapshot(80, 95, 100));
        // Boundary crossed, far enough.
        assert!(p.should_snapshot(50, 95, 100));
        // No boundary, but max reached.
        assert!(p.should_snapshot(0, 240, 250));
        assert!(p.should_snapshot(1, 250, 251));
        assert!(!p.should_snapshot(201, 210, 240));
    }

    #[test]
    fn never_and_non_advancing() {
        assert!(!Never.should_snapshot(0, 0, 1_000_000));
        assert!(!EveryNEvents(1).should_snapshot(0, 5, 5));
    }
}

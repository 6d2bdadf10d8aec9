//! [`LogCursor`]: where a reader of a (partitioned) global log stands.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::position::LogPosition;
use crate::error::{Error, Result};

/// Where a reader of a store's global log stands: the last position it read
/// in each partition (a **vector of positions**), all of one layout epoch.
/// A partition it names no position for is read from its start.
///
/// A subscription resumes exactly after a cursor: in every partition, the
/// entries after the cursor's position, none before (no gap, no repeat).
/// An unpartitioned log has one partition, so its cursor is one position,
/// written as that position (`42.1`): checkpoints saved before partitions
/// existed read back unchanged.
///
/// ```
/// use aether_core::{LogCursor, LogPosition};
///
/// let mut cursor = LogCursor::new();
/// assert!(cursor.is_empty()); // the log's start
/// cursor.advance(LogPosition::in_partition(0, 10, 0));
/// cursor.advance(LogPosition::in_partition(2, 7, 1));
/// cursor.advance(LogPosition::in_partition(0, 9, 0)); // older: no change
/// assert_eq!(cursor.get(0), Some(LogPosition::new(10, 0)));
/// assert_eq!(cursor.get(1), None);
/// assert!(cursor.covers(&LogPosition::in_partition(2, 7, 0)));
/// assert!(!cursor.covers(&LogPosition::in_partition(2, 7, 2)));
///
/// assert_eq!(cursor.to_string(), "10.0,2:7.1");
/// assert_eq!("10.0,2:7.1".parse::<LogCursor>().unwrap(), cursor);
/// // One position is a cursor too (a checkpoint of an unpartitioned log).
/// assert_eq!(LogCursor::from(LogPosition::new(42, 1)).to_string(), "42.1");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LogCursor {
    /// At most one per partition, sorted by partition, all of one epoch.
    positions: Vec<LogPosition>,
}

impl LogCursor {
    /// The start of the log: nothing read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cursor at `positions`, at most one per partition, all of one epoch.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when two positions name the same partition or
    /// the positions are of different epochs.
    pub fn from_positions(positions: impl IntoIterator<Item = LogPosition>) -> Result<Self> {
        let mut positions: Vec<LogPosition> = positions.into_iter().collect();
        positions.sort_unstable_by_key(|p| p.partition);
        if let Some(w) = positions
            .windows(2)
            .find(|w| w[0].partition == w[1].partition)
        {
            return Err(Error::invalid_input(format!(
                "a log cursor holds one position per partition; partition {} has {} and {}",
                w[0].partition, w[0], w[1]
            )));
        }
        if let Some(first) = positions.first()
            && let Some(other) = positions.iter().find(|p| p.epoch != first.epoch)
        {
            return Err(Error::invalid_input(format!(
                "a log cursor's positions are of one layout epoch, not {} and {}",
                first.epoch, other.epoch
            )));
        }
        Ok(Self { positions })
    }

    /// Whether nothing was read yet (the log's start).
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The layout epoch of the positions (`None` when empty: the start of
    /// any layout).
    pub fn epoch(&self) -> Option<u16> {
        self.positions.first().map(|p| p.epoch)
    }

    /// The last position read in `partition` (`None`: read it from its
    /// start).
    pub fn get(&self, partition: u16) -> Option<LogPosition> {
        self.positions
            .binary_search_by_key(&partition, |p| p.partition)
            .ok()
            .map(|i| self.positions[i])
    }

    /// The positions, by partition.
    pub fn positions(&self) -> &[LogPosition] {
        &self.positions
    }

    /// Records that `position` was read: its partition's position becomes
    /// `position` when that is later. A position of another layout epoch
    /// than the cursor's starts the cursor over at it (a reader that moved
    /// to a repartitioned log).
    pub fn advance(&mut self, position: LogPosition) {
        if self.epoch().is_some_and(|e| e != position.epoch) {
            self.positions.clear();
        }
        match self
            .positions
            .binary_search_by_key(&position.partition, |p| p.partition)
        {
            Ok(i) => {
                if self.positions[i] < position {
                    self.positions[i] = position;
                }
            }
            Err(i) => self.positions.insert(i, position),
        }
    }

    /// Whether `position` was read already: it is at or before the cursor's
    /// position in its partition (same epoch).
    pub fn covers(&self, position: &LogPosition) -> bool {
        self.get(position.partition)
            .is_some_and(|p| p.epoch == position.epoch && *position <= p)
    }

    /// Whether this cursor is at or past `other` in every partition `other`
    /// names (for example: a projection has caught up with the log's
    /// [`crate::EventLog::head`] of an earlier moment).
    ///
    /// ```
    /// use aether_core::LogCursor;
    /// let head: LogCursor = "10.0,1:5.0".parse().unwrap();
    /// let behind: LogCursor = "10.0,1:4.0".parse().unwrap();
    /// let past: LogCursor = "11.0,1:5.0,2:1.0".parse().unwrap();
    /// assert!(!behind.reached(&head) && past.reached(&head) && head.reached(&head));
    /// assert!(past.reached(&LogCursor::new()));
    /// ```
    pub fn reached(&self, other: &LogCursor) -> bool {
        other.positions.iter().all(|p| self.covers(p))
    }

    /// Only the positions of partitions `partitions` (for a reader of a
    /// range of partitions).
    #[must_use]
    pub fn restricted_to(&self, partitions: std::ops::Range<u16>) -> Self {
        Self {
            positions: self
                .positions
                .iter()
                .filter(|p| partitions.contains(&p.partition))
                .copied()
                .collect(),
        }
    }
}

impl From<LogPosition> for LogCursor {
    fn from(position: LogPosition) -> Self {
        Self {
            positions: vec![position],
        }
    }
}

impl From<Option<LogPosition>> for LogCursor {
    fn from(position: Option<LogPosition>) -> Self {
        position.map(Self::from).unwrap_or_default()
    }
}

impl From<&LogCursor> for LogCursor {
    fn from(cursor: &LogCursor) -> Self {
        cursor.clone()
    }
}

impl fmt::Display for LogCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.positions.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl FromStr for LogCursor {
    type Err = Error;

    /// Positions separated by commas (empty text: the log's start).
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::new());
        }
        Self::from_positions(
            s.split(',')
                .map(|p| p.trim().parse::<LogPosition>())
                .collect::<Result<Vec<_>>>()?,
        )
    }
}

impl Serialize for LogCursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LogCursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_validate_and_round_trip() {
        assert_eq!("".parse::<LogCursor>().unwrap(), LogCursor::new());
        assert_eq!(LogCursor::new().to_string(), "");
        for bad in ["1.0,1.1", "1:1.0,1:2.0", "1/1:1.0,2/2:1.0", "x", "1.0,"] {
            assert!(bad.parse::<LogCursor>().is_err(), "{bad}");
        }
        let c: LogCursor = "3:5.0, 1:2.0 ,7.1".parse().unwrap();
        assert_eq!(c.to_string(), "7.1,1:2.0,3:5.0", "sorted by partition");
        assert_eq!(c.epoch(), Some(0));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<LogCursor>(&json).unwrap(), c);
        let e: LogCursor = "1/0:5.0,1/3:2.0".parse().unwrap();
        assert_eq!(e.epoch(), Some(1));
        assert_eq!(e.to_string(), "1/0:5.0,1/3:2.0");
    }

    #[test]
    fn advancing_keeps_the_latest_per_partition_and_a_new_epoch_starts_over() {
        let mut c = LogCursor::new();
        c.advance(LogPosition::in_partition(1, 5, 0));
        c.advance(LogPosition::in_partition(1, 5, 2));
        c.advance(LogPosition::in_partition(1, 4, 9));
        assert_eq!(c.get(1), Some(LogPosition::in_partition(1, 5, 2)));
        assert!(c.covers(&LogPosition::in_partition(1, 5, 1)));
        assert!(!c.covers(&LogPosition::in_partition(0, 1, 0)));
        assert!(!c.covers(&LogPosition::in_partition(1, 5, 1).with_epoch(1)));
        c.advance(LogPosition::in_partition(0, 1, 0).with_epoch(1));
        assert_eq!(
            c.positions(),
            [LogPosition::in_partition(0, 1, 0).with_epoch(1)]
        );
        assert_eq!(
            "1.0,1:2.0,2:3.0"
                .parse::<LogCursor>()
                .unwrap()
                .restricted_to(1..3)
                .to_string(),
            "1:2.0,2:3.0"
        );
    }
}

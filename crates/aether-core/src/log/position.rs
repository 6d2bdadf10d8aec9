//! [`LogPosition`]: where one event sits in a store's global log.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where an event sits in a store's global log: in which partition, at which
/// entry of that partition, at which index inside the entry.
///
/// A log has one or more **partitions** (on JetStream: one stream each; see
/// `docs/architecture.md`, "The partitioned log"); every actor's events are
/// in one partition. `sequence` numbers a partition's entries (on JetStream:
/// the stream sequence of the stored message); `index` is the event's place
/// inside its entry (an atomic append of several events is one entry), `0`
/// for the first. `epoch` is the generation of the log's layout: 0 for a
/// namespace as created; moving a namespace to another layout (a
/// repartition) starts a new epoch, whose positions have nothing to do with
/// the old ones.
///
/// Positions of one partition are ordered by `sequence`, then `index`;
/// positions of different partitions are not causally ordered (the derived
/// order, by epoch, partition, sequence and index, is only a total order for
/// sorting). A reader's place in the whole log is a [`crate::LogCursor`]: one
/// position per partition.
///
/// Written as `sequence.index`, preceded by `partition:` when the partition
/// is not 0 and by `epoch/` when the epoch is not 0:
///
/// ```
/// use aether_core::LogPosition;
/// let p = LogPosition::new(42, 1);
/// assert_eq!(p.to_string(), "42.1");
/// assert_eq!("42.1".parse::<LogPosition>().unwrap(), p);
/// assert!(LogPosition::new(42, 0) < p && p < LogPosition::new(43, 0));
///
/// let q = LogPosition::in_partition(3, 42, 1);
/// assert_eq!(q.to_string(), "3:42.1");
/// assert_eq!(q.with_epoch(1).to_string(), "1/3:42.1");
/// assert_eq!("1/3:42.1".parse::<LogPosition>().unwrap(), q.with_epoch(1));
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct LogPosition {
    /// The generation of the log's layout (0 unless the namespace was
    /// repartitioned).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u16,
    /// The partition holding the event, from 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub partition: u16,
    /// The entry's sequence in its partition, from 1.
    pub sequence: u64,
    /// The event's index inside the entry, from 0.
    pub index: u32,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

impl LogPosition {
    /// The position of event `index` of entry `sequence` of partition 0 (the
    /// only partition of an unpartitioned log).
    pub const fn new(sequence: u64, index: u32) -> Self {
        Self::in_partition(0, sequence, index)
    }

    /// The position of event `index` of entry `sequence` of `partition`.
    pub const fn in_partition(partition: u16, sequence: u64, index: u32) -> Self {
        Self {
            epoch: 0,
            partition,
            sequence,
            index,
        }
    }

    /// The same position in layout generation `epoch`.
    #[must_use]
    pub const fn with_epoch(mut self, epoch: u16) -> Self {
        self.epoch = epoch;
        self
    }

    /// Whether `self` and `other` are in the same partition of the same
    /// layout (so their order is the log's order).
    pub fn same_partition(&self, other: &LogPosition) -> bool {
        (self.epoch, self.partition) == (other.epoch, other.partition)
    }
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}/{}:", self.epoch, self.partition)?;
        } else if self.partition != 0 {
            write!(f, "{}:", self.partition)?;
        }
        write!(f, "{}.{}", self.sequence, self.index)
    }
}

impl FromStr for LogPosition {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid_input(format!(
                "{s:?} is not a log position ([epoch/][partition:]sequence.index)"
            ))
        };
        let (epoch, rest) = match s.split_once('/') {
            Some((e, rest)) => (e.parse().map_err(|_| bad())?, rest),
            None => (0, s),
        };
        let (partition, rest) = match rest.split_once(':') {
            Some((p, rest)) => (p.parse().map_err(|_| bad())?, rest),
            None => (0, rest),
        };
        let (seq, idx) = rest.split_once('.').ok_or_else(bad)?;
        Ok(Self {
            epoch,
            partition,
            sequence: seq.parse().map_err(|_| bad())?,
            index: idx.parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_order() {
        for bad in [
            "1",
            "a.b",
            "1.-1",
            "x:1.0",
            "1/1.0.0",
            "/1.0",
            "1:",
            "70000:1.0",
        ] {
            assert!(bad.parse::<LogPosition>().is_err(), "{bad}");
        }
        let p: LogPosition = "7.0".parse().unwrap();
        assert_eq!(p, LogPosition::new(7, 0));
        assert!(LogPosition::new(7, 9) < LogPosition::new(8, 0));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json, r#"{"sequence":7,"index":0}"#,
            "unpartitioned JSON as before"
        );
        assert_eq!(serde_json::from_str::<LogPosition>(&json).unwrap(), p);
        let q = LogPosition::in_partition(5, 7, 2).with_epoch(2);
        let json = serde_json::to_string(&q).unwrap();
        assert_eq!(serde_json::from_str::<LogPosition>(&json).unwrap(), q);
        for text in [
            "0.0",
            "5:7.2",
            "2/5:7.2",
            "2/0:7.2",
            "65535/65535:18446744073709551615.4294967295",
        ] {
            let parsed: LogPosition = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!("0:7.2".parse::<LogPosition>().unwrap().to_string(), "7.2");
        assert!(q.same_partition(&LogPosition::in_partition(5, 1, 0).with_epoch(2)));
        assert!(!q.same_partition(&LogPosition::in_partition(5, 1, 0)));
    }
}

//! Operating a namespace's partitions: what each stream looks like now
//! ([`PartitionInfo`]), spreading their leaders over the servers
//! ([`JetStreamEventStore::balance_leaders`]), and moving a partition's
//! stream to other servers online ([`JetStreamEventStore::move_partition`]).
//! See `docs/operations.md`, "Partitions".

mod info;
mod leaders;
mod moves;

pub use info::PartitionInfo;
pub use leaders::LeaderMove;

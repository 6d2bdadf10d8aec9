//! Cluster layer of Aether.
//!
//! Will hold the consistent hash ring, shards and placement strategies, the
//! rebalance planner, membership and failure detection over NATS, and leader
//! election with fencing tokens.

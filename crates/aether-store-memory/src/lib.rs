//! In-memory event and snapshot store for Aether.
//!
//! Will hold `InMemoryEventStore` and `InMemorySnapshotStore`.

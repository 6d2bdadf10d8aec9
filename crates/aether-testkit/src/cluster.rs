//! [`NatsCluster`]: three routed nats-server processes for tests.

/// A 3-node NATS cluster (placeholder; being implemented).
#[derive(Debug)]
pub struct NatsCluster {}

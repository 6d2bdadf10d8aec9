//! [`NatsServer`]: a real nats-server process for tests.

/// A running `nats-server` (placeholder; being implemented).
#[derive(Debug)]
pub struct NatsServer {}

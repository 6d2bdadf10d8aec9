//! [`NatsBusConfig`]: settings of a [`super::NatsEventBus`].

use std::time::Duration;

/// Settings of a [`super::NatsEventBus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsBusConfig {
    /// Subject prefix (valid NATS tokens, no wildcards). Events of namespace
    /// `ns` travel on `<prefix>.ev.<ns>`, `EventStored` notifications on
    /// `<prefix>.stored`. Buses only see each other with the same prefix.
    /// Default `"aether.bus"`.
    pub subject_prefix: String,
    /// This node's id (`[A-Za-z0-9_-]`, at most 64 bytes), sent with every
    /// publication so the node can skip its own messages and receivers can
    /// detect gaps. Default: a random UUID.
    pub node_id: Option<String>,
    /// How long [`crate::EventBus::subscribe`] waits for the server to confirm a new
    /// NATS subscription before returning anyway, and how long
    /// [`super::NatsEventBus::shutdown`] waits for its final flush. Default 5 s.
    pub subscribe_confirm_timeout: Duration,
    /// Publications waiting to be handed to the NATS client, at most (at
    /// least 1). A publisher waits while the queue is full: backpressure,
    /// nothing is dropped. Default 8,192.
    pub outbox_capacity: usize,
    /// The largest NATS message the bus builds from queued publications:
    /// consecutive events of one namespace that queue up while the client is
    /// busy travel together, one frame each (see `NatsEventBus`), up
    /// to this many bytes (and never over the server's maximum payload). An
    /// event alone is never delayed to wait for others. `0` sends every event
    /// as a message of its own. Default 64 KiB.
    pub max_batch_bytes: usize,
}

impl Default for NatsBusConfig {
    fn default() -> Self {
        Self {
            subject_prefix: "aether.bus".into(),
            node_id: None,
            subscribe_confirm_timeout: Duration::from_secs(5),
            outbox_capacity: 8192,
            max_batch_bytes: 64 * 1024,
        }
    }
}

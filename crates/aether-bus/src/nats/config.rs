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
}

impl Default for NatsBusConfig {
    fn default() -> Self {
        Self {
            subject_prefix: "aether.bus".into(),
            node_id: None,
            subscribe_confirm_timeout: Duration::from_secs(5),
        }
    }
}

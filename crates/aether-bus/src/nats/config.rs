//! [`NatsBusConfig`]: settings of a [`super::NatsEventBus`].

use std::time::Duration;

use aether_core::{MAX_DURATION, NodeId};
use aether_nats::ConnectConfig;

use crate::error::{BusError, BusErrorKind};
use crate::pattern::validate_namespace;

/// Settings of a [`super::NatsEventBus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsBusConfig {
    /// Subject prefix (valid NATS tokens, no wildcards). Events of namespace
    /// `ns` travel on `<prefix>.ev.<ns>`, `EventStored` notifications on
    /// `<prefix>.stored`. Buses only see each other with the same prefix.
    /// Default `"aether.bus"`.
    pub subject_prefix: String,
    /// This node's id, sent with every publication so the node can skip its
    /// own messages and receivers can detect gaps. Use the same id as the
    /// process's cluster node. Default `None`: a random one
    /// ([`NodeId::random`]) for each bus opened, so two buses opened with one
    /// configuration never take each other for themselves.
    pub node_id: Option<NodeId>,
    /// How [`super::NatsEventBus::connect`] dials (timeout, client name);
    /// unused by `open`.
    pub connect: ConnectConfig,
    /// How long [`crate::EventBus::subscribe`] waits for the server to confirm a new
    /// NATS subscription before returning anyway, and how long
    /// [`super::NatsEventBus::shutdown`] waits for its final flush (above zero,
    /// at most [`aether_core::MAX_DURATION`]). Default 5 s.
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
            connect: ConnectConfig::default(),
            subscribe_confirm_timeout: Duration::from_secs(5),
            outbox_capacity: 8192,
            max_batch_bytes: 64 * 1024,
        }
    }
}

impl NatsBusConfig {
    /// Checks every field; the error names the bad one.
    pub fn validate(&self) -> Result<(), BusError> {
        validate_namespace(&self.subject_prefix).map_err(|e| {
            BusError::new(
                BusErrorKind::InvalidOptions,
                format!("invalid subject prefix: {e}"),
            )
        })?;
        if self.outbox_capacity == 0 {
            return Err(BusError::new(
                BusErrorKind::InvalidOptions,
                "outbox_capacity must be at least 1",
            ));
        }
        if self.subscribe_confirm_timeout.is_zero() || self.subscribe_confirm_timeout > MAX_DURATION
        {
            return Err(BusError::new(
                BusErrorKind::InvalidOptions,
                format!(
                    "subscribe_confirm_timeout must be above zero and at most {MAX_DURATION:?}, got {:?}",
                    self.subscribe_confirm_timeout
                ),
            ));
        }
        self.connect
            .validate()
            .map_err(|e| e.map_kind(BusErrorKind::from))?;
        Ok(())
    }
}

//! [`CommandOutcome`]: what a committed command did.

use std::fmt;
use std::sync::Arc;

use aether_core::CommandId;
use aether_core::aggregate::EventEnvelope;
use bytes::Bytes;

/// A command that took effect: the events it wrote and the version after it.
///
/// The same outcome comes back for a retry with the same command id
/// (`deduplicated` is then `true`, and the events are those stored the first
/// time), as long as the actor still remembers the id (its dedupe window).
#[derive(Clone)]
#[non_exhaustive]
pub struct CommandOutcome<E> {
    /// The command's id.
    pub command_id: CommandId,
    /// The actor's version once the command took effect (its last event's
    /// version; the version it found when it wrote nothing).
    pub version: u64,
    /// The events the command wrote, as stored (empty when it decided on
    /// none).
    pub events: Vec<EventEnvelope<E>>,
    /// Whether this is the recorded outcome of an earlier delivery of the
    /// same command id, not a new decision.
    pub deduplicated: bool,
    /// The events as the turn encoded them (JSON of `aether_core::Event`),
    /// kept for a routed caller so that its reply is built without
    /// encoding them again; `None` for local callers.
    pub(crate) stored: Option<Arc<[Bytes]>>,
}

impl<E> CommandOutcome<E> {
    pub(crate) fn new(
        command_id: CommandId,
        version: u64,
        events: Vec<EventEnvelope<E>>,
        deduplicated: bool,
    ) -> Self {
        Self {
            command_id,
            version,
            events,
            deduplicated,
            stored: None,
        }
    }

    /// The version of the first event written (`version + 1` when none was).
    pub fn first_version(&self) -> u64 {
        self.version + 1 - self.events.len() as u64
    }
}

impl<E: fmt::Debug> fmt::Debug for CommandOutcome<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandOutcome")
            .field("command_id", &self.command_id)
            .field("version", &self.version)
            .field("events", &self.events)
            .field("deduplicated", &self.deduplicated)
            .finish()
    }
}

/// Equal when they say the same: the encoded copy kept for a routed caller
/// does not count.
impl<E: PartialEq> PartialEq for CommandOutcome<E> {
    fn eq(&self, other: &Self) -> bool {
        self.command_id == other.command_id
            && self.version == other.version
            && self.events == other.events
            && self.deduplicated == other.deduplicated
    }
}

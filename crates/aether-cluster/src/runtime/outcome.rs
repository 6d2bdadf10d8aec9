//! [`CommandOutcome`]: what a committed command did.

use aether_core::CommandId;
use aether_core::aggregate::EventEnvelope;

/// A command that took effect: the events it wrote and the version after it.
///
/// The same outcome comes back for a retry with the same command id
/// (`deduplicated` is then `true`, and the events are those stored the first
/// time), as long as the actor still remembers the id (its dedupe window).
#[derive(Debug, Clone, PartialEq)]
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
}

impl<E> CommandOutcome<E> {
    /// The version of the first event written (`version + 1` when none was).
    pub fn first_version(&self) -> u64 {
        self.version + 1 - self.events.len() as u64
    }
}

//! [`CommandOutcome`]: what a committed command did.

use std::fmt;
use std::sync::Arc;

use aether_core::aggregate::EventEnvelope;
use aether_core::{ActorId, CommandId, EventId, Metadata, Timestamp};
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

/// A command's outcome as its actor's turn hands it over: the events it
/// decided not yet in their envelopes. The caller's task puts them in
/// ([`Concluded::into_outcome`]), off the turn: the turn is the serial part
/// of a busy actor, and its callers' tasks run beside it (measured: making
/// the envelopes was an eighth of a busy actor's turn).
pub(crate) struct Concluded<E> {
    /// The outcome; its `events` are empty while `decided` holds them.
    pub(crate) outcome: CommandOutcome<E>,
    pub(crate) decided: Option<Decided<E>>,
}

impl<E> From<CommandOutcome<E>> for Concluded<E> {
    /// An outcome whose events are in their envelopes already (read back
    /// from the log, or none).
    fn from(outcome: CommandOutcome<E>) -> Self {
        Self {
            outcome,
            decided: None,
        }
    }
}

impl<E> Concluded<E> {
    /// The outcome of a command that wrote the events `decided` (the
    /// actor's version after them: the last one's), with their stored form
    /// for a routed caller's reply.
    pub(crate) fn decided(
        command_id: CommandId,
        decided: Decided<E>,
        deduplicated: bool,
        stored: Option<Arc<[Bytes]>>,
    ) -> Self {
        let version = decided.versions().1;
        let mut outcome = CommandOutcome::new(command_id, version, Vec::new(), deduplicated);
        outcome.stored = stored;
        Self {
            outcome,
            decided: Some(decided),
        }
    }

    /// The outcome, its events in envelopes of actor `actor_id`.
    pub(crate) fn into_outcome(self, actor_id: &ActorId) -> CommandOutcome<E> {
        let mut outcome = self.outcome;
        if let Some(decided) = self.decided {
            outcome.events = decided.into_envelopes(actor_id);
        }
        outcome
    }
}

/// The events a command decided, with what their envelopes add (their
/// stored versions run from `first_version`).
#[derive(Clone)]
pub(crate) struct Decided<E> {
    pub(crate) events: Vec<E>,
    pub(crate) ids: EventIds,
    pub(crate) first_version: u64,
    pub(crate) metadata: Metadata,
    pub(crate) timestamp: Timestamp,
}

impl<E> Decided<E> {
    /// The versions of the first and last event (a command that decided
    /// events decided at least one).
    pub(crate) fn versions(&self) -> (u64, u64) {
        let n = self.events.len() as u64;
        (self.first_version, self.first_version + n.max(1) - 1)
    }

    fn into_envelopes(self, actor_id: &ActorId) -> Vec<EventEnvelope<E>> {
        let Self {
            events,
            ids,
            first_version,
            metadata,
            timestamp,
        } = self;
        events
            .into_iter()
            .zip(ids.iter())
            .zip(first_version..)
            .map(|((event, id), version)| EventEnvelope {
                id,
                actor_id: actor_id.clone(),
                version,
                event,
                metadata: metadata.clone(),
                timestamp,
            })
            .collect()
    }
}

/// The ids of a command's events: most commands write one, kept without a
/// heap block.
#[derive(Clone)]
pub(crate) enum EventIds {
    One(EventId),
    Many(Vec<EventId>),
}

impl EventIds {
    /// `n` new ids of the millisecond of `at`.
    pub(crate) fn fresh(at: Timestamp, n: usize) -> Self {
        if n == 1 {
            EventIds::One(EventId::at(at))
        } else {
            EventIds::Many((0..n).map(|_| EventId::at(at)).collect())
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = EventId> + '_ {
        let ids: &[EventId] = match self {
            EventIds::One(id) => std::slice::from_ref(id),
            EventIds::Many(ids) => ids,
        };
        ids.iter().copied()
    }
}

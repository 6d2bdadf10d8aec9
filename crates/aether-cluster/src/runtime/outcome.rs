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

/// A command's outcome as its actor's turn hands it over: its events not
/// yet in their envelopes. The caller's task puts them in
/// ([`Concluded::into_outcome`]), off the turn: the turn is the serial part
/// of a busy actor, and its callers' tasks run beside it (measured: making
/// the envelopes was an eighth of a busy actor's turn).
pub(crate) struct Concluded<E> {
    pub(crate) command_id: CommandId,
    /// As [`CommandOutcome::version`].
    pub(crate) version: u64,
    pub(crate) events: Wrote<E>,
    pub(crate) deduplicated: bool,
    /// As [`CommandOutcome`]'s.
    pub(crate) stored: Option<Arc<[Bytes]>>,
}

impl<E> Concluded<E> {
    /// An outcome whose events are in their envelopes already.
    pub(crate) fn enveloped(
        command_id: CommandId,
        version: u64,
        events: Vec<EventEnvelope<E>>,
        deduplicated: bool,
    ) -> Self {
        Self {
            command_id,
            version,
            events: Wrote::Enveloped(events),
            deduplicated,
            stored: None,
        }
    }

    /// The outcome, its events in envelopes of actor `actor_id`.
    pub(crate) fn into_outcome(self, actor_id: &ActorId) -> CommandOutcome<E> {
        let events = match self.events {
            Wrote::Enveloped(events) => events,
            Wrote::Decided {
                events,
                ids,
                first_version,
                metadata,
                timestamp,
            } => events
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
                .collect(),
        };
        let mut outcome =
            CommandOutcome::new(self.command_id, self.version, events, self.deduplicated);
        outcome.stored = self.stored;
        outcome
    }
}

/// The events a command wrote.
#[derive(Clone)]
pub(crate) enum Wrote<E> {
    /// In their envelopes (read back from the log, or none).
    Enveloped(Vec<EventEnvelope<E>>),
    /// As the command's turn decided them, with what their envelopes add
    /// (their stored versions run from `first_version`).
    Decided {
        events: Vec<E>,
        ids: EventIds,
        first_version: u64,
        metadata: Metadata,
        timestamp: Timestamp,
    },
}

impl<E> Wrote<E> {
    /// The versions of the first and last event, if any.
    pub(crate) fn versions(&self) -> Option<(u64, u64)> {
        match self {
            Wrote::Enveloped(events) => Some((events.first()?.version, events.last()?.version)),
            Wrote::Decided {
                events,
                first_version,
                ..
            } => {
                let n = events.len() as u64;
                (n > 0).then(|| (*first_version, first_version + n - 1))
            }
        }
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

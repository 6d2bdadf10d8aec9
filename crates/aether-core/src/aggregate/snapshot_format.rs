//! The one stored form of an aggregate snapshot: [`SnapshotEnvelope`], the
//! state beside the ids of the commands that wrote the last events
//! ([`RecentCommand`]), marked [`SNAPSHOT_FORMAT`].
//!
//! The [`crate::aggregate::Repository`] and the actor runtime both write this
//! envelope and both read it through [`crate::aggregate::Loader`]. Snapshots
//! written before the envelope existed (a `Repository` of an earlier release
//! stored the bare state) stay readable.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::id::{ActorId, CommandId};
use crate::snapshot::Snapshot;

use super::Aggregate;

/// The `format` marker of a snapshot envelope:
/// `{"format": "aether-runtime/1", "state": …, "recent": [{"id", "first", "last"}, …]}`.
///
/// The name is the one the actor runtime has always written, so snapshots
/// taken before the `Repository` wrote envelopes too keep their meaning.
pub const SNAPSHOT_FORMAT: &str = "aether-runtime/1";

/// Every envelope format, present and future, starts with this: a snapshot
/// whose `format` starts with it but is not [`SNAPSHOT_FORMAT`] is a later
/// envelope, unusable here, never a bare state.
const FORMAT_FAMILY: &str = "aether-runtime/";

/// A command found in an aggregate's history: its id and the versions of
/// the events it wrote (`first..=last`).
///
/// The snapshot envelope keeps the recent ones (so the actor runtime's
/// deduplication survives passivation and restarts), and
/// [`crate::aggregate::Loader::load_with_commands`] reports them, together
/// with the causation ids of the events after the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecentCommand {
    /// The command id (the causation id of its events).
    pub id: CommandId,
    /// The version of its first event.
    pub first: u64,
    /// The version of its last event.
    pub last: u64,
}

impl RecentCommand {
    /// Command `id` wrote versions `first..=last`.
    pub fn new(id: CommandId, first: u64, last: u64) -> Self {
        Self { id, first, last }
    }
}

/// What a snapshot holds, decoded: the aggregate's state, and the recent
/// commands (empty for a bare-state snapshot of an earlier release, and for
/// one a `Repository` wrote: it keeps no dedupe window).
///
/// # Examples
///
/// ```
/// use aether_core::aggregate::{RecentCommand, SnapshotEnvelope, SNAPSHOT_FORMAT};
/// use aether_core::{ActorId, CommandId};
/// # use aether_core::aggregate::{Aggregate, DomainEvent};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
/// # struct Counter { value: u64 }
/// # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// # enum Added { Added(u64) }
/// # impl DomainEvent for Added { fn event_type(&self) -> &'static str { "Added" } }
/// # impl Aggregate for Counter {
/// #     const TYPE: &'static str = "counter";
/// #     type Command = u64;
/// #     type Event = Added;
/// #     type Error = std::convert::Infallible;
/// #     fn handle(&self, by: &u64) -> Result<Vec<Added>, Self::Error> { Ok(vec![Added::Added(*by)]) }
/// #     fn apply(&mut self, Added::Added(by): &Added) { self.value += by }
/// # }
///
/// let id = ActorId::new("counter-1")?;
/// let recent = [RecentCommand::new(CommandId::new("cmd-9")?, 3, 4)];
/// let snap = SnapshotEnvelope::snapshot(&id, 4, &Counter { value: 7 }, &recent)?;
/// assert_eq!(snap.state["format"], SNAPSHOT_FORMAT);
/// assert_eq!(snap.schema_version, Counter::SNAPSHOT_SCHEMA_VERSION);
///
/// let back = SnapshotEnvelope::<Counter>::decode(snap.state)?;
/// assert_eq!((back.state, back.recent), (Counter { value: 7 }, recent.to_vec()));
///
/// // A bare state (what a `Repository` of an earlier release wrote) reads too.
/// let bare = SnapshotEnvelope::<Counter>::decode(serde_json::json!({"value": 7}))?;
/// assert!(bare.recent.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SnapshotEnvelope<A> {
    /// The aggregate's state.
    pub state: A,
    /// The recent commands, oldest first.
    pub recent: Vec<RecentCommand>,
}

/// The envelope as written, borrowing what it holds.
#[derive(Serialize)]
struct Written<'a, A: ?Sized> {
    format: &'static str,
    state: &'a A,
    recent: &'a [RecentCommand],
}

impl<A: Aggregate> SnapshotEnvelope<A> {
    /// The snapshot of `actor_id` at `version`: `state` and `recent` in an
    /// envelope marked [`SNAPSHOT_FORMAT`], stamped with
    /// [`Aggregate::SNAPSHOT_SCHEMA_VERSION`].
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the state does not serialize to JSON
    /// (e.g. a map with non-string keys).
    pub fn snapshot(
        actor_id: &ActorId,
        version: u64,
        state: &A,
        recent: &[RecentCommand],
    ) -> Result<Snapshot, Error> {
        write_snapshot(actor_id, version, state, recent, A::SNAPSHOT_SCHEMA_VERSION)
    }
}

/// The snapshot of `actor_id` at `version`: any serializable `state` (an
/// aggregate's, or a state a behaviour encoded to JSON) and `recent` in an
/// envelope marked [`SNAPSHOT_FORMAT`], stamped with `schema_version` —
/// what [`SnapshotEnvelope::snapshot`] writes for an aggregate.
///
/// # Errors
///
/// [`Error::Serialization`] when the state does not serialize to JSON.
pub fn write_snapshot(
    actor_id: &ActorId,
    version: u64,
    state: &impl Serialize,
    recent: &[RecentCommand],
    schema_version: u32,
) -> Result<Snapshot, Error> {
    let value = serde_json::to_value(Written {
        format: SNAPSHOT_FORMAT,
        state,
        recent,
    })
    .map_err(|e| Error::serialization_with("encoding aggregate state for a snapshot", e))?;
    Ok(Snapshot::new(actor_id.clone(), version, value).with_schema_version(schema_version))
}

impl<S: DeserializeOwned> SnapshotEnvelope<S> {
    /// Decodes a snapshot's stored `state`: an envelope when it is an object
    /// whose `format` is an envelope marker (checked before anything else,
    /// so an envelope is never taken for a bare state, however lenient the
    /// state's `Deserialize`), otherwise a bare state with no recent
    /// commands.
    ///
    /// Does not look at [`Snapshot::schema_version`]; the
    /// [`crate::aggregate::Loader`] ignores snapshots of another schema
    /// before decoding them.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the envelope is of a later format than
    /// [`SNAPSHOT_FORMAT`], has no `state`, or its state or recent commands
    /// do not decode; or when a bare state does not decode.
    pub fn decode(value: Value) -> Result<Self, Error> {
        match value {
            Value::Object(map) if envelope_format(&map).is_some() => Self::open(map),
            bare => serde_json::from_value(bare)
                .map(|state| Self {
                    state,
                    recent: Vec::new(),
                })
                .map_err(|e| Error::serialization_with("decoding a bare snapshot state", e)),
        }
    }

    fn open(mut map: Map<String, Value>) -> Result<Self, Error> {
        let format = envelope_format(&map).unwrap_or_default();
        if format != SNAPSHOT_FORMAT {
            return Err(Error::serialization(format!(
                "snapshot envelope of format {format:?}; this release reads {SNAPSHOT_FORMAT:?}"
            )));
        }
        let state = map
            .remove("state")
            .ok_or_else(|| Error::serialization("snapshot envelope without a state"))?;
        let state = serde_json::from_value(state)
            .map_err(|e| Error::serialization_with("decoding the state of a snapshot", e))?;
        let recent = match map.remove("recent") {
            None | Some(Value::Null) => Vec::new(),
            Some(recent) => serde_json::from_value(recent).map_err(|e| {
                Error::serialization_with("decoding the recent commands of a snapshot", e)
            })?,
        };
        Ok(Self { state, recent })
    }
}

/// The envelope marker of `map`, if it has one.
fn envelope_format(map: &Map<String, Value>) -> Option<&str> {
    map.get("format")
        .and_then(Value::as_str)
        .filter(|f| f.starts_with(FORMAT_FAMILY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::DomainEvent;
    use serde_json::json;

    /// Every field defaults: any object decodes as some `Lenient`.
    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    struct Lenient {
        total: u64,
        format: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    enum Never {}

    impl DomainEvent for Never {
        fn event_type(&self) -> &'static str {
            match *self {}
        }
    }

    impl Aggregate for Lenient {
        const TYPE: &'static str = "lenient";
        type Command = ();
        type Event = Never;
        type Error = std::convert::Infallible;
        fn handle(&self, _: &()) -> Result<Vec<Never>, Self::Error> {
            Ok(Vec::new())
        }
        fn apply(&mut self, event: &Never) {
            match *event {}
        }
    }

    fn cmd(id: &str, first: u64, last: u64) -> RecentCommand {
        RecentCommand::new(CommandId::new(id).unwrap(), first, last)
    }

    #[test]
    fn an_envelope_round_trips_and_is_never_read_as_a_bare_state() {
        let state = Lenient {
            total: 23,
            format: "csv".into(),
        };
        let recent = [cmd("a", 1, 2), cmd("b", 3, 3)];
        let snap =
            SnapshotEnvelope::snapshot(&ActorId::new("lenient-1").unwrap(), 3, &state, &recent)
                .unwrap();
        assert_eq!(snap.version, 3);
        assert_eq!(
            snap.state,
            json!({
                "format": SNAPSHOT_FORMAT,
                "state": {"total": 23, "format": "csv"},
                "recent": [{"id": "a", "first": 1, "last": 2}, {"id": "b", "first": 3, "last": 3}],
            })
        );
        let back = SnapshotEnvelope::<Lenient>::decode(snap.state).unwrap();
        assert_eq!((back.state, back.recent), (state, recent.to_vec()));
    }

    #[test]
    fn bare_states_read_as_before_even_with_a_format_field_of_their_own() {
        let bare = SnapshotEnvelope::<Lenient>::decode(json!({"total": 5, "format": "csv"}));
        let bare = bare.unwrap();
        assert_eq!((bare.state.total, bare.recent.len()), (5, 0));
        // The runtime's envelopes before `recent` was always written.
        let old = json!({"format": SNAPSHOT_FORMAT, "state": {"total": 6}});
        assert_eq!(
            SnapshotEnvelope::<Lenient>::decode(old)
                .unwrap()
                .state
                .total,
            6
        );
    }

    #[test]
    fn later_broken_or_partial_envelopes_are_errors_not_default_states() {
        for value in [
            json!({"format": "aether-runtime/2", "state": {"total": 1}}),
            json!({"format": SNAPSHOT_FORMAT}),
            json!({"format": SNAPSHOT_FORMAT, "state": "x"}),
            json!({"format": SNAPSHOT_FORMAT, "state": {}, "recent": [{"id": ""}]}),
            json!("garbage"),
        ] {
            let err = SnapshotEnvelope::<Lenient>::decode(value.clone()).unwrap_err();
            assert!(matches!(err, Error::Serialization { .. }), "{value}: {err}");
        }
    }
}

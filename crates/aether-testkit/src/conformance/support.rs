//! Helpers shared by the conformance cases.

use aether_core::{ActorId, Error, Event, EventId, EventStore, Result, json};

/// A fresh, unique suffix (a UUID v7) so cases never share actors.
pub(crate) fn unique() -> String {
    EventId::new().to_string()
}

/// A fresh actor `"{prefix}-{uuid}"`.
pub(crate) fn actor(prefix: &str) -> ActorId {
    ActorId::new(format!("{prefix}-{}", unique())).expect("generated actor id is valid")
}

/// An event of type `"Tested"` whose data names its version.
pub(crate) fn ev(actor: &ActorId, version: u64) -> Event {
    Event::new(actor.clone(), version, "Tested", json!({ "v": version }))
}

/// Events `from..=to` for `actor`.
pub(crate) fn evs(actor: &ActorId, from: u64, to: u64) -> Vec<Event> {
    (from..=to).map(|v| ev(actor, v)).collect()
}

/// The versions of `events`.
pub(crate) fn versions(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

/// Reads the whole history of `actor`, panicking with context on error.
pub(crate) async fn read_all<S: EventStore>(store: &S, actor: &ActorId) -> Vec<Event> {
    store
        .read(actor, 0)
        .await
        .unwrap_or_else(|e| panic!("read of {actor:?} failed: {e}"))
}

/// The latest version of `actor`, panicking with context on error.
pub(crate) async fn latest<S: EventStore>(store: &S, actor: &ActorId) -> u64 {
    store
        .latest_version(actor)
        .await
        .unwrap_or_else(|e| panic!("latest_version of {actor:?} failed: {e}"))
}

/// Asserts `result` is a version conflict with these details.
#[track_caller]
pub(crate) fn assert_conflict<T: std::fmt::Debug>(
    result: Result<T>,
    actor: &ActorId,
    attempted: u64,
    current: u64,
    what: &str,
) {
    match result {
        Err(Error::VersionConflict(c)) => {
            assert_eq!(&c.actor_id, actor, "{what}: conflict names the wrong actor");
            assert_eq!(
                c.attempted, attempted,
                "{what}: conflict's attempted version"
            );
            assert_eq!(c.current, current, "{what}: conflict's current version");
        }
        other => panic!(
            "{what}: expected VersionConflict(attempted {attempted}, current {current}), got {other:?}"
        ),
    }
}

/// Asserts `result` is an invalid-input error (not a conflict, not a success).
#[track_caller]
pub(crate) fn assert_invalid<T: std::fmt::Debug>(result: Result<T>, what: &str) {
    match result {
        Err(Error::InvalidInput { .. }) => {}
        other => panic!("{what}: expected Error::InvalidInput, got {other:?}"),
    }
}

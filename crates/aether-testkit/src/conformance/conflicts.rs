//! Cases: version conflicts on single appends and rejection of invalid events.

use aether_core::{Event, EventStore, ExpectedVersion, json};

use super::support::{actor, assert_conflict, assert_invalid, ev, evs, latest, read_all};

/// Appending a version that is already stored is a conflict carrying the
/// actor, the attempted and the current version; the stored event is kept.
pub async fn conflict_on_same_version<S: EventStore>(store: &S) {
    let a = actor("same");
    let first = ev(&a, 1);
    store.append(first.clone()).await.expect("first append");
    let mut other = ev(&a, 1);
    other.data = json!("intruder").into();
    assert_conflict(store.append(other).await, &a, 1, 1, "same version twice");
    assert_eq!(
        read_all(store, &a).await,
        vec![first],
        "the first event stays"
    );
}

/// Appending a version lower than the latest is a conflict naming the real
/// current version.
pub async fn conflict_on_lower_version<S: EventStore>(store: &S) {
    let a = actor("lower");
    store
        .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 5))
        .await
        .expect("batch 1..=5");
    assert_conflict(store.append(ev(&a, 3)).await, &a, 3, 5, "lower version");
    assert_conflict(store.append(ev(&a, 1)).await, &a, 1, 5, "version 1 again");
    store
        .append(ev(&a, 6))
        .await
        .expect("the next version still works");
    assert_eq!(latest(store, &a).await, 6);
}

/// A conflict does not disturb other actors and the message is informative.
pub async fn conflict_displays_details<S: EventStore>(store: &S) {
    let a = actor("shown");
    let b = actor("bystander");
    store.append(ev(&a, 1)).await.expect("append a/1");
    store.append(ev(&b, 1)).await.expect("append b/1");
    let err = store
        .append(ev(&a, 1))
        .await
        .expect_err("duplicate version");
    let text = err.to_string();
    assert!(
        text.contains(a.as_str()) && text.contains("attempted version 1"),
        "conflict message names the actor and the attempted version: {text}"
    );
    assert_eq!(latest(store, &b).await, 1, "the other actor is untouched");
}

/// Invalid events (version 0, empty, overlong or NUL-carrying event type) are
/// rejected as invalid input, alone or inside a batch, and nothing is stored.
pub async fn invalid_events_are_rejected<S: EventStore>(store: &S) {
    let a = actor("invalid");
    let bad = |v: u64, t: &str| Event::new(a.clone(), v, t, json!(null));
    let long_type = "T".repeat(Event::MAX_EVENT_TYPE_LEN + 1);
    let cases = [
        ("version 0", bad(0, "T")),
        ("empty event type", bad(1, "")),
        ("overlong event type", bad(1, &long_type)),
        ("NUL in event type", bad(1, "A\0B")),
    ];
    for (what, event) in cases {
        assert_invalid(store.append(event.clone()).await, what);
        let mut batch = vec![ev(&a, 1)];
        let mut second = event;
        if second.version != 0 {
            second.version = 2;
        }
        batch.push(second);
        assert_invalid(
            store.append_batch(&a, ExpectedVersion::Any, batch).await,
            &format!("batch holding an event with {what}"),
        );
    }
    assert_eq!(
        latest(store, &a).await,
        0,
        "nothing stored after invalid input"
    );
    // The longest valid event type is accepted.
    let ok = bad(1, &"T".repeat(Event::MAX_EVENT_TYPE_LEN));
    store
        .append(ok)
        .await
        .expect("event type of exactly the limit");
}

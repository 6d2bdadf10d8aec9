//! Cases: large payloads, exact round trips of data, metadata and timestamps,
//! data given as JSON text, extreme versions.

use aether_core::{
    Error, Event, EventId, EventStore, ExpectedVersion, Metadata, Payload, Timestamp, json,
};

use super::support::{actor, ev, latest, read_all};

/// A deterministic, non-repeating-looking ASCII string of `len` bytes.
fn blob(len: usize) -> String {
    let mut x: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b'!' + (x % 90) as u8)
        })
        .collect()
}

/// An event whose data holds `len` bytes of text plus a unicode tail.
fn big_event(a: &aether_core::ActorId, version: u64, len: usize) -> Event {
    Event::new(
        a.clone(),
        version,
        "Big",
        json!({ "blob": blob(len), "tail": "end ünï 😀", "len": len }),
    )
}

/// An event with 512 KiB of data is stored and read back byte for byte.
pub async fn large_payload_round_trips<S: EventStore>(store: &S) {
    let a = actor("large");
    let event = big_event(&a, 1, 512 * 1024);
    store
        .append(event.clone())
        .await
        .unwrap_or_else(|e| panic!("a 512 KiB event must be accepted: {e}"));
    let got = read_all(store, &a).await;
    assert_eq!(got.len(), 1);
    assert!(
        got[0] == event,
        "the 512 KiB event came back different (truncated or altered)"
    );
}

/// A 2 MiB event is either stored whole (and read back exactly) or refused
/// with `Error::TooLarge`, storing nothing; never truncated, never a panic.
pub async fn oversized_payload_is_whole_or_too_large<S: EventStore>(store: &S) {
    let a = actor("oversized");
    store.append(ev(&a, 1)).await.expect("small first event");
    let event = big_event(&a, 2, 2 * 1024 * 1024);
    match store.append(event.clone()).await {
        Ok(v) => {
            assert_eq!(v, 2);
            let got = read_all(store, &a).await;
            assert!(
                got.len() == 2 && got[1] == event,
                "a stored 2 MiB event must come back whole"
            );
        }
        Err(Error::TooLarge { size, limit, .. }) => {
            assert!(size > limit, "TooLarge reports size {size} ≤ limit {limit}");
            assert_eq!(latest(store, &a).await, 1, "a refused event stores nothing");
        }
        Err(e) => panic!("a 2 MiB event: expected Ok or Error::TooLarge, got {e:?}"),
    }
    // The actor stays usable either way.
    let next = latest(store, &a).await + 1;
    store
        .append(ev(&a, next))
        .await
        .expect("append after the large one");
}

/// Event ids, types, data, metadata and timestamps (to the nanosecond, also
/// before 1970) come back exactly as appended.
pub async fn events_round_trip_exactly<S: EventStore>(store: &S) {
    let a = actor("roundtrip");
    let metadata = Metadata::new()
        .with_correlation_id("corr-ünï")
        .with_causation_id(EventId::new().to_string())
        .with_user_id("user 😀")
        .with_trace_id("0af7651916cd43dd8448eb211c80319c")
        .with_span_id("b7ad6b7169203331");
    let mut metadata = metadata;
    metadata.insert("custom.key", "value with spaces");
    metadata.insert("ключ", "значение");
    metadata.insert("quotes", "\"quoted\" \\ back\nslash");
    let data = json!({
        "nested": { "list": [1, -2, 3.5, null, true, "x"], "empty": {} },
        "u64_max": u64::MAX,
        "i64_min": i64::MIN,
        "float": 0.25,
        "text": "tab\tnewline\nquote\"nul\u{0}emoji😀",
        "": "empty key",
    });
    let stamps = [
        Timestamp::from_unix_nanos(1_700_000_000_123_456_789).expect("valid"),
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000).expect("valid"),
        Timestamp::from_unix_nanos(-1).expect("valid"),
        Timestamp::from_unix_nanos(1).expect("valid"),
    ];
    let events: Vec<Event> = stamps
        .iter()
        .enumerate()
        .map(|(i, ts)| {
            let mut e = Event::new(
                a.clone(),
                i as u64 + 1,
                format!("Type.{i} ünï"),
                data.clone(),
            )
            .with_metadata(metadata.clone());
            e.timestamp = *ts;
            e
        })
        .collect();
    store
        .append(events[0].clone())
        .await
        .expect("single append");
    store
        .append_batch(&a, ExpectedVersion::Exact(1), events[1..].to_vec())
        .await
        .expect("batch append");
    let got = read_all(store, &a).await;
    assert_eq!(got.len(), events.len());
    for (g, e) in got.iter().zip(&events) {
        assert_eq!(g.id, e.id, "event id");
        assert_eq!(g.event_type, e.event_type, "event type");
        assert_eq!(g.data, e.data, "data");
        assert_eq!(g.metadata, e.metadata, "metadata");
        assert_eq!(g.timestamp, e.timestamp, "timestamp to the nanosecond");
        assert_eq!(g, e, "whole event");
    }
}

/// Data given as JSON text (parsed from any spacing, line breaks included,
/// or encoded from a typed value in its own key order) is stored and read
/// back equal, alone and in a batch: a line break in the given text never
/// splits a stored event.
pub async fn data_given_as_text_round_trips<S: EventStore>(store: &S) {
    #[derive(serde::Serialize)]
    struct Unsorted<'a> {
        z: u8,
        a: &'a str,
    }
    let a = actor("text");
    let data = [
        Payload::parse("{\n  \"b\": 1,\r\n  \"a\": [true, null]\n}").expect("valid JSON"),
        Payload::parse("\r\n[1,\n\t2, \"x\\ny\"]\n").expect("valid JSON"),
        Payload::encode(&Unsorted { z: 1, a: "first" }).expect("encodes"),
        Payload::parse(" 12.50 ").expect("valid JSON"),
        Payload::null(),
    ];
    let events: Vec<Event> = data
        .iter()
        .zip(1u64..)
        .map(|(d, v)| Event::new(a.clone(), v, "Given", d.clone()))
        .collect();
    store
        .append(events[0].clone())
        .await
        .expect("single append");
    store
        .append_batch(&a, ExpectedVersion::Exact(1), events[1..].to_vec())
        .await
        .expect("batch append");
    let got = read_all(store, &a).await;
    assert_eq!(got, events, "data given as text comes back equal");
    assert_eq!(got[0].data, json!({"a": [true, null], "b": 1}));
    assert_eq!(got[2].data, json!({"a": "first", "z": 1}));
    assert_eq!(got[3].data.decode::<f64>().expect("a number"), 12.5);
}

/// Extreme versions never panic: `u64::MAX` may be accepted or refused as
/// invalid input; a batch running past `u64::MAX` is invalid input.
pub async fn extreme_versions_never_panic<S: EventStore>(store: &S) {
    let a = actor("extreme");
    let overflow = vec![ev(&a, u64::MAX - 1), ev(&a, u64::MAX)];
    match store.append_batch(&a, ExpectedVersion::Any, overflow).await {
        Ok(v) => assert_eq!(v, u64::MAX, "a batch ending at u64::MAX"),
        Err(Error::InvalidInput { .. }) => {}
        Err(e) => panic!("batch ending at u64::MAX: expected Ok or InvalidInput, got {e:?}"),
    }
    let b = actor("extreme-exact");
    match store
        .append_batch(&b, ExpectedVersion::Exact(u64::MAX), vec![ev(&b, 1)])
        .await
    {
        Err(Error::InvalidInput { .. }) | Err(Error::VersionConflict(_)) => {}
        other => panic!("Exact(u64::MAX): expected InvalidInput or a conflict, got {other:?}"),
    }
    assert_eq!(latest(store, &b).await, 0);
}

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn actor() -> ActorId {
    ActorId::new("order-1").unwrap()
}

fn round_trip(e: &Event) -> Event {
    Event::from_json_slice(&e.to_json_bytes().unwrap()).unwrap()
}

#[test]
fn empty_and_nested_data_round_trip() {
    for data in [
        json!(null),
        json!({}),
        json!([]),
        json!({"a": {"b": [1, 2, {"c": null}]}, "n": -1.5, "big": u64::MAX}),
    ] {
        let e = Event::new(actor(), 1, "T", data);
        assert_eq!(round_trip(&e), e);
    }
}

#[test]
fn unicode_and_control_characters_round_trip() {
    let e = Event::new(
        ActorId::new("ünï-😀 a.b*>$").unwrap(),
        7,
        "Tÿpe\u{1}",
        json!({"s": "tab\tnl\nnul\u{0}quote\"bs\\ 中文 🚀", "\u{7f}": "\u{2028}"}),
    )
    .with_metadata(Metadata::new().with_user_id("ユーザー\r\n"));
    assert_eq!(round_trip(&e), e);
}

#[test]
fn large_payload_round_trips() {
    let big = "x".repeat(4 * 1024 * 1024);
    let e = Event::new(actor(), 1, "Big", json!({ "blob": big }));
    assert_eq!(round_trip(&e), e);
}

#[test]
fn timestamps_with_offsets_are_read_as_utc() {
    let json = format!(
        r#"{{"id":"{}","event_type":"T","actor_id":"a","version":1,"data":null,"metadata":{{}},"timestamp":"2026-01-01T01:00:00.5+01:00"}}"#,
        EventId::new()
    );
    let e = Event::from_json_slice(json.as_bytes()).unwrap();
    assert_eq!(e.timestamp.to_rfc3339(), "2026-01-01T00:00:00.500000000Z");
}

#[test]
fn wire_format_is_stable() {
    let mut e = Event::new(actor(), 3, "Shipped", json!({"to": "x"}));
    e.id = "0190a5c4-0000-7000-8000-000000000001".parse().unwrap();
    e.timestamp = Timestamp::parse_rfc3339("2026-11-23T17:00:00.000000001Z").unwrap();
    e.metadata.set_correlation_id("c-1");
    let text = String::from_utf8(e.to_json_bytes().unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"id":"0190a5c4-0000-7000-8000-000000000001","event_type":"Shipped","actor_id":"order-1","version":3,"data":{"to":"x"},"metadata":{"correlation_id":"c-1"},"timestamp":"2026-11-23T17:00:00.000000001Z"}"#
    );
}

/// An event read from JSON spread over lines encodes on one line again
/// (stores and the bus put one event per line).
#[test]
fn an_event_read_from_pretty_json_encodes_on_one_line() {
    let e = Event::new(actor(), 1, "T", json!({"a": [1, {"b": null}], "s": "x\ny"}));
    let pretty = serde_json::to_string_pretty(&e).unwrap();
    assert!(pretty.contains('\n'));
    let back = Event::from_json_slice(pretty.as_bytes()).unwrap();
    assert_eq!(back, e);
    assert!(!back.to_json_bytes().unwrap().contains(&b'\n'));
}

/// Regression: data nested deeper than serde_json parses a `Value` was
/// encoded and stored, but the event did not decode again (a malformed
/// event on every replay). Kept as text, it reads back; only asking for a
/// `Value` fails.
#[test]
fn deeply_nested_data_reads_back() {
    let mut v = json!(1);
    for _ in 0..300 {
        v = json!([v]);
    }
    let e = Event::new(actor(), 1, "Deep", v);
    assert_eq!(round_trip(&e).data.as_str(), e.data.as_str());
    assert!(e.data.value().is_err());
}

#[test]
fn invalid_wire_input_is_an_error() {
    for bad in [
        &b""[..],
        b"null",
        b"{",
        b"\xff\xfe",
        br#"{"id":"x"}"#,
        br#"{"id":"0190a5c4-0000-7000-8000-000000000001","event_type":"T","actor_id":"a","version":0,"data":null,"timestamp":"2026-01-01T00:00:00Z"}"#,
        br#"{"id":"0190a5c4-0000-7000-8000-000000000001","event_type":"","actor_id":"a","version":1,"data":null,"timestamp":"2026-01-01T00:00:00Z"}"#,
        br#"{"id":"0190a5c4-0000-7000-8000-000000000001","event_type":"T","actor_id":"","version":1,"data":null,"timestamp":"2026-01-01T00:00:00Z"}"#,
        br#"{"id":"0190a5c4-0000-7000-8000-000000000001","event_type":"T","actor_id":"a","version":1.5,"data":null,"timestamp":"2026-01-01T00:00:00Z"}"#,
        // Well-formed but for one byte that is not UTF-8, inside a string.
        b"{\"id\":\"0190a5c4-0000-7000-8000-000000000001\",\"event_type\":\"T\xff\",\"actor_id\":\"a\",\"version\":1,\"data\":null,\"timestamp\":\"2026-01-01T00:00:00Z\"}",
    ] {
        assert!(Event::from_json_slice(bad).is_err(), "accepted {bad:?}");
    }
}

/// Regression: an event timestamped before year 0 used to validate and encode,
/// but its timestamp string (`-001-..`) does not decode, so a store kept an
/// event no replay could read.
#[test]
fn timestamps_the_wire_cannot_hold_are_invalid() {
    let mut e = Event::new(actor(), 1, "T", json!(null));
    e.timestamp = Timestamp::from_datetime(
        time::OffsetDateTime::from_unix_timestamp_nanos(-62_167_219_200_000_000_001).unwrap(),
    );
    let err = e.validate().unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    e.timestamp = Timestamp::from_unix_nanos(-62_167_219_200_000_000_000).unwrap();
    assert_eq!(round_trip(&e), e);
}

#[test]
fn caused_by_copies_correlation() {
    let cause = Event::new(actor(), 1, "A", json!(null)).with_metadata(
        Metadata::new()
            .with_correlation_id("corr")
            .with_user_id("u"),
    );
    let effect = Event::new(actor(), 2, "B", json!(null)).caused_by(&cause);
    assert_eq!(effect.metadata.correlation_id(), Some("corr"));
    assert_eq!(
        effect.metadata.causation_id(),
        Some(cause.id.to_string().as_str())
    );
    assert_eq!(effect.metadata.user_id(), Some("u"));
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Event::from_json_slice(&bytes);
    }

    #[test]
    fn arbitrary_events_round_trip(
        id in "\\PC{1,40}",
        ty in "\\PC{1,20}",
        version in 1u64..,
        s in "\\PC{0,64}",
        key in "\\PC{0,10}",
        value in "\\PC{0,10}",
        nanos in -10_000_000_000_000_000_000i128..10_000_000_000_000_000_000i128,
    ) {
        prop_assume!(!id.contains('\0') && !ty.contains('\0'));
        let mut e = Event::new(ActorId::new(&id).unwrap(), version, ty, json!({"s": s, "n": [version]}));
        e.metadata.insert(key, value);
        e.timestamp = Timestamp::from_unix_nanos(nanos).unwrap();
        prop_assert_eq!(round_trip(&e), e);
    }
}

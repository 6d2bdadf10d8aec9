//! The stored format: one-event messages carry only the expected-sequence
//! header; histories written in the previous format (`Nats-Msg-Id` and
//! `Aether-Version` on every event, `Aether-Event-Id` on atomic-batch
//! messages) are read, searched, extended and retried exactly as before.

mod support;

use aether_core::{Event, EventStore, ExpectedVersion};
use aether_store_jetstream::{HEADER_EVENT_ID, HEADER_VERSION, JetStreamEventStore};
use aether_testkit::NatsServer;
use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
use bytes::Bytes;
use support::{actor, ev, store};

fn versions(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

/// Publishes `event` as the previous format stored it: its JSON with the
/// message id, version and expected-sequence headers (`id_header` names the
/// id header: `Nats-Msg-Id`, or `Aether-Event-Id` as on batch messages).
/// Returns the stream sequence.
async fn publish_previous(
    s: &JetStreamEventStore,
    event: &Event,
    expected: u64,
    id_header: &str,
) -> u64 {
    let mut h = async_nats::HeaderMap::new();
    h.insert(id_header, event.id.to_string().as_str());
    h.insert(HEADER_VERSION, event.version.to_string().as_str());
    h.insert(
        NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
        expected.to_string().as_str(),
    );
    let payload = Bytes::from(event.to_json_bytes().unwrap());
    support::publish_raw(s, &event.actor_id, Some(h), payload).await
}

#[tokio::test]
async fn one_event_messages_carry_only_the_expected_sequence() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("fmt");
    s.append(ev(&a, 1)).await.unwrap();
    let js = async_nats::jetstream::new(s.client().clone());
    let stream = js.get_stream(s.stream_name()).await.unwrap();
    let last = stream
        .get_last_raw_message_by_subject(&s.subject_for(&a))
        .await
        .unwrap();
    let names: Vec<String> = last.headers.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(names, [NATS_EXPECTED_LAST_SUBJECT_SEQUENCE.to_string()]);
    assert_eq!(
        Event::from_json_slice(&last.payload).unwrap().version,
        1,
        "the version is read from the payload"
    );
}

#[tokio::test]
async fn a_history_in_the_previous_format_reads_extends_and_retries_as_before() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("old");
    // 300 events as the previous format wrote them (more than a direct
    // replay reads, so reads from late versions search the start).
    let mut seq = 0;
    let old: Vec<Event> = (1..=300).map(|v| ev(&a, v)).collect();
    for (i, e) in old.iter().enumerate() {
        let header = if i % 50 == 49 {
            HEADER_EVENT_ID
        } else {
            NATS_MESSAGE_ID.as_ref()
        };
        seq = publish_previous(&s, e, seq, header).await;
    }
    // A cold store reads the tip from the old headers.
    let cold = JetStreamEventStore::open_existing(s.client().clone(), s.config().clone())
        .await
        .unwrap();
    assert_eq!(cold.latest_version(&a).await.unwrap(), 300);
    // Retrying the last old event (its ack lost) lands nothing new.
    assert_eq!(cold.append(old[299].clone()).await.unwrap(), 300);
    // New-format events after the old ones.
    for v in 301..=320 {
        cold.append(ev(&a, v)).await.unwrap();
    }
    // A retry of an event with others after it is recognised too.
    assert_eq!(cold.append(old[150].clone()).await.unwrap(), 151);
    let all = cold.read(&a, 1).await.unwrap();
    assert_eq!(versions(&all), (1..=320).collect::<Vec<_>>());
    assert_eq!(all[0].id, old[0].id);
    // Reads from late versions find their start in either format.
    for from in [2, 150, 290, 300, 301, 315, 320] {
        let tail = cold.read(&a, from).await.unwrap();
        assert_eq!(
            versions(&tail),
            (from..=320).collect::<Vec<_>>(),
            "from {from}"
        );
    }
    assert_eq!(cold.latest_version(&a).await.unwrap(), 320);
    // A conflict is still a conflict.
    let err = cold
        .append_batch(&a, ExpectedVersion::Exact(300), vec![ev(&a, 301)])
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    // A new-format tip is read from its payload by a cold store.
    let fresh = JetStreamEventStore::open_existing(s.client().clone(), s.config().clone())
        .await
        .unwrap();
    assert_eq!(fresh.latest_version(&a).await.unwrap(), 320);
    assert_eq!(fresh.append(ev(&a, 321)).await.unwrap(), 321);
}

/// An event's stored message is its JSON, the data inline as the JSON it is
/// (kept as text, the store writes it as it is): byte for byte what the store
/// wrote when data was a `serde_json::Value`.
#[tokio::test]
async fn the_stored_event_json_is_unchanged_with_the_data_inline() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = aether_core::ActorId::new("fmt-bytes").unwrap();
    let mut e = Event::new(
        a.clone(),
        1,
        "Shipped",
        aether_core::json!({"to": "x", "items": [1, 2.5, null], "big": u64::MAX}),
    );
    e.id = "0190a5c4-0000-7000-8000-000000000001".parse().unwrap();
    e.timestamp = aether_core::Timestamp::parse_rfc3339("2026-11-23T17:00:00.000000001Z").unwrap();
    e.metadata.set_correlation_id("c-1");
    s.append(e.clone()).await.unwrap();
    let js = async_nats::jetstream::new(s.client().clone());
    let stream = js.get_stream(s.stream_name()).await.unwrap();
    let last = stream
        .get_last_raw_message_by_subject(&s.subject_for(&a))
        .await
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&last.payload).unwrap(),
        r#"{"id":"0190a5c4-0000-7000-8000-000000000001","event_type":"Shipped","actor_id":"fmt-bytes","version":1,"data":{"big":18446744073709551615,"items":[1,2.5,null],"to":"x"},"metadata":{"correlation_id":"c-1"},"timestamp":"2026-11-23T17:00:00.000000001Z"}"#
    );
    assert_eq!(s.read(&a, 1).await.unwrap(), vec![e]);
}

/// Events another writer stored, with spacing inside their data, read back
/// with that data (equal as JSON; decoded on request).
#[tokio::test]
async fn data_written_with_spacing_by_another_writer_reads_back() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = aether_core::ActorId::new("fmt-spaced").unwrap();
    // One line: a message holds events one per line.
    let text = concat!(
        r#"{ "id" : "0190a5c4-0000-7000-8000-000000000002", "event_type": "Opened", "#,
        r#""actor_id": "fmt-spaced", "version": 1, "#,
        r#""data": { "owner" : "ada", "limits": [ 1 , 2 ] }, "#,
        r#""metadata": {}, "timestamp": "2026-01-01T00:00:00Z" }"#
    );
    let mut h = async_nats::HeaderMap::new();
    h.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "0");
    support::publish_raw(&s, &a, Some(h), Bytes::from(text)).await;
    let got = s.read(&a, 1).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].data,
        aether_core::json!({"limits": [1, 2], "owner": "ada"})
    );
    assert_eq!(
        got[0].data.value().unwrap()["owner"],
        aether_core::json!("ada")
    );
    assert_eq!(s.latest_version(&a).await.unwrap(), 1);
    s.append(ev(&a, 2)).await.unwrap();
    assert_eq!(versions(&s.read(&a, 1).await.unwrap()), [1, 2]);
}

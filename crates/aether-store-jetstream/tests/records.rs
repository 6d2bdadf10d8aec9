//! Appends of several events stored as one message (one event per line), read
//! back beside one-event messages; lost acks and later writers; a long history
//! of such messages searched by version; a malformed line spoiling only itself.

mod support;

use aether_core::{Event, EventStore, ExpectedVersion};
use aether_store_jetstream::{HEADER_COUNT, HEADER_VERSION, JetStreamEventStore};
use aether_testkit::NatsServer;
use async_nats::header::NATS_MESSAGE_ID;
use support::{actor, ev, store};

fn versions(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

/// The stream's message count and the raw last message of `actor`'s subject.
async fn raw_view(
    s: &JetStreamEventStore,
    subject: &str,
) -> (u64, async_nats::jetstream::message::StreamMessage) {
    let js = async_nats::jetstream::new(s.client().clone());
    let mut stream = js.get_stream(s.stream_name()).await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    let last = stream
        .get_last_raw_message_by_subject(subject)
        .await
        .unwrap();
    (messages, last)
}

#[tokio::test]
async fn several_events_are_one_message_and_read_like_single_ones() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("rec");
    s.append(ev(&a, 1)).await.unwrap();
    let batch: Vec<Event> = (2..=6).map(|v| ev(&a, v)).collect();
    let last_id = batch[4].id;
    assert_eq!(
        s.append_batch(&a, ExpectedVersion::Exact(1), batch)
            .await
            .unwrap(),
        6
    );
    let (messages, last) = raw_view(&s, &s.subject_for(&a)).await;
    assert_eq!(
        messages, 2,
        "one message for the single event, one for the five"
    );
    assert_eq!(last.headers.get(HEADER_COUNT).unwrap().as_str(), "5");
    assert_eq!(last.headers.get(HEADER_VERSION).unwrap().as_str(), "6");
    assert_eq!(
        last.headers.get(NATS_MESSAGE_ID).unwrap().as_str(),
        last_id.to_string()
    );
    assert_eq!(last.payload.iter().filter(|b| **b == b'\n').count(), 4);
    s.append(ev(&a, 7)).await.unwrap();

    assert_eq!(
        versions(&s.read(&a, 1).await.unwrap()),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(versions(&s.read(&a, 4).await.unwrap()), [4, 5, 6, 7]);
    assert_eq!(s.latest_version(&a).await.unwrap(), 7);
    // A fresh store (no cache) reads the tip from the record's headers.
    let again = JetStreamEventStore::connect(server.url(), s.config().clone())
        .await
        .unwrap();
    assert_eq!(again.latest_version(&a).await.unwrap(), 7);
    assert_eq!(versions(&again.read(&a, 6).await.unwrap()), [6, 7]);
}

#[tokio::test]
async fn a_repeated_append_of_the_same_events_lands_once() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("rec");
    let batch: Vec<Event> = (1..=3).map(|v| ev(&a, v)).collect();
    s.append_batch(&a, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    // As after a lost ack: the caller sends the same events again.
    assert_eq!(
        s.append_batch(&a, ExpectedVersion::NoStream, batch.clone())
            .await
            .unwrap(),
        3
    );
    // ... also once another writer has appended after them.
    let other = JetStreamEventStore::connect(server.url(), s.config().clone())
        .await
        .unwrap();
    other.append(ev(&a, 4)).await.unwrap();
    assert_eq!(
        s.append_batch(&a, ExpectedVersion::NoStream, batch)
            .await
            .unwrap(),
        3
    );
    assert_eq!(versions(&s.read(&a, 1).await.unwrap()), [1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_of_records_is_searched_by_version() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("rec");
    let mut v = 0;
    // 3,500 events in messages of 7: a late start binary-searches them.
    while v < 3_500 {
        let batch: Vec<Event> = (v + 1..=v + 7).map(|x| ev(&a, x)).collect();
        v = s
            .append_batch(&a, ExpectedVersion::Exact(v), batch)
            .await
            .unwrap();
    }
    for from in [2_997, 3_000, 3_001, 3_494, 3_500] {
        let tail = s.read(&a, from).await.unwrap();
        assert_eq!(tail.first().map(|e| e.version), Some(from), "from {from}");
        assert_eq!(tail.len() as u64, 3_501 - from);
    }
    assert!(s.read(&a, 3_501).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_malformed_line_in_a_record_spoils_only_itself() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("rec");
    s.append(ev(&a, 1)).await.unwrap();
    // A foreign writer's message: good, garbage, good.
    let mut payload = ev(&a, 2).to_json_bytes().unwrap();
    payload.extend_from_slice(b"\nnot an event\n");
    payload.extend_from_slice(&ev(&a, 3).to_json_bytes().unwrap());
    let js = async_nats::jetstream::new(s.client().clone());
    let seq = js
        .publish(s.subject_for(&a), payload.into())
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence;
    let replay = s.read_with_errors(&a, 1).await.unwrap();
    assert_eq!(versions(&replay.events), [1, 2, 3]);
    assert_eq!(replay.malformed.len(), 1);
    assert_eq!(replay.malformed[0].position, seq);
    assert_eq!(&replay.malformed[0].raw[..], b"not an event");
    assert!(
        s.read(&a, 1).await.is_err(),
        "read refuses a malformed history"
    );
}

/// A snapshot saved through `open_snapshot_store` records where its last
/// event is; a replay after reading it starts there. The record is checked
/// before use: after the event stream was recreated it is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_tells_the_replay_where_to_start_and_a_stale_hint_is_ignored() {
    use aether_core::{Snapshot, SnapshotStore, json};
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let snaps = s.open_snapshot_store().await.unwrap();
    let a = actor("hint");
    for v in 1..=300 {
        s.append(ev(&a, v)).await.unwrap();
    }
    snaps
        .save_snapshot(Snapshot::new(a.clone(), 300, json!({"n": 300})))
        .await
        .unwrap();
    for v in 301..=320 {
        s.append(ev(&a, v)).await.unwrap();
    }
    // Another process: new connection, new stores.
    let s2 = JetStreamEventStore::connect(server.url(), s.config().clone())
        .await
        .unwrap();
    let snaps2 = s2.open_snapshot_store().await.unwrap();
    let snap = snaps2.latest_snapshot(&a).await.unwrap().unwrap();
    assert_eq!(snap.version, 300);
    assert_eq!(
        versions(&s2.read(&a, 301).await.unwrap()),
        (301..=320).collect::<Vec<_>>()
    );

    // The event stream is deleted and written anew, shorter: the snapshot's
    // record now points past the history.
    let js = async_nats::jetstream::new(s2.client().clone());
    js.delete_stream(s2.stream_name()).await.unwrap();
    let s3 = JetStreamEventStore::connect(server.url(), s.config().clone())
        .await
        .unwrap();
    let snaps3 = s3.open_snapshot_store().await.unwrap();
    // Another actor first, so the sequences shift.
    let other = actor("other");
    for v in 1..=50 {
        s3.append(ev(&other, v)).await.unwrap();
    }
    for v in 1..=310 {
        s3.append(ev(&a, v)).await.unwrap();
    }
    assert_eq!(
        snaps3.latest_snapshot(&a).await.unwrap().unwrap().version,
        300
    );
    assert_eq!(
        versions(&s3.read(&a, 301).await.unwrap()),
        (301..=310).collect::<Vec<_>>()
    );
}

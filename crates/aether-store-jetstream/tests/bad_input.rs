//! Bad input and bad conditions: garbage on actor subjects, oversized events,
//! invalid ids, versions and namespaces, an unreachable server, a missing stream.

mod support;

use std::time::Duration;

use aether_core::{
    ActorId, Error, Event, EventLog, EventStore, ExpectedVersion, LogSelection, json,
};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use support::{actor, config, ev, store};

/// Publishes raw bytes straight onto the actor's subject and waits for the ack.
async fn publish_raw(s: &JetStreamEventStore, actor: &ActorId, payload: &'static [u8]) -> u64 {
    support::publish_raw(s, actor, None, payload.into()).await
}

#[tokio::test]
async fn malformed_messages_are_reported_and_replay_keeps_going() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("bad");
    s.append(ev(&a, 1)).await.unwrap();
    let garbage = publish_raw(&s, &a, b"\xff\x00 not json").await;
    let not_event = publish_raw(&s, &a, br#"{"hello":"world"}"#).await;
    let empty = publish_raw(&s, &a, b"").await;
    // A well-formed event of another actor, smuggled onto this subject.
    let other = Event::new(actor("other"), 7, "T", json!(null));
    let smuggled = support::publish_raw(&s, &a, None, other.to_json_bytes().unwrap().into()).await;
    // Garbage at the tip: the latest version is the last good event's.
    assert_eq!(s.latest_version(&a).await.unwrap(), 1);
    // Appends still work after garbage.
    s.append(ev(&a, 2)).await.unwrap();
    s.append(ev(&a, 3)).await.unwrap();

    let replay = s.read_with_errors(&a, 1).await.unwrap();
    let versions: Vec<u64> = replay.events.iter().map(|e| e.version).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    let positions: Vec<u64> = replay.malformed.iter().map(|m| m.position).collect();
    assert_eq!(positions, vec![garbage, not_event, empty, smuggled]);
    assert_eq!(&replay.malformed[0].raw[..], b"\xff\x00 not json");
    assert!(replay.malformed.iter().all(|m| !m.error.is_empty()));
    assert!(
        replay.malformed[3].error.contains("belongs to actor"),
        "{}",
        replay.malformed[3].error
    );
    // The strict read refuses, naming the first bad position.
    let err = s.read(&a, 1).await.unwrap_err();
    assert!(matches!(err, Error::Serialization { .. }));
    assert!(
        err.to_string().contains(&format!("position {garbage}")),
        "{err}"
    );
    // The global log reports the same entries at their positions, the
    // smuggled event too (its subject, not its payload, says whose it is).
    let mut sub = s.subscribe(LogSelection::all(), None).await.unwrap();
    let mut bad = Vec::new();
    let mut good = Vec::new();
    for _ in 0..7 {
        let entry = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap()
            .unwrap();
        match entry.event {
            Ok(e) => good.push(e.version),
            Err(m) => {
                assert_eq!(m.position, entry.position.sequence);
                bad.push((m.position, m.error));
            }
        }
    }
    assert_eq!(good, vec![1, 2, 3]);
    let positions: Vec<u64> = bad.iter().map(|b| b.0).collect();
    assert_eq!(positions, vec![garbage, not_event, empty, smuggled]);
    assert!(bad[3].1.contains("belongs to actor"), "{}", bad[3].1);
}

#[tokio::test]
async fn garbage_only_actor_has_version_zero_and_can_start() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("junk");
    publish_raw(&s, &a, b"junk").await;
    assert_eq!(s.latest_version(&a).await.unwrap(), 0);
    assert_eq!(s.read_with_errors(&a, 1).await.unwrap().malformed.len(), 1);
    let v = s
        .append_batch(&a, ExpectedVersion::NoStream, vec![ev(&a, 1)])
        .await
        .unwrap();
    assert_eq!(v, 1);
    assert_eq!(s.latest_version(&a).await.unwrap(), 1);
}

#[tokio::test]
async fn oversized_events_are_refused_naming_the_limit() {
    let server = NatsServer::start().await;
    let small = JetStreamConfig {
        max_event_size: 2_000,
        ..config(1)
    };
    let s = JetStreamEventStore::connect(&server.url(), small)
        .await
        .unwrap();
    let a = actor("big");
    let big = Event::new(a.clone(), 1, "Big", json!("x".repeat(5_000)));
    match s.append(big).await.unwrap_err() {
        Error::TooLarge {
            what, size, limit, ..
        } => {
            assert_eq!((what, limit), ("event", 2_000));
            assert!(size > 5_000);
        }
        e => panic!("expected TooLarge, got {e:?}"),
    }
    // The server's max_payload (1 MiB by default) caps a larger configured limit.
    let s = store(&server.url(), 1).await;
    assert!(s.max_event_size() < 1024 * 1024);
    let huge = Event::new(a.clone(), 1, "Huge", json!("x".repeat(2 * 1024 * 1024)));
    let err = s.append(huge).await.unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == s.max_event_size()),
        "{err:?}"
    );
    assert!(err.to_string().contains("limit"), "{err}");
    // One oversized event spoils its whole batch: nothing stored.
    let batch = vec![
        ev(&a, 1),
        Event::new(a.clone(), 2, "Huge", json!("x".repeat(2 << 20))),
    ];
    assert!(
        s.append_batch(&a, ExpectedVersion::Any, batch)
            .await
            .is_err()
    );
    assert_eq!(s.latest_version(&a).await.unwrap(), 0);
}

#[tokio::test]
async fn invalid_ids_versions_and_namespaces() {
    assert!(ActorId::new("").is_err());
    assert!(ActorId::new("a\0b").is_err());
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("v");
    let err = s.append(ev(&a, 0)).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    let mixed = vec![ev(&a, 1), ev(&actor("w"), 2)];
    assert!(
        s.append_batch(&a, ExpectedVersion::Any, mixed)
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    let gap = vec![ev(&a, 1), ev(&a, 3)];
    assert!(
        s.append_batch(&a, ExpectedVersion::Any, gap)
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    let mut empty_type = ev(&a, 1);
    empty_type.event_type.clear();
    assert!(s.append(empty_type).await.unwrap_err().is_invalid_input());
    assert_eq!(s.latest_version(&a).await.unwrap(), 0);

    for bad in ["a.b", "a b", "a_b", "*", "ü", &"x".repeat(33)] {
        let cfg = JetStreamConfig {
            namespace: bad.to_string(),
            ..config(1)
        };
        let err = JetStreamEventStore::connect(&server.url(), cfg)
            .await
            .unwrap_err();
        assert!(
            err.is_invalid_input() && err.to_string().contains("namespace"),
            "{bad}: {err}"
        );
    }
    let cfg = JetStreamConfig {
        stream_name: "a.b".into(),
        ..config(1)
    };
    assert!(
        JetStreamEventStore::connect(&server.url(), cfg)
            .await
            .unwrap_err()
            .is_invalid_input()
    );
}

#[tokio::test]
async fn unreachable_server_is_unavailable_within_the_timeout() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = JetStreamConfig {
        connect: aether_store_jetstream::ConnectConfig {
            timeout: Duration::from_millis(500),
            ..Default::default()
        },
        ..config(1)
    };
    let url = format!("nats://127.0.0.1:{port}");
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        JetStreamEventStore::connect(&url, cfg),
    )
    .await
    .expect("connect must give up within its timeout");
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn server_gone_after_open_is_unavailable() {
    let server = NatsServer::start().await;
    let cfg = JetStreamConfig {
        request_timeout: Duration::from_millis(500),
        ..config(1)
    };
    let s = JetStreamEventStore::connect(&server.url(), cfg)
        .await
        .unwrap();
    let a = actor("gone");
    s.append(ev(&a, 1)).await.unwrap();
    server.kill();
    let append = tokio::time::timeout(Duration::from_secs(20), s.append(ev(&a, 2)))
        .await
        .expect("append must give up");
    assert!(append.unwrap_err().is_transient());
    let latest = tokio::time::timeout(Duration::from_secs(20), s.latest_version(&a))
        .await
        .expect("lookup must give up");
    assert!(latest.unwrap_err().is_transient());
}

#[tokio::test]
async fn missing_stream_is_a_clear_error() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("m");
    s.append(ev(&a, 1)).await.unwrap();
    let js = async_nats::jetstream::new(s.client().clone());
    js.delete_stream(s.stream_name()).await.unwrap();
    // Missing, and not transient: retrying as it is cannot help (a
    // repository does not retry it).
    let missing = |err: Error| {
        assert!(matches!(err, Error::Missing { .. }), "{err:?}");
        assert!(!err.is_transient());
        assert!(err.to_string().contains("missing"), "{err}");
    };
    missing(s.latest_version(&a).await.unwrap_err());
    s.invalidate_version_cache(&a);
    missing(s.append(ev(&a, 2)).await.unwrap_err());
    missing(s.read(&a, 1).await.unwrap_err());
    missing(
        s.append_batch(&a, ExpectedVersion::Exact(1), vec![ev(&a, 2), ev(&a, 3)])
            .await
            .unwrap_err(),
    );
}

/// Without the server's atomic batches (turned off, or a server before
/// 2.12), an append of several events still works when they fit in one
/// message (the store writes them as one); one that does not is unsupported.
#[tokio::test]
async fn batches_without_atomic_publish_fit_one_message_or_are_unsupported() {
    let server = NatsServer::start().await;
    let cfg = JetStreamConfig {
        atomic_batches: false,
        max_event_size: 4096,
        ..config(1)
    };
    let s = JetStreamEventStore::connect(&server.url(), cfg)
        .await
        .unwrap();
    assert!(!s.supports_atomic_batches());
    let a = actor("nobatch");
    assert_eq!(
        s.append_batch(&a, ExpectedVersion::NoStream, vec![ev(&a, 1), ev(&a, 2)])
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.read(&a, 1).await.unwrap().len(), 2);
    let big: Vec<Event> = (3..=60).map(|v| ev(&a, v)).collect();
    let err = s
        .append_batch(&a, ExpectedVersion::Exact(2), big)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(
        err.to_string().contains("too large for one message"),
        "{err}"
    );
    assert_eq!(s.latest_version(&a).await.unwrap(), 2);
}

//! Core behaviour against a real nats-server: appends, reads, batches,
//! namespaces, dedupe, cache sync, snapshots, pipelined appends.

mod support;

use std::sync::{Arc, Mutex};

use aether_core::{ActorId, Error, EventStore, ExpectedVersion, Snapshot, SnapshotStore, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use support::{actor, config, ev, store};

#[tokio::test]
async fn append_read_latest_round_trip() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("acct");
    assert_eq!(s.latest_version(&a).await.unwrap(), 0);
    assert!(s.read(&a, 1).await.unwrap().is_empty());
    for v in 1..=5 {
        assert_eq!(s.append(ev(&a, v)).await.unwrap(), v);
    }
    assert_eq!(s.latest_version(&a).await.unwrap(), 5);
    let all = s.read(&a, 1).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let tail = s.read(&a, 4).await.unwrap();
    assert_eq!(
        tail.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert_eq!(s.read(&a, 5).await.unwrap().len(), 1);
    assert!(s.read(&a, 6).await.unwrap().is_empty());
    // Reading an unknown actor creates nothing.
    assert_eq!(s.latest_version(&actor("ghost")).await.unwrap(), 0);
}

#[tokio::test]
async fn conflicts_report_the_real_version_even_with_a_stale_cache() {
    let server = NatsServer::start().await;
    let cfg = config(1);
    let s1 = JetStreamEventStore::connect(&server.url(), cfg.clone())
        .await
        .unwrap();
    let s2 = JetStreamEventStore::connect(&server.url(), cfg)
        .await
        .unwrap();
    let a = actor("acct");
    s1.append(ev(&a, 1)).await.unwrap();
    assert_eq!(s1.cached_version(&a), Some(1));
    // s2 moves the actor on; s1's cache is now stale.
    s2.append(ev(&a, 2)).await.unwrap();
    s2.append(ev(&a, 3)).await.unwrap();
    let err = s1.append(ev(&a, 2)).await.unwrap_err();
    let c = err.as_conflict().expect("conflict");
    assert_eq!((c.attempted, c.current), (2, 3));
    // Exact expectation with a stale cache: server refuses, real version reported.
    let err = s2
        .append_batch(&a, ExpectedVersion::Exact(2), vec![ev(&a, 3)])
        .await
        .unwrap_err();
    assert_eq!(err.as_conflict().unwrap().current, 3);
    // Gaps are allowed by `append`: a stale cache still accepts correctly.
    assert_eq!(s1.append(ev(&a, 9)).await.unwrap(), 9);
    assert_eq!(s2.append(ev(&a, 10)).await.unwrap(), 10);
    let versions: Vec<u64> = s1
        .read(&a, 1)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 9, 10]);
}

#[tokio::test]
async fn cache_sync_api_only_raises() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("c");
    assert_eq!(s.cached_version(&a), None);
    s.append(ev(&a, 1)).await.unwrap();
    s.update_version_cache(&a, 0);
    assert_eq!(s.cached_version(&a), Some(1));
    // A bus says version 5 (another node): raised, and the next append
    // looks the sequence up instead of trusting the cache.
    s.update_version_cache(&a, 5);
    assert_eq!(s.cached_version(&a), Some(5));
    assert_eq!(s.append(ev(&a, 2)).await.unwrap(), 2);
    assert_eq!(s.latest_version(&a).await.unwrap(), 2);
}

#[tokio::test]
async fn atomic_batches_all_or_nothing() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    assert!(s.supports_atomic_batches());
    let a = actor("b");
    let batch: Vec<_> = (1..=3).map(|v| ev(&a, v)).collect();
    assert_eq!(
        s.append_batch(&a, ExpectedVersion::NoStream, batch)
            .await
            .unwrap(),
        3
    );
    // Conflicting batch: nothing lands.
    let stale: Vec<_> = (3..=5).map(|v| ev(&a, v)).collect();
    let err = s
        .append_batch(&a, ExpectedVersion::Exact(2), stale)
        .await
        .unwrap_err();
    assert_eq!(err.as_conflict().unwrap().current, 3);
    assert_eq!(s.latest_version(&a).await.unwrap(), 3);
    let next: Vec<_> = (4..=6).map(|v| ev(&a, v)).collect();
    assert_eq!(
        s.append_batch(&a, ExpectedVersion::Exact(3), next)
            .await
            .unwrap(),
        6
    );
    let versions: Vec<u64> = s
        .read(&a, 1)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6]);
    // The 1000-event limit.
    let big: Vec<_> = (7..=1007).map(|v| ev(&a, v)).collect();
    assert!(
        s.append_batch(&a, ExpectedVersion::Exact(6), big)
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    let full: Vec<_> = (7..=1006).map(|v| ev(&a, v)).collect();
    assert_eq!(
        s.append_batch(&a, ExpectedVersion::Exact(6), full)
            .await
            .unwrap(),
        1006
    );
}

#[tokio::test]
async fn retrying_an_append_never_stores_a_second_copy() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("d");
    let e1 = ev(&a, 1);
    s.append(e1.clone()).await.unwrap();
    // The caller retries the same event (its ack was "lost"): success, one copy.
    assert_eq!(s.append(e1.clone()).await.unwrap(), 1);
    // Also from a store with a cold cache.
    let cold = JetStreamEventStore::connect(&server.url(), s.config().clone())
        .await
        .unwrap();
    assert_eq!(cold.append(e1.clone()).await.unwrap(), 1);
    // Same for a batch.
    let batch = vec![ev(&a, 2), ev(&a, 3)];
    s.append_batch(&a, ExpectedVersion::Exact(1), batch.clone())
        .await
        .unwrap();
    assert_eq!(
        cold.append_batch(&a, ExpectedVersion::Exact(1), batch)
            .await
            .unwrap(),
        3
    );
    let events = s.read(&a, 1).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].id, e1.id);
    // A different event at a taken version is a conflict, not a dedupe.
    assert!(s.append(ev(&a, 3)).await.unwrap_err().is_conflict());
}

#[tokio::test]
async fn a_retry_after_later_appends_reports_success_and_stores_no_copy() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let other = JetStreamEventStore::connect(&server.url(), s.config().clone())
        .await
        .unwrap();
    let a = actor("late-retry");
    for v in 1..=5 {
        s.append(ev(&a, v)).await.unwrap();
    }
    // Our append of version 6 lands, but its ack is "lost"...
    let ours = ev(&a, 6);
    s.append(ours.clone()).await.unwrap();
    // ...another writer appends after it...
    other.append(ev(&a, 7)).await.unwrap();
    other
        .append_batch(&a, ExpectedVersion::Exact(7), vec![ev(&a, 8), ev(&a, 9)])
        .await
        .unwrap();
    // ...and the caller retries from a cold store: success, not a conflict.
    let cold = JetStreamEventStore::connect(&server.url(), s.config().clone())
        .await
        .unwrap();
    assert_eq!(cold.append(ours.clone()).await.unwrap(), 6);
    assert_eq!(
        cold.append_batch(&a, ExpectedVersion::Exact(7), vec![ev(&a, 8)])
            .await
            .unwrap_err()
            .as_conflict()
            .map(|c| c.current),
        Some(9),
        "a different event at a taken version is still a conflict"
    );
    let events = s.read(&a, 1).await.unwrap();
    assert_eq!(events.len(), 9);
    assert_eq!(events.iter().filter(|e| e.id == ours.id).count(), 1);
}

#[tokio::test]
async fn namespaces_isolate_storage() {
    let server = NatsServer::start().await;
    let base = config(1);
    let ns = |n: &str| JetStreamConfig {
        namespace: n.into(),
        ..base.clone()
    };
    let a_store = JetStreamEventStore::connect(&server.url(), ns("alpha"))
        .await
        .unwrap();
    let b_store = JetStreamEventStore::connect(&server.url(), ns("beta"))
        .await
        .unwrap();
    assert_eq!(a_store.namespace(), "alpha");
    assert_eq!(a_store.stream_name(), format!("{}_alpha", base.stream_name));
    assert_ne!(a_store.stream_name(), b_store.stream_name());
    let x = actor("shared");
    a_store.append(ev(&x, 1)).await.unwrap();
    assert_eq!(b_store.latest_version(&x).await.unwrap(), 0);
    assert!(b_store.read(&x, 1).await.unwrap().is_empty());
    b_store.append(ev(&x, 1)).await.unwrap();
    assert_eq!(a_store.read(&x, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_opens_of_one_stream_all_succeed() {
    let server = NatsServer::start().await;
    let cfg = config(1);
    let url = server.url();
    let opens = (0..6).map(|_| JetStreamEventStore::connect(&url, cfg.clone()));
    for r in futures::future::join_all(opens).await {
        r.expect("concurrent open");
    }
    // Reopening with a changed retention updates the stream.
    let changed = JetStreamConfig {
        retention: std::time::Duration::from_secs(3600),
        ..cfg
    };
    JetStreamEventStore::connect(&server.url(), changed)
        .await
        .unwrap();
}

#[tokio::test]
async fn odd_actor_ids_never_collide() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let ids = [
        "a.b",
        "a_b",
        "a b",
        "a*b",
        "a>b",
        "$a",
        "ünï😀",
        "a-b",
        "_",
        "a/b",
    ];
    for (i, id) in ids.iter().enumerate() {
        let a = ActorId::with_type("t", id).unwrap();
        for v in 1..=(i as u64 + 1) {
            s.append(ev(&a, v)).await.unwrap();
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let a = ActorId::with_type("t", id).unwrap();
        let events = s.read(&a, 1).await.unwrap();
        assert_eq!(events.len(), i + 1, "{id}");
        assert!(events.iter().all(|e| e.actor_id == a));
    }
    // Explicit vs derived type are different actors.
    let derived = ActorId::new("order-1").unwrap();
    let explicit = ActorId::with_type("invoice", "order-1").unwrap();
    s.append(ev(&derived, 1)).await.unwrap();
    assert_eq!(s.latest_version(&explicit).await.unwrap(), 0);
}

#[tokio::test]
async fn hook_sees_every_stored_event_once() {
    let server = NatsServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let s = store(&server.url(), 1)
        .await
        .with_hook(move |n: aether_core::EventStored| sink.lock().unwrap().push(n.version));
    let a = actor("h");
    s.append(ev(&a, 1)).await.unwrap();
    let _ = s.append(ev(&a, 1)).await.unwrap_err();
    s.append_batch(&a, ExpectedVersion::Exact(1), vec![ev(&a, 2), ev(&a, 3)])
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3]);
}

#[tokio::test]
async fn append_many_pipelines_across_actors() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let actors: Vec<ActorId> = (0..50).map(|_| actor("p")).collect();
    let mut work = Vec::new();
    for v in 1..=4 {
        for a in &actors {
            work.push((a.clone(), ExpectedVersion::Exact(v - 1), vec![ev(a, v)]));
        }
    }
    let results = s.append_many(work).await;
    assert_eq!(results.len(), 200);
    assert!(
        results.iter().all(|r| r.is_ok()),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    for a in &actors {
        assert_eq!(s.latest_version(a).await.unwrap(), 4);
    }
}

#[tokio::test]
async fn late_replay_finds_its_start_by_binary_search() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let a = actor("long");
    let noise = actor("noise");
    let mut v = 0;
    for _ in 0..5 {
        let batch: Vec<_> = (v + 1..=v + 1000).map(|x| ev(&a, x)).collect();
        v = s
            .append_batch(&a, ExpectedVersion::Exact(v), batch)
            .await
            .unwrap();
        s.append(ev(&noise, v / 1000)).await.unwrap();
    }
    for from in [1, 2, 2500, 4001, 4999, 5000] {
        let got = s.read(&a, from).await.unwrap();
        assert_eq!(got.len() as u64, 5001 - from, "from {from}");
        assert_eq!(got[0].version, from);
    }
}

#[tokio::test]
async fn snapshots_keep_only_the_latest() {
    let server = NatsServer::start().await;
    let s = store(&server.url(), 1).await;
    let snaps = s.open_snapshot_store().await.unwrap();
    let a = actor("s");
    assert!(snaps.latest_snapshot(&a).await.unwrap().is_none());
    snaps
        .save_snapshot(Snapshot::new(a.clone(), 5, json!({"n": 5})))
        .await
        .unwrap();
    snaps
        .save_snapshot(Snapshot::new(a.clone(), 3, json!({"n": 3})))
        .await
        .unwrap();
    assert_eq!(snaps.latest_snapshot(&a).await.unwrap().unwrap().version, 5);
    snaps
        .save_snapshot(Snapshot::new(a.clone(), 9, json!({"n": 9})))
        .await
        .unwrap();
    let latest = snaps.latest_snapshot(&a).await.unwrap().unwrap();
    assert_eq!((latest.version, latest.state.clone()), (9, json!({"n": 9})));
    // Other actors unaffected; unreadable errors are not raised for missing ones.
    assert!(snaps.latest_snapshot(&actor("s")).await.unwrap().is_none());
    let _ = Error::invalid_input("unused");
}

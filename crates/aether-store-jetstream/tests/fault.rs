//! Faults: the stream leader of an R3 stream is killed during a stream of
//! appends; a single server restarts. No acknowledged event is lost.

mod support;

use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, EventStore, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::{NatsCluster, NatsServer};

/// Appends `event`, retrying transient failures (same event: deduplicated)
/// until `deadline`. Returns whether it was acknowledged.
async fn append_until_acked(store: &JetStreamEventStore, event: Event, deadline: Instant) -> bool {
    loop {
        match store.append(event.clone()).await {
            Ok(v) => {
                assert_eq!(v, event.version);
                return true;
            }
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) if e.is_transient() => return false,
            Err(e) => panic!("append of version {}: {e:?}", event.version),
        }
    }
}

/// The index (0-based) of the node leading `stream`.
async fn stream_leader(cluster: &NatsCluster, stream: &str) -> usize {
    for _ in 0..50 {
        let client = async_nats::connect(cluster.client_url()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        if let Ok(mut s) = js.get_stream(stream).await
            && let Ok(info) = s.info().await
            && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
        {
            // Test cluster nodes are named n1..n3.
            if let Some(i) = leader
                .strip_prefix('n')
                .and_then(|n| n.parse::<usize>().ok())
            {
                return i - 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no leader for stream {stream}");
}

async fn read_all_retrying(store: &JetStreamEventStore, actor: &ActorId) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.read(actor, 1).await {
            Ok(events) => return events,
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("read after fault: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_stream_leader_loses_no_acknowledged_append() {
    let cluster = NatsCluster::start().await;
    let config = JetStreamConfig {
        request_timeout: Duration::from_secs(2),
        ..support::config(3)
    };
    let url = cluster.client_url().joined();
    let store = JetStreamEventStore::connect(&url, config.clone())
        .await
        .unwrap();
    let actor = support::actor("failover");
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut version = 0;
    // Before the kill.
    while acked.len() < 40 {
        version += 1;
        let e = support::ev(&actor, version);
        assert!(append_until_acked(&store, e.clone(), deadline).await);
        acked.push(e);
    }
    let leader = stream_leader(&cluster, store.stream_name()).await;
    // Kill the leader while a writer is appending concurrently.
    let writer = {
        let store = store.clone();
        let actor = actor.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut version = version;
            while acked.len() < 60 {
                version += 1;
                let e = Event::new(actor.clone(), version, "Happened", json!({ "n": version }));
                if !append_until_acked(&store, e.clone(), deadline).await {
                    panic!("appends did not resume after failover");
                }
                acked.push(e);
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    cluster.kill(leader);
    acked.extend(writer.await.unwrap());
    // After failover, from a fresh connection: every acknowledged event is there.
    let new_leader = stream_leader(&cluster, store.stream_name()).await;
    assert_ne!(new_leader, leader);
    let reader = JetStreamEventStore::connect(&url, config.clone())
        .await
        .unwrap();
    let events = read_all_retrying(&reader, &actor).await;
    assert_eq!(events.len(), acked.len(), "no event lost, no duplicate");
    for (stored, sent) in events.iter().zip(&acked) {
        assert_eq!((stored.version, stored.id), (sent.version, sent.id));
    }
    // The killed node comes back and the history is unchanged.
    cluster.restart(leader).await;
    let events = read_all_retrying(&reader, &actor).await;
    assert_eq!(events.len(), acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_a_single_server_keeps_acknowledged_events() {
    let server = NatsServer::start().await;
    let store = support::store(&server.url(), 1).await;
    let actor = support::actor("restart");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut acked = Vec::new();
    for v in 1..=30 {
        let e = support::ev(&actor, v);
        assert!(append_until_acked(&store, e.clone(), deadline).await);
        acked.push(e);
    }
    // Graceful restart.
    server.restart().await;
    assert_eq!(read_all_retrying(&store, &actor).await.len(), 30);
    // Crash (SIGKILL) and restart: acknowledged writes reached the OS, so they
    // survive a process crash (not a power loss: see docs/guarantees.md).
    for v in 31..=60 {
        let e = support::ev(&actor, v);
        assert!(append_until_acked(&store, e.clone(), deadline).await);
        acked.push(e);
    }
    server.kill();
    server.restart().await;
    let events = read_all_retrying(&store, &actor).await;
    assert_eq!(events.len(), 60);
    for (stored, sent) in events.iter().zip(&acked) {
        assert_eq!(stored.id, sent.id);
    }
    // And appends resume on the same store.
    assert!(
        append_until_acked(
            &store,
            support::ev(&actor, 61),
            Instant::now() + Duration::from_secs(30)
        )
        .await
    );
}

/// A long replay whose consumer is deleted under it (as the server does
/// when it loses a consumer, or an operator does) goes on with a new one
/// from the message after the last it took: every event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_whose_consumer_is_deleted_goes_on_from_where_it_was() {
    const EVENTS: u64 = 30_000;
    let server = NatsServer::start().await;
    let store = support::store(&server.url(), 1).await;
    let actor = support::actor("long");
    let batches: Vec<_> = (1..=EVENTS)
        .map(|v| {
            (
                actor.clone(),
                aether_core::ExpectedVersion::Exact(v - 1),
                vec![support::ev(&actor, v)],
            )
        })
        .collect();
    for r in store.append_many(batches).await {
        r.unwrap();
    }
    let js = async_nats::jetstream::new(store.client().clone());
    let stream = js.get_stream(store.stream_name()).await.unwrap();
    let reading = tokio::spawn({
        let (store, actor) = (store.clone(), actor.clone());
        async move { store.read(&actor, 1).await }
    });
    // Deletes the replay's consumer as soon as it exists.
    let mut deleted = 0;
    while !reading.is_finished() && deleted == 0 {
        let names: Vec<String> = {
            use futures::StreamExt;
            stream
                .consumer_names()
                .filter_map(|n| async move { n.ok() })
                .collect()
                .await
        };
        for name in names {
            if stream.delete_consumer(&name).await.is_ok() {
                deleted += 1;
            }
        }
    }
    let events = reading.await.unwrap().expect("the replay goes on");
    assert!(
        deleted > 0,
        "the replay ended before its consumer could be deleted"
    );
    let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
    assert_eq!(
        versions,
        (1..=EVENTS).collect::<Vec<_>>(),
        "every event once, in order"
    );
}

/// A log subscription whose consumer is deleted under it (as the server does
/// when it loses a consumer, or an operator does), twice, once in the
/// catch-up and once while it follows live appends, goes on with a new
/// consumer from the last entry it handed on: the subscriber sees no error,
/// and every event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_subscription_whose_consumer_is_deleted_goes_on_without_an_error() {
    use aether_core::{EventLog, LogSelection};
    const STORED: u64 = 5_000;
    const LIVE: u64 = 1_000;
    let server = NatsServer::start().await;
    let store = support::store(&server.url(), 1).await;
    let actor = support::actor("logged");
    let batches = |versions: std::ops::RangeInclusive<u64>| -> Vec<_> {
        versions
            .map(|v| {
                (
                    actor.clone(),
                    aether_core::ExpectedVersion::Exact(v - 1),
                    vec![support::ev(&actor, v)],
                )
            })
            .collect()
    };
    for r in store.append_many(batches(1..=STORED)).await {
        r.unwrap();
    }
    let js = async_nats::jetstream::new(store.client().clone());
    let stream = js.get_stream(store.stream_name()).await.unwrap();
    let delete_consumers = async || {
        use futures::StreamExt;
        let names: Vec<String> = stream
            .consumer_names()
            .filter_map(|n| async move { n.ok() })
            .collect()
            .await;
        let mut deleted = 0;
        for name in names {
            if stream.delete_consumer(&name).await.is_ok() {
                deleted += 1;
            }
        }
        deleted
    };
    let mut sub = store.subscribe(LogSelection::all(), None).await.unwrap();
    let mut versions = Vec::new();
    let mut next = async |versions: &mut Vec<u64>| {
        let entry = tokio::time::timeout(Duration::from_secs(30), sub.next())
            .await
            .expect("the subscription stalled")
            .expect("the subscription failed");
        versions.push(entry.event.expect("a well-formed event").version);
    };
    // In the catch-up.
    for _ in 0..1_000 {
        next(&mut versions).await;
    }
    assert!(delete_consumers().await > 0, "no consumer to delete");
    while versions.len() < STORED as usize {
        next(&mut versions).await;
    }
    // While it follows live appends.
    let appending = tokio::spawn({
        let store = store.clone();
        let batches = batches(STORED + 1..=STORED + LIVE);
        async move {
            for b in batches {
                for r in store.append_many(vec![b]).await {
                    r.unwrap();
                }
            }
        }
    });
    while versions.len() < (STORED + LIVE / 2) as usize {
        next(&mut versions).await;
    }
    assert!(delete_consumers().await > 0, "no consumer to delete");
    while versions.len() < (STORED + LIVE) as usize {
        next(&mut versions).await;
    }
    appending.await.unwrap();
    assert_eq!(
        versions,
        (1..=STORED + LIVE).collect::<Vec<_>>(),
        "every event once, in order"
    );
}

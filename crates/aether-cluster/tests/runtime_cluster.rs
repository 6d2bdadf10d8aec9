//! The runtime across nodes, in one process (three cluster nodes, each with
//! its own NATS connection, one real nats-server, the JetStream store):
//! calls from any node reach the shard's owner; events name their writer
//! and claim; a system that serves nothing calls in; queries route too.

mod cluster_support;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aether_cluster::ClusterNode;
use aether_cluster::runtime::{ActorConfig, ActorSystem, AskError, RemoteConfig};
use aether_core::{ActorId, EventStore};
use aether_testkit::NatsServer;
use aether_testkit::eventually;
use aether_testkit::fixtures::{Counter, Value};
use cluster_support::*;
use support::*;

fn node(s: &ActorSystem) -> &ClusterNode {
    s.cluster_node().unwrap()
}

async fn three(url: &str, cluster: &str, stream: &str) -> (ActorSystem, ActorSystem, ActorSystem) {
    let config = fast_config(cluster);
    let a = member(url, &config, "a", stream).await;
    let b = member(url, &config, "b", stream).await;
    let c = member(url, &config, "c", stream).await;
    converged(
        &[node(&a), node(&b), node(&c)],
        &["a", "b", "c"],
        Duration::from_secs(15),
    )
    .await;
    all_served(&[&a, &b, &c], 1024, Duration::from_secs(15)).await;
    (a, b, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_every_node_reach_the_owner_and_events_name_their_writer() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = unique_cluster("rtc");
    let (a, b, c) = three(&url, &cluster, "RTC1").await;
    let systems = [&a, &b, &c];

    let ids: Vec<ActorId> = (0..30)
        .map(|i| ActorId::new(format!("counter-{i}")).unwrap())
        .collect();
    let mut writers: HashMap<String, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        for (k, caller) in systems.iter().enumerate() {
            let r = caller.get::<Counter>(id.clone()).unwrap();
            let done = r.ask(1 + k as u64).await.unwrap();
            let meta = &done.events[0].metadata;
            let writer = meta.writer_node().unwrap().to_owned();
            let owner = node(caller).place(id).unwrap();
            assert_eq!(
                writer,
                owner.as_str(),
                "actor {i}: written by its shard's owner"
            );
            let claim = meta.writer_claim().unwrap();
            let shard = node(caller).shard_for(id);
            assert!(claim.starts_with(&format!("{}/", shard.0)), "{claim}");
            *writers.entry(writer).or_default() += 1;
        }
        // A query from another node sees all three.
        let value = systems[i % 3]
            .get::<Counter>(id.clone())
            .unwrap()
            .query(Value)
            .await
            .unwrap();
        assert_eq!(value, 1 + 2 + 3);
    }
    assert_eq!(
        writers.len(),
        3,
        "30 actors spread over the nodes: {writers:?}"
    );

    // A system that runs nothing calls in.
    let caller = ActorSystem::remote(
        async_nats::connect(&url).await.unwrap(),
        RemoteConfig {
            cluster_name: cluster.clone(),
            ..RemoteConfig::default()
        },
    )
    .register::<Counter>(ActorConfig::default())
    .start()
    .await
    .unwrap();
    let r = caller.get::<Counter>(ids[0].clone()).unwrap();
    assert_eq!(r.ask(10).await.unwrap().version, 4);
    assert_eq!(r.query(Value).await.unwrap(), 16);
    // A rejection crosses the wire typed.
    assert!(r.ask(0).await.unwrap_err().is_rejected());
    // Correlation, user and trace context travel with the call into the
    // events.
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let done = r
        .ask(1)
        .metadata({
            let mut m = aether_core::Metadata::new();
            m.insert("traceparent", trace);
            m.insert("user_id", "u-7");
            m
        })
        .correlation_id("order-7")
        .await
        .unwrap();
    let meta = &done.events[0].metadata;
    assert_eq!(meta.correlation_id(), Some("order-7"));
    assert_eq!(meta.get("traceparent"), Some(trace));
    assert_eq!(meta.user_id(), Some("u-7"));

    // The log agrees: 5 events, each with a writer stamp.
    let log = store(&url, "RTC1").await.read(&ids[0], 1).await.unwrap();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|e| e.metadata.writer_claim().is_some()));

    for s in systems {
        s.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_leave_under_load_hands_its_shards_on_without_errors() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let (a, b, c) = three(&url, &unique_cluster("rtg"), "RTG").await;
    let actors = counters(40, "g");
    let load = Load::start(&[&b, &c], &actors, 3, Duration::from_secs(10));
    // Answers before and after the move: more than the 100 asserted below.
    load.flows(60).await;
    let t = Instant::now();
    let leaving = tokio::spawn({
        let a = a.clone();
        async move {
            a.shutdown().await.unwrap();
            t.elapsed()
        }
    });
    all_served(&[&b, &c], 1024, Duration::from_secs(10)).await;
    let moved = t.elapsed();
    let left = leaving.await.unwrap();
    load.flows(60).await;
    let errors = load.errors.clone();
    let report = load.finish(&store(&url, "RTG").await, &actors).await;
    eprintln!("shutdown {left:?}, all shards served again {moved:?}; {report}");
    assert!(report.is_clean(), "{report}");
    assert!(report.ok > 100, "{report}");
    assert_eq!(
        errors.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "callers saw no error"
    );
    b.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_renewing_serves_nothing_and_its_shards_move_after_its_lease() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let (a, b, c) = three(&url, &unique_cluster("rtk"), "RTK").await;
    let actors = counters(40, "k");
    let load = Load::start(&[&b, &c], &actors, 3, Duration::from_secs(10));
    load.flows(50).await;
    // As after a crash of its membership: no renewals, no goodbye. Its
    // connection stays up (its subscriptions with it), so what keeps it
    // from serving is its own lease.
    let t = Instant::now();
    node(&a).abort();
    eventually("a stops serving", Duration::from_secs(5), async || {
        a.served_shards().is_empty()
    })
    .await;
    let stopped = t.elapsed();
    all_served(&[&b, &c], 1024, Duration::from_secs(10)).await;
    let moved = t.elapsed();
    load.flows(50).await;
    let errors = load.errors.clone();
    let report = load.finish(&store(&url, "RTK").await, &actors).await;
    eprintln!(
        "a stopped serving after {stopped:?}; all shards served again after {moved:?}; {report}"
    );
    assert!(report.is_clean(), "{report}");
    let lease = fast_config("x").membership.lease;
    assert!(
        stopped < lease,
        "a stops before its lease could expire on the server"
    );
    // Its lease runs from its last renewal, up to one renewal interval
    // before the abort; a stopped first.
    let renew = fast_config("x").membership.renew_interval;
    assert!(
        moved > lease - renew && moved > stopped,
        "nobody takes a's shards before its lease expired: stopped {stopped:?}, moved {moved:?}"
    );
    assert_eq!(
        errors.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "callers saw latency, not errors"
    );
    b.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_owner_never_catches_up_and_wins() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = unique_cluster("rts");
    let a = member(&url, &fast_config(&cluster), "a", "RTS").await;
    all_served(&[&a], 1024, Duration::from_secs(15)).await;
    let id = ActorId::new("counter-stale").unwrap();
    let r = a.get::<Counter>(id.clone()).unwrap();
    assert_eq!(r.ask(1).await.unwrap().version, 1);

    // Another writer takes the shard's claim (under a newer map than a's)
    // and writes the actor.
    let shard = node(&a).shard_for(&id);
    let js = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
    let claims = js.get_key_value(format!("{cluster}_claims")).await.unwrap();
    let key = format!("s.{}", shard.0);
    let held = claims.entry(key.as_str()).await.unwrap().unwrap();
    let intruder = br#"{"owner":"intruder","epoch":999,"phase":"serving"}"#;
    let rev = claims
        .update(key.as_str(), intruder.to_vec().into(), held.revision)
        .await
        .unwrap();
    let log = store(&url, "RTS").await;
    let outside = aether_core::Event::new(id.clone(), 2, "Added", aether_core::json!({"by": 100}))
        .with_metadata(
            aether_core::Metadata::new()
                .with_writer_node("intruder")
                .with_writer_claim(format!("{}/{rev}", shard.0)),
        );
    log.append(outside).await.unwrap();

    // a neither decides again on the caught-up state nor serves the shard:
    // the call finds nobody serving it. (The deadline ends before the old
    // subscription's not-owner phase, 2 s, would go silent.) Normally every
    // attempt is refused, so the command comes back as not applied; on a
    // loaded machine the last attempt (its timeout cut to what is left of
    // the deadline) may get no answer in time, and then "no outcome" is
    // the honest report. Either way the log below shows nothing was applied.
    let err = r
        .ask(5)
        .deadline(Duration::from_millis(1800))
        .await
        .unwrap_err();
    if !err.may_have_applied() {
        assert!(err.into_command().is_some(), "handed back: not applied");
    } else {
        assert!(matches!(err, AskError::Timeout { .. }), "{err}");
    }
    let events = log.read(&id, 1).await.unwrap();
    assert_eq!(events.len(), 2, "nothing written after the intruder");
    assert_eq!(events[1].metadata.writer_node(), Some("intruder"));
    eventually(
        "a stops serving the shard",
        Duration::from_secs(5),
        async || !a.served_shards().contains(&shard),
    )
    .await;
    a.shutdown().await.unwrap();
}

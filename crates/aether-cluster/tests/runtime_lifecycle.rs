//! The runtime's activations over the in-memory store: single flight, recovery
//! permits, idle and LRU passivation (with snapshots), races between
//! passivation and traffic, graceful shutdown with queued callers.

mod runtime_support;

use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorConfig, AskError, Passivation, RuntimeConfig};
use aether_core::{EventStore, SnapshotStore};
use aether_store_memory::InMemorySnapshotStore;
use aether_testkit::eventually;
use aether_testkit::fixtures::{Counter, Value};
use runtime_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_first_messages_load_the_actor_once() {
    let s = store();
    s.delay_reads(Duration::from_millis(20));
    let sys =
        system::<Counter, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let c = actor::<Counter>(&sys, &fresh::<Counter>());
    let asks: Vec<_> = (0..1000)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.ask(1).await })
        })
        .collect();
    for a in asks {
        a.await.unwrap().unwrap();
    }
    assert_eq!(s.reads(), 1, "one load for all of them");
    assert_eq!(c.query(Value).await.unwrap(), 1000);
    assert_eq!(sys.active_actors(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_permits_bound_concurrent_loads() {
    let s = store();
    s.delay_reads(Duration::from_millis(10));
    let runtime = RuntimeConfig {
        recovery_permits: 4,
        ..RuntimeConfig::default()
    };
    let sys = system::<Counter, _>(&s, None, runtime, ActorConfig::default()).await;
    let asks: Vec<_> = (0..64)
        .map(|_| {
            let c = actor::<Counter>(&sys, &fresh::<Counter>());
            tokio::spawn(async move { c.ask(1).await })
        })
        .collect();
    for a in asks {
        a.await.unwrap().unwrap();
    }
    assert_eq!(s.reads(), 64);
    assert!(
        s.max_concurrent_reads() <= 4,
        "{} loads ran at once",
        s.max_concurrent_reads()
    );
    assert!(s.max_concurrent_reads() >= 2, "loads did overlap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_actors_passivate_with_a_snapshot_and_come_back_with_their_state() {
    let s = store();
    let snaps = InMemorySnapshotStore::new();
    let config = ActorConfig {
        passivation: Passivation {
            idle: Duration::from_millis(50),
            snapshot_after: 3,
        },
        ..ActorConfig::default()
    };
    let sys = system::<Counter, _>(&s, Some(&snaps), RuntimeConfig::default(), config).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    for by in 1..=4 {
        c.ask(by).await.unwrap();
    }
    assert!(c.is_active());
    eventually("idle passivation", Duration::from_secs(5), async || {
        !c.is_active()
    })
    .await;
    let snap = snaps
        .latest_snapshot(&id)
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(snap.version, 4);
    let reads_before = s.reads();
    assert_eq!(
        c.query(Value).await.unwrap(),
        10,
        "reactivated from the snapshot"
    );
    assert_eq!(s.reads(), reads_before + 1);
    assert_eq!(c.ask(5).await.unwrap().version, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passivation_racing_steady_traffic_loses_no_command() {
    let s = store();
    let config = ActorConfig {
        passivation: Passivation {
            idle: Duration::from_millis(10),
            snapshot_after: 0,
        },
        ..ActorConfig::default()
    };
    let sys = system::<Counter, _>(&s, None, RuntimeConfig::default(), config).await;
    let ids: Vec<_> = (0..4).map(|_| fresh::<Counter>()).collect();
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(t, id)| {
            let c = actor::<Counter>(&sys, id);
            tokio::spawn(async move {
                for i in 0..150u64 {
                    c.ask(1).await.unwrap();
                    // Pauses around the idle timeout: passivations race the next ask.
                    if (i + t as u64).is_multiple_of(3) {
                        tokio::time::sleep(Duration::from_millis(9 + i % 4)).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for id in &ids {
        let c = actor::<Counter>(&sys, id);
        assert_eq!(c.query(Value).await.unwrap(), 150);
        assert_eq!(s.inner().read(id, 1).await.unwrap().len(), 150);
    }
    assert!(
        s.reads() > 4,
        "actors did passivate and come back ({} loads)",
        s.reads()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_limit_passivates_the_least_recently_used() {
    let s = store();
    let runtime = RuntimeConfig {
        max_active: 10,
        ..RuntimeConfig::default()
    };
    let sys = system::<Counter, _>(&s, None, runtime, ActorConfig::default()).await;
    let ids: Vec<_> = (0..200).map(|_| fresh::<Counter>()).collect();
    let mut peak = 0;
    for id in &ids {
        actor::<Counter>(&sys, id).ask(1).await.unwrap();
        peak = peak.max(sys.running_tasks());
    }
    eventually("back under the limit", Duration::from_secs(5), async || {
        sys.running_tasks() <= 10
    })
    .await;
    // Eviction is asynchronous (a victim finishes what it is doing first), so
    // a few may be on their way out at any moment: a small, bounded overshoot.
    assert!(
        peak <= 14,
        "resident actors peaked at {peak} for a limit of 10"
    );
    // The most recent stayed; an evicted one comes back with its state.
    assert!(actor::<Counter>(&sys, &ids[199]).is_active());
    let first = actor::<Counter>(&sys, &ids[0]);
    assert!(!first.is_active());
    assert_eq!(first.query(Value).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_passivation_waits_for_an_empty_mailbox() {
    let (_s, _sys, _, c) = counter().await;
    c.ask(2).await.unwrap();
    c.passivate();
    eventually("passivated", Duration::from_secs(5), async || {
        !c.is_active()
    })
    .await;
    assert_eq!(c.ask(3).await.unwrap().version, 2);
    c.passivate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_turn_in_flight_and_hands_queued_commands_back() {
    let s = store();
    let snaps = InMemorySnapshotStore::new();
    let config = ActorConfig {
        passivation: Passivation {
            snapshot_after: 1,
            ..Passivation::default()
        },
        ..ActorConfig::default()
    };
    let sys = system::<Counter, _>(&s, Some(&snaps), RuntimeConfig::default(), config).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    c.ask(1).await.unwrap();
    let stall = s.stall_appends().unwrap();
    let in_flight = tokio::spawn({
        let c = c.clone();
        async move { c.ask(10).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.ask(100).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let shutting = tokio::spawn({
        let sys = sys.clone();
        async move { sys.shutdown().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(matches!(
        c.ask(1000).await,
        Err(AskError::ShuttingDown { .. })
    ));
    drop(stall);
    let started = Instant::now();
    shutting.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        in_flight.await.unwrap().unwrap().version,
        2,
        "the turn in flight finished"
    );
    for q in queued {
        match q.await.unwrap() {
            Err(AskError::ShuttingDown { command }) => assert_eq!(command.command, 100),
            other => panic!("expected ShuttingDown with the command, got {other:?}"),
        }
    }
    assert_eq!(sys.running_tasks(), 0);
    assert_eq!(
        snaps.latest_snapshot(&id).await.unwrap().map(|s| s.version),
        Some(2),
        "snapshot on shutdown"
    );
}

//! Correctness while scaling, on real nats-servers: a namespace of 4
//! partitions written by concurrent writers on the same actors from three
//! connections (one per server, as three Aether nodes would), while the
//! partitions' stream leaders are killed (R3) or a partition's stream is
//! moved to another server (R1, online), with a projection reading the whole
//! log throughout and restarted once from its vector checkpoint.
//!
//! At the end the test kit's history checker holds every acknowledged
//! append in the log exactly once at its version, every command id applied
//! at most once, every actor's versions gapless, real-time order per actor,
//! and nothing written by a command answered "not applied"; and the
//! projection's recorded history holds each event exactly once, each actor
//! in version order, each partition at increasing positions.

mod scaling_support;

use std::time::Duration;

use aether_projection::{CheckpointStore, KvCheckpointConfig, KvCheckpoints, ProjectionRunner};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::{NatsCluster, Wait, replicas_current};
use scaling_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_leader_kills_of_every_partition_lose_nothing_and_the_projection_resumes_from_its_vector()
 {
    let nats = NatsCluster::start().await;
    let all = nats.client_url().joined();
    let cfg = config("SCALEKILL", 3);
    let stores = futures::future::join_all((0..3).map(|i| {
        let (url, cfg) = (nats.url(i), cfg.clone());
        async move { JetStreamEventStore::connect(&url, cfg).await.unwrap() }
    }))
    .await;
    let reader = JetStreamEventStore::connect(&all, cfg.clone())
        .await
        .unwrap();
    assert_eq!(reader.partitions(), 4);
    let checkpoints = KvCheckpoints::open(
        reader.client().clone(),
        KvCheckpointConfig {
            replicas: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let actors = actors();
    let recorder = Recorder::default();
    let mut running = ProjectionRunner::new(reader.clone(), recorder.clone(), checkpoints.clone())
        .with_config(runner_config())
        .start();
    let load = Load::start(&stores, &actors);
    load.flows(100).await;
    let js = async_nats::jetstream::new(reader.client().clone());
    for (k, stream) in reader.partition_streams().iter().enumerate() {
        let leader = Wait::new(format!("the leader of {stream}"), Duration::from_secs(20))
            .every(Duration::from_millis(250))
            .until(async || {
                reader.partition_infos().await.map_err(|e| e.to_string())?[k]
                    .leader
                    .clone()
                    .ok_or_else(|| "no leader".to_owned())
            })
            .await;
        let i: usize = leader.trim_start_matches('n').parse::<usize>().unwrap() - 1;
        eprintln!("killing {leader}, the leader of {stream}");
        nats.kill(i);
        load.flows(30).await; // writes go on to the other partitions, and to this one once elected
        nats.restart(i).await;
        for s in reader.partition_streams() {
            replicas_current(&js, &s).await;
        }
        replicas_current(&js, "KV_AETHER_projection_checkpoints").await;
        load.flows(50).await;
        if k == 1 {
            // The projection restarts from its checkpoint (a vector).
            let (_, status) = running.stop().await.unwrap();
            let saved = checkpoints.load("audit").await.unwrap();
            assert_eq!(saved, status.cursor, "stopping saved the cursor");
            eprintln!("projection restarted from {saved}");
            running = ProjectionRunner::new(reader.clone(), recorder.clone(), checkpoints.clone())
                .with_config(runner_config())
                .start();
        }
    }
    let history = load.finish().await;
    caught_up(&reader, &mut running).await;
    running.stop().await.unwrap();
    let seen = recorder.seen.lock().unwrap().clone();
    check_all(&reader, &history, &actors, &seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_moved_to_another_server_mid_run_loses_nothing() {
    let nats = NatsCluster::start_tagged().await;
    let all = nats.client_url().joined();
    // R1 partitions placed by tag: P0 on n1, P1 on n2, P2 on n3, P3 on n1.
    let cfg = JetStreamConfig {
        placement_tags: vec!["node:n1".into(), "node:n2".into(), "node:n3".into()],
        ..config("SCALEMOVE", 1)
    };
    let stores = futures::future::join_all((0..3).map(|i| {
        let (url, cfg) = (nats.url(i), cfg.clone());
        async move { JetStreamEventStore::connect(&url, cfg).await.unwrap() }
    }))
    .await;
    let reader = JetStreamEventStore::connect(&all, cfg.clone())
        .await
        .unwrap();
    let before = reader.partition_infos().await.unwrap();
    let leaders: Vec<_> = before.iter().map(|p| p.leader.clone()).collect();
    assert_eq!(
        leaders,
        ["n1", "n2", "n3", "n1"].map(|n| Some(n.to_string())),
        "placed by tag"
    );
    let checkpoints = KvCheckpoints::open(reader.client().clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    let actors = actors();
    let recorder = Recorder::default();
    let mut running = ProjectionRunner::new(reader.clone(), recorder.clone(), checkpoints.clone())
        .with_config(runner_config())
        .start();
    let load = Load::start(&stores, &actors);
    load.flows(100).await;
    // Two moves under load: P1 from n2 to n3, then P3 from n1 to n2.
    for (k, to) in [(1u16, "n3"), (3, "n2")] {
        eprintln!("moving partition {k} to {to}");
        reader
            .move_partition(k, vec![format!("node:{to}")])
            .await
            .unwrap();
        Wait::new(
            format!("partition {k} on {to} alone"),
            Duration::from_secs(60),
        )
        .every(Duration::from_millis(200))
        .until(async || {
            let p = &reader.partition_infos().await.map_err(|e| e.to_string())?[usize::from(k)];
            if p.leader.as_deref() == Some(to) && p.servers == [to] {
                Ok(())
            } else {
                Err(format!("leader {:?}, servers {:?}", p.leader, p.servers))
            }
        })
        .await;
        load.flows(100).await;
    }
    // A store opened now keeps the moved placement.
    let later = JetStreamEventStore::connect(&all, cfg.clone())
        .await
        .unwrap();
    let after = later.partition_infos().await.unwrap();
    assert_eq!(after[1].tags, ["node:n3"]);
    assert_eq!(after[1].leader.as_deref(), Some("n3"));
    let history = load.finish().await;
    caught_up(&reader, &mut running).await;
    running.stop().await.unwrap();
    let seen = recorder.seen.lock().unwrap().clone();
    check_all(&reader, &history, &actors, &seen).await;
}

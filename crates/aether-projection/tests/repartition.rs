//! From one stream to K partitions, online: a v1 namespace written by racing
//! writers on two connections and read by a projection with KV checkpoints
//! is repartitioned to 4 partitions mid-run (`aether_store_jetstream::
//! repartition`). The writers meet the seal, load the new layout and go on;
//! the projection reads the sealed stream to its end, resubscribes with its
//! v1 cursor, which the store translates, and goes on. At the end the
//! history checker holds over the new layout's logs (copies and new writes),
//! and the projection saw every event once, in order.

mod scaling_support;

use aether_core::{EventStore, LogCursor};
use aether_projection::{CheckpointStore, KvCheckpointConfig, KvCheckpoints, ProjectionRunner};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore, repartition};
use aether_testkit::NatsServer;
use scaling_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_namespace_moves_from_one_stream_to_four_partitions_losing_and_repeating_nothing() {
    let server = NatsServer::start().await;
    let url = server.url();
    let cfg = JetStreamConfig {
        partitions: 1,
        ..config("REPART", 1)
    };
    let stores = vec![
        JetStreamEventStore::connect(&url, cfg.clone())
            .await
            .unwrap(),
        JetStreamEventStore::connect(&url, cfg.clone())
            .await
            .unwrap(),
    ];
    let reader = JetStreamEventStore::connect(&url, cfg.clone())
        .await
        .unwrap();
    assert_eq!(reader.partitions(), 1);
    let checkpoints = KvCheckpoints::open(reader.client().clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    let actors = actors();
    let recorder = Recorder::default();
    let mut running = ProjectionRunner::new(reader.clone(), recorder.clone(), checkpoints.clone())
        .with_config(runner_config())
        .start();
    let load = Load::start(&stores, &actors);
    load.flows(4_000).await;
    let client = async_nats::connect(&url).await.unwrap();
    let report = repartition(client.clone(), cfg.clone(), 4).await.unwrap();
    eprintln!("{report:?}");
    assert_eq!(report.streams.len(), 4);
    assert_eq!(report.epoch, 1);
    assert!(
        report.copied > report.copied_after_seal,
        "most copied before the seal: {report:?}"
    );
    // The writers go on, on the partitions.
    load.flows(1_500).await;
    let history = load.finish().await;
    for s in &stores {
        assert_eq!(s.partitions(), 4, "the writers moved to the new layout");
        assert_eq!(s.epoch(), 1);
    }
    let fresh = JetStreamEventStore::connect(&url, cfg.clone())
        .await
        .unwrap();
    assert_eq!(
        (fresh.partitions(), fresh.epoch()),
        (4, 1),
        "found from the streams"
    );
    // The projection: to the end of the sealed stream, then on (after the
    // quiet subscription noticed the seal).
    caught_up(&fresh, &mut running).await;
    let (_, status) = running.stop().await.unwrap();
    assert_eq!(status.cursor.epoch(), Some(1), "{}", status.cursor);
    let seen = recorder.seen.lock().unwrap().clone();
    check_all(&fresh, &history, &actors, &seen).await;
    // A checkpoint of the old layout translates to the new one.
    let saved = checkpoints.load("audit").await.unwrap();
    assert_eq!(saved, status.cursor);
    let old: LogCursor = "100.0".parse().unwrap();
    let translated = fresh.translate(&old).await.unwrap();
    assert_eq!(translated.epoch(), Some(1));
    assert!(translated.positions().len() > 1, "{translated}");
    // A rerun of the finished repartition changes nothing.
    let again = repartition(client, cfg, 4).await.unwrap();
    assert_eq!(again.copied, 0, "{again:?}");
    for a in actors.iter().take(3) {
        assert!(fresh.latest_version(a).await.unwrap() > 0);
    }
}

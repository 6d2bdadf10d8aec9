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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aether_core::{
    ActorId, Error, Event, EventLog, EventStore, ExpectedVersion, LogPosition, Metadata, Result,
    json,
};
use aether_projection::{
    CheckpointStore, KvCheckpointConfig, KvCheckpoints, Projection, ProjectionRunner, RunnerConfig,
};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::history::{History, Outcome, check};
use aether_testkit::{NatsCluster, Wait};

const ACTORS: usize = 40;
const WRITERS_PER_NODE: usize = 4;

/// Records what the projection is shown.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<(LogPosition, ActorId, u64)>>>,
}

impl Projection for Recorder {
    fn name(&self) -> &str {
        "audit"
    }
    async fn handle(&mut self, event: &Event, position: LogPosition) -> Result<()> {
        self.seen
            .lock()
            .unwrap()
            .push((position, event.actor_id.clone(), event.version));
        Ok(())
    }
}

fn config(stream: &str, replicas: usize) -> JetStreamConfig {
    JetStreamConfig {
        stream_name: stream.into(),
        namespace: "scale".into(),
        replicas,
        partitions: 4,
        request_timeout: Duration::from_secs(3),
        ..Default::default()
    }
}

fn actors() -> Vec<ActorId> {
    (0..ACTORS)
        .map(|n| ActorId::new(format!("acct-{n}")).unwrap())
        .collect()
}

/// Writers racing on the same actors from every store, recording every send
/// and answer; a send without an answer is retried with the same event
/// (same command id, same version) until it is answered for sure.
struct Load {
    history: Arc<History>,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(stores: &[JetStreamEventStore], actors: &[ActorId]) -> Load {
        let history = Arc::new(History::new());
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for (node, store) in stores.iter().enumerate() {
            for w in 0..WRITERS_PER_NODE {
                let (store, actors) = (store.clone(), actors.to_vec());
                let (history, stop, ok) = (history.clone(), stop.clone(), ok.clone());
                tasks.push(tokio::spawn(async move {
                    let name = format!("node{node}");
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        // Every writer visits every actor, in its own order.
                        let actor = &actors[(n * 7 + w * 13 + node * 5) % actors.len()];
                        let cmd = format!("{name}-w{w}-{n}");
                        let Ok(current) = store.latest_version(actor).await else {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        };
                        let event = Event::new(actor.clone(), current + 1, "Added", json!(n))
                            .with_metadata(Metadata::new().with_causation_id(cmd.as_str()));
                        for attempt in 0.. {
                            let ticket = history.issue(&cmd, actor);
                            let r = store
                                .append_batch(
                                    actor,
                                    ExpectedVersion::Exact(current),
                                    vec![event.clone()],
                                )
                                .await;
                            match r {
                                Ok(version) => {
                                    history.answer(ticket, Outcome::Ok { version }, Some(&name));
                                    ok.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                                Err(Error::VersionConflict(_)) => {
                                    history.answer(ticket, Outcome::NotApplied, Some(&name));
                                    break;
                                }
                                Err(_) => {
                                    history.answer(ticket, Outcome::Unknown, Some(&name));
                                    if attempt > 200 {
                                        break;
                                    }
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                            }
                        }
                    }
                }));
            }
        }
        Load {
            history,
            stop,
            ok,
            tasks,
        }
    }

    /// Waits until `more` further appends were acknowledged.
    async fn flows(&self, more: u64) {
        let from = self.ok.load(Ordering::Relaxed);
        let ok = self.ok.clone();
        Wait::new(
            format!("{more} more acknowledged appends"),
            Duration::from_secs(60),
        )
        .every(Duration::from_millis(50))
        .until(async || {
            let now = ok.load(Ordering::Relaxed);
            if now >= from + more {
                Ok(())
            } else {
                Err(now - from)
            }
        })
        .await;
    }

    async fn finish(self) -> Arc<History> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        self.history
    }
}

/// The history checked against every actor's log, and the projection's
/// recording against the logs: each event once, actors in order,
/// partitions at increasing positions.
async fn check_all(
    store: &JetStreamEventStore,
    history: &History,
    actors: &[ActorId],
    seen: &[(LogPosition, ActorId, u64)],
) {
    let mut logs = HashMap::new();
    for a in actors {
        logs.insert(a.clone(), store.read(a, 1).await.unwrap());
    }
    let report = check(&history.ops(), &logs);
    eprintln!("history: {report}");
    assert!(report.is_clean(), "{report}");
    assert!(report.ok > 200, "the load went on: {report}");
    let mut last_position: HashMap<u16, LogPosition> = HashMap::new();
    let mut versions: HashMap<&ActorId, Vec<u64>> = HashMap::new();
    for (p, a, v) in seen {
        if let Some(before) = last_position.insert(p.partition, *p) {
            assert!(before < *p, "partition {}: {p} after {before}", p.partition);
        }
        assert_eq!(p.partition, store.partition_of(a), "{a:?} in its partition");
        versions.entry(a).or_default().push(*v);
    }
    for a in actors {
        let expected: Vec<u64> = (1..=logs[a].len() as u64).collect();
        assert_eq!(
            versions.get(a).cloned().unwrap_or_default(),
            expected,
            "the projection saw {a:?}'s events once each, in order"
        );
    }
}

/// Waits until the projection has read the whole log.
async fn caught_up(
    store: &JetStreamEventStore,
    running: &mut aether_projection::RunningProjection<Recorder>,
) {
    let head = store.head().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        running.wait_for(|s| s.cursor.reached(&head) || s.is_failed()),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the projection catches up to {head}: {:?}",
            running.status()
        )
    });
    assert!(!running.status().is_failed(), "{:?}", running.status());
}

fn runner_config() -> RunnerConfig {
    RunnerConfig {
        checkpoint_every: 50,
        reconnect_delay: Duration::from_millis(200),
        ..Default::default()
    }
}

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

async fn replicas_current(js: &async_nats::jetstream::Context, stream: &str) {
    Wait::new(
        format!("every replica of {stream} current"),
        Duration::from_secs(30),
    )
    .every(Duration::from_millis(250))
    .until(async || {
        let info = match js.get_stream(stream).await {
            Ok(mut handle) => handle.info().await.cloned().map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }?;
        let cluster = info.cluster.ok_or_else(|| "no cluster info".to_owned())?;
        let current = cluster
            .replicas
            .iter()
            .filter(|r| r.current && !r.offline)
            .count();
        if cluster.leader.is_some() && current == 2 {
            Ok(())
        } else {
            Err(format!(
                "leader {:?}, {current} of 2 replicas current",
                cluster.leader
            ))
        }
    })
    .await
}

//! What the scaling correctness tests share: writers racing on the same
//! actors from several stores recording a history, a recording projection,
//! and the checks of both against the logs.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aether_core::{
    ActorId, Error, Event, EventLog, EventStore, ExpectedVersion, LogPosition, Metadata, Result,
    json,
};
use aether_projection::{Projection, RunnerConfig};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::Wait;
use aether_testkit::history::{History, Outcome, check};

pub const ACTORS: usize = 40;
pub const WRITERS_PER_NODE: usize = 4;

/// Records what the projection is shown.
#[derive(Clone, Default)]
pub struct Recorder {
    pub seen: Arc<Mutex<Vec<(LogPosition, ActorId, u64)>>>,
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

pub fn config(stream: &str, replicas: usize) -> JetStreamConfig {
    JetStreamConfig {
        stream_name: stream.into(),
        namespace: "scale".into(),
        replicas,
        partitions: 4,
        request_timeout: Duration::from_secs(3),
        ..Default::default()
    }
}

pub fn actors() -> Vec<ActorId> {
    (0..ACTORS)
        .map(|n| ActorId::new(format!("acct-{n}")).unwrap())
        .collect()
}

/// Writers racing on the same actors from every store, recording every send
/// and answer; a send without an answer is retried with the same event
/// (same command id, same version) until it is answered for sure.
pub struct Load {
    history: Arc<History>,
    stop: Arc<AtomicBool>,
    pub ok: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(stores: &[JetStreamEventStore], actors: &[ActorId]) -> Load {
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
                                // After an attempt whose outcome is unknown, a
                                // conflict may be that attempt's own event: still
                                // unknown. Only a first attempt's conflict is surely
                                // not applied.
                                Err(Error::VersionConflict(_)) => {
                                    let outcome = if attempt == 0 {
                                        Outcome::NotApplied
                                    } else {
                                        Outcome::Unknown
                                    };
                                    history.answer(ticket, outcome, Some(&name));
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
    pub async fn flows(&self, more: u64) {
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

    pub async fn finish(self) -> Arc<History> {
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
pub async fn check_all(
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
    let mut last_position: HashMap<(u16, u16), LogPosition> = HashMap::new();
    let mut versions: HashMap<&ActorId, Vec<u64>> = HashMap::new();
    for (p, a, v) in seen {
        if let Some(before) = last_position.insert((p.epoch, p.partition), *p) {
            assert!(before < *p, "partition {}: {p} after {before}", p.partition);
        }
        if p.epoch == store.epoch() {
            assert_eq!(p.partition, store.partition_of(a), "{a:?} in its partition");
        }
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
pub async fn caught_up(
    store: &JetStreamEventStore,
    running: &mut aether_projection::RunningProjection<Recorder>,
) {
    let head = store.head().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(120),
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

pub fn runner_config() -> RunnerConfig {
    RunnerConfig {
        checkpoint_every: 50,
        reconnect_delay: Duration::from_millis(200),
        ..Default::default()
    }
}

//! Projections over a partitioned log (a JetStream namespace of 4
//! partitions): KV checkpoints holding the vector of positions, SQLite
//! positions one row per partition inside the read model's transaction, and
//! runners sharing the log by ranges of partitions. Every run's recorded
//! history is checked: each event once, each actor in order, each partition
//! at increasing positions.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aether_core::{ActorId, Event, LogCursor, LogPosition, Result, json};
use aether_projection::{
    CheckpointStore, Filter, KvCheckpointConfig, KvCheckpoints, Projection, ProjectionRunner,
};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;

const WAIT: Duration = Duration::from_secs(60);

/// One handled event: position, actor, version.
type Seen = (LogPosition, String, u64);

#[derive(Clone, Default)]
struct Recorder {
    name: String,
    filter: Filter,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    fn new(name: &str, filter: Filter) -> Self {
        Self {
            name: name.into(),
            filter,
            seen: Arc::default(),
        }
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Projection for Recorder {
    fn name(&self) -> &str {
        &self.name
    }
    fn filter(&self) -> Filter {
        self.filter.clone()
    }
    async fn handle(&mut self, event: &Event, position: LogPosition) -> Result<()> {
        self.seen.lock().unwrap().push((
            position,
            event.actor_id.as_str().to_string(),
            event.version,
        ));
        Ok(())
    }
}

async fn partitioned(server: &NatsServer) -> JetStreamEventStore {
    let store = JetStreamEventStore::connect(
        &server.url(),
        JetStreamConfig {
            namespace: "parts".into(),
            partitions: 4,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(store.partitions(), 4);
    store
}

/// Appends versions `from..=to` of `acct-0..actors`, round robin.
async fn fill(store: &JetStreamEventStore, actors: usize, from: u64, to: u64) {
    for v in from..=to {
        let batch = (0..actors).map(|n| {
            let a = ActorId::new(format!("acct-{n}")).unwrap();
            let e = Event::new(a.clone(), v, "Added", json!({"n": v}));
            (a, aether_core::ExpectedVersion::Exact(v - 1), vec![e])
        });
        for r in store.append_many(batch).await {
            r.unwrap();
        }
    }
}

/// Each event once, each actor's versions in order, each partition's
/// positions increasing; returns the partitions seen.
#[track_caller]
fn check(seen: &[Seen], actors: usize, per_actor: u64) -> HashSet<u16> {
    let mut last_position: HashMap<u16, LogPosition> = HashMap::new();
    let mut last_version: HashMap<&str, u64> = HashMap::new();
    for (p, a, v) in seen {
        if let Some(before) = last_position.insert(p.partition, *p) {
            assert!(before < *p, "partition {}: {p} after {before}", p.partition);
        }
        let before = last_version.insert(a, *v).unwrap_or(0);
        assert_eq!(*v, before + 1, "{a} at {p}: version {v} after {before}");
    }
    assert_eq!(last_version.len(), actors, "every actor");
    assert!(
        last_version.values().all(|v| *v == per_actor),
        "every event"
    );
    assert_eq!(seen.len() as u64, actors as u64 * per_actor, "none twice");
    last_position.keys().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_checkpoints_hold_a_vector_and_a_restart_resumes_exactly_after_it() {
    let server = NatsServer::start().await;
    let store = partitioned(&server).await;
    let checkpoints = KvCheckpoints::open(store.client().clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    fill(&store, 32, 1, 40).await;
    let first = Recorder::new("vector", Filter::all());
    let mut running =
        ProjectionRunner::new(store.clone(), first.clone(), checkpoints.clone()).start();
    running.wait_for(|s| s.handled >= 600).await;
    let (_, status) = running.stop().await.unwrap();
    let saved = checkpoints.load("vector").await.unwrap();
    assert_eq!(saved, status.cursor, "stopping saves the cursor");
    assert!(
        saved.positions().len() > 1,
        "the checkpoint holds a position per partition read: {saved}"
    );
    // The text in KV: one position per partition, comma separated.
    let text = saved.to_string();
    assert_eq!(text.parse::<LogCursor>().unwrap(), saved, "{text}");
    fill(&store, 32, 41, 50).await;
    let second = Recorder::new("vector", Filter::all());
    let mut running =
        ProjectionRunner::new(store.clone(), second.clone(), checkpoints.clone()).start();
    let handled_before = first.seen().len() as u64;
    running
        .wait_for(|s| s.handled == 32 * 50 - handled_before)
        .await;
    running.stop().await.unwrap();
    let mut all = first.seen();
    for s in second.seen() {
        assert!(
            !saved.covers(&s.0),
            "{} at {} was before the checkpoint {saved}",
            s.1,
            s.0
        );
        all.push(s);
    }
    // Per actor the runs concatenate; per partition too.
    let parts = check(&all, 32, 50);
    assert_eq!(parts.len(), 4, "32 actors cover the 4 partitions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_of_partition_ranges_together_see_every_event_once() {
    let server = NatsServer::start().await;
    let store = partitioned(&server).await;
    let checkpoints = KvCheckpoints::open(store.client().clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    fill(&store, 40, 1, 10).await;
    let low = Recorder::new("halves-low", Filter::all().partitions(0..2));
    let high = Recorder::new("halves-high", Filter::all().partitions(2..4));
    let a = ProjectionRunner::new(store.clone(), low.clone(), checkpoints.clone()).start();
    let b = ProjectionRunner::new(store.clone(), high.clone(), checkpoints.clone()).start();
    // Live appends while they catch up.
    fill(&store, 40, 11, 20).await;
    let total = 40 * 20;
    tokio::time::timeout(WAIT, async {
        loop {
            if low.seen().len() + high.seen().len() >= total {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("both halves read everything");
    let (_, sa) = a.stop().await.unwrap();
    let (_, sb) = b.stop().await.unwrap();
    assert!(low.seen().iter().all(|s| s.0.partition < 2));
    assert!(high.seen().iter().all(|s| s.0.partition >= 2));
    assert!(
        sa.cursor.positions().iter().all(|p| p.partition < 2),
        "{}",
        sa.cursor
    );
    assert!(
        sb.cursor.positions().iter().all(|p| p.partition >= 2),
        "{}",
        sb.cursor
    );
    let mut all = low.seen();
    all.extend(high.seen());
    check(&all, 40, 20);
}

#[cfg(feature = "sqlite")]
mod in_sqlite {
    use super::*;
    use aether_core::Error;
    use aether_projection::{Checkpointing, State, sqlite};

    /// The read model: one row per applied event (a repeat would violate its
    /// key), and the position in the same transaction.
    struct Sqlite {
        db: rusqlite::Connection,
        fail_at: Option<usize>,
        applied: usize,
    }

    impl Projection for Sqlite {
        fn name(&self) -> &str {
            "rows"
        }
        async fn handle(&mut self, event: &Event, position: LogPosition) -> Result<()> {
            if self.fail_at == Some(self.applied) {
                return Err(Error::storage("a crash, as far as the read model knows"));
            }
            let tx = self
                .db
                .transaction()
                .map_err(|e| Error::storage_with("begin", e))?;
            tx.execute(
                "INSERT INTO applied (actor, version, part, seq, idx) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    event.actor_id.as_str(),
                    event.version as i64,
                    i64::from(position.partition),
                    position.sequence as i64,
                    i64::from(position.index)
                ],
            )
            .map_err(|e| Error::storage_with("an event applied twice", e))?;
            sqlite::save_position(&tx, "rows", position)?;
            tx.commit().map_err(|e| Error::storage_with("commit", e))?;
            self.applied += 1;
            Ok(())
        }
        async fn position(&mut self) -> Result<LogCursor> {
            sqlite::load_position(&self.db, "rows")
        }
    }

    fn open_db(path: &std::path::Path, fail_at: Option<usize>) -> Sqlite {
        let db = rusqlite::Connection::open(path).unwrap();
        sqlite::create_table(&db).unwrap();
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS applied (
                 actor TEXT NOT NULL, version INTEGER NOT NULL,
                 part INTEGER NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
                 PRIMARY KEY (actor, version))",
        )
        .unwrap();
        Sqlite {
            db,
            fail_at,
            applied: 0,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_keeps_a_row_per_partition_and_every_effect_commits_once() {
        let server = NatsServer::start().await;
        let store = partitioned(&server).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.db");
        fill(&store, 24, 1, 30).await;
        // Three runs, each stopping at a failing event part way (what the read
        // model commits is all that survives), then one to the end.
        for fail_at in [100, 170, 90] {
            let mut running = ProjectionRunner::new(
                store.clone(),
                open_db(&path, Some(fail_at)),
                Checkpointing::InProjection,
            )
            .with_config(aether_projection::RunnerConfig {
                retry: aether_core::aggregate::RetryPolicy::exponential(
                    1,
                    Duration::from_millis(1),
                    Duration::from_millis(1),
                ),
                ..Default::default()
            })
            .start();
            let s = tokio::time::timeout(WAIT, running.wait_for(|s| s.is_failed()))
                .await
                .unwrap();
            assert!(matches!(s.state, State::Failed { .. }), "{s:?}");
            running.stop().await.unwrap();
        }
        let mut running = ProjectionRunner::new(
            store.clone(),
            open_db(&path, None),
            Checkpointing::InProjection,
        )
        .start();
        let head = aether_core::EventLog::head(&store).await.unwrap();
        tokio::time::timeout(WAIT, running.wait_for(|s| s.cursor.reached(&head)))
            .await
            .unwrap();
        running.stop().await.unwrap();
        let db = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = db
            .query_row("SELECT COUNT(*) FROM applied", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 24 * 30, "every event applied, none twice");
        let cursor = sqlite::load_position(&db, "rows").unwrap();
        assert_eq!(cursor.positions().len(), 4, "a row per partition: {cursor}");
        assert!(cursor.reached(&head), "{cursor} at the head {head}");
        let parts: i64 = db
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM {} WHERE projection = 'rows'",
                    sqlite::TABLE
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(parts, 4);
    }
}

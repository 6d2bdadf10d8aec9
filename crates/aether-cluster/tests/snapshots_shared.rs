//! One snapshot format, read the same way by the actor runtime and by a
//! `Repository` on the same stores (issue #22).
//!
//! The aggregate here is a tally whose state struct is `#[serde(default)]`:
//! any JSON object decodes as *some* tally, so a loader that decodes the
//! runtime's snapshot envelope (`{"format":…,"state":{…},"recent":[…]}`) as
//! the bare state gets the default tally (total 0) at the snapshot's version,
//! silently, and a command decided on it appends without any conflict.

mod runtime_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aether_cluster::runtime::{ActorConfig, Passivation, RuntimeConfig};
use aether_core::aggregate::{
    Aggregate, DomainEvent, Queryable, Repository, SNAPSHOT_FORMAT, SnapshotPolicy,
};
use aether_core::{
    ActorId, Event, EventStore, ExpectedVersion, Replay, Snapshot, SnapshotStore, json,
};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::eventually;
use runtime_support::{actor, fresh, system};
use serde::{Deserialize, Serialize};

/// A tally: every field defaults, so any JSON object decodes as a tally.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
struct Tally {
    total: u64,
    adds: u64,
}

#[derive(Debug, Clone, Copy)]
enum TallyCommand {
    Add(u64),
    /// Adds the current total: decided on a wrong state, it writes a wrong event.
    Double,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum TallyEvent {
    Added { by: u64 },
}

impl DomainEvent for TallyEvent {
    fn event_type(&self) -> &'static str {
        "Added"
    }
}

impl Aggregate for Tally {
    const TYPE: &'static str = "tally";
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = std::convert::Infallible;

    fn handle(&self, command: &TallyCommand) -> Result<Vec<TallyEvent>, Self::Error> {
        let by = match *command {
            TallyCommand::Add(by) => by,
            TallyCommand::Double => self.total,
        };
        Ok(vec![TallyEvent::Added { by }])
    }

    fn apply(&mut self, event: &TallyEvent) {
        match event {
            TallyEvent::Added { by } => {
                self.total += by;
                self.adds += 1;
            }
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Total;

impl Queryable for Tally {
    type Query = Total;
    type Answer = u64;

    fn query(&self, _: &Total) -> u64 {
        self.total
    }
}

/// An event store that records the version every read starts from.
#[derive(Debug, Clone, Default)]
struct Recording {
    inner: InMemoryEventStore,
    froms: Arc<Mutex<Vec<u64>>>,
}

impl Recording {
    fn froms(&self) -> Vec<u64> {
        self.froms.lock().unwrap().clone()
    }
}

impl EventStore for Recording {
    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> aether_core::Result<u64> {
        self.inner.append_batch(actor_id, expected, events).await
    }

    async fn read(&self, actor_id: &ActorId, from_version: u64) -> aether_core::Result<Vec<Event>> {
        self.froms.lock().unwrap().push(from_version);
        self.inner.read(actor_id, from_version).await
    }

    async fn read_with_errors(
        &self,
        actor_id: &ActorId,
        from_version: u64,
    ) -> aether_core::Result<Replay> {
        self.froms.lock().unwrap().push(from_version);
        self.inner.read_with_errors(actor_id, from_version).await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> aether_core::Result<u64> {
        self.inner.latest_version(actor_id).await
    }
}

fn passivate_with_a_snapshot() -> ActorConfig {
    ActorConfig {
        passivation: Passivation {
            snapshot_after: 1,
            ..Passivation::default()
        },
        ..ActorConfig::default()
    }
}

/// 5 + 8 + 10 = 23 in three events.
const ADDS: [u64; 3] = [5, 8, 10];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_snapshot_loads_in_a_repository_with_its_state() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let sys = system::<Tally, _>(
        &store,
        Some(&snaps),
        RuntimeConfig::default(),
        passivate_with_a_snapshot(),
    )
    .await;
    let id = fresh::<Tally>();
    let tally = actor::<Tally>(&sys, &id);
    for by in ADDS {
        tally.ask(TallyCommand::Add(by)).await.unwrap();
    }
    assert_eq!(tally.query(Total).await.unwrap(), 23);
    tally.passivate();
    eventually("passivated", Duration::from_secs(5), async || {
        !tally.is_active()
    })
    .await;
    let snap = snaps
        .latest_snapshot(&id)
        .await
        .unwrap()
        .expect("a snapshot on passivation");
    assert_eq!(snap.version, 3);
    assert_eq!(
        snap.state["format"],
        json!(SNAPSHOT_FORMAT),
        "the runtime writes the envelope: {}",
        snap.state
    );

    let repo = Repository::<Tally, _>::new(store.clone())
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::Never);
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(
        (loaded.state.total, loaded.version),
        (23, 3),
        "the repository reads the envelope's state, not the envelope as a state"
    );
    assert_eq!(
        (loaded.snapshot_version, loaded.replayed),
        (3, 0),
        "from the snapshot"
    );

    // A command decided on the loaded state: 23 doubled.
    let committed = repo.execute(&id, TallyCommand::Double).await.unwrap();
    assert_eq!((committed.version, committed.state.total), (4, 46));
    let replayed = Repository::<Tally, _>::new(store).load(&id).await.unwrap();
    assert_eq!((replayed.version, replayed.state.total), (4, 46));
    sys.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_snapshot_loads_in_the_runtime_with_its_state() {
    let store = Recording::default();
    let snaps = InMemorySnapshotStore::new();
    let repo = Repository::<Tally, _>::new(store.clone())
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::EveryNEvents(3));
    let id = fresh::<Tally>();
    for by in ADDS {
        repo.execute(&id, TallyCommand::Add(by)).await.unwrap();
    }
    let snap = snaps
        .latest_snapshot(&id)
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(snap.version, 3);

    let sys = system::<Tally, _>(
        &store,
        Some(&snaps),
        RuntimeConfig::default(),
        passivate_with_a_snapshot(),
    )
    .await;
    let tally = actor::<Tally>(&sys, &id);
    let reads = store.froms().len();
    assert_eq!(tally.query(Total).await.unwrap(), 23);
    assert_eq!(
        store.froms()[reads..],
        [4],
        "the runtime started from the snapshot"
    );
    let doubled = tally.ask(TallyCommand::Double).await.unwrap();
    assert_eq!(doubled.version, 4);
    assert_eq!(tally.query(Total).await.unwrap(), 46);
    sys.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_snapshot_of_an_earlier_release_loads_in_both() {
    let store = Recording::default();
    let snaps = InMemorySnapshotStore::new();
    let repo = Repository::<Tally, _>::new(store.clone())
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::Never);
    let id = fresh::<Tally>();
    for by in ADDS {
        repo.execute(&id, TallyCommand::Add(by)).await.unwrap();
    }
    // What a repository of an earlier release wrote: the bare state.
    snaps
        .save_snapshot(
            Snapshot::new(id.clone(), 3, json!({"total": 23, "adds": 3}))
                .with_schema_version(Tally::SNAPSHOT_SCHEMA_VERSION),
        )
        .await
        .unwrap();

    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(
        (loaded.state.total, loaded.version, loaded.snapshot_version),
        (23, 3, 3)
    );

    let sys = system::<Tally, _>(
        &store,
        Some(&snaps),
        RuntimeConfig::default(),
        passivate_with_a_snapshot(),
    )
    .await;
    let tally = actor::<Tally>(&sys, &id);
    let reads = store.froms().len();
    assert_eq!(tally.query(Total).await.unwrap(), 23);
    assert_eq!(store.froms()[reads..], [4], "from the bare snapshot");
    sys.shutdown().await.unwrap();
}

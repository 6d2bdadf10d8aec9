//! The projection runner against the in-memory store and a real nats-server:
//! catch-up then live without gap or repeat, filters, failures that stop at
//! the failing event, malformed entries, KV checkpoints, rebuilds, and one
//! active instance per projection under leases (a recorded history).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aether_core::{ActorId, Error, Event, EventStore, ExpectedVersion, LogPosition, Result, json};
use aether_projection::{
    Filter, KvCheckpointConfig, KvCheckpoints, LeaseConfig, MemoryCheckpoints, Projection,
    ProjectionLeases, ProjectionRunner, RunnerConfig, State,
};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_store_memory::InMemoryEventStore;
use aether_testkit::{NatsServer, eventually};

const WAIT: Duration = Duration::from_secs(60);

/// One handled event: position, actor, version, event type.
type Seen = (LogPosition, String, u64, String);

/// A runner's recorded history: holder, position, lease token.
type Held = Arc<Mutex<Vec<(String, LogPosition, u64)>>>;

/// Records every event it is shown: (position, actor, version), and the
/// events' types. Optionally fails on one version.
#[derive(Clone, Default)]
struct Recorder {
    name: String,
    filter: Option<Filter>,
    seen: Arc<Mutex<Vec<Seen>>>,
    fail_on: Option<u64>,
    attempts: Arc<Mutex<u32>>,
}

impl Recorder {
    fn named(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
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
        self.filter.clone().unwrap_or_default()
    }
    async fn handle(&mut self, event: &Event, position: LogPosition) -> Result<()> {
        if self.fail_on == Some(event.version) {
            *self.attempts.lock().unwrap() += 1;
            return Err(Error::storage("the read model refuses this one"));
        }
        self.seen.lock().unwrap().push((
            position,
            event.actor_id.as_str().to_string(),
            event.version,
            event.event_type.clone(),
        ));
        Ok(())
    }
}

async fn jetstream(server: &NatsServer) -> JetStreamEventStore {
    JetStreamEventStore::connect(
        &server.url(),
        JetStreamConfig {
            namespace: "proj".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// Appends versions `from..=to` to each of `actors` actors `{ty}-{n}`,
/// round robin.
async fn fill<S: EventStore>(store: &S, ty: &str, actors: usize, from: u64, to: u64) {
    for v in from..=to {
        for n in 0..actors {
            let a = ActorId::new(format!("{ty}-{n}")).unwrap();
            store
                .append(Event::new(a, v, "Added", json!({"n": v})))
                .await
                .unwrap();
        }
    }
}

/// Appends versions `from..=to` of `actor` (data = the version).
async fn append_range<S: EventStore>(store: &S, actor: &ActorId, from: u64, to: u64) {
    for v in from..=to {
        store
            .append(Event::new(actor.clone(), v, "Added", json!(v)))
            .await
            .unwrap();
    }
}

/// For `append_many`: versions `from..=to` of `acct-0` .. `acct-{actors-1}`,
/// round robin, each expecting the version before it.
fn appends(actors: usize, from: u64, to: u64) -> Vec<(ActorId, ExpectedVersion, Vec<Event>)> {
    let mut work = Vec::new();
    for v in from..=to {
        for n in 0..actors {
            let a = ActorId::new(format!("acct-{n}")).unwrap();
            work.push((
                a.clone(),
                ExpectedVersion::Exact(v - 1),
                vec![Event::new(a, v, "Added", json!({"n": v}))],
            ));
        }
    }
    work
}

/// Checks the recorded history: strictly increasing positions, each actor's
/// versions 1..=n once each in order.
fn check_history(seen: &[Seen], actors: usize, per_actor: u64) {
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "positions strictly increase"
    );
    let mut last = std::collections::HashMap::new();
    for (p, a, v, _) in seen {
        let before = last.insert(a.clone(), *v).unwrap_or(0);
        assert_eq!(*v, before + 1, "{a} at {p}: version {v} after {before}");
    }
    assert_eq!(last.len(), actors, "every actor");
    assert!(last.values().all(|v| *v == per_actor), "every event");
    assert_eq!(seen.len() as u64, actors as u64 * per_actor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_catch_up_then_live_without_gap_or_repeat() {
    let store = InMemoryEventStore::new();
    fill(&store, "acct", 10, 1, 500).await;
    let p = Recorder::named("all");
    let mut running =
        ProjectionRunner::new(store.clone(), p.clone(), MemoryCheckpoints::new()).start();
    // Live appends while it catches up.
    fill(&store, "acct", 10, 501, 1000).await;
    let s = running
        .wait_for(|s| s.handled == 10_000 || s.is_failed())
        .await;
    assert!(s.is_live(), "{s:?}");
    check_history(&p.seen(), 10, 1000);
    running.stop().await.unwrap();
}

/// A log that breaks: its first subscription fails after `fail_after`
/// entries, and the next `refusals` subscribe calls fail at once.
#[derive(Clone)]
struct Breaking {
    inner: InMemoryEventStore,
    fail_after: usize,
    refusals: Arc<Mutex<usize>>,
    subscribed: Arc<Mutex<usize>>,
}

impl aether_core::EventLog for Breaking {
    async fn subscribe(
        &self,
        selection: aether_core::LogSelection,
        after: impl Into<aether_core::LogCursor> + Send,
    ) -> Result<aether_core::LogSubscription> {
        let after = after.into();
        let n = {
            let mut s = self.subscribed.lock().unwrap();
            *s += 1;
            *s
        };
        if n > 1 {
            let mut r = self.refusals.lock().unwrap();
            if *r > 0 {
                *r -= 1;
                return Err(Error::unavailable("the log is not back yet"));
            }
        }
        let mut inner = self.inner.subscribe(selection, after).await?;
        if n > 1 {
            return Ok(inner);
        }
        let (sub, feed) = aether_core::LogSubscription::channel(inner.backlog());
        let fail_after = self.fail_after;
        tokio::spawn(async move {
            for _ in 0..fail_after {
                match inner.next().await {
                    Ok(e) => {
                        if !feed.send(vec![e]).await {
                            return;
                        }
                    }
                    Err(e) => return feed.fail(e).await,
                }
            }
            feed.fail(Error::unavailable("the log broke")).await;
        });
        Ok(sub)
    }

    async fn head(&self) -> Result<aether_core::LogCursor> {
        self.inner.head().await
    }
}

/// Regression: after the log failed, a resubscription that failed too made
/// the next attempt start from the checkpoint store (which lags behind by
/// design), repeating what had been handled; it goes on from the last
/// handled entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resubscription_goes_on_from_the_last_handled_entry_not_the_checkpoint() {
    let store = InMemoryEventStore::new();
    fill(&store, "acct", 5, 1, 40).await;
    let log = Breaking {
        inner: store.clone(),
        fail_after: 77,
        refusals: Arc::new(Mutex::new(2)),
        subscribed: Arc::default(),
    };
    let p = Recorder::named("breaking");
    // Never saves on its own during the run: the checkpoint stays empty.
    let config = RunnerConfig {
        checkpoint_every: 1_000_000,
        checkpoint_interval: Duration::from_secs(3600),
        reconnect_delay: Duration::from_millis(10),
        ..RunnerConfig::default()
    };
    let mut running = ProjectionRunner::new(log.clone(), p.clone(), MemoryCheckpoints::new())
        .with_config(config)
        .start();
    let s = tokio::time::timeout(
        WAIT,
        running.wait_for(|s| s.handled >= 200 || s.is_failed()),
    )
    .await
    .unwrap();
    assert!(!s.is_failed(), "{s:?}");
    assert_eq!(
        *log.subscribed.lock().unwrap(),
        4,
        "broke once, refused twice"
    );
    running.stop().await.unwrap();
    check_history(&p.seen(), 5, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_catch_up_of_100_000_then_live_without_gap_or_repeat() {
    let server = NatsServer::start().await;
    let store = jetstream(&server).await;
    const ACTORS: usize = 100;
    let batch = |from, to| appends(ACTORS, from, to);
    for r in store.append_many(batch(1, 1000)).await {
        r.unwrap();
    }
    let p = Recorder::named("all");
    let checkpoints = MemoryCheckpoints::new();
    let mut running = ProjectionRunner::new(store.clone(), p.clone(), checkpoints.clone()).start();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for chunk in 0..10u64 {
                for r in store
                    .append_many(batch(1001 + chunk * 10, 1010 + chunk * 10))
                    .await
                {
                    r.unwrap();
                }
            }
        })
    };
    writer.await.unwrap();
    let s = tokio::time::timeout(
        WAIT * 2,
        running.wait_for(|s| s.handled == 110_000 || s.is_failed()),
    )
    .await
    .expect("all events within the time limit");
    assert!(s.is_live(), "{s:?}");
    check_history(&p.seen(), ACTORS, 1100);
    let (_, s) = running.stop().await.unwrap();
    use aether_projection::CheckpointStore;
    assert_eq!(
        checkpoints.load("all").await.unwrap(),
        s.cursor,
        "stopping saves the last position"
    );
    assert_eq!(
        s.cursor,
        s.position.into(),
        "one partition: the cursor is the last position"
    );
}

/// Filters by actor type, actor pattern and event type deliver exactly the
/// matching events, in log order, on `store`.
async fn filter_case<S: EventStore + aether_core::EventLog + Clone + 'static>(
    store: S,
    what: &str,
) {
    let appends = [
        ("order-eu-1", 1, "Placed"),
        ("order-us-1", 1, "Placed"),
        ("cart-1", 1, "Added"),
        ("order-eu-2", 1, "Cancelled"),
        ("order-eu-1", 2, "Shipped"),
        ("order-eu-3", 1, "Placed"),
    ];
    let append = async |(id, v, ty): (&str, u64, &str)| {
        store
            .append(Event::new(ActorId::new(id).unwrap(), v, ty, json!({})))
            .await
            .unwrap();
    };
    for a in &appends[..3] {
        append(*a).await;
    }
    let p = Recorder {
        filter: Some(
            Filter::actor_types(["order"])
                .actor_pattern("order-eu-*")
                .unwrap()
                .event_types(["Placed", "Shipped"]),
        ),
        ..Recorder::named("filtered")
    };
    let mut running =
        ProjectionRunner::new(store.clone(), p.clone(), MemoryCheckpoints::new()).start();
    for a in &appends[3..] {
        append(*a).await;
    }
    tokio::time::timeout(WAIT, running.wait_for(|s| s.handled == 3))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got: Vec<(String, String)> = p.seen().into_iter().map(|(_, a, _, t)| (a, t)).collect();
    let want: Vec<(String, String)> = [
        ("order-eu-1", "Placed"),
        ("order-eu-1", "Shipped"),
        ("order-eu-3", "Placed"),
    ]
    .iter()
    .map(|(a, t)| (a.to_string(), t.to_string()))
    .collect();
    assert_eq!(
        got, want,
        "{what}: exactly the matching events, in log order"
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_deliver_exactly_the_matching_events_in_order() {
    filter_case(InMemoryEventStore::new(), "memory").await;
    let server = NatsServer::start().await;
    filter_case(jetstream(&server).await, "jetstream").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_is_retried_then_stops_at_that_event() {
    let store = InMemoryEventStore::new();
    let a = ActorId::new("acct-1").unwrap();
    append_range(&store, &a, 1, 5).await;
    let p = Recorder {
        fail_on: Some(3),
        ..Recorder::named("failing")
    };
    let config = RunnerConfig {
        retry: aether_core::aggregate::RetryPolicy::exponential(
            3,
            Duration::from_millis(5),
            Duration::from_millis(20),
        ),
        ..RunnerConfig::default()
    };
    let checkpoints = MemoryCheckpoints::new();
    let mut running = ProjectionRunner::new(store.clone(), p.clone(), checkpoints.clone())
        .with_config(config)
        .start();
    let s = tokio::time::timeout(WAIT, running.wait_for(|s| s.is_failed()))
        .await
        .unwrap();
    let State::Failed { position, error } = &s.state else {
        panic!("failed state expected: {s:?}");
    };
    assert_eq!(
        *position,
        LogPosition::new(3, 0),
        "stopped at the third event"
    );
    assert!(error.contains("refuses"), "{error}");
    assert_eq!(*p.attempts.lock().unwrap(), 3, "three attempts");
    assert_eq!(p.seen().len(), 2, "nothing after the failing event");
    use aether_projection::CheckpointStore;
    assert_eq!(
        checkpoints.load("failing").await.unwrap(),
        LogPosition::new(2, 0).into(),
        "the checkpoint is the last good event, so a restart retries the failing one"
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_stored_event_stops_the_projection_with_its_position() {
    let server = NatsServer::start().await;
    let store = jetstream(&server).await;
    let a = ActorId::new("acct-1").unwrap();
    store
        .append(Event::new(a.clone(), 1, "Added", json!(1)))
        .await
        .unwrap();
    // Garbage on the actor's subject, written around the store.
    let js = async_nats::jetstream::new(store.client().clone());
    let ack = js
        .publish(store.subject_for(&a), "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let p = Recorder::named("strict");
    let mut running =
        ProjectionRunner::new(store.clone(), p.clone(), MemoryCheckpoints::new()).start();
    let s = tokio::time::timeout(WAIT, running.wait_for(|s| s.is_failed()))
        .await
        .unwrap();
    let State::Failed { position, error } = &s.state else {
        panic!("{s:?}");
    };
    assert_eq!(*position, LogPosition::new(ack.sequence, 0));
    assert!(error.contains("malformed"), "{error}");
    assert_eq!(p.seen().len(), 1);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_checkpoints_resume_where_the_last_run_saved_and_rebuild_starts_over() {
    let server = NatsServer::start().await;
    let store = jetstream(&server).await;
    let checkpoints = KvCheckpoints::open(store.client().clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    let a = ActorId::new("acct-1").unwrap();
    append_range(&store, &a, 1, 50).await;
    let first = Recorder::named("resume");
    let mut running =
        ProjectionRunner::new(store.clone(), first.clone(), checkpoints.clone()).start();
    running.wait_for(|s| s.handled == 50).await;
    running.stop().await.unwrap();
    append_range(&store, &a, 51, 60).await;
    let second = Recorder::named("resume");
    let mut running =
        ProjectionRunner::new(store.clone(), second.clone(), checkpoints.clone()).start();
    running.wait_for(|s| s.handled == 10).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let versions: Vec<u64> = second.seen().iter().map(|s| s.2).collect();
    assert_eq!(
        versions,
        (51..=60).collect::<Vec<_>>(),
        "resumed after the checkpoint"
    );
    running.stop().await.unwrap();
    // A rebuild forgets the checkpoint and replays everything, with progress.
    let third = Recorder::named("resume");
    let mut running =
        ProjectionRunner::new(store.clone(), third.clone(), checkpoints.clone()).rebuild();
    let s = running.wait_for(|s| s.handled == 60).await;
    assert_eq!(third.seen().len(), 60);
    let progress = s.progress();
    assert_eq!((progress.done, progress.total), (60, 60), "{progress:?}");
    running.stop().await.unwrap();
}

/// Two runners of one projection under one lease bucket, each recording
/// when it handles: never both active; the standby takes over after the
/// active one stops (at once: it releases) and after it is frozen (its
/// lease runs out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_of_one_projection_are_never_both_active() {
    let server = NatsServer::start().await;
    let store = jetstream(&server).await;
    let lease_config = |holder: &str| LeaseConfig {
        lease: Duration::from_secs(2),
        safety_margin: Duration::from_millis(300),
        holder: holder.into(),
        ..LeaseConfig::default()
    };
    let leases_a = ProjectionLeases::open(store.client().clone(), lease_config("a"))
        .await
        .unwrap();
    let leases_b = ProjectionLeases::open(store.client().clone(), lease_config("b"))
        .await
        .unwrap();
    // History: (holder, position, lease token) per handled event.
    let history: Held = Arc::default();
    #[derive(Clone)]
    struct Active {
        me: String,
        history: Held,
        token: Arc<Mutex<u64>>,
    }
    impl Projection for Active {
        fn name(&self) -> &str {
            "single"
        }
        async fn handle(&mut self, _e: &Event, at: LogPosition) -> Result<()> {
            let token = *self.token.lock().unwrap();
            self.history
                .lock()
                .unwrap()
                .push((self.me.clone(), at, token));
            Ok(())
        }
    }
    let checkpoints = KvCheckpoints::open(store.client().clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    let make = |me: &str| Active {
        me: me.into(),
        history: history.clone(),
        token: Arc::default(),
    };
    let (pa, pb) = (make("a"), make("b"));
    let mut ra = ProjectionRunner::new(store.clone(), pa.clone(), checkpoints.clone())
        .with_leases(leases_a.clone())
        .start();
    let sa = ra.wait_for(|s| s.lease_token.is_some()).await;
    *pa.token.lock().unwrap() = sa.lease_token.unwrap();
    let mut rb = ProjectionRunner::new(store.clone(), pb.clone(), checkpoints.clone())
        .with_leases(leases_b.clone())
        .start();
    let a = ActorId::new("acct-1").unwrap();
    append_range(&store, &a, 1, 20).await;
    ra.wait_for(|s| s.handled == 20).await;
    assert_eq!(rb.status().state, State::Standby);
    assert_eq!(
        leases_a.holder("single").await.unwrap().as_deref(),
        Some("a")
    );
    // Stop A: B takes over at once (the lease is released) and resumes
    // after A's checkpoint.
    ra.stop().await.unwrap();
    let sb = tokio::time::timeout(WAIT, rb.wait_for(|s| s.lease_token.is_some()))
        .await
        .unwrap();
    *pb.token.lock().unwrap() = sb.lease_token.unwrap();
    append_range(&store, &a, 21, 40).await;
    rb.wait_for(|s| s.handled >= 20 && s.is_live()).await;
    rb.stop().await.unwrap();
    let history = history.lock().unwrap().clone();
    // The checker: positions strictly increase over the whole history (one
    // active instance at a time, none repeated here since A saved on stop),
    // each holder's events form one contiguous run, tokens only grow.
    assert_eq!(history.len(), 40, "{history:?}");
    assert!(history.windows(2).all(|w| w[0].1 < w[1].1), "{history:?}");
    let switches = history.windows(2).filter(|w| w[0].0 != w[1].0).count();
    assert_eq!(switches, 1, "one takeover");
    assert!(history.windows(2).all(|w| w[0].2 <= w[1].2), "tokens grow");
    assert!(
        history[20].2 > history[0].2,
        "the successor's token is larger"
    );
}

/// The active runner's connection is black-holed (a frozen or cut-off
/// node): it stops handling once its lease runs out on its own clock, and
/// the standby takes over only after the server expired the lease. The
/// recorded history (holder, position, token, time) shows no overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_runner_stops_and_the_standby_takes_over_after_the_lease() {
    use aether_testkit::TcpProxy;
    let server = NatsServer::start().await;
    let direct = jetstream(&server).await;
    let proxy = TcpProxy::start(server.port()).await;
    let client_a = async_nats::connect(proxy.url()).await.unwrap();
    let store_a = JetStreamEventStore::open(
        client_a.clone(),
        JetStreamConfig {
            namespace: "proj".into(),
            request_timeout: Duration::from_millis(500),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let lease = |holder: &str| LeaseConfig {
        lease: Duration::from_secs(2),
        safety_margin: Duration::from_millis(300),
        holder: holder.into(),
        request_timeout: Duration::from_millis(300),
        ..LeaseConfig::default()
    };
    let leases_a = ProjectionLeases::open(client_a.clone(), lease("a"))
        .await
        .unwrap();
    let leases_b = ProjectionLeases::open(direct.client().clone(), lease("b"))
        .await
        .unwrap();
    let checkpoints_a = KvCheckpoints::open(client_a.clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    let checkpoints_b = KvCheckpoints::open(direct.client().clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    type Log = Arc<Mutex<Vec<(String, LogPosition, std::time::Instant)>>>;
    let history: Log = Arc::default();
    #[derive(Clone)]
    struct Timed {
        me: String,
        history: Log,
    }
    impl Projection for Timed {
        fn name(&self) -> &str {
            "fenced"
        }
        async fn handle(&mut self, _e: &Event, at: LogPosition) -> Result<()> {
            self.history
                .lock()
                .unwrap()
                .push((self.me.clone(), at, std::time::Instant::now()));
            Ok(())
        }
    }
    let config = RunnerConfig {
        checkpoint_interval: Duration::from_millis(100),
        ..RunnerConfig::default()
    };
    let mut ra = ProjectionRunner::new(
        store_a.clone(),
        Timed {
            me: "a".into(),
            history: history.clone(),
        },
        checkpoints_a,
    )
    .with_leases(leases_a)
    .with_config(config.clone())
    .start();
    let sa = tokio::time::timeout(WAIT, ra.wait_for(|s| s.lease_token.is_some()))
        .await
        .unwrap();
    let mut rb = ProjectionRunner::new(
        direct.clone(),
        Timed {
            me: "b".into(),
            history: history.clone(),
        },
        checkpoints_b,
    )
    .with_leases(leases_b)
    .with_config(config)
    .start();
    let a = ActorId::new("acct-1").unwrap();
    append_range(&direct, &a, 1, 10).await;
    tokio::time::timeout(WAIT, ra.wait_for(|s| s.handled == 10))
        .await
        .unwrap();
    // A saves its checkpoint (read from B's side of the cut).
    use aether_projection::CheckpointStore;
    let saved = KvCheckpoints::open(direct.client().clone(), KvCheckpointConfig::default())
        .await
        .unwrap();
    eventually("A's checkpoint at 10", WAIT, async || {
        match saved.load("fenced").await {
            Ok(at) if at.get(0).is_some_and(|p| p.sequence >= 10) => Ok(()),
            other => Err(other),
        }
    })
    .await;
    assert_eq!(rb.status().state, State::Standby);
    let cut = std::time::Instant::now();
    proxy.blackhole();
    let sb = tokio::time::timeout(WAIT, rb.wait_for(|s| s.lease_token.is_some()))
        .await
        .unwrap();
    let took_over = cut.elapsed();
    assert!(
        took_over >= Duration::from_millis(1_500),
        "the standby waited for the lease to expire: {took_over:?}"
    );
    assert!(sb.lease_token > sa.lease_token, "a larger fencing token");
    append_range(&direct, &a, 11, 20).await;
    tokio::time::timeout(
        WAIT,
        rb.wait_for(|s| s.is_live() && s.position.is_some_and(|p| p.sequence >= 20)),
    )
    .await
    .unwrap();
    let history = history.lock().unwrap().clone();
    let last_a = history
        .iter()
        .filter(|h| h.0 == "a")
        .map(|h| h.2)
        .max()
        .unwrap();
    let first_b = history
        .iter()
        .filter(|h| h.0 == "b")
        .map(|h| h.2)
        .min()
        .unwrap();
    assert!(
        last_a < first_b,
        "never both active: A's last call before B's first"
    );
    assert!(
        last_a < cut + Duration::from_secs(2),
        "A stopped within its lease"
    );
    let mut positions: Vec<u64> = history.iter().map(|h| h.1.sequence).collect();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(
        positions,
        (1..=20).collect::<Vec<_>>(),
        "every event handled"
    );
    proxy.heal();
    rb.stop().await.unwrap();
    ra.stop().await.unwrap();
}

/// A NATS server killed and restarted under a runner, once in the middle of
/// its catch-up and once while it follows live appends: the subscription
/// fails, the runner subscribes again from where it got to (not from its
/// checkpoint, up to 1,000 entries behind), and the recorded history holds
/// every event once, in order: no gap, no repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_mid_catch_up_and_mid_live_loses_and_repeats_nothing() {
    let server = NatsServer::start().await;
    let store = jetstream(&server).await;
    const ACTORS: usize = 20;
    let batch = |from, to| appends(ACTORS, from, to);
    for r in store.append_many(batch(1, 1000)).await {
        r.unwrap();
    }
    let p = Recorder::named("restarts");
    let mut running = ProjectionRunner::new(store.clone(), p.clone(), MemoryCheckpoints::new())
        .with_config(RunnerConfig {
            reconnect_delay: Duration::from_millis(200),
            // Saves only every 1,000 entries, never on a quiet log: the
            // checkpoint lags behind what was handled when the log fails.
            checkpoint_interval: Duration::from_secs(3600),
            ..RunnerConfig::default()
        })
        .start();
    // Mid catch-up (20,000 stored).
    tokio::time::timeout(WAIT, running.wait_for(|s| s.handled >= 2_500))
        .await
        .unwrap();
    server.kill();
    server.restart().await;
    let s = tokio::time::timeout(
        WAIT,
        running.wait_for(|s| s.handled == 20_000 || s.is_failed()),
    )
    .await
    .expect("the catch-up goes on after the restart");
    assert!(s.is_live(), "{s:?}");
    // Mid live: appends before and after a second restart.
    for r in store.append_many(batch(1001, 1010)).await {
        r.unwrap();
    }
    server.kill();
    server.restart().await;
    // The store's appends may meet the reconnect: retried until they land
    // (each is conditional on the version before it, so none lands twice).
    for v in 1011..=1020 {
        for n in 0..ACTORS {
            let a = ActorId::new(format!("acct-{n}")).unwrap();
            let e = Event::new(a.clone(), v, "Added", json!({"n": v}));
            for attempt in 0.. {
                match store.append(e.clone()).await {
                    Ok(_) => break,
                    Err(_) if store.latest_version(&a).await.is_ok_and(|l| l >= v) => break,
                    Err(_) if attempt < 50 => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(err) => panic!("append {v} of {a}: {err}"),
                }
            }
        }
    }
    let s = tokio::time::timeout(
        WAIT,
        running.wait_for(|s| s.handled == 20_400 || s.is_failed()),
    )
    .await
    .expect("live events after the restart arrive");
    assert!(s.is_live(), "{s:?}");
    check_history(&p.seen(), ACTORS, 1020);
    running.stop().await.unwrap();
}

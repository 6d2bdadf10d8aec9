//! The model `Account` (models/account.yaml) run by the actor runtime,
//! against the typed `Account` (tests/support/typed_account.rs as an
//! `Aggregate`) in the same runtime, same run, interleaved rounds:
//!
//! - T3: in-memory store, one actor, 256 callers: commands/s (target: model
//!   ≥ 0.5× typed);
//! - T4: JetStream R1 file: sequential asks on one actor, p50 (target ≥ 0.95×
//!   typed's speed), beside a raw async-nats OCC append (publish with the
//!   expected last subject sequence, wait for the ack); and 256 callers on
//!   one actor, commands/s (target ≥ 0.8× typed);
//! - T5 (with `--features nats`): publish → served on all 3 nodes of a
//!   running cluster, p50/p99 (target p99 ≤ 1 s), beside a raw KV put on
//!   the registry's bucket until a watch on each node sees it
//!   (support/publish_served.rs).
//!
//! `cargo bench -p aether-model --features nats --bench runtime` (env
//! `MODEL_BENCH`, the parts, default `t3,t4,t5`; `MODEL_BENCH_ROUNDS`,
//! default 4 (each side first in every other round); `MODEL_BENCH_COMMANDS`, default 20,000 per throughput round;
//! `MODEL_BENCH_PUBLISHES`, default 20 T5 rounds; `MODEL_BENCH_EVICT_KIB`,
//! default 0: a buffer written over before each sequential ask, outside the
//! timed part, to start it with cold caches; `MODEL_BENCH_SIDE=typed` or
//! `model`: T3's and T4's throughput rounds of that side alone, to profile
//! it, with the anatomy of its turns from the runtime's metrics: commands a
//! turn, the store's append and the actor's own work per turn). Without `nats`, T5 is skipped. Each command is a deposit of 1 (one
//! event).
//!
//! On jemalloc instead of glibc's malloc (both sides; Debian's
//! `libjemalloc2`): `CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="env
//! LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2" cargo bench …`.

#[path = "../tests/support/typed_account.rs"]
mod typed_account;

#[cfg(feature = "nats")]
#[path = "support/publish_served.rs"]
mod publish_served;

use std::time::Instant;

use aether_cluster::runtime::{ActorConfig, ActorSystem};
use aether_core::EventStore;
use aether_core::aggregate::{Aggregate, DomainEvent};
use aether_model::{Deployed, Model, ModelBehavior, ModelCommand, check};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_store_memory::InMemoryEventStore;
use aether_testkit::NatsServer;
use aether_testkit::metrics::TestRecorder;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use serde_json::json;
use typed_account::{Account, Command, Event, Outcome};

impl DomainEvent for Event {
    fn event_type(&self) -> &str {
        Event::event_type(self)
    }
}

/// A typed refusal (the model's rejection code).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(&'static str);

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = Command;
    type Event = Event;
    type Error = Refused;

    fn handle(&self, c: &Command) -> Result<Vec<Event>, Refused> {
        match Account::handle(self, c) {
            Outcome::Events(e) => Ok(e),
            Outcome::Rejected(code) => Err(Refused(code)),
            Outcome::BadRequest => Err(Refused("bad_request")),
            Outcome::Fault => Err(Refused("fault")),
        }
    }

    fn apply(&mut self, e: &Event) {
        Account::apply(self, e);
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn median(v: &[f64]) -> f64 {
    pct(v.to_vec(), 0.5)
}

/// One side: a way to send a deposit of 1 to actor `key`.
#[derive(Clone)]
enum Side {
    Typed(ActorSystem),
    Model(ActorSystem),
}

impl Side {
    async fn open(&self, key: &str) {
        match self {
            Side::Typed(s) => {
                s.actor::<Account>(key)
                    .unwrap()
                    .ask(Command::Open {
                        owner: "ann".into(),
                        overdraft: None,
                    })
                    .await
                    .unwrap();
            }
            Side::Model(s) => {
                s.actor_of::<ModelBehavior>("account", key)
                    .unwrap()
                    .ask(ModelCommand::new("Open", json!({"owner": "ann"})))
                    .await
                    .unwrap();
            }
        }
    }

    /// `n` deposits from `callers` concurrent callers; the seconds taken.
    async fn deposits(&self, key: &str, callers: usize, n: usize) -> f64 {
        let each = n / callers;
        let t = Instant::now();
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let side = self.clone();
                let key = key.to_owned();
                tokio::spawn(async move {
                    for _ in 0..each {
                        side.deposit(&key).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        t.elapsed().as_secs_f64() / (each * callers) as f64
    }

    async fn deposit(&self, key: &str) {
        match self {
            Side::Typed(s) => {
                s.actor::<Account>(key)
                    .unwrap()
                    .ask(Command::Deposit { amount: 1 })
                    .await
                    .unwrap();
            }
            Side::Model(s) => {
                s.actor_of::<ModelBehavior>("account", key)
                    .unwrap()
                    .ask(ModelCommand::new("Deposit", json!({"amount": 1})))
                    .await
                    .unwrap();
            }
        }
    }

    /// Latencies of `n` sequential deposits.
    async fn sequential(&self, key: &str, n: usize) -> Vec<f64> {
        let mut v = Vec::with_capacity(n);
        // `MODEL_BENCH_EVICT_KIB`: before each ask, outside the timed part,
        // write over a buffer this large (a cache line at a time), so that
        // every ask starts with cold caches, as one does after a store's
        // round trip on a machine that ran other work meanwhile.
        let mut evict = vec![0u8; env("MODEL_BENCH_EVICT_KIB", 0) << 10];
        for i in 0..n {
            for (j, b) in evict.iter_mut().enumerate().step_by(64) {
                *b = b.wrapping_add((i + j) as u8);
            }
            std::hint::black_box(&evict);
            let t = Instant::now();
            self.deposit(key).await;
            v.push(t.elapsed().as_secs_f64());
        }
        v
    }
}

fn model() -> Deployed {
    let yaml = include_str!("../models/account.yaml");
    Deployed::new(check(&Model::from_yaml(yaml).unwrap()).unwrap())
}

async fn sides(events: impl EventStore + Clone + 'static) -> (Side, Side) {
    let typed = ActorSystem::builder()
        .events(events.clone())
        .register::<Account>(ActorConfig::default())
        .start()
        .await
        .unwrap();
    let model = ActorSystem::builder()
        .events(events)
        .define::<ModelBehavior>(model(), ActorConfig::default())
        .start()
        .await
        .unwrap();
    (Side::Typed(typed), Side::Model(model))
}

/// Sequential raw OCC appends on a fresh subject (one per `round`):
/// latencies.
async fn raw_sequential(js: &async_nats::jetstream::Context, n: usize, round: usize) -> Vec<f64> {
    let payload = Bytes::from_static(br#"{"amount":1}"#);
    let subject = format!("rawmodel.{}.{round}", std::process::id());
    let mut seq = 0;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        seq = js
            .send_publish(
                subject.clone(),
                PublishMessage::build()
                    .payload(payload.clone())
                    .expected_last_subject_sequence(seq),
            )
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence;
        v.push(t.elapsed().as_secs_f64());
    }
    v
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    install_recorder();
    let parts = std::env::var("MODEL_BENCH").unwrap_or_else(|_| "t3,t4,t5".into());
    let part = |p: &str| parts.split(',').any(|x| x.trim() == p);
    // Even: each side goes first in half the rounds.
    let rounds = env("MODEL_BENCH_ROUNDS", 4);
    let n = env("MODEL_BENCH_COMMANDS", 20_000);
    if part("t3") || part("t4") {
        // A preloaded allocator (LD_PRELOAD) replaces glibc's malloc for both sides.
        let preload = std::env::var("LD_PRELOAD").unwrap_or_default();
        let allocator = if preload.is_empty() {
            "the system's malloc"
        } else {
            &preload
        };
        println!(
            "model Account against typed Account in the runtime, {rounds} interleaved rounds; allocator: {allocator}"
        );
    }
    if part("t3") {
        t3(rounds, n).await;
    }
    if part("t4") {
        t4(rounds, n).await;
    }
    if part("t5") {
        let publishes = env("MODEL_BENCH_PUBLISHES", 20);
        #[cfg(feature = "nats")]
        publish_served::run(publishes).await;
        #[cfg(not(feature = "nats"))]
        println!("T5 publish → served ({publishes} publishes): skipped, needs --features nats");
    }
}

/// The two sides' parts of one round, in the order `typed_first` says:
/// the store grows as a round goes on, so each side goes first in every
/// other round (a fixed order would favour one).
async fn in_turn<T>(
    typed_first: bool,
    typed: impl Future<Output = T>,
    model: impl Future<Output = T>,
) -> (T, T) {
    if typed_first {
        let t = typed.await;
        (t, model.await)
    } else {
        let m = model.await;
        (typed.await, m)
    }
}

const CALLERS: usize = 256;

/// The model's speed over the typed side's in each round (both sides ran
/// back to back in it, so a slow spell of the machine hits both): the
/// median and the range, as `0.52 (0.44–0.61)`. From seconds per command.
fn paired(typed: &[f64], model: &[f64]) -> String {
    let mut r: Vec<f64> = typed.iter().zip(model).map(|(t, m)| t / m).collect();
    r.sort_by(f64::total_cmp);
    match (r.first(), r.last()) {
        (Some(lo), Some(hi)) => format!("{:.2} ({lo:.2}–{hi:.2})", median(&r)),
        _ => "-".into(),
    }
}

/// The recorder of a one-side run (installed before the systems start:
/// their metric handles are made when a type is registered).
static RECORDER: std::sync::OnceLock<&'static TestRecorder> = std::sync::OnceLock::new();

fn install_recorder() {
    if std::env::var("MODEL_BENCH_SIDE").is_ok() {
        let recorder: &'static TestRecorder = Box::leak(Box::default());
        if metrics::set_global_recorder(recorder).is_ok() {
            let _ = RECORDER.set(recorder);
        }
    }
}

/// With `MODEL_BENCH_SIDE` set (`typed` or `model`): `rounds` throughput
/// rounds of that side alone, its rate printed (for a profile of one side);
/// `false` when unset.
async fn one_side(
    part: &str,
    (typed, model): (&Side, &Side),
    keys: [&str; 2],
    rounds: usize,
    n: usize,
) -> bool {
    let Ok(which) = std::env::var("MODEL_BENCH_SIDE") else {
        return false;
    };
    let (side, key) = match which.as_str() {
        "typed" => (typed, keys[0]),
        "model" => (model, keys[1]),
        other => panic!("MODEL_BENCH_SIDE={other:?}: typed or model"),
    };
    let mut times = Vec::new();
    for _ in 0..rounds {
        times.push(side.deposits(key, CALLERS, n).await);
    }
    println!(
        "{part} {which} alone, 1 actor, {CALLERS} callers: {:.1} k/s (median of {rounds} rounds: {})",
        1e-3 / median(&times),
        times
            .iter()
            .map(|t| format!("{:.0}", 1e-3 / t))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(recorder) = RECORDER.get() {
        // Every turn of the run (the actor's opening included: one turn).
        // Both sides' type is `account`; only one ran.
        let (turn, turns) = recorder.histogram("aether_runtime_turn_seconds{type=account}");
        let (append, appends) =
            recorder.histogram("aether_runtime_turn_append_seconds{type=account}");
        let (commands, _) = recorder.histogram("aether_runtime_batch_commands{type=account}");
        let per = |x: f64, n: u64| x / n.max(1) as f64 * 1e6;
        println!(
            "{part} {which} turns: {turns}, {:.1} commands a turn; a turn {:.1} µs, of it the store's append {:.1} µs and the actor's own work {:.1} µs ({:.2} µs a command)",
            commands / appends.max(1) as f64,
            per(turn, turns),
            per(append, appends),
            per(turn - append, turns),
            (turn - append) / commands.max(1.0) * 1e6,
        );
    }
    true
}

/// T3: memory store.
async fn t3(rounds: usize, n: usize) {
    let callers = CALLERS;
    let (typed, model) = sides(InMemoryEventStore::new()).await;
    let (mut t3_typed, mut t3_model) = (Vec::new(), Vec::new());
    for (i, side) in [&typed, &model].into_iter().enumerate() {
        side.open(&format!("m{i}")).await;
    }
    if one_side("T3", (&typed, &model), ["m0", "m1"], rounds, n).await {
        return;
    }
    for round in 0..rounds {
        let (t, m) = in_turn(
            round % 2 == 0,
            typed.deposits("m0", callers, n),
            model.deposits("m1", callers, n),
        )
        .await;
        t3_typed.push(t);
        t3_model.push(m);
    }
    let (tt, tm) = (1.0 / median(&t3_typed), 1.0 / median(&t3_model));
    println!(
        "T3 memory store, 1 actor, {callers} callers: typed {:.0} k/s, model {:.0} k/s: model/typed {:.2}; per round {} (target ≥ 0.5)",
        tt / 1e3,
        tm / 1e3,
        tm / tt,
        paired(&t3_typed, &t3_model)
    );
    // The model's own latency per ask, without I/O: what it adds to T4's
    // sequential row.
    let (mut st, mut sm) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (t, m) = in_turn(
            round % 2 == 0,
            typed.sequential("m0", n / 4),
            model.sequential("m1", n / 4),
        )
        .await;
        st.extend(t);
        sm.extend(m);
    }
    let (pt, pm) = (pct(st, 0.5) * 1e6, pct(sm, 0.5) * 1e6);
    println!(
        "T3 memory store, 1 actor, sequential p50: typed {pt:.2} µs, model {pm:.2} µs (+{:.2} µs)",
        pm - pt
    );
}

/// T4: JetStream R1 file.
async fn t4(rounds: usize, n: usize) {
    let callers = CALLERS;
    let server = NatsServer::start().await;
    let url = server.url();
    let store = JetStreamEventStore::connect(
        &url,
        JetStreamConfig {
            stream_name: "MODELBENCH".into(),
            ..JetStreamConfig::default()
        },
    )
    .await
    .unwrap();
    let (typed, model) = sides(store).await;
    let client = async_nats::connect(&url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: "RAWMODEL".into(),
        subjects: vec!["rawmodel.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    for (i, side) in [&typed, &model].into_iter().enumerate() {
        side.open(&format!("j{i}")).await;
    }
    let seq_n = (n / 10).max(100);
    if one_side("T4", (&typed, &model), ["j0", "j1"], rounds, n / 2).await {
        return;
    }
    let (mut p_typed, mut p_model, mut p_raw) = (Vec::new(), Vec::new(), Vec::new());
    let (mut q_typed, mut q_model) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        p_raw.push(pct(raw_sequential(&js, seq_n, round).await, 0.5));
        let typed_first = round % 2 == 0;
        let (t, m) = in_turn(
            typed_first,
            typed.sequential("j0", seq_n),
            model.sequential("j1", seq_n),
        )
        .await;
        p_typed.push(pct(t, 0.5));
        p_model.push(pct(m, 0.5));
        let (t, m) = in_turn(
            !typed_first,
            typed.deposits("j0", callers, n / 2),
            model.deposits("j1", callers, n / 2),
        )
        .await;
        q_typed.push(t);
        q_model.push(m);
    }
    let (r, t, m) = (median(&p_raw), median(&p_typed), median(&p_model));
    println!(
        "T4 JetStream R1 file, sequential p50: raw OCC append {:.1} µs, typed {:.1} µs, model {:.1} µs: typed/model speed {:.2} (target ≥ 0.95), model/raw time {:.2}",
        r * 1e6,
        t * 1e6,
        m * 1e6,
        t / m,
        m / r
    );
    let (qt, qm) = (1.0 / median(&q_typed), 1.0 / median(&q_model));
    println!(
        "T4 JetStream R1 file, 1 actor, {callers} callers: typed {:.1} k/s, model {:.1} k/s: model/typed {:.2}; per round {} (target ≥ 0.8)",
        qt / 1e3,
        qm / 1e3,
        qm / qt,
        paired(&q_typed, &q_model)
    );
}

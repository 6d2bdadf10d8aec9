//! Aether's actor runtime beside coerce 0.8.11 (the closest Rust peer a
//! user would pick instead: persistent actors, remote actors, cluster
//! sharding) and beside raw floors, in one process, rounds interleaved (the
//! order of the sides rotates every round), issue #23's scenarios.
//!
//! Run: `scripts/bench-coerce.sh` (installs nats-server and Debian's
//! `redis-server` when missing). Env: `BENCH_ROUNDS` (default 5),
//! `BENCH_ONLY=1,2,7` (scenario numbers), `BENCH_SIDES=Aether,raw` (only
//! those sides), `BENCH_SCALE=small` (tiny sizes,
//! to check that everything runs), `BENCH_FSYNC=always` (fsync on every
//! write on both durable stores instead of once a second).
//!
//! # The ledger, on both sides
//!
//! A `Deposit { amount }` command persists one `Deposited { amount }` event
//! (the same JSON payload, `{"amount":N}`, on both sides) before the answer;
//! the state is the balance; `Balance` reads it. What each side does per
//! command is its own, and not the same:
//!
//! - **Aether** (`ActorSystem::builder().events(store).register::<Ledger>()`,
//!   `ActorRef::ask`): generates a command id, queues the command in the
//!   actor's bounded mailbox with a deadline (5 s, a timer per call), decides
//!   it, appends the event as a full envelope (event id, actor, version,
//!   type, time, metadata with the causation id) with an **expected-version
//!   check** (optimistic concurrency), records the command in the actor's
//!   **dedupe window** (256 recent ids), and answers a `CommandOutcome` (the
//!   version and the stored events). Under load one turn commits the queued
//!   commands as one append (group commit).
//! - **coerce** (`PersistentActor`, `LocalActorRef::send` / `ActorRef::send`):
//!   puts the message in the actor's unbounded mailbox; the handler calls
//!   `persist` (one journal write: a `JournalEntry` of sequence number, type
//!   name and the JSON bytes; no version check, no dedupe, no deadline) and
//!   answers the new balance. One message at a time: no group commit.
//! - **raw**: the floor of each scenario, named in its table.
//!
//! # Scenarios
//!
//! Memory stores (Aether's `InMemoryEventStore`, coerce's
//! `InMemoryStorageProvider`):
//!
//! 1. local ask, one actor, sequential: p50 and p99 of one ask from a task
//!    on a runtime worker. Raw: a tokio task owning a `Vec`, fed by a bounded
//!    `mpsc`, answering by `oneshot`, encoding the event's JSON and pushing it.
//! 2. 64 concurrent callers on one actor: commands/s. Raw: the same task.
//! 3. 10,000 actors, 256 callers, warm (all active before timing, refs held
//!    by the callers on both sides): commands/s. Raw: a task per actor.
//! 4. 10,000 actors, first touch: activation + one command each, a fresh
//!    system per round. Aether activates on the first `ask` to `get(id)`;
//!    coerce's caller spawns the actor (`into_actor`, which registers it and
//!    runs its recovery) and sends. Raw: spawn a task, register its sender
//!    in a `Mutex<HashMap>`, one round trip.
//! 5. RSS after 10,000 actors × 4 events, each side in a fresh child process
//!    of this binary (`--mode rss`): the process's RSS and the bytes per
//!    actor over its own baseline (taken after the system started). The
//!    stores are in memory, so their copies of the events count.
//! 6. cold load of a 10,000-event actor, no snapshot: a fresh system on the
//!    filled store, timed from the first message to its answer (a `Balance`
//!    query: activation, replay, answer). Floor: the store's own read of
//!    those events (both stores' reads are printed).
//! 7. cross-node ask p50/p99: Aether from a `remote` system to a cluster
//!    member serving the actor, through nats-server; coerce from one remote
//!    node to another over its TCP transport (two `RemoteActorSystem`s in
//!    this process, the actor located once); raw NATS request–reply between
//!    the same two connections Aether uses (the responder answers at once).
//!
//! Durable stores (Aether on JetStream, R1 file; coerce on `coerce-redis`
//! with a real redis-server, AOF on; fsync once a second on both:
//! nats-server `sync_interval: 1s`, Redis `appendfsync everysec`, or on
//! every write on both with `BENCH_FSYNC=always`):
//!
//! 8. one actor, 64 callers: commands/s. Floors: 64 raw JetStream publishes
//!    in flight on one subject (no expected sequence: concurrent writers
//!    cannot have one), 64 raw Redis `ZADD`s in flight on one key.
//! 9. sequential ask p50 (and p99). Floors: raw JetStream OCC publish
//!    (`Nats-Expected-Last-Subject-Sequence`, wait for the ack); raw Redis
//!    `ZADD` of a journal entry of the same size, with the client coerce-redis
//!    uses (redis 0.23, multiplexed connection).
//! 10. 1,000 actors (active before timing), 128 callers: commands/s and the
//!     CPU per command of each process (this one from `getrusage`,
//!     nats-server's and redis-server's from their threads'
//!     `/proc/<pid>/task/*/schedstat`, else `/proc/<pid>/stat`). Floors: raw
//!     OCC publishes over 1,000 subjects with 128 in flight; raw `ZADD`s over
//!     1,000 keys with 128 in flight.
//! 11. cold start of a 10,000-event actor, no snapshot, through a fresh
//!     store connection and system. Floor: Aether's store's own read of the
//!     same events (coerce's journal read is printed too). Six times
//!     `BENCH_ROUNDS` rounds: a load is short and noisy.
//!
//! Every table also gives, per side, this process's CPU µs, context
//! switches and allocator calls per command (over the timed section, all
//! threads of the process, so background tasks of whatever else is alive —
//! heartbeats, the other sides' idle systems — count too, a little).
//!
//! # Where the two sides are not equal
//!
//! - **Work per command.** Aether does more (above); its answer carries the
//!   stored events, coerce's a number. Neither side has a tracing subscriber
//!   or a metrics recorder installed; coerce is built without its `metrics`,
//!   `actor-tracing` and `api` features.
//! - **Finding the actor.** coerce's local figures use the `LocalActorRef`
//!   the caller holds (a direct channel to the mailbox); Aether's `ActorRef`
//!   finds its actor by id on each call (its location transparency). coerce
//!   has no activation on demand outside sharding: in scenario 4 its caller
//!   spawns the actor, which registers it with the system's one scheduler
//!   actor.
//! - **Group commit.** Aether commits the commands queued at an actor as
//!   one append; coerce persists one message at a time (its handler awaits
//!   the write), so under concurrent callers on one actor the sides do
//!   different numbers of store writes.
//! - **Cross-node.** coerce's call goes straight to the node that it
//!   located once (no placement, no shard map), over its own TCP
//!   connection; Aether's goes through nats-server to whichever member
//!   serves the shard. Both pairs of nodes are in this process, and every
//!   side shares the 2 cores with nats-server.
//! - **Durable stores.** Different servers by design (what each side's
//!   users run). coerce-redis sends every journal operation through one
//!   journal actor, which spawns a task per write on one multiplexed
//!   connection. The raw Redis floor writes coerce's journal entry (about
//!   30 bytes: sequence, type name, `{"amount":1}`), the raw JetStream floor
//!   Aether's stored event (about 180 bytes: the full envelope); each is the
//!   same size as what its side writes, not as each other. In scenario 8 the
//!   raw JetStream floor cannot use an expected sequence (64 concurrent
//!   writers on one subject). The fsync policies match (once a second, or
//!   every write), the servers' batching does not: with `always` JetStream
//!   fsyncs the stream for each message, while Redis shares one fsync of its
//!   AOF among the clients of one event-loop pass.
//! - **Cold loads.** Aether's JetStream store reads the actor's subject
//!   through a pull consumer filtered to it, coerce-redis with one `ZRANGE`; each side's own store read
//!   is printed beside its load.
//! - **Process-wide counters.** CPU, context switches and allocations are
//!   this process's over the timed section, so the idle systems of the
//!   other sides (heartbeats, the NATS connections' pings) count a little
//!   in each side's figures.
//!
//! Seen while reading coerce 0.8.11 (not measured here): after a recovery
//! its journal's next `persist` reuses the last recovered sequence number
//! (`recover_messages` sets `last_sequence_id` to the last entry's sequence,
//! `persist_message` writes at `last_sequence_id` and then increments), and
//! coerce-redis's `ZADD` keys members by the encoded entry, so an event
//! equal to the last recovered one would overwrite it. The bench never
//! writes to a recovered coerce actor.

mod alloc;
mod cross;
mod durable;
mod ledger;
mod memory;
mod probe;
mod redis_server;
mod report;
mod rss;

use std::future::Future;

use report::SummaryRow;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// How big each scenario is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// 1: sequential asks per side per round.
    pub seq_asks: usize,
    /// 2: commands per caller (64 callers).
    pub one_actor_per_caller: usize,
    /// 3, 4, 5: actors.
    pub actors: usize,
    /// 3: commands per actor per round.
    pub warm_passes: usize,
    /// 6, 11: events of the cold actor.
    pub cold_events: usize,
    /// 7: sequential cross-node asks per side per round.
    pub cross_asks: usize,
    /// 8: commands per caller (64 callers).
    pub durable_per_caller: usize,
    /// 9: sequential asks per side per round.
    pub durable_seq: usize,
    /// 10: actors.
    pub durable_actors: usize,
    /// 10: commands per actor per round.
    pub durable_passes: usize,
}

impl Sizes {
    fn full() -> Self {
        Self {
            seq_asks: 100_000,
            one_actor_per_caller: 2_000,
            actors: 10_000,
            warm_passes: 20,
            cold_events: 10_000,
            cross_asks: 5_000,
            durable_per_caller: 500,
            durable_seq: 5_000,
            durable_actors: 1_000,
            durable_passes: 30,
        }
    }

    fn small() -> Self {
        Self {
            seq_asks: 500,
            one_actor_per_caller: 20,
            actors: 300,
            warm_passes: 2,
            cold_events: 300,
            cross_asks: 100,
            durable_per_caller: 5,
            durable_seq: 100,
            durable_actors: 100,
            durable_passes: 2,
        }
    }
}

/// The run's settings and its summary rows.
pub struct Bench {
    pub rounds: usize,
    pub sizes: Sizes,
    /// `1s` or `always`: nats-server's `sync_interval`.
    pub nats_sync: &'static str,
    /// `everysec` or `always`: Redis's `appendfsync`.
    pub redis_fsync: &'static str,
    pub memory_rows: Vec<SummaryRow>,
    pub durable_rows: Vec<SummaryRow>,
}

/// `items` rotated by `round`, so that no side always goes first.
///
/// `BENCH_SIDES=Aether,raw` keeps only the sides named (to profile one side alone; the
/// ratios of a run without every side are not printed).
pub fn rotated(items: &[&'static str], round: usize) -> Vec<&'static str> {
    let k = round % items.len();
    let sides = std::env::var("BENCH_SIDES").unwrap_or_default();
    items[k..]
        .iter()
        .chain(&items[..k])
        .copied()
        .filter(|side| sides.is_empty() || sides.split(',').any(|s| s == *side))
        .collect()
}

/// Runs `callers` tasks (`caller(k)` for k in 0..callers) and waits for all.
pub async fn callers<F, Fut>(callers: usize, caller: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = (0..callers).map(|k| tokio::spawn(caller(k))).collect();
    for t in tasks {
        if let Err(e) = t.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// The indices caller `k` of `callers` owns among `n`: k, k + callers, ...
pub fn slice(k: usize, callers: usize, n: usize) -> impl Iterator<Item = usize> {
    (k..n).step_by(callers)
}

/// The allocator every side of this process runs on: glibc's malloc, or
/// one preloaded in its place (`BENCH_MALLOC=jemalloc` in the script).
fn allocator() -> String {
    match std::env::var("LD_PRELOAD") {
        Ok(lib) if !lib.is_empty() => format!("{lib} (LD_PRELOAD)"),
        _ => "the system's malloc".to_owned(),
    }
}

fn env_rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(5)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--mode") {
        return rss::child(&args[2..]).await;
    }
    aether_testkit::bench::in_task(run()).await;
}

async fn run() {
    let only: Vec<u32> = std::env::var("BENCH_ONLY")
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let wanted = |n: u32| only.is_empty() || only.contains(&n);
    let small = std::env::var("BENCH_SCALE").is_ok_and(|s| s == "small");
    let always = std::env::var("BENCH_FSYNC").is_ok_and(|s| s == "always");
    let mut b = Bench {
        rounds: env_rounds(),
        sizes: if small { Sizes::small() } else { Sizes::full() },
        nats_sync: if always { "always" } else { "1s" },
        redis_fsync: if always { "always" } else { "everysec" },
        memory_rows: Vec::new(),
        durable_rows: Vec::new(),
    };
    println!(
        "# Aether vs coerce 0.8.11 vs raw: {} rounds{}, 2 runtime workers, loops in a task; allocator: {}",
        b.rounds,
        if small { ", BENCH_SCALE=small" } else { "" },
        allocator()
    );
    println!(
        "(medians of the rounds, their range in parentheses; ratios are medians of per-round ratios; \
         µs/cmd, ctx sw/cmd and allocs/cmd are this process's, over the timed section)"
    );

    if wanted(1) {
        memory::local_ask(&mut b).await;
    }
    if wanted(2) {
        memory::one_actor_callers(&mut b).await;
    }
    if wanted(3) {
        memory::many_actors_warm(&mut b).await;
    }
    if wanted(4) {
        memory::first_touch(&mut b).await;
    }
    if wanted(5) {
        rss::scenario(&mut b).await;
    }
    if wanted(6) {
        memory::cold_load(&mut b).await;
    }
    let nats = if (7..=11).any(wanted) {
        let config = format!("jetstream {{ sync_interval: {} }}", b.nats_sync);
        Some(
            aether_testkit::NatsServer::with_config(config)
                .start()
                .await,
        )
    } else {
        None
    };
    if wanted(7) {
        cross::cross_node(&mut b, nats.as_ref().expect("started")).await;
    }
    if (8..=11).any(wanted) {
        let redis = redis_server::RedisServer::start(b.redis_fsync).await;
        let nats = nats.as_ref().expect("started");
        let d = durable::Durable::start(&b, nats, &redis).await;
        println!(
            "\n(durable: nats-server {}, JetStream R1 file, sync_interval {}; {}, AOF on, \
             appendfsync {}, RDB snapshots off; one host, the 2 cores shared)",
            d.nats_version(),
            b.nats_sync,
            redis.version(),
            b.redis_fsync
        );
        if wanted(8) {
            d.one_actor_callers(&mut b).await;
        }
        if wanted(9) {
            d.sequential(&mut b).await;
        }
        if wanted(10) {
            d.many_actors(&mut b).await;
        }
        if wanted(11) {
            d.cold_start(&mut b).await;
        }
        d.shutdown().await;
    }
    report::print_summary("Summary: memory stores", &b.memory_rows);
    report::print_summary(
        &format!(
            "Summary: durable stores (JetStream R1 file vs Redis AOF, fsync {})",
            if always {
                "on every write"
            } else {
                "once a second"
            }
        ),
        &b.durable_rows,
    );
}

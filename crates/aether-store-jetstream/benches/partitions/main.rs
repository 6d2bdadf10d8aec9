//! Write throughput against the number of partitions (issue #26): unit
//! costs, additivity on one server, scale-out over CPU-quota-emulated
//! servers, durable writes; Aether's store and raw async-nats side by side
//! in every run, with their ratio.
//!
//! Run on a quiet machine (the figures need both cores):
//!
//! ```text
//! taskset -c 1 cargo bench -p aether-store-jetstream --bench partitions
//! BENCH_ONLY=units,additivity,r1,r3,durable   (default: all)
//! BENCH_ROUNDS=3  BENCH_WARM=1  BENCH_MEASURE=3  (seconds)  BENCH_ACTORS=1024
//! BENCH_QUOTA_R1=0.2  BENCH_QUOTA_R3=0.25    (cores per server)
//! BENCH_OUT=target/partitions-bench          (JSON lines and CPU profiles)
//! ```
//!
//! Layout: every nats-server is pinned to CPU 0 (`taskset -c 0`), this
//! process (both writers) should run on CPU 1. In the scale-out runs each
//! server is also held to an equal CPU quota in a cgroup of its own (cgroup
//! v1 `cpu`, as root), so N servers emulate N machines of `quota` cores each.
//!
//! Writers: one task per actor (1,024 actors), each appending one event at a
//! time with the expected subject sequence (as any correct optimistic writer
//! must), for a warm-up then a measured window; saturated (as fast as acks
//! come) or paced to a fixed offered rate. One connection per server; an
//! actor's appends go to the server leading its partition. Ours and raw
//! alternate within each round, on fresh actors of the same namespace.
//! Raw: `Context::send_publish` of the same event JSON (encoded in the loop,
//! as ours encodes) with `Nats-Expected-Last-Subject-Sequence`.

mod drive;
mod servers;

use std::io::Write;
use std::time::Duration;

use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::bench::median;
use async_nats::jetstream;
use drive::{Outcome, Writer, run, skew, targets};
use servers::{Fleet, Spec};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn selected(mode: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.split(',').any(|m| m == mode))
}

struct Settings {
    rounds: usize,
    warm: Duration,
    measure: Duration,
    actors: usize,
    out: std::path::PathBuf,
}

/// A namespace of `k` partitions with `replicas` on `fleet`: a store per
/// server connection, raw contexts per server, and each partition's
/// leader's connection index.
async fn namespace(
    fleet: &Fleet,
    k: u32,
    replicas: usize,
    tag: &str,
) -> (
    Vec<JetStreamEventStore>,
    Vec<jetstream::Context>,
    Vec<usize>,
) {
    let n = fleet.servers.len();
    let config = JetStreamConfig {
        stream_name: format!("B{tag}K{k}"),
        namespace: "bench".into(),
        partitions: k,
        replicas,
        request_timeout: Duration::from_secs(10),
        placement_tags: if n > 1 && replicas == 1 {
            (1..=n).map(|i| format!("node:s{i}")).collect()
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let first = JetStreamEventStore::connect(fleet.url(0), config.clone())
        .await
        .unwrap();
    if replicas > 1 && k > 1 {
        first.balance_leaders().await.unwrap();
    }
    let mut stores = vec![first.clone()];
    for i in 1..n {
        stores.push(
            JetStreamEventStore::connect(fleet.url(i), config.clone())
                .await
                .unwrap(),
        );
    }
    let mut raw = Vec::new();
    for i in 0..n {
        raw.push(jetstream::new(
            async_nats::connect(fleet.url(i)).await.unwrap(),
        ));
    }
    let infos = first.partition_infos().await.unwrap();
    let leaders = infos
        .iter()
        .map(|p| match &p.leader {
            Some(l) => fleet.servers.iter().position(|s| &s.name == l).unwrap_or(0),
            None => 0,
        })
        .collect();
    (stores, raw, leaders)
}

/// Medians over rounds of ours and raw.
#[derive(Default)]
struct Rows {
    ours: Vec<Outcome>,
    raw: Vec<Outcome>,
}

fn med(v: &[Outcome], f: impl Fn(&Outcome) -> f64) -> f64 {
    median(v.iter().map(f).collect())
}

fn range(v: &[Outcome], f: impl Fn(&Outcome) -> f64) -> (f64, f64) {
    let xs: Vec<f64> = v.iter().map(f).collect();
    (
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

impl Rows {
    /// Runs `rounds` rounds of ours and raw (alternating who goes first).
    async fn measure(
        s: &Settings,
        fleet: &Fleet,
        stores: &[JetStreamEventStore],
        raw: &[jetstream::Context],
        leaders: &[usize],
        offered: Option<f64>,
        label: &str,
    ) -> Rows {
        let mut rows = Rows::default();
        let ours_w = Writer::Ours(stores.to_vec());
        let raw_w = Writer::Raw(raw.to_vec());
        for round in 0..s.rounds {
            let order = if round % 2 == 0 {
                [&ours_w, &raw_w]
            } else {
                [&raw_w, &ours_w]
            };
            for w in order {
                // Fresh actors every run (a writer starts each at version 0).
                static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let run_id = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let t = targets(
                    &stores[0],
                    &format!("{}{round}{label}{run_id}", w.name()),
                    s.actors,
                    leaders,
                );
                let o = run(w, &t, offered, s.warm, s.measure, fleet).await;
                match w {
                    Writer::Ours(_) => rows.ours.push(o),
                    Writer::Raw(_) => rows.raw.push(o),
                }
            }
        }
        rows
    }

    fn rate(&self) -> (f64, f64) {
        (med(&self.ours, |o| o.rate), med(&self.raw, |o| o.rate))
    }

    /// The per-round ratios ours / raw: median and range.
    fn ratio(&self) -> (f64, f64, f64) {
        let r: Vec<f64> = self
            .ours
            .iter()
            .zip(&self.raw)
            .map(|(o, r)| o.rate / r.rate)
            .collect();
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (median(r), lo, hi)
    }

    /// Summed server CPU µs per append (ours, raw).
    fn server_us(&self) -> (f64, f64) {
        let sum = |o: &Outcome| o.server_us.iter().sum::<f64>();
        (med(&self.ours, sum), med(&self.raw, sum))
    }

    fn json(&self, mode: &str, k: u32, extra: serde_json::Value) -> serde_json::Value {
        let side = |v: &[Outcome]| {
            let (lo, hi) = range(v, |o| o.rate);
            serde_json::json!({
                "rate": med(v, |o| o.rate), "rate_min": lo, "rate_max": hi,
                "client_us": med(v, |o| o.client_us),
                "server_us": med(v, |o| o.server_us.iter().sum::<f64>()),
                "server_us_each": (0..v.first().map_or(0, |o| o.server_us.len()))
                    .map(|i| med(v, |o| o.server_us[i])).collect::<Vec<_>>(),
                "server_cores_each": (0..v.first().map_or(0, |o| o.server_cores.len()))
                    .map(|i| med(v, |o| o.server_cores[i])).collect::<Vec<_>>(),
                "p50_ms": med(v, |o| o.p50_ms), "p99_ms": med(v, |o| o.p99_ms),
            })
        };
        serde_json::json!({
            "mode": mode, "k": k, "ours": side(&self.ours), "raw": side(&self.raw),
            "ratio": self.ratio().0, "extra": extra,
        })
    }
}

fn emit(s: &Settings, line: &serde_json::Value) {
    std::fs::create_dir_all(&s.out).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(s.out.join("results.jsonl"))
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

fn header(title: &str) {
    println!("\n## {title}\n");
    println!(
        "| K | ours appends/s | raw appends/s | ours/raw (range) | server µs/append ours, raw | client µs/append ours, raw | p50 ms ours, raw | p99 ms ours, raw | notes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
}

fn row(k: u32, rows: &Rows, notes: &str) {
    let (o, r) = rows.rate();
    let (ratio, lo, hi) = rows.ratio();
    let (so, sr) = rows.server_us();
    println!(
        "| {k} | {o:.0} | {r:.0} | {ratio:.2} ({lo:.2}–{hi:.2}) | {so:.1}, {sr:.1} | {:.1}, {:.1} | {:.2}, {:.2} | {:.2}, {:.2} | {notes} |",
        med(&rows.ours, |o| o.client_us),
        med(&rows.raw, |o| o.client_us),
        med(&rows.ours, |o| o.p50_ms),
        med(&rows.raw, |o| o.p50_ms),
        med(&rows.ours, |o| o.p99_ms),
        med(&rows.raw, |o| o.p99_ms),
    );
}

/// Unit costs: server CPU per OCC append on R1 (one server) and per role on
/// R3 (leader, followers), client CPU per append; CPU profiles for the
/// serial stage.
async fn units(s: &Settings) {
    header("Unit costs: R1, one server on CPU 0 (no quota), K = 1");
    let fleet = Fleet::start(&Spec {
        servers: 1,
        cpu: Some("0"),
        quota: None,
        sync_always: false,
        profile: true,
    })
    .await;
    let (stores, raw, leaders) = namespace(&fleet, 1, 1, "U1").await;
    for offered in [Some(8_000.0), None] {
        let rows = Rows::measure(s, &fleet, &stores, &raw, &leaders, offered, "u").await;
        let label = offered.map_or("saturated".into(), |r| format!("offered {r:.0}/s"));
        row(1, &rows, &label);
        emit(
            s,
            &rows.json("units-r1", 1, serde_json::json!({"offered": offered})),
        );
    }
    // A profile of the saturated server (ours writing).
    let t = targets(&stores[0], "prof", s.actors, &leaders);
    let writer = Writer::Ours(stores.clone());
    let profiled = {
        let (fleet, writer, t) = (&fleet, &writer, &t);
        let sample = async {
            tokio::time::sleep(s.warm).await;
            fleet.profile(0, 8).await
        };
        let load = run(writer, t, None, s.warm, Duration::from_secs(9), fleet);
        let (profile, outcome) = tokio::join!(sample, load);
        (profile, outcome)
    };
    std::fs::create_dir_all(&s.out).unwrap();
    std::fs::write(s.out.join("units-r1.pprof.gz"), &profiled.0).unwrap();
    println!(
        "\nR1 profile: {} during {:.0} appends/s (8 s); `python3 scripts/pprof-labels.py {} --appends {:.0}`",
        s.out.join("units-r1.pprof.gz").display(),
        profiled.1.rate,
        s.out.join("units-r1.pprof.gz").display(),
        profiled.1.rate * 8.0,
    );
    drop(fleet);

    header("Unit costs: R3, three servers on CPU 0 (no quota), K = 1, the client on the leader");
    let fleet = Fleet::start(&Spec {
        servers: 3,
        cpu: Some("0"),
        quota: None,
        sync_always: false,
        profile: true,
    })
    .await;
    let (stores, raw, leaders) = namespace(&fleet, 1, 3, "U3").await;
    let leader = leaders[0];
    for offered in [Some(3_000.0), None] {
        let rows = Rows::measure(s, &fleet, &stores, &raw, &leaders, offered, "u").await;
        let label = offered.map_or("saturated".into(), |r| format!("offered {r:.0}/s"));
        let each = |v: &[Outcome]| {
            let l = med(v, |o| o.server_us[leader]);
            let f: Vec<f64> = (0..3)
                .filter(|i| *i != leader)
                .map(|i| med(v, |o| o.server_us[i]))
                .collect();
            (l, f.iter().sum::<f64>() / f.len() as f64)
        };
        let (lo, fo) = each(&rows.ours);
        let (lr, fr) = each(&rows.raw);
        row(
            1,
            &rows,
            &format!(
                "{label}; leader µs/append {lo:.1} (raw {lr:.1}), follower {fo:.1} (raw {fr:.1})"
            ),
        );
        emit(
            s,
            &rows.json(
                "units-r3",
                1,
                serde_json::json!({"offered": offered, "leader": leader, "leader_us": lo, "follower_us": fo, "leader_us_raw": lr, "follower_us_raw": fr}),
            ),
        );
    }
    let t = targets(&stores[0], "prof3", s.actors, &leaders);
    let writer = Writer::Ours(stores.clone());
    let (profile, outcome) = {
        let sample = async {
            tokio::time::sleep(s.warm).await;
            fleet.profile(leader, 8).await
        };
        tokio::join!(
            sample,
            run(&writer, &t, None, s.warm, Duration::from_secs(9), &fleet)
        )
    };
    std::fs::write(s.out.join("units-r3-leader.pprof.gz"), &profile).unwrap();
    println!(
        "\nR3 leader profile: {} during {:.0} appends/s (8 s)",
        s.out.join("units-r3-leader.pprof.gz").display(),
        outcome.rate
    );
}

/// Additivity: K partitions on one server at a fixed offered load (server
/// CPU per append) and saturated (the aggregate).
async fn additivity(s: &Settings) {
    let fleet = Fleet::start(&Spec {
        servers: 1,
        cpu: Some("0"),
        quota: None,
        sync_always: false,
        profile: false,
    })
    .await;
    for offered in [Some(8_000.0), None] {
        header(&format!(
            "Additivity: K partitions on one server (CPU 0, no quota), {}",
            offered.map_or("saturated".into(), |r| format!("offered {r:.0} appends/s"))
        ));
        for k in [1u32, 2, 4, 8, 16] {
            let (stores, raw, leaders) =
                namespace(&fleet, k, 1, &format!("A{}", offered.is_some() as u8)).await;
            let rows = Rows::measure(s, &fleet, &stores, &raw, &leaders, offered, "a").await;
            row(k, &rows, if k == 1 { "layout v1" } else { "layout v2" });
            emit(
                s,
                &rows.json("additivity", k, serde_json::json!({"offered": offered})),
            );
        }
    }
}

/// Scale-out: `n` servers each held to `quota` cores, K partitions.
async fn scaleout(s: &Settings, replicas: usize, n: usize, quota: f64, ks: &[u32]) {
    header(&format!(
        "Scale-out: R{replicas}, {n} servers on CPU 0, each held to {quota} core, K partitions{}",
        if replicas > 1 {
            ", leaders balanced"
        } else {
            ", placed one per server by tag"
        }
    ));
    let fleet = Fleet::start(&Spec {
        servers: n,
        cpu: Some("0"),
        quota: Some(quota),
        sync_always: false,
        profile: false,
    })
    .await;
    let mut one = None;
    for &k in ks {
        let (stores, raw, leaders) = namespace(&fleet, k, replicas, &format!("S{replicas}")).await;
        let t = targets(&stores[0], "skew", s.actors, &leaders);
        let sigma = skew(&stores[0], &t);
        let mut per_server = vec![0usize; n];
        for l in &leaders {
            per_server[*l] += 1;
        }
        let rows = Rows::measure(s, &fleet, &stores, &raw, &leaders, None, "s").await;
        let (o, _) = rows.rate();
        let base = *one.get_or_insert(o);
        let speedup = o / base;
        row(
            k,
            &rows,
            &format!(
                "speed-up {speedup:.2}× (efficiency {:.2} per leader); leaders per server {per_server:?}; σ {sigma:.2}",
                speedup / f64::from(k.min(n as u32))
            ),
        );
        emit(
            s,
            &rows.json(
                &format!("scaleout-r{replicas}"),
                k,
                serde_json::json!({"servers": n, "quota": quota, "leaders_per_server": per_server, "sigma": sigma, "speedup": speedup}),
            ),
        );
    }
}

/// Durable writes: one server fsyncing every message, K partitions.
async fn durable(s: &Settings) {
    header("Durable writes: one server (CPU 0), `sync_interval: always`, saturated");
    let fleet = Fleet::start(&Spec {
        servers: 1,
        cpu: Some("0"),
        quota: None,
        sync_always: true,
        profile: false,
    })
    .await;
    let mut one = None;
    for k in [1u32, 2, 4, 8] {
        let (stores, raw, leaders) = namespace(&fleet, k, 1, "D").await;
        let rows = Rows::measure(s, &fleet, &stores, &raw, &leaders, None, "d").await;
        let (o, _) = rows.rate();
        let base = *one.get_or_insert(o);
        row(k, &rows, &format!("{:.2}× K = 1", o / base));
        emit(s, &rows.json("durable", k, serde_json::json!({})));
    }
}

#[tokio::main]
async fn main() {
    let s = Settings {
        rounds: env("BENCH_ROUNDS", 3),
        warm: Duration::from_secs_f64(env("BENCH_WARM", 1.0)),
        measure: Duration::from_secs_f64(env("BENCH_MEASURE", 3.0)),
        actors: env("BENCH_ACTORS", 1024),
        out: std::path::PathBuf::from(env("BENCH_OUT", "target/partitions-bench".to_string())),
    };
    println!(
        "# Partitions benchmark: {} rounds, {:?} warm-up, {:?} measured, {} actors (one append in flight each)",
        s.rounds, s.warm, s.measure, s.actors
    );
    if selected("units") {
        units(&s).await;
    }
    if selected("additivity") {
        additivity(&s).await;
    }
    if selected("r1") {
        scaleout(&s, 1, 4, env("BENCH_QUOTA_R1", 0.2), &[1, 2, 4, 8]).await;
    }
    if selected("r3") {
        scaleout(&s, 3, 3, env("BENCH_QUOTA_R3", 0.25), &[1, 2, 4, 8]).await;
    }
    if selected("durable") {
        durable(&s).await;
    }
}

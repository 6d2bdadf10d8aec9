//! The writers of the partitions benchmark: one task per actor appending
//! one event at a time with the expected subject sequence (each actor has one
//! append in flight, as any correct optimistic writer), through Aether's
//! store or raw async-nats, for a warm-up then a measured window, optionally
//! paced to a fixed offered rate. Measured: acknowledged appends in the
//! window, their latencies, this process's CPU and every server's.

use std::time::{Duration, Instant};

use aether_core::{ActorId, EventStore, ExpectedVersion};
use aether_store_jetstream::JetStreamEventStore;
use aether_testkit::bench::{cpu_ns, deposit};
use async_nats::jetstream::{self, message::PublishMessage};

use crate::servers::Fleet;

/// Who writes: Aether's store, or raw async-nats publishing the same event
/// text to the same subject with the same expected-sequence header. One
/// connection per server; an actor's appends go through the connection of
/// the server leading its partition.
#[derive(Clone)]
pub(crate) enum Writer {
    Ours(Vec<JetStreamEventStore>),
    Raw(Vec<jetstream::Context>),
}

impl Writer {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Writer::Ours(_) => "ours",
            Writer::Raw(_) => "raw",
        }
    }
}

/// One actor a task writes: its id, subject and connection.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) actor: ActorId,
    pub(crate) subject: String,
    pub(crate) connection: usize,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) rate: f64,
    /// Client (this process) CPU µs per append.
    pub(crate) client_us: f64,
    /// Each server's CPU µs per append.
    pub(crate) server_us: Vec<f64>,
    /// Each server's CPU use in cores over the window.
    pub(crate) server_cores: Vec<f64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Runs `writer` over `targets` (one task each): `warm`, then `measure`.
/// With `offered`, the tasks together issue that many appends per second
/// (each at its own phase), else as fast as acknowledgements come.
pub(crate) async fn run(
    writer: &Writer,
    targets: &[Target],
    offered: Option<f64>,
    warm: Duration,
    measure: Duration,
    fleet: &Fleet,
) -> Outcome {
    let start = Instant::now() + Duration::from_millis(50);
    let (from, until) = (start + warm, start + warm + measure);
    let n = targets.len();
    let period = offered.map(|r| Duration::from_secs_f64(n as f64 / r));
    let tasks: Vec<_> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (writer, t) = (writer.clone(), t.clone());
            let phase = period.map(|p| p.mul_f64(i as f64 / n as f64));
            tokio::spawn(async move { write(writer, t, start, from, until, period, phase).await })
        })
        .collect();
    // The CPU readings at the window's edges.
    tokio::time::sleep_until(from.into()).await;
    let (c0, s0, t0) = (cpu_ns(), fleet.cpu_ns(), Instant::now());
    tokio::time::sleep_until(until.into()).await;
    let (c1, s1, t1) = (cpu_ns(), fleet.cpu_ns(), Instant::now());
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    latencies.sort_unstable();
    let appends = latencies.len() as u64;
    let secs = (t1 - t0).as_secs_f64();
    let per = |ns: u64| ns as f64 / appends.max(1) as f64 / 1e3;
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |us| *us as f64 / 1e3)
    };
    Outcome {
        rate: appends as f64 / measure.as_secs_f64(),
        client_us: per(c1.saturating_sub(c0)),
        server_us: s0.iter().zip(&s1).map(|(a, b)| per(b - a)).collect(),
        server_cores: s0
            .iter()
            .zip(&s1)
            .map(|(a, b)| (b - a) as f64 / 1e9 / secs)
            .collect(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    }
}

/// One actor's appends; the latencies (µs) of those acknowledged inside
/// the window.
async fn write(
    writer: Writer,
    t: Target,
    start: Instant,
    from: Instant,
    until: Instant,
    period: Option<Duration>,
    phase: Option<Duration>,
) -> Vec<u32> {
    let mut latencies = Vec::new();
    let mut next = start + phase.unwrap_or_default();
    let mut version = 0u64;
    let mut last_seq = 0u64;
    loop {
        if period.is_some() {
            tokio::time::sleep_until(next.into()).await;
        }
        let sent = Instant::now();
        if sent >= until {
            return latencies;
        }
        let event = deposit(&t.actor, version + 1);
        let ok = match &writer {
            Writer::Ours(stores) => stores[t.connection]
                .append_batch(&t.actor, ExpectedVersion::Exact(version), vec![event])
                .await
                .is_ok(),
            Writer::Raw(contexts) => {
                let payload = event.to_json_bytes().unwrap();
                let msg = PublishMessage::build()
                    .payload(payload.into())
                    .expected_last_subject_sequence(last_seq);
                match contexts[t.connection]
                    .send_publish(t.subject.clone(), msg)
                    .await
                {
                    Ok(ack) => match ack.await {
                        Ok(a) => {
                            last_seq = a.sequence;
                            true
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                }
            }
        };
        let done = Instant::now();
        if ok {
            version += 1;
            if done >= from && done <= until {
                latencies.push((done - sent).as_micros().min(u32::MAX as u128) as u32);
            }
        }
        if let Some(p) = period {
            next += p;
        }
    }
}

/// `n` fresh actors `<prefix>-<i>` with their subjects in `store`'s
/// namespace and the connection of the server leading their partition
/// (`leaders[k]`: the connection index of partition `k`'s leader).
pub(crate) fn targets(
    store: &JetStreamEventStore,
    prefix: &str,
    n: usize,
    leaders: &[usize],
) -> Vec<Target> {
    (0..n)
        .map(|i| {
            let actor = ActorId::new(format!("{prefix}-{i}")).unwrap();
            let k = usize::from(store.partition_of(&actor));
            Target {
                subject: store.subject_for(&actor),
                connection: leaders[k],
                actor,
            }
        })
        .collect()
}

/// The share of `targets` in the most loaded partition, times the
/// partition count (σ: 1 when perfectly even).
pub(crate) fn skew(store: &JetStreamEventStore, targets: &[Target]) -> f64 {
    let k = usize::from(store.partitions());
    let mut count = vec![0usize; k];
    for t in targets {
        count[usize::from(store.partition_of(&t.actor))] += 1;
    }
    let max = count.iter().copied().max().unwrap_or(0);
    max as f64 * k as f64 / targets.len().max(1) as f64
}

//! What one atomic multi-event append costs, and why: our `append_batch`
//! beside two raw async-nats writers in the same run, for batches of 1, 2, 10,
//! 100 and 1,000 events, on an R1 file stream, an R1 memory stream and an R3
//! file stream (a 3-node cluster).
//!
//! - **raw ADR-50 batch**: the server's atomic batch protocol as async-nats
//!   users would write it (n − 1 publishes with `Nats-Batch-Id` /
//!   `Nats-Batch-Sequence`, the expected last subject sequence on the first,
//!   then the commit as a request whose reply acks the whole batch);
//! - **raw one message**: the same events' bytes in one message with the
//!   expected-sequence header, as one request: what a "commit record" (one
//!   message per commit, holding all its events) would cost.
//!
//! Run: `cargo bench -p aether-store-jetstream --bench batch`
//! (env `BATCH_LAYOUTS=r1file,r1mem,r3file` to pick layouts).

use std::time::Instant;

use aether_core::{ActorId, Event, EventStore, ExpectedVersion};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore, StorageType};
use aether_testkit::bench::{deposit as event, median};
use aether_testkit::{NatsCluster, NatsServer};
use async_nats::HeaderMap;
use async_nats::header::{
    NATS_BATCH_COMMIT, NATS_BATCH_ID, NATS_BATCH_SEQUENCE, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
};
use async_nats::jetstream::stream::{Config, StorageType as RawStorage};
use bytes::{Bytes, BytesMut};

const SIZES: [usize; 5] = [1, 2, 10, 100, 1000];

/// How many commits to time for a batch of `n` (about a second each side).
fn commits_for(n: usize) -> usize {
    match n {
        1 => 400,
        2 | 10 => 150,
        100 => 60,
        _ => 15,
    }
}

struct Raw {
    client: async_nats::Client,
    stream: String,
    payload: Bytes,
}

impl Raw {
    /// Appends `n` events as one ADR-50 batch; returns the stream sequence.
    async fn adr50(&self, subject: &str, n: usize, expected: u64, batch: usize) -> u64 {
        let id = format!("b{batch}x{}", rand_suffix());
        for i in 0..n {
            let mut h = HeaderMap::new();
            h.insert(NATS_BATCH_ID, id.as_str());
            h.insert(NATS_BATCH_SEQUENCE, (i + 1).to_string().as_str());
            if i == 0 {
                h.insert(
                    NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                    expected.to_string().as_str(),
                );
            }
            if i + 1 < n {
                self.client
                    .publish_with_headers(subject.to_owned(), h, self.payload.clone())
                    .await
                    .unwrap();
            } else {
                h.insert(NATS_BATCH_COMMIT, "1");
                let reply = self
                    .client
                    .request_with_headers(subject.to_owned(), h, self.payload.clone())
                    .await
                    .unwrap();
                return ack_seq(&reply.payload);
            }
        }
        unreachable!("n > 0")
    }

    /// Appends `n` events' bytes as one message; returns the stream sequence.
    async fn one_message(&self, subject: &str, body: Bytes, expected: u64) -> u64 {
        let mut h = HeaderMap::new();
        h.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected.to_string().as_str(),
        );
        let reply = self
            .client
            .request_with_headers(subject.to_owned(), h, body)
            .await
            .unwrap();
        ack_seq(&reply.payload)
    }
}

fn ack_seq(payload: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
    v["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("not an ack: {v}"))
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn run_layout(name: &str, url: &str, storage: StorageType, replicas: usize) {
    let dial = aether_nats::ConnectConfig::default();
    let config = JetStreamConfig {
        stream_name: format!("BATCH{}", rand_suffix()),
        namespace: "b".into(),
        storage,
        replicas,
        ..Default::default()
    };
    let store = JetStreamEventStore::connect(url, config.clone())
        .await
        .unwrap();
    let client = aether_nats::connect(url, &dial, "bench-raw").await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let raw_stream = format!("RAWBATCH{}", rand_suffix());
    js.create_stream(Config {
        name: raw_stream.clone(),
        subjects: vec![format!("{raw_stream}.>")],
        storage: match storage {
            StorageType::Memory => RawStorage::Memory,
            _ => RawStorage::File,
        },
        num_replicas: replicas,
        allow_atomic_publish: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let sample = event(&ActorId::new("sample-1").unwrap(), 1);
    let payload = Bytes::from(sample.to_json_bytes().unwrap());
    let raw = Raw {
        client,
        stream: raw_stream,
        payload: payload.clone(),
    };
    println!(
        "\n{name} (event {} bytes): time per commit, median of the run",
        payload.len()
    );
    println!(
        "{:>6} | {:>12} {:>12} {:>12} | {:>14} {:>14}",
        "events", "ours", "raw ADR-50", "raw 1 msg", "ours vs 1 msg", "ours vs ADR-50"
    );
    for n in SIZES {
        let commits = commits_for(n);
        let actor = ActorId::new(format!("acct-{n}x{}", rand_suffix())).unwrap();
        let subject = format!("{}.a{n}", raw.stream);
        let one_subject = format!("{}.m{n}", raw.stream);
        let mut body = BytesMut::new();
        for _ in 0..n {
            body.extend_from_slice(&payload);
            body.extend_from_slice(b"\n");
        }
        let body = body.freeze();
        let (mut ours, mut adr, mut one) = (Vec::new(), Vec::new(), Vec::new());
        let (mut version, mut seq_a, mut seq_m) = (0u64, 0u64, 0u64);
        for c in 0..commits {
            let events: Vec<Event> = (1..=n as u64).map(|i| event(&actor, version + i)).collect();
            let t = Instant::now();
            version = store
                .append_batch(&actor, ExpectedVersion::Exact(version), events)
                .await
                .unwrap();
            ours.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            seq_a = raw.adr50(&subject, n, seq_a, c).await;
            adr.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            seq_m = raw.one_message(&one_subject, body.clone(), seq_m).await;
            one.push(t.elapsed().as_secs_f64());
        }
        let (o, a, m) = (median(ours), median(adr), median(one));
        let ms = |s: f64| format!("{:.3} ms", s * 1e3);
        println!(
            "{n:>6} | {:>12} {:>12} {:>12} | {:>13.2}x {:>13.2}x",
            ms(o),
            ms(a),
            ms(m),
            m / o,
            a / o
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let layouts = std::env::var("BATCH_LAYOUTS").unwrap_or_else(|_| "r1file,r1mem,r3file".into());
    println!("Atomic multi-event appends; ratios are commit rates, ours / raw (higher is better)");
    if layouts.contains("r1file") || layouts.contains("r1mem") {
        let server = NatsServer::start().await;
        if layouts.contains("r1file") {
            run_layout("R1 file", &server.url(), StorageType::File, 1).await;
        }
        if layouts.contains("r1mem") {
            run_layout("R1 memory", &server.url(), StorageType::Memory, 1).await;
        }
    }
    if layouts.contains("r3file") {
        let cluster = NatsCluster::start().await;
        let url = cluster.client_url().to_string();
        run_layout("R3 file (3-node cluster)", &url, StorageType::File, 3).await;
    }
}

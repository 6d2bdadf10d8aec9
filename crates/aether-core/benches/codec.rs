//! Event wire-format codec, beside raw `serde_json` in the same run.
//!
//! - decode: `Event::from_json_slice` (typed, validated) vs `serde_json::from_slice`
//!   into an untyped `serde_json::Value` of the same bytes;
//! - encode: `Event::to_json_bytes` vs `serde_json::to_vec` of that `Value`.
//!
//! Run: `cargo bench -p aether-core --bench codec`. Prints the best of several rounds
//! and the ratio ours / raw (throughput; higher is better for us).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, Metadata, Value, json};

const N: usize = 200_000;
const ROUNDS: usize = 7;

fn best(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn rate(d: Duration) -> f64 {
    N as f64 / d.as_secs_f64()
}

fn main() {
    let event = Event::new(
        ActorId::new("order-12345").unwrap(),
        42,
        "OrderShipped",
        json!({"carrier": "dhl", "tracking": "JD0002 2345 6789", "items": [1, 2, 3], "total": 129.95}),
    )
    .with_metadata(
        Metadata::new()
            .with_correlation_id("0190a5c4-0000-7000-8000-000000000001")
            .with_user_id("ada"),
    );
    let bytes = event.to_json_bytes().unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    println!(
        "event of {} bytes, {N} operations a round, best of {ROUNDS}",
        bytes.len()
    );

    let ours = best(|| {
        for _ in 0..N {
            black_box(Event::from_json_slice(black_box(&bytes)).unwrap());
        }
    });
    let raw = best(|| {
        for _ in 0..N {
            black_box(serde_json::from_slice::<Value>(black_box(&bytes)).unwrap());
        }
    });
    println!(
        "decode: ours {:>10.0}/s  raw Value {:>10.0}/s  ratio {:.2}",
        rate(ours),
        rate(raw),
        rate(ours) / rate(raw)
    );

    let ours = best(|| {
        for _ in 0..N {
            black_box(black_box(&event).to_json_bytes().unwrap());
        }
    });
    let raw = best(|| {
        for _ in 0..N {
            black_box(serde_json::to_vec(black_box(&value)).unwrap());
        }
    });
    println!(
        "encode: ours {:>10.0}/s  raw Value {:>10.0}/s  ratio {:.2}",
        rate(ours),
        rate(raw),
        rate(ours) / rate(raw)
    );
}

//! The repository's metrics: snapshots taken and events replayed per load,
//! through the `metrics` facade.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aether_core::ActorId;
use aether_core::aggregate::{Repository, SnapshotPolicy};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::fixtures::*;
use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Records counter totals and histogram samples by metric name and labels.
#[derive(Default)]
struct Capture {
    counters: Mutex<HashMap<String, u64>>,
    histograms: Mutex<HashMap<String, Vec<f64>>>,
}

struct Handle {
    capture: Arc<Capture>,
    key: String,
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        *self
            .capture
            .counters
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default() += value;
    }

    fn absolute(&self, value: u64) {
        self.capture
            .counters
            .lock()
            .unwrap()
            .insert(self.key.clone(), value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.capture
            .histograms
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default()
            .push(value);
    }
}

struct CaptureRecorder(Arc<Capture>);

fn key_string(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for CaptureRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Handle {
            capture: self.0.clone(),
            key: key_string(key),
        }))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Handle {
            capture: self.0.clone(),
            key: key_string(key),
        }))
    }
}

#[test]
fn snapshots_taken_and_events_replayed_are_recorded() {
    let capture = Arc::new(Capture::default());
    let recorder = CaptureRecorder(capture.clone());
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let repo = Repository::<Account, _>::new(InMemoryEventStore::new())
                .with_snapshots(InMemorySnapshotStore::new())
                .with_snapshot_policy(SnapshotPolicy::EveryNEvents(4));
            let id = ActorId::new("account-m").unwrap();
            repo.execute(&id, open("ada")).await.unwrap();
            for _ in 0..9 {
                repo.execute(&id, deposit(1)).await.unwrap();
            }
            // 10 events: snapshots at 4 and 8; this load replays 9 and 10.
            repo.load(&id).await.unwrap();
        });
    });
    let counters = capture.counters.lock().unwrap();
    assert_eq!(
        counters.get("aether_aggregate_snapshots_taken_total{aggregate=account}"),
        Some(&2)
    );
    let hist = capture.histograms.lock().unwrap();
    let replayed = hist
        .get("aether_aggregate_events_replayed{aggregate=account}")
        .unwrap();
    // One load per execute (10) plus the final one.
    assert_eq!(replayed.len(), 11);
    assert_eq!(*replayed.last().unwrap(), 2.0);
    assert!(replayed.iter().all(|&n| n <= 4.0));
}

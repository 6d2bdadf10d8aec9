//! Counters reach the `metrics` facade, labelled by namespace.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aether_bus::{BusItem, Filter, LocalEventBus, OverflowPolicy, SubscribeOptions};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use support::event;

#[derive(Default)]
struct TestRecorder {
    counters: Mutex<BTreeMap<String, Arc<Cell>>>,
}

#[derive(Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

fn render(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl TestRecorder {
    fn get(&self, key: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |c| c.0.load(Ordering::Relaxed))
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let cell = self
            .counters
            .lock()
            .unwrap()
            .entry(render(key))
            .or_default()
            .clone();
        Counter::from_arc(cell)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn published_delivered_and_dropped_are_counted_per_namespace() {
    let recorder = TestRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let bus = LocalEventBus::new();
            let opts = SubscribeOptions::new(2, OverflowPolicy::DropOldest);
            let mut sub = bus.subscribe_with("m.ns", Filter::new(), opts).unwrap();
            for i in 0..5 {
                bus.publish("m.ns", event("a-1", "T", i)).await.unwrap();
            }
            bus.publish("m.other", event("a-1", "T", 9)).await.unwrap();
            assert_eq!(sub.recv().await.unwrap(), BusItem::Lagged(3));
        });
    });
    assert_eq!(
        recorder.get("aether_bus_published_total{namespace=m.ns}"),
        5
    );
    assert_eq!(
        recorder.get("aether_bus_published_total{namespace=m.other}"),
        1
    );
    assert_eq!(
        recorder.get("aether_bus_delivered_total{namespace=m.ns}"),
        5
    );
    assert_eq!(
        recorder.get("aether_bus_dropped_total{namespace=m.ns,reason=drop_oldest}"),
        3
    );
    assert_eq!(
        recorder.get("aether_bus_dropped_total{namespace=m.ns,reason=overflow_closed}"),
        0
    );
}

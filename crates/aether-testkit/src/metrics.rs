//! [`TestRecorder`]: a `metrics` recorder for tests that keeps every counter's
//! value and every gauge's value and peak, by rendered key
//! (`name{label=value,…}`, labels sorted); histograms are dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};

/// Counters and gauges recorded in a test.
///
/// # Examples
///
/// ```
/// use aether_testkit::metrics::TestRecorder;
///
/// let recorder = TestRecorder::default();
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("sent_total", "to" => "a").increment(2);
///     metrics::gauge!("queued").increment(3.0);
///     metrics::gauge!("queued").decrement(1.0);
/// });
/// assert_eq!(recorder.counter("sent_total{to=a}"), 2);
/// assert_eq!(recorder.gauge("queued{}"), (2.0, 3.0));
/// ```
#[derive(Debug, Default)]
pub struct TestRecorder {
    counters: Mutex<BTreeMap<String, Arc<Count>>>,
    gauges: Mutex<BTreeMap<String, Arc<Peak>>>,
}

impl TestRecorder {
    /// A counter's value (0 when never registered).
    pub fn counter(&self, key: &str) -> u64 {
        lock(&self.counters)
            .get(key)
            .map_or(0, |c| c.0.load(Ordering::Relaxed))
    }

    /// A gauge's (value now, highest value it had); zeros when never
    /// registered.
    pub fn gauge(&self, key: &str) -> (f64, f64) {
        lock(&self.gauges)
            .get(key)
            .map_or((0.0, 0.0), |g| *lock(&g.value))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `name{label=value,…}`, the labels sorted.
fn render(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

#[derive(Debug, Default)]
struct Count(AtomicU64);

impl CounterFn for Count {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

/// A gauge that remembers the highest value it had: (now, highest).
#[derive(Debug, Default)]
struct Peak {
    value: Mutex<(f64, f64)>,
}

impl Peak {
    fn change(&self, f: impl FnOnce(f64) -> f64) {
        let mut v = lock(&self.value);
        v.0 = f(v.0);
        v.1 = v.1.max(v.0);
    }
}

impl GaugeFn for Peak {
    fn increment(&self, value: f64) {
        self.change(|v| v + value);
    }
    fn decrement(&self, value: f64) {
        self.change(|v| v - value);
    }
    fn set(&self, value: f64) {
        self.change(|_| value);
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(lock(&self.counters).entry(render(key)).or_default().clone())
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(lock(&self.gauges).entry(render(key)).or_default().clone())
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

//! [`TestRecorder`]: a `metrics` recorder for tests and benches that keeps
//! every counter's value, every gauge's value and peak, and every
//! histogram's sum and count, by rendered key (`name{label=value,…}`, labels
//! sorted).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Counters, gauges and histograms recorded in a test.
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
/// metrics::with_local_recorder(&recorder, || {
///     metrics::histogram!("turn_seconds").record(0.5);
///     metrics::histogram!("turn_seconds").record(1.5);
/// });
/// assert_eq!(recorder.histogram("turn_seconds{}"), (2.0, 2));
/// ```
#[derive(Debug, Default)]
pub struct TestRecorder {
    counters: Mutex<BTreeMap<String, Arc<Count>>>,
    gauges: Mutex<BTreeMap<String, Arc<Peak>>>,
    histograms: Mutex<BTreeMap<String, Arc<Totals>>>,
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

    /// A histogram's (sum, count) of the values recorded; zeros when never
    /// registered.
    pub fn histogram(&self, key: &str) -> (f64, u64) {
        lock(&self.histograms)
            .get(key)
            .map_or((0.0, 0), |h| *lock(&h.0))
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

/// A histogram's sum and count.
#[derive(Debug, Default)]
struct Totals(Mutex<(f64, u64)>);

impl HistogramFn for Totals {
    fn record(&self, value: f64) {
        let mut t = lock(&self.0);
        t.0 += value;
        t.1 += 1;
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
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(
            lock(&self.histograms)
                .entry(render(key))
                .or_default()
                .clone(),
        )
    }
}

//! Counters reach the `metrics` facade, labelled by namespace.

mod support;

use aether_bus::{BusItem, Filter, LocalEventBus, OverflowPolicy, SubscribeOptions};
use aether_testkit::metrics::TestRecorder;
use support::event;

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
        recorder.counter("aether_bus_published_total{namespace=m.ns}"),
        5
    );
    assert_eq!(
        recorder.counter("aether_bus_published_total{namespace=m.other}"),
        1
    );
    assert_eq!(
        recorder.counter("aether_bus_delivered_total{namespace=m.ns}"),
        5
    );
    assert_eq!(
        recorder.counter("aether_bus_dropped_total{namespace=m.ns,reason=drop_oldest}"),
        3
    );
    assert_eq!(
        recorder.counter("aether_bus_dropped_total{namespace=m.ns,reason=overflow_closed}"),
        0
    );
}

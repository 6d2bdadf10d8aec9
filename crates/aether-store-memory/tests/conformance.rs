//! The store conformance suite on the in-memory stores, one test per case and
//! all cases on one shared store.

use aether_core::DynEventStore;
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::conformance::{run_event_store_suite, run_snapshot_store_suite};
use std::sync::Arc;

mod event_store {
    aether_testkit::event_store_conformance!(async {
        aether_store_memory::InMemoryEventStore::new()
    });
}

mod event_store_with_hook {
    aether_testkit::event_store_conformance!(async {
        aether_store_memory::InMemoryEventStore::new().with_hook(|_: aether_core::EventStored| {})
    });
}

mod snapshot_store {
    aether_testkit::snapshot_store_conformance!(async {
        aether_store_memory::InMemorySnapshotStore::new()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_event_store_suite_twice_on_one_shared_store() {
    let store = InMemoryEventStore::new();
    run_event_store_suite(&store).await;
    run_event_store_suite(&store).await;
}

#[tokio::test]
async fn whole_event_store_suite_through_dyn_event_store() {
    let store: Arc<dyn DynEventStore> = Arc::new(InMemoryEventStore::new());
    run_event_store_suite(&store).await;
}

#[tokio::test]
async fn whole_snapshot_store_suite_twice_on_one_shared_store() {
    let store = InMemorySnapshotStore::new();
    run_snapshot_store_suite(&store).await;
    run_snapshot_store_suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_log_suite_on_one_shared_store() {
    let store = InMemoryEventStore::new();
    aether_testkit::conformance::run_log_suite(&store).await;
}

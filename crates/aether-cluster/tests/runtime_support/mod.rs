//! What the runtime tests share: systems over the in-memory store (wrapped
//! in the test kit's `FaultyStore` when a test injects faults), fixtures.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};

use aether_cluster::runtime::{ActorConfig, ActorRef, ActorSystem, RuntimeConfig};
use aether_core::aggregate::Aggregate;
use aether_core::{ActorId, EventStore};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::FaultyStore;
use aether_testkit::fixtures::Counter;

pub type Store = FaultyStore<InMemoryEventStore>;

/// A fresh store with faults on demand.
pub fn store() -> Store {
    FaultyStore::new(InMemoryEventStore::new())
}

/// A system running `A` with `config` over `store` (and `snapshots`).
pub async fn system<A: Aggregate, S: EventStore + Clone + 'static>(
    store: &S,
    snapshots: Option<&InMemorySnapshotStore>,
    runtime: RuntimeConfig,
    config: ActorConfig,
) -> ActorSystem {
    let mut b = ActorSystem::builder()
        .events(store.clone())
        .config(runtime)
        .register::<A>(config);
    if let Some(s) = snapshots {
        b = b.snapshots(s.clone());
    }
    b.start().await.expect("start the system")
}

/// A fresh actor id of `A`'s type.
pub fn fresh<A: Aggregate>() -> ActorId {
    static N: AtomicU64 = AtomicU64::new(0);
    ActorId::new(format!("{}-{}", A::TYPE, N.fetch_add(1, Ordering::Relaxed))).unwrap()
}

pub fn actor<A: Aggregate>(system: &ActorSystem, id: &ActorId) -> ActorRef<A> {
    system.get::<A>(id.clone()).expect("registered type")
}

/// A fresh faulty store, a system running `Counter` with default configs
/// over it, and one fresh counter.
pub async fn counter() -> (Store, ActorSystem, ActorId, ActorRef<Counter>) {
    let s = store();
    let sys =
        system::<Counter, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    (s, sys, id, c)
}

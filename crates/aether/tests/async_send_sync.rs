//! Compile-time checks that every public handle of the re-exported crates is
//! `Send + Sync + 'static` (so it can be shared across tasks and threads), and
//! that the futures of their async methods are `Send` (so they can be
//! spawned on a multi-threaded runtime), in the manner of tokio's
//! `tests/async_send_sync.rs`. A regression here is a compile error.
//!
//! The checks of each backend are compiled under its feature; run with
//! `--features full` to check them all.

#![allow(dead_code, clippy::extra_unused_type_parameters)]

use std::future::Future;

use aether::aggregate::{
    CircuitBreaker, CommandEnvelope, Committed, DeferredCommands, EventEnvelope, ExecuteError,
    Loaded, NoSnapshots, Repository, RetryPolicy, UpcasterChain,
};
use aether::{
    ActorId, DynEventStore, DynSnapshotStore, Error, Event, EventId, EventStore, EventStored,
    ExpectedVersion, Metadata, Replay, Snapshot, SnapshotStore, Timestamp, VersionConflict,
};

fn send_sync_static<T: Send + Sync + 'static>() {}
fn send_future<F: Future + Send>(_: F) {}

use aether_testkit::fixtures::{Counter, CounterEvent};

/// Futures of the store traits and the repository over store `S` are `Send`.
/// Never called: only type-checked.
fn store_futures_are_send<S: EventStore, SS: SnapshotStore>(
    store: S,
    snapshots: SS,
    id: ActorId,
    event: Event,
    snapshot: Snapshot,
) {
    send_future(store.append(event.clone()));
    send_future(store.append_batch(&id, ExpectedVersion::Exact(1), vec![event]));
    send_future(store.read(&id, 1));
    send_future(store.read_with_errors(&id, 1));
    send_future(store.latest_version(&id));
    send_future(snapshots.latest_snapshot(&id));
    send_future(snapshots.save_snapshot(snapshot));
    let repo = Repository::<Counter, _>::new(store).with_snapshots(snapshots);
    send_future(repo.load(&id));
    send_future(repo.execute(&id, 1));
    send_future(repo.execute_once(&id, 1));
    let mut loaded = Loaded {
        state: Counter::default(),
        version: 0,
        snapshot_version: 0,
        replayed: 0,
    };
    send_future(repo.execute_loaded(&id, &mut loaded, 1));
    send_future(DeferredCommands::<Counter>::new().drain(&repo));
}

#[test]
fn core_types_are_send_sync_static() {
    send_sync_static::<ActorId>();
    send_sync_static::<Event>();
    send_sync_static::<EventId>();
    send_sync_static::<EventStored>();
    send_sync_static::<Metadata>();
    send_sync_static::<Snapshot>();
    send_sync_static::<Timestamp>();
    send_sync_static::<ExpectedVersion>();
    send_sync_static::<Replay>();
    send_sync_static::<Error>();
    send_sync_static::<VersionConflict>();
    send_sync_static::<Box<dyn DynEventStore>>();
    send_sync_static::<Box<dyn DynSnapshotStore>>();
    send_sync_static::<std::sync::Arc<dyn DynEventStore>>();
}

#[test]
fn aggregate_types_are_send_sync_static() {
    send_sync_static::<Repository<Counter, std::sync::Arc<dyn DynEventStore>, NoSnapshots>>();
    send_sync_static::<Loaded<Counter>>();
    send_sync_static::<Committed<Counter>>();
    send_sync_static::<EventEnvelope<CounterEvent>>();
    send_sync_static::<CommandEnvelope<()>>();
    send_sync_static::<ExecuteError<std::convert::Infallible, ()>>();
    send_sync_static::<RetryPolicy>();
    send_sync_static::<CircuitBreaker>();
    send_sync_static::<DeferredCommands<Counter>>();
    send_sync_static::<UpcasterChain>();
    let _ = store_futures_are_send::<std::sync::Arc<dyn DynEventStore>, NoSnapshots>;
}

#[cfg(feature = "memory")]
mod memory {
    use super::*;
    use aether::memory::{InMemoryEventStore, InMemorySnapshotStore};

    #[test]
    fn memory_stores_are_send_sync_static() {
        send_sync_static::<InMemoryEventStore>();
        send_sync_static::<InMemorySnapshotStore>();
        send_sync_static::<Repository<Counter, InMemoryEventStore, InMemorySnapshotStore>>();
        let _ = store_futures_are_send::<InMemoryEventStore, InMemorySnapshotStore>;
    }
}

#[cfg(feature = "jetstream")]
mod jetstream {
    use super::*;
    use aether::jetstream::{
        JetStreamConfig, JetStreamEventStore, JetStreamSnapshotStore, Subjects,
    };

    fn jetstream_futures_are_send(store: JetStreamEventStore, id: ActorId, events: Vec<Event>) {
        send_future(JetStreamEventStore::connect(
            "nats://x",
            JetStreamConfig::default(),
        ));
        send_future(JetStreamSnapshotStore::connect(
            "nats://x",
            JetStreamConfig::default(),
        ));
        send_future(store.open_snapshot_store());
        send_future(store.append_many(vec![(id, ExpectedVersion::Any, events)]));
    }

    #[test]
    fn jetstream_stores_are_send_sync_static() {
        send_sync_static::<JetStreamEventStore>();
        send_sync_static::<JetStreamSnapshotStore>();
        send_sync_static::<JetStreamConfig>();
        send_sync_static::<Subjects>();
        send_sync_static::<Repository<Counter, JetStreamEventStore, JetStreamSnapshotStore>>();
        let _ = store_futures_are_send::<JetStreamEventStore, JetStreamSnapshotStore>;
        let _ = jetstream_futures_are_send;
    }
}

#[cfg(feature = "bus")]
mod bus {
    use super::*;
    use aether::bus::{
        BusError, BusItem, BusStats, Envelope, EventBus, EventSubscription, Filter, LocalEventBus,
        Namespace, NatsBusConfig, NatsEventBus, OverflowPolicy, Pattern, RecvError,
        StoredSubscription, SubscribeOptions, VersionCacheSync,
    };

    fn bus_futures_are_send<B: EventBus>(bus: B, event: Event) {
        send_future(bus.publish("ns", event));
        send_future(bus.subscribe("ns.>"));
        send_future(bus.subscribe_with("ns", Filter::new(), SubscribeOptions::default()));
        send_future(bus.subscribe_cross_namespace(">", Filter::new(), SubscribeOptions::default()));
        send_future(bus.subscribe_event_stored(">"));
    }

    fn nats_futures_are_send(
        bus: NatsEventBus,
        event: Event,
        mut events: EventSubscription,
        mut stored: StoredSubscription,
    ) {
        send_future(NatsEventBus::connect("nats://x", NatsBusConfig::default()));
        send_future(bus.publish("ns", event));
        send_future(bus.subscribe("ns.>"));
        send_future(bus.sync_version_cache(">", |_, _| {}));
        send_future(bus.flush());
        send_future(bus.shutdown());
        send_future(events.recv());
        send_future(stored.recv());
    }

    #[test]
    fn buses_and_subscriptions_are_send_sync_static() {
        send_sync_static::<LocalEventBus>();
        send_sync_static::<NatsEventBus>();
        send_sync_static::<NatsBusConfig>();
        send_sync_static::<EventSubscription>();
        send_sync_static::<StoredSubscription>();
        send_sync_static::<VersionCacheSync>();
        send_sync_static::<Envelope>();
        send_sync_static::<BusItem<Envelope>>();
        send_sync_static::<BusError>();
        send_sync_static::<RecvError>();
        send_sync_static::<BusStats>();
        send_sync_static::<Filter>();
        send_sync_static::<SubscribeOptions>();
        send_sync_static::<OverflowPolicy>();
        send_sync_static::<Namespace>();
        send_sync_static::<Pattern>();
        let _ = bus_futures_are_send::<LocalEventBus>;
        let _ = bus_futures_are_send::<NatsEventBus>;
        let _ = nats_futures_are_send;
    }
}

#[cfg(feature = "cluster")]
mod cluster {
    use super::*;
    use aether::NodeId;
    use aether::cluster::{
        ClusterConfig, ClusterError, ClusterNode, ConsistentHashRing, LeaderInfo, Leadership,
        MemberView, MembershipEvent, MembershipEvents, NodeInfo, RebalancePlan, ShardId,
        ShardManager, ShardMap, ShardMapWatch, Term,
    };

    fn cluster_futures_are_send(
        client: aether::async_nats::Client,
        node: ClusterNode,
        mut events: MembershipEvents,
        mut maps: ShardMapWatch,
    ) {
        send_future(ClusterNode::start(client, ClusterConfig::default()));
        send_future(ClusterNode::connect(
            "nats://127.0.0.1:4222",
            ClusterConfig::default(),
        ));
        send_future(node.shutdown());
        send_future(events.recv());
        send_future(maps.changed());
        send_future(maps.wait_for(|_| true));
    }

    #[test]
    fn cluster_handles_are_send_sync_static() {
        send_sync_static::<ClusterNode>();
        send_sync_static::<ClusterConfig>();
        send_sync_static::<ClusterError>();
        send_sync_static::<NodeInfo>();
        send_sync_static::<NodeId>();
        send_sync_static::<ShardId>();
        send_sync_static::<Term>();
        send_sync_static::<ShardManager>();
        send_sync_static::<ConsistentHashRing>();
        send_sync_static::<ShardMap>();
        send_sync_static::<ShardMapWatch>();
        send_sync_static::<MembershipEvents>();
        send_sync_static::<MembershipEvent>();
        send_sync_static::<MemberView>();
        send_sync_static::<Leadership>();
        send_sync_static::<LeaderInfo>();
        send_sync_static::<RebalancePlan>();
        let _ = cluster_futures_are_send;
    }
}

//! The bus conformance suite (`aether_testkit::conformance::bus`) on both
//! buses: the local bus (publisher and subscriber are one bus) and the NATS
//! bus (two nodes on a real nats-server, so every case crosses the network).

mod local {
    aether_testkit::bus_conformance!(async {
        let bus = aether_bus::LocalEventBus::new();
        (bus.clone(), bus)
    });
}

mod nats {
    use aether_bus::{NatsBusConfig, NatsEventBus};

    async fn pair() -> ((NatsEventBus, NatsEventBus), aether_testkit::NatsServer) {
        let server = aether_testkit::NatsServer::start().await;
        let a = NatsEventBus::connect(server.url(), NatsBusConfig::default())
            .await
            .expect("publisher bus");
        let b = NatsEventBus::connect(server.url(), NatsBusConfig::default())
            .await
            .expect("subscriber bus");
        ((a, b), server)
    }

    aether_testkit::bus_conformance!(guarded: pair());

    /// The whole suite on one pair of nodes, twice: cases do not disturb each other.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn whole_suite_twice_on_one_pair() {
        let ((a, b), _server) = pair().await;
        aether_testkit::conformance::bus::run_bus_suite(&a, &b).await;
        aether_testkit::conformance::bus::run_bus_suite(&a, &b).await;
    }
}

//! One error shape: a store, bus, cluster and aggregate error can all be `?`'d
//! in one function, and each prints every message of its chain once.

#![cfg(feature = "full")]

use std::time::Duration;

use aether::bus::{LocalEventBus, NatsBusConfig, NatsEventBus};
use aether::cluster::{ClusterConfig, ClusterNode};
use aether::jetstream::{JetStreamConfig, JetStreamEventStore};
use aether::memory::InMemoryEventStore;
use aether::nats::ConnectConfig;
use aether::prelude::*;
use aether::{BoxError, error_chain};
use aether_testkit::fixtures::{Account, withdraw};

/// A port nothing listens on.
fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("nats://127.0.0.1:{port}")
}

fn quick() -> ConnectConfig {
    ConnectConfig {
        timeout: Duration::from_millis(300),
        ..Default::default()
    }
}

/// Every message of `e`'s chain appears exactly once in the printed chain
/// (a level's own message: without the `": <source>"` some libraries'
/// errors repeat, async-nats's among them).
fn each_message_once(e: &(dyn std::error::Error + 'static)) -> String {
    let chain = error_chain(e);
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let full = err.to_string();
        let below = err.source().map(|s| format!(": {s}"));
        let own = below
            .as_deref()
            .and_then(|b| full.strip_suffix(b))
            .unwrap_or(&full);
        assert_eq!(
            chain.matches(own).count(),
            1,
            "{own:?} appears other than once in {chain:?}"
        );
        cur = err.source();
    }
    chain
}

/// The async-nats error somewhere in `e`'s chain, as async-nats made it.
fn nats_connect_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a aether::async_nats::ConnectError> {
    std::iter::successors(Some(e), |e| e.source()).find_map(|e| e.downcast_ref())
}

async fn store_error(url: &str) -> Result<(), BoxError> {
    let cfg = JetStreamConfig {
        connect: quick(),
        ..Default::default()
    };
    JetStreamEventStore::connect(url, cfg).await?;
    Ok(())
}

async fn bus_error(url: &str) -> Result<(), BoxError> {
    let cfg = NatsBusConfig {
        connect: quick(),
        ..Default::default()
    };
    NatsEventBus::connect(url, cfg).await?;
    Ok(())
}

async fn cluster_error(url: &str) -> Result<(), BoxError> {
    let cfg = ClusterConfig {
        connect: quick(),
        ..Default::default()
    };
    ClusterNode::connect(url, cfg).await?;
    Ok(())
}

async fn aggregate_error() -> Result<(), BoxError> {
    let repo = Repository::<Account, _>::new(InMemoryEventStore::new());
    repo.execute(&ActorId::new("account-1")?, withdraw(5))
        .await?;
    Ok(())
}

async fn bus_input_error() -> Result<(), BoxError> {
    let bus = LocalEventBus::new();
    bus.publish("a.*", Event::new(ActorId::new("a-1")?, 1, "T", json!(null)))
        .await?;
    Ok(())
}

/// The same, into `aether::Error` (what a store-level function returns).
async fn as_core_error(url: &str) -> Result<(), aether::Error> {
    let cfg = ClusterConfig {
        connect: quick(),
        ..Default::default()
    };
    ClusterNode::connect(url, cfg).await?;
    Ok(())
}

#[tokio::test]
async fn every_layer_can_be_questioned_in_one_function_and_prints_each_message_once() {
    let url = dead_url();
    let store = store_error(&url).await.unwrap_err();
    let bus = bus_error(&url).await.unwrap_err();
    let cluster = cluster_error(&url).await.unwrap_err();
    let aggregate = aggregate_error().await.unwrap_err();
    let input = bus_input_error().await.unwrap_err();
    for e in [&store, &bus, &cluster] {
        let chain = each_message_once(e.as_ref());
        assert!(chain.contains(&url), "names the server: {chain}");
        let nats = nats_connect_error(e.as_ref());
        assert!(nats.is_some(), "the async-nats error is kept: {e:?}");
    }
    assert!(each_message_once(store.as_ref()).starts_with("unavailable: cannot connect to NATS"));
    assert_eq!(
        each_message_once(aggregate.as_ref()),
        "command rejected: account not open"
    );
    assert!(each_message_once(input.as_ref()).starts_with("invalid namespace \"a.*\""));

    let core = as_core_error(&url).await.unwrap_err();
    assert!(core.is_transient(), "unreachable is worth retrying: {core}");
    let chain = each_message_once(&core);
    assert!(
        chain.starts_with("unavailable: cannot connect to NATS at"),
        "{chain}"
    );
    assert!(
        nats_connect_error(&core).is_some(),
        "the async-nats error is kept: {core:?}"
    );
    let copy = core.clone();
    assert_eq!(error_chain(&copy), chain, "a clone keeps its source");
}

//! Runs every example against a real `nats-server` (started by the testkit on
//! a random port) through the examples library: each example's `run` is the
//! whole example, so passing here means `cargo run --example NAME` works.

use std::time::Duration;

use aether_examples::{
    actors_cluster, actors_handoff, cluster, event_bus, jetstream_bank, model_cluster,
    process_manager, projection_sqlite, quickstart, retry_patterns,
};
use aether_testkit::NatsServer;

/// Every example finishes well within this.
const LIMIT: Duration = Duration::from_secs(30);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_bank_runs() {
    let server = NatsServer::start().await;
    within("jetstream_bank", jetstream_bank::run(&server.url()))
        .await
        .expect("jetstream_bank");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_bank_runs_twice_on_one_server() {
    let server = NatsServer::start().await;
    for _ in 0..2 {
        within("jetstream_bank", jetstream_bank::run(&server.url()))
            .await
            .expect("jetstream_bank");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_sqlite_runs() {
    let server = NatsServer::start().await;
    within("projection_sqlite", projection_sqlite::run(&server.url()))
        .await
        .expect("projection_sqlite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_manager_runs() {
    let server = NatsServer::start().await;
    within("process_manager", process_manager::run(&server.url()))
        .await
        .expect("process_manager");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_bus_runs() {
    let server = NatsServer::start().await;
    within("event_bus", event_bus::run(&server.url()))
        .await
        .expect("event_bus");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_runs() {
    let server = NatsServer::start().await;
    within("cluster", cluster::run(&server.url()))
        .await
        .expect("cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_cluster_runs() {
    let server = NatsServer::start().await;
    within("actors_cluster", actors_cluster::run(&server.url()))
        .await
        .expect("actors_cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_cluster_runs_twice_on_one_server() {
    let server = NatsServer::start().await;
    for _ in 0..2 {
        within("model_cluster", model_cluster::run(&server.url()))
            .await
            .expect("model_cluster");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_handoff_runs() {
    let server = NatsServer::start().await;
    within("actors_handoff", actors_handoff::run(&server.url()))
        .await
        .expect("actors_handoff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_server_the_error_says_how_to_start_one() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    for (name, result) in [
        (
            "jetstream_bank",
            within("", jetstream_bank::run(&url)).await,
        ),
        ("event_bus", within("", event_bus::run(&url)).await),
        ("cluster", within("", cluster::run(&url)).await),
        ("model_cluster", within("", model_cluster::run(&url)).await),
    ] {
        let message = result.expect_err(name).to_string();
        assert!(
            message.contains("nats-server -js") && message.contains(&url),
            "{name}: {message}"
        );
    }
}

#[tokio::test]
async fn quickstart_runs() {
    within("quickstart", quickstart::run())
        .await
        .expect("quickstart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_patterns_runs() {
    within("retry_patterns", retry_patterns::run()).await;
}

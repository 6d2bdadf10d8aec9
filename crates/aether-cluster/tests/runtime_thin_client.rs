//! A client the project did not write calls an actor: `thin_client.py`
//! (Python, nats-py), written from `docs/wire.md` alone, computes the
//! actor's subject and runs commands, a retry, a query, a rejection and bad
//! requests against a cluster member. Needs `python3` with `nats-py`
//! (`pip install nats-py`; `scripts/test.sh` installs it): fails if missing.

mod cluster_support;
mod support;

use std::time::Duration;

use aether_cluster::shard_for_actor;
use aether_core::{ActorId, EventStore};
use aether_testkit::NatsServer;
use cluster_support::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_nats_client_calls_an_actor_from_the_wire_docs_alone() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = unique_cluster("py");
    let n1 = member(&url, &fast_config(&cluster), "n1", "RTPY").await;
    all_served(&[&n1], 1024, Duration::from_secs(15)).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/thin_client.py");
    let out = tokio::process::Command::new("python3")
        .args([script, &url, &cluster, "1024"])
        .output()
        .await
        .expect("python3 must be installed (with `pip install nats-py`)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'nats'"),
        "the Python NATS client is missing: run `pip install nats-py` (scripts/test.sh does)"
    );
    assert!(out.status.success(), "thin client failed: {stderr}");
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let actor = ActorId::new("counter-py1").unwrap();
    let shard = shard_for_actor(&actor, 1024);
    assert_eq!(seen["shard"], shard.0, "Python computes the same shard");
    assert_eq!(shard.0, 114, "pinned in docs/wire.md");
    assert_eq!(seen["writer"], "n1");
    assert_eq!(
        seen["wrong_shard"], "bad-request",
        "the node serving the other shard refuses it"
    );
    assert!(seen["claim"].as_str().unwrap().starts_with("114/"));
    let log = store(&url, "RTPY").await.read(&actor, 1).await.unwrap();
    assert_eq!(log.len(), 1, "the retry was not applied twice");
    n1.shutdown().await.unwrap();
}

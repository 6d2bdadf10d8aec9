//! A client the project did not write calls a model actor: `model_client.py`
//! (Python, nats-py), written from `docs/wire.md` alone, sends
//! `{"Deposit": {"amount": 5}}` to an account of the published bank account
//! model and gets `ok` with the stored events, `rejected` with the model's
//! code and details for a guard, and `bad-request` with the JSON pointer of
//! a schema violation. Needs `python3` with `nats-py` (`pip install
//! nats-py`; `scripts/test.sh` installs it): fails if missing.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/models.rs"]
mod models;

use aether_core::{ActorId, EventStore};
use aether_model::deploy::{ModelRegistry, PublishOptions, RegistryConfig};
use aether_testkit::NatsServer;
use cluster::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_nats_client_calls_a_model_actor_from_the_wire_docs_alone() {
    let server = NatsServer::start().await;
    let url = server.url();
    let name = unique_cluster("mpy");
    let (n1, watcher) = member(&url, &fast_config(&name), "n1", "MPY").await;
    all_served(&[&n1]).await;
    ModelRegistry::open(server.connect().await, RegistryConfig::default())
        .await
        .unwrap()
        .publish(&models::v3(), PublishOptions::default())
        .await
        .unwrap();
    all_run(&[&watcher], "account", 3).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/model_client.py");
    let out = tokio::process::Command::new("python3")
        .args([script, &url, &name, &SHARDS.to_string()])
        .output()
        .await
        .expect("python3 must be installed (with `pip install nats-py`)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'nats'"),
        "the Python NATS client is missing: run `pip install nats-py` (scripts/test.sh does)"
    );
    assert!(out.status.success(), "the Python client failed: {stderr}");
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("the Python client saw {seen}");

    assert_eq!(
        seen["model"], "account@3",
        "the events carry the model stamp"
    );
    assert_eq!(
        seen["rejected"],
        json!({
            "message": "insufficient_funds: balance 5 is too low for 500",
            "error": {
                "code": "insufficient_funds",
                "message": "balance 5 is too low for 500",
                "details": {"balance": 5, "requested": 500}
            }
        })
    );
    let bad = seen["bad_request"].as_str().unwrap();
    assert!(
        bad.contains("/amount"),
        "the JSON pointer of the fault: {bad}"
    );
    assert!(bad.contains("commands.Deposit.schema"), "{bad}");
    let unknown = seen["unknown"].as_str().unwrap();
    assert!(unknown.contains("unknown command `Teleport`"), "{unknown}");
    assert_eq!(seen["balance"], json!({"balance": 5, "status": "open"}));

    let log = store(&url, "MPY")
        .await
        .read(&ActorId::new("account-py1").unwrap(), 1)
        .await
        .unwrap();
    let types: Vec<&str> = log.iter().map(|e| &*e.event_type).collect();
    assert_eq!(
        types,
        ["Opened", "Deposited"],
        "the retry was not applied twice; nothing written on a refusal"
    );
    watcher.stop().await;
    n1.shutdown().await.unwrap();
}

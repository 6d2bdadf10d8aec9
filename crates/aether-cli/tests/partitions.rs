//! `aether partitions` against real nats-servers: the list (streams,
//! leaders, servers, sizes, rates), balancing leaders on a 3-node cluster,
//! moving a partition to a tagged server, and bad input.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use aether_core::{ActorId, Event, EventStore, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::{NatsCluster, NatsServer};
use serde_json::Value;

fn aether(url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aether"));
    for (k, _) in std::env::vars() {
        if k.starts_with("NATS_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--server").arg(url).args(args);
    cmd.output().expect("run aether")
}

fn ok_json(url: &str, args: &[&str]) -> Value {
    let out = aether(url, &[args, &["--json"]].concat());
    assert!(
        out.status.success(),
        "aether {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn config(partitions: u32, replicas: usize) -> JetStreamConfig {
    JetStreamConfig {
        namespace: "parts".into(),
        partitions,
        replicas,
        ..Default::default()
    }
}

async fn fill(store: &JetStreamEventStore, n: usize) {
    for i in 0..n {
        let a = ActorId::new(format!("acct-{i}")).unwrap();
        store
            .append(Event::new(a, 1, "Opened", json!({})))
            .await
            .unwrap();
    }
}

/// Partitions per leader; a partition between leaders (right after a
/// stepdown) counts under `(none)`, for the caller to ask again.
fn leaders(list: &Value) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for p in list.as_array().unwrap() {
        *count
            .entry(p["leader"].as_str().unwrap_or("(none)").to_string())
            .or_insert(0) += 1;
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_are_listed_and_balance_spreads_their_leaders() {
    let nats = NatsCluster::start().await;
    let url = nats.client_url().joined();
    let store = JetStreamEventStore::connect(&url, config(4, 3))
        .await
        .unwrap();
    fill(&store, 40).await;
    let list = ok_json(
        &url,
        &["--namespace", "parts", "partitions", "--sample", "0.2"],
    );
    let parts = list.as_array().unwrap();
    assert_eq!(parts.len(), 4);
    let mut messages = 0;
    for (k, p) in parts.iter().enumerate() {
        assert_eq!(p["partition"], k);
        assert_eq!(p["stream"], format!("AETHER_parts_P{k}"));
        assert_eq!(p["servers"].as_array().unwrap().len(), 3, "{p}");
        assert!(p["appends_per_s"].is_number(), "{p}");
        messages += p["messages"].as_u64().unwrap();
    }
    assert_eq!(messages, 40);
    // Every leader on n1, then balanced: no server leads more than two.
    for k in 0..4 {
        store.step_down(k, Some("n1")).await.unwrap();
    }
    aether_testkit::eventually(
        "every leader on n1",
        std::time::Duration::from_secs(30),
        async || {
            let l = leaders(&ok_json(
                &url,
                &["--namespace", "parts", "partitions", "--sample", "0"],
            ));
            if l.get("n1") == Some(&4) {
                Ok(())
            } else {
                Err(l)
            }
        },
    )
    .await;
    // Two moves when each stepdown hands over to the server it names; a
    // move that lands elsewhere is moved again in a later round.
    let moves = ok_json(&url, &["--namespace", "parts", "partitions", "balance"]);
    assert!(moves.as_array().unwrap().len() >= 2, "{moves}");
    let after = leaders(&ok_json(
        &url,
        &["--namespace", "parts", "partitions", "--sample", "0"],
    ));
    assert!(
        after.values().all(|n| *n <= 2) && after.len() == 3,
        "{after:?}"
    );
    // Balanced already: nothing more to do.
    let again = ok_json(&url, &["--namespace", "parts", "partitions", "balance"]);
    assert!(again.as_array().unwrap().is_empty(), "{again}");
    // The human table.
    let out = aether(
        &url,
        &["--namespace", "parts", "partitions", "--sample", "0"],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("LEADER") && text.contains("AETHER_parts_P3"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_moves_to_the_tagged_server() {
    let nats = NatsCluster::start_tagged().await;
    let url = nats.client_url().joined();
    let store = JetStreamEventStore::connect(
        &url,
        JetStreamConfig {
            placement_tags: vec!["node:n1".into(), "node:n2".into()],
            ..config(2, 1)
        },
    )
    .await
    .unwrap();
    fill(&store, 20).await;
    let moved = ok_json(
        &url,
        &[
            "--namespace",
            "parts",
            "partitions",
            "move",
            "1",
            "--tags",
            "node:n3",
        ],
    );
    assert_eq!(moved["to"], serde_json::json!(["n3"]), "{moved}");
    assert_eq!(moved["leader"], "n3");
    let list = ok_json(
        &url,
        &["--namespace", "parts", "partitions", "--sample", "0"],
    );
    assert_eq!(list[1]["tags"], serde_json::json!(["node:n3"]));
    assert_eq!(
        list[0]["messages"].as_u64().unwrap() + list[1]["messages"].as_u64().unwrap(),
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpartitioned_namespace_is_one_partition_and_bad_input_is_refused() {
    let server = NatsServer::start().await;
    let url = server.url();
    let store = JetStreamEventStore::connect(&url, config(1, 1))
        .await
        .unwrap();
    fill(&store, 3).await;
    let list = ok_json(
        &url,
        &["--namespace", "parts", "partitions", "--sample", "0"],
    );
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["stream"], "AETHER_parts");
    assert_eq!(list[0]["messages"], 3);
    // Repartitioned to 2: the namespace is two partitions, the events kept.
    let moved = ok_json(
        &url,
        &[
            "--namespace",
            "parts",
            "partitions",
            "repartition",
            "--to",
            "2",
        ],
    );
    assert_eq!(moved["copied"], 3, "{moved}");
    let list = ok_json(
        &url,
        &["--namespace", "parts", "partitions", "--sample", "0"],
    );
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        list[0]["messages"].as_u64().unwrap() + list[1]["messages"].as_u64().unwrap(),
        3
    );
    for (args, code) in [
        (
            &[
                "--namespace",
                "parts",
                "partitions",
                "repartition",
                "--to",
                "3",
            ][..],
            2,
        ),
        (
            &[
                "--namespace",
                "parts",
                "partitions",
                "move",
                "9",
                "--tags",
                "x",
            ][..],
            2,
        ),
        (&["--namespace", "parts", "partitions", "move", "0"][..], 2),
        (&["--namespace", "nothing", "partitions"][..], 3),
    ] {
        let out = aether(&url, args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with("error") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

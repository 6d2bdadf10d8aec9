//! Three cluster nodes as separate OS processes: the test re-executes its own
//! binary running only itself (`--exact
//! three_processes_elect_one_leader_agree_and_fail_over`) with
//! `AETHER_CLUSTER_CHILD` set, so each child runs one node and reports its view
//! on a NATS subject every 100 ms.

mod support;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aether_cluster::hash::stable_hash;
use aether_cluster::{ClusterNode, NodeInfo};
use aether_testkit::NatsServer;
use futures::StreamExt;
use serde_json::json;
use support::*;
use tokio::process::{Child, Command};

const CHILD_ENV: &str = "AETHER_CLUSTER_CHILD";

/// A node's report: (leader term if it leads, map epoch, map digest).
#[derive(Debug, Clone, PartialEq)]
struct Report {
    leading: Option<u64>,
    epoch: u64,
    digest: u64,
    members: Vec<String>,
}

/// This test's name: each child process runs only it, in child mode.
const TEST_NAME: &str = "three_processes_elect_one_leader_agree_and_fail_over";

/// The body of a child process (the test run with [`CHILD_ENV`] set): one node.
async fn run_child_node(spec: String) {
    init_tracing();
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let url = spec["url"].as_str().unwrap();
    let id = spec["id"].as_str().unwrap();
    let cluster = spec["cluster"].as_str().unwrap();
    let reports = spec["reports"].as_str().unwrap().to_owned();
    let client = async_nats::connect(url).await.unwrap();
    let node = ClusterNode::start(
        client.clone(),
        aether_cluster::ClusterConfig {
            node: NodeInfo::new(node_id(id)),
            ..fast_config(cluster)
        },
    )
    .await
    .unwrap();
    // Never outlive the parent for long.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let map = node.shard_map();
        let report = json!({
            "id": id,
            "leading": node.leadership().map(|l| l.term.get()),
            "epoch": map.as_ref().map_or(0, |m| m.epoch),
            "digest": map.as_ref().map_or(0, |m| stable_hash(&m.encode().unwrap())),
            "members": map.as_ref().map(|m| m.members.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap_or_default(),
        });
        let _ = client
            .publish(
                format!("{reports}.{id}"),
                serde_json::to_vec(&report).unwrap().into(),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("child node {id} was not killed within 60 s");
}

fn spawn_child(url: &str, cluster: &str, id: &str, reports: &str) -> Child {
    let exe = std::env::current_exe().unwrap();
    Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture"])
        .env(
            CHILD_ENV,
            json!({"url": url, "id": id, "cluster": cluster, "reports": reports}).to_string(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child test process")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_elect_one_leader_agree_and_fail_over() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return run_child_node(spec).await;
    }
    init_tracing();
    let server = NatsServer::start().await;
    let cluster = unique_cluster("procs");
    let reports_subject = format!("test.{cluster}.report");
    let client = server.connect().await;
    let mut sub = client
        .subscribe(format!("{reports_subject}.*"))
        .await
        .unwrap();
    let mut children: BTreeMap<String, Child> = ["p1", "p2", "p3"]
        .iter()
        .map(|id| {
            (
                id.to_string(),
                spawn_child(&server.url(), &cluster, id, &reports_subject),
            )
        })
        .collect();

    let mut latest: BTreeMap<String, Report> = BTreeMap::new();
    // Every (term, node) ever reported as leading: one node per term.
    let mut claims: BTreeMap<u64, String> = BTreeMap::new();
    let mut next_report = async |latest: &mut BTreeMap<String, Report>,
                                 claims: &mut BTreeMap<u64, String>| {
        let msg = sub.next().await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        let r = Report {
            leading: v["leading"].as_u64(),
            epoch: v["epoch"].as_u64().unwrap(),
            digest: v["digest"].as_u64().unwrap(),
            members: v["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect(),
        };
        if let Some(term) = r.leading {
            let holder = claims.entry(term).or_insert_with(|| id.clone());
            assert_eq!(*holder, id, "two processes led term {term}");
        }
        latest.insert(id, r);
    };
    let agreed = |latest: &BTreeMap<String, Report>, ids: &[&str]| -> Option<(u64, u64)> {
        let rs: Vec<&Report> = ids.iter().map(|i| latest.get(*i)).collect::<Option<_>>()?;
        let want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let leaders: Vec<u64> = rs.iter().filter_map(|r| r.leading).collect();
        (rs.iter().all(|r| {
            r.epoch > 0 && r.epoch == rs[0].epoch && r.digest == rs[0].digest && r.members == want
        }) && leaders.len() == 1)
            .then(|| (rs[0].epoch, leaders[0]))
    };

    let (epoch, term) = within(Duration::from_secs(30), "three processes agree", async {
        loop {
            next_report(&mut latest, &mut claims).await;
            if let Some(x) = agreed(&latest, &["p1", "p2", "p3"]) {
                return x;
            }
        }
    })
    .await;
    let leader = latest
        .iter()
        .find(|(_, r)| r.leading == Some(term))
        .unwrap()
        .0
        .clone();
    eprintln!("processes agree on epoch {epoch}; {leader} leads term {term}");

    // SIGKILL the leader's process.
    let mut victim = children.remove(&leader).unwrap();
    victim.kill().await.unwrap();
    let killed_at = Instant::now();
    latest.remove(&leader);
    let rest: Vec<&str> = children.keys().map(String::as_str).collect();
    let (epoch2, term2) = within(Duration::from_secs(15), "survivors agree", async {
        loop {
            next_report(&mut latest, &mut claims).await;
            if let Some(x) = agreed(&latest, &rest) {
                return x;
            }
        }
    })
    .await;
    eprintln!(
        "after {:?}: epoch {epoch2}, term {term2}",
        killed_at.elapsed()
    );
    assert!(term2 > term);
    assert_eq!(epoch2, epoch + 1);
    for (_, mut c) in children {
        let _ = c.kill().await;
    }
}

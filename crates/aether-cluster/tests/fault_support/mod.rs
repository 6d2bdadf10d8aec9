//! Aether nodes as separate OS processes, for the runtime's fault tests.
//!
//! A node process is this test binary re-executed as `--exact node_process`
//! with [`CHILD_ENV`] holding its spec (JSON); it runs one member system
//! (the test kit's `Counter`, the JetStream store) until it is killed, or
//! until it is told to leave on its control subject (then it shuts down
//! gracefully and exits 0). Its log goes to a file named in panics.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use aether_cluster::{ClusterConfig, ShardId, ShardMap};
use aether_testkit::Wait;
use aether_testkit::history::{ClaimSeen, History};
use futures::StreamExt;
use serde_json::json;
use tokio::process::{Child, Command};

pub const CHILD_ENV: &str = "AETHER_RT_NODE";

/// What a node process runs.
#[derive(Debug, Clone)]
pub struct Spec {
    pub url: String,
    pub cluster: String,
    pub id: String,
    pub stream: String,
    pub replicas: usize,
}

impl Spec {
    fn json(&self) -> String {
        json!({
            "url": self.url, "cluster": self.cluster, "id": self.id,
            "stream": self.stream, "replicas": self.replicas,
        })
        .to_string()
    }
}

/// The cluster configuration every node process and the test use: the
/// test suite's fast leases (2 s), KV replicas as the stream's.
pub fn config(cluster: &str, replicas: usize) -> ClusterConfig {
    let mut c = crate::support::fast_config(cluster);
    c.kv.replicas = replicas;
    c
}

/// The body of a node process (call first thing in `node_process`).
pub async fn run_child(spec: &str) {
    crate::support::init_tracing();
    let v: serde_json::Value = serde_json::from_str(spec).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    let (url, cluster, id, stream) = (s("url"), s("cluster"), s("id"), s("stream"));
    let replicas = v["replicas"].as_u64().unwrap() as usize;
    let events = crate::cluster_support::store_with(&url, &stream, replicas).await;
    let system =
        crate::cluster_support::member_with(&url, &config(&cluster, replicas), &id, events).await;
    let ctl = dial(&url).await;
    let mut leave = ctl.subscribe(control(&cluster, &id)).await.unwrap();
    ctl.flush().await.unwrap();
    tracing::info!(%id, "node process serving");
    tokio::select! {
        m = leave.next() => {
            tracing::info!(%id, "told to leave");
            system.shutdown().await.unwrap();
            if let Some(reply) = m.and_then(|m| m.reply) {
                let _ = ctl.publish(reply, "left".into()).await;
                let _ = ctl.flush().await;
            }
            std::process::exit(0);
        }
        // Never outlive the test for long.
        _ = tokio::time::sleep(Duration::from_secs(180)) => {
            panic!("node process {id} was not stopped within 180 s");
        }
    }
}

fn control(cluster: &str, id: &str) -> String {
    format!("test.{cluster}.ctl.{id}")
}

/// A running node process.
pub struct Node {
    pub id: String,
    pub child: Child,
    pub log: std::path::PathBuf,
}

impl Node {
    pub fn spawn(spec: Spec) -> Node {
        let log = std::env::temp_dir().join(format!("aether-rt-{}-{}.log", spec.cluster, spec.id));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "node_process", "--nocapture"])
            .env(CHILD_ENV, spec.json())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn a node process");
        Node {
            id: spec.id,
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// SIGKILL.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {}", self.pid());
    }

    /// SIGSTOP: the process is frozen, its sockets stay open.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Tells it to leave gracefully; waits until it has.
    pub async fn leave(&mut self, client: &async_nats::Client, cluster: &str) {
        let reply = tokio::time::timeout(
            Duration::from_secs(30),
            client.request(control(cluster, &self.id), "leave".into()),
        )
        .await;
        assert!(
            matches!(reply, Ok(Ok(_))),
            "node {} did not leave: {reply:?}; log {}",
            self.id,
            self.log.display()
        );
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("exits after leaving")
            .unwrap();
        assert!(status.success(), "node {} exited with {status}", self.id);
    }
}

/// The shard map in force and the claims, as the buckets have them.
pub struct View {
    pub map: Option<ShardMap>,
    /// Per shard: (owner, phase) of its claim.
    pub claims: Vec<Option<(String, String)>>,
}

pub async fn view(js: &async_nats::jetstream::Context, cluster: &str, shards: u32) -> View {
    let map = match js.get_key_value(format!("{cluster}_shards")).await {
        Ok(kv) => kv
            .get("map")
            .await
            .ok()
            .flatten()
            .and_then(|b| ShardMap::decode(&b).ok()),
        Err(_) => None,
    };
    let mut claims = vec![None; shards as usize];
    if let Ok(kv) = js.get_key_value(format!("{cluster}_claims")).await
        && let Ok(mut keys) = kv.watch_with_history(">").await
    {
        // The watch delivers every key's latest value first.
        let status = kv.status().await.map(|s| s.values()).unwrap_or(0);
        let mut seen = 0;
        while seen < status {
            let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::from_secs(2), keys.next()).await
            else {
                break;
            };
            seen += 1;
            if let (Some(n), Ok(v)) = (
                e.key
                    .strip_prefix("s.")
                    .and_then(|n| n.parse::<usize>().ok()),
                serde_json::from_slice::<serde_json::Value>(&e.value),
            ) && n < claims.len()
            {
                claims[n] = Some((
                    v["owner"].as_str().unwrap_or_default().to_owned(),
                    v["phase"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            if e.delta == 0 {
                break;
            }
        }
    }
    View { map, claims }
}

/// Waits until the map names exactly `members` and every shard's claim is
/// `serving` by the map's primary.
pub async fn settled(
    js: &async_nats::jetstream::Context,
    cluster: &str,
    members: &[&str],
    limit: Duration,
) -> ShardMap {
    let mut want: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    want.sort();
    Wait::new(format!("cluster {cluster} to settle on {want:?}"), limit)
        .every(Duration::from_millis(100))
        .until(async || {
            let v = view(js, cluster, 1024).await;
            let Some(map) = &v.map else {
                return Err("no shard map".to_owned());
            };
            let served = (0..1024u32)
                .filter(|&s| {
                    let primary = map.primary(ShardId(s)).map(|n| n.to_string());
                    matches!(&v.claims[s as usize], Some((o, p)) if Some(o) == primary.as_ref() && p == "serving")
                })
                .count();
            let names: Vec<String> = map.members.iter().map(|m| m.to_string()).collect();
            if names == want && served == 1024 {
                return Ok(map.clone());
            }
            Err(format!(
                "map epoch {} members {:?}; {served} shards served by their primary; {} claims read",
                map.epoch,
                map.members,
                v.claims.iter().filter(|c| c.is_some()).count()
            ))
        })
        .await
}

/// Records every shard claim written in `cluster` into a history (as the
/// test sees it), for the checker's rule "no `Ok` from a superseded owner".
/// Stops when dropped.
pub struct ClaimWatch {
    pub seen: Arc<History>,
    task: tokio::task::JoinHandle<()>,
}

impl ClaimWatch {
    pub fn start(js: async_nats::jetstream::Context, cluster: &str) -> ClaimWatch {
        let seen = Arc::new(History::new());
        let bucket = format!("{cluster}_claims");
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                // Watched again after any failure (a NATS server killed
                // under it): the latest value of every key comes first.
                loop {
                    if let Ok(kv) = js.get_key_value(&bucket).await
                        && let Ok(mut entries) = kv.watch_with_history(">").await
                    {
                        while let Some(Ok(e)) = entries.next().await {
                            record(&seen, &e);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        ClaimWatch { seen, task }
    }

    /// Every claim seen so far.
    pub fn claims(&self) -> Vec<ClaimSeen> {
        self.seen.claims()
    }
}

impl Drop for ClaimWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn record(seen: &History, e: &async_nats::jetstream::kv::Entry) {
    if e.operation != async_nats::jetstream::kv::Operation::Put {
        return;
    }
    let shard = e.key.strip_prefix("s.").and_then(|n| n.parse::<u32>().ok());
    let claim = serde_json::from_slice::<serde_json::Value>(&e.value).ok();
    if let (Some(shard), Some(owner)) = (shard, claim.as_ref().and_then(|c| c["owner"].as_str())) {
        seen.claim_seen(shard, e.revision, owner);
    }
}

/// A client of `url` (one address, or several joined with commas).
pub async fn dial(url: &str) -> async_nats::Client {
    aether_nats::connect(url, &Default::default(), "fault-test")
        .await
        .unwrap()
}

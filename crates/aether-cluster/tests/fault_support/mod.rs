//! Aether nodes as separate OS processes, for the runtime's fault tests.
//!
//! A node process is this test binary re-executed as `--exact node_process`
//! with [`CHILD_ENV`] holding its spec (JSON); it runs one member system
//! (the test kit's `Counter`, the JetStream store behind a [`Probe`]) until
//! it is killed, or until it is told to leave on its control subject (then
//! it shuts down gracefully and exits 0). Its log goes to a file named in
//! panics. Other requests on the control subject ([`Node::ask`]):
//! `hold-ack <actor>` (the actor's next append lands but its answer is
//! held), `held` (answered with the held append's version once it landed),
//! `release` (the held append answers `Unavailable`: its outcome is unknown
//! to the runtime), `loads` (the actors whose whole history this node read,
//! JSON) and `served` (the shards it serves, JSON).
//!
//! A [`Rig`] runs node processes and a caller of a [`Workload`] (the
//! counters here; the model actors in `aether-model/tests/model_faults.rs`,
//! whose node processes run the model instead); `scenarios` holds the fault
//! tests both run.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aether_core::{ActorId, Event, EventStore, ExpectedVersion, Replay};

use aether_cluster::{ClusterConfig, ShardId, ShardMap};
use aether_testkit::Wait;
use aether_testkit::history::{ClaimSeen, History};
use futures::StreamExt;
use serde_json::json;
use tokio::process::{Child, Command};

mod rig;
pub mod scenarios;
mod workload;

// Not every test file that includes this module uses them.
#[allow(unused_imports)]
pub use rig::{DEADLINE, Rig, lease};
#[allow(unused_imports)]
pub use workload::{Counters, MemberCallers, Workload};

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
    let events = Probe::new(crate::cluster_support::store_with(&url, &stream, replicas).await);
    let system =
        crate::cluster_support::member_with(&url, &config(&cluster, replicas), &id, events.clone())
            .await;
    let ctl = dial(&url).await;
    let mut requests = ctl.subscribe(control(&cluster, &id)).await.unwrap();
    ctl.flush().await.unwrap();
    tracing::info!(%id, "node process serving");
    // Never outlive the test for long.
    let limit = tokio::time::sleep(Duration::from_secs(180));
    tokio::pin!(limit);
    loop {
        let m = tokio::select! {
            m = requests.next() => m.expect("the control subscription ends with the process"),
            _ = &mut limit => panic!("node process {id} was not stopped within 180 s"),
        };
        let (to, reply) = (ctl.clone(), m.reply.clone());
        let answer = move |body: String| {
            let ctl = to.clone();
            let reply = reply.clone();
            async move {
                if let Some(reply) = reply {
                    let _ = ctl.publish(reply, body.into()).await;
                    let _ = ctl.flush().await;
                }
            }
        };
        match &m.payload[..] {
            [
                b'h',
                b'o',
                b'l',
                b'd',
                b'-',
                b'a',
                b'c',
                b'k',
                b' ',
                actor @ ..,
            ] => {
                events.arm(String::from_utf8_lossy(actor).into_owned());
                answer("armed".into()).await;
            }
            b"held" => {
                let mut held = events.held.subscribe();
                tokio::spawn(async move {
                    let version = match held.wait_for(Option::is_some).await {
                        Ok(v) => v.unwrap_or_default(),
                        Err(_) => return,
                    };
                    answer(version.to_string()).await;
                });
            }
            b"release" => {
                events.release();
                answer("released".into()).await;
            }
            b"loads" => answer(serde_json::to_string(&events.loads()).unwrap()).await,
            b"served" => {
                let shards: Vec<u32> = system.served_shards().iter().map(|s| s.0).collect();
                answer(serde_json::to_string(&shards).unwrap()).await;
            }
            _ => {
                // "leave" (and anything else): in the background, so that
                // the requests above are still answered meanwhile.
                tracing::info!(%id, "told to leave");
                let system = system.clone();
                tokio::spawn(async move {
                    system.shutdown().await.unwrap();
                    answer("left".into()).await;
                    std::process::exit(0);
                });
            }
        }
    }
}

/// A node's event store as the fault tests see it: the wrapped store, which
/// records the actors whose whole history was read (loaded cold, or
/// reloaded) and can lose the answer of one append.
#[derive(Clone)]
pub struct Probe<S> {
    inner: S,
    /// The actor whose next append is held.
    armed: Arc<Mutex<Option<String>>>,
    /// The version the held append landed at.
    held: Arc<tokio::sync::watch::Sender<Option<u64>>>,
    release: Arc<tokio::sync::Notify>,
    loads: Arc<Mutex<BTreeSet<String>>>,
}

impl<S> Probe<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            armed: Arc::default(),
            held: Arc::new(tokio::sync::watch::channel(None).0),
            release: Arc::default(),
            loads: Arc::default(),
        }
    }

    /// The next append of `actor` lands, but its answer waits for
    /// [`release`](Self::release) and is then `Unavailable` (as when its
    /// acknowledgement and the check of the stream's tip both got lost).
    fn arm(&self, actor: String) {
        *self.armed.lock().unwrap_or_else(PoisonError::into_inner) = Some(actor);
    }

    fn release(&self) {
        self.release.notify_one();
    }

    fn loads(&self) -> Vec<String> {
        let loads = self.loads.lock().unwrap_or_else(PoisonError::into_inner);
        loads.iter().cloned().collect()
    }
}

impl<S: EventStore> EventStore for Probe<S> {
    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> aether_core::Result<u64> {
        let hold = {
            let mut armed = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
            let hold = armed.as_deref() == Some(actor_id.as_str());
            if hold {
                *armed = None;
            }
            hold
        };
        if !hold {
            return self.inner.append_batch(actor_id, expected, events).await;
        }
        let stored = self.inner.append_batch(actor_id, expected, events).await;
        tracing::info!(actor = %actor_id, ?stored, "append landed; its answer is held");
        self.held.send_replace(Some(stored.unwrap_or_default()));
        self.release.notified().await;
        tracing::info!(actor = %actor_id, "the held append answers unavailable");
        Err(aether_core::Error::unavailable(
            "the acknowledgement of this append was lost (fault test)",
        ))
    }

    async fn read_with_errors(
        &self,
        actor_id: &ActorId,
        from_version: u64,
    ) -> aether_core::Result<Replay> {
        if from_version <= 1 {
            self.loads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(actor_id.to_string());
        }
        self.inner.read_with_errors(actor_id, from_version).await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> aether_core::Result<u64> {
        self.inner.latest_version(actor_id).await
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
        let reply = self
            .ask(client, cluster, "leave", Duration::from_secs(30))
            .await;
        assert!(
            reply.is_ok(),
            "node {} did not leave: {reply:?}; log {}",
            self.id,
            self.log.display()
        );
        self.exited().await;
    }

    /// Waits until it exited after leaving (status 0).
    pub async fn exited(&mut self) {
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("exits after leaving")
            .unwrap();
        assert!(status.success(), "node {} exited with {status}", self.id);
    }

    /// Sends `op` on its control subject (see the module docs); the answer.
    pub async fn ask(
        &self,
        client: &async_nats::Client,
        cluster: &str,
        op: &str,
        limit: Duration,
    ) -> Result<String, String> {
        match tokio::time::timeout(
            limit,
            client.request(control(cluster, &self.id), op.to_owned().into()),
        )
        .await
        {
            Ok(Ok(m)) => Ok(String::from_utf8_lossy(&m.payload).into_owned()),
            Ok(Err(e)) => Err(format!("{op} to {}: {e}", self.id)),
            Err(_) => Err(format!("{op} to {}: no answer within {limit:?}", self.id)),
        }
    }

    /// Sends `op` without waiting for an answer.
    pub async fn tell(&self, client: &async_nats::Client, cluster: &str, op: &str) {
        client
            .publish(control(cluster, &self.id), op.to_owned().into())
            .await
            .unwrap();
        client.flush().await.unwrap();
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
    match try_settled(js, cluster, members, limit).await {
        Ok(map) => map,
        Err(e) => panic!("{e}"),
    }
}

/// [`settled`], with the timeout as an error.
pub async fn try_settled(
    js: &async_nats::jetstream::Context,
    cluster: &str,
    members: &[&str],
    limit: Duration,
) -> Result<ShardMap, aether_testkit::wait::TimedOut> {
    let mut want: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    want.sort();
    Wait::new(format!("cluster {cluster} to settle on {want:?}"), limit)
        .every(Duration::from_millis(100))
        .try_until(async || {
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

/// A caller of cluster `cluster` that serves nothing: a remote system
/// calling `Counter` actors.
pub async fn remote(url: &str, cluster: &str) -> aether_cluster::runtime::ActorSystem {
    use aether_cluster::runtime::{ActorConfig, ActorSystem, RemoteConfig};
    ActorSystem::remote(
        dial(url).await,
        RemoteConfig {
            cluster_name: cluster.to_owned(),
            ..RemoteConfig::default()
        },
    )
    .register::<aether_testkit::fixtures::Counter>(ActorConfig::default())
    .start()
    .await
    .unwrap()
}

/// A client of `url` (one address, or several joined with commas).
pub async fn dial(url: &str) -> async_nats::Client {
    aether_nats::connect(url, &Default::default(), "fault-test")
        .await
        .unwrap()
}

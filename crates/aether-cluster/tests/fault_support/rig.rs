//! [`Rig`]: node processes, a caller, and the pieces a fault test looks at.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aether_cluster::runtime::ActorSystem;
use aether_cluster::shard_for_actor;
use aether_core::{ActorId, EventStore};
use aether_testkit::history::Report;

use super::workload::Workload;
use super::{ClaimWatch, Node, Spec, dial, settled, view};
use crate::cluster_support::{Load, store_with};

/// How long every call of a fault test's load may take: longer than the
/// lease plus a second, so that callers see latency, not errors.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// The lease of every node process (2 s).
pub fn lease() -> Duration {
    super::config("x", 1).membership.lease
}

/// Node processes, a caller of workload `W`, and the pieces a test looks at.
pub struct Rig<W: Workload> {
    /// One rig at a time in this process (under `cargo test`; nextest runs
    /// each test in its own process, one at a time by its test group).
    _serial: tokio::sync::MutexGuard<'static, ()>,
    pub cluster: String,
    pub url: String,
    pub stream: String,
    pub replicas: usize,
    pub nodes: Vec<Node>,
    pub caller: ActorSystem,
    pub client: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    /// Every shard claim written, as seen by the test.
    pub claims: ClaimWatch,
    workload: PhantomData<W>,
}

impl<W: Workload> Rig<W> {
    /// Starts node processes `ids` (each connecting to `urls[i]`, or to
    /// `url`) and waits until every shard is served.
    pub async fn start(
        tag: &str,
        url: &str,
        ids: &[&str],
        urls: &[String],
        replicas: usize,
    ) -> Rig<W> {
        static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let serial = SERIAL.lock().await;
        crate::support::init_tracing();
        let cluster = crate::support::unique_cluster(tag);
        let stream = format!("RTF{}", cluster.to_uppercase());
        let js = async_nats::jetstream::new(dial(url).await);
        let mut rig = Rig {
            _serial: serial,
            cluster: cluster.clone(),
            url: url.to_owned(),
            stream,
            replicas,
            nodes: Vec::new(),
            caller: W::caller(url, &cluster).await,
            client: dial(url).await,
            claims: ClaimWatch::start(js.clone(), &cluster),
            js,
            workload: PhantomData,
        };
        for (i, id) in ids.iter().enumerate() {
            let url = urls.get(i).cloned().unwrap_or_else(|| url.to_owned());
            rig.spawn(id, &url);
        }
        settled(&rig.js, &cluster, ids, Duration::from_secs(30)).await;
        rig
    }

    pub fn spawn(&mut self, id: &str, url: &str) {
        self.nodes.push(Node::spawn(Spec {
            url: url.to_owned(),
            cluster: self.cluster.clone(),
            id: id.to_owned(),
            stream: self.stream.clone(),
            replicas: self.replicas,
        }));
    }

    pub fn node(&mut self, id: &str) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.id == id).unwrap()
    }

    pub async fn settled(&self, members: &[&str]) -> aether_cluster::ShardMap {
        settled(&self.js, &self.cluster, members, Duration::from_secs(30)).await
    }

    /// `n` actors of the workload, named after `tag`.
    pub async fn actors(&self, n: usize, tag: &str) -> Vec<ActorId> {
        W::actors(&self.caller, n, tag).await
    }

    /// 8 callers sending the workload's command to `actors` through the
    /// caller, with [`DEADLINE`].
    pub fn load(&self, actors: &[ActorId]) -> Load {
        Load::start_with::<W::Actor>(&[&self.caller], actors, 8, DEADLINE, W::command)
    }

    /// An actor whose shard `owner` serves now.
    pub async fn actor_of(&self, actors: &[ActorId], owner: &str) -> ActorId {
        let map = view(&self.js, &self.cluster, 1024).await.map.unwrap();
        actors
            .iter()
            .find(|a| map.primary(shard_for_actor(a, 1024)).map(|n| n.as_str()) == Some(owner))
            .cloned()
            .expect("some actor on the node")
    }

    /// Stops the load and holds its history, the claims seen and the
    /// workload's own checks against every actor's log; the report (clean)
    /// and the errors the callers retried.
    pub async fn check(&self, load: Load, actors: &[ActorId]) -> (Report, u64) {
        let errors = load.errors.clone();
        let log = store_with(&self.url, &self.stream, self.replicas).await;
        let claims = self.claims.claims();
        let report = load.finish_with_claims(&log, actors, &claims).await;
        eprintln!("{} claim writes seen", claims.len());
        assert!(report.is_clean(), "{report}\nnode logs: {:?}", self.logs());
        let mut logs = HashMap::new();
        for a in actors {
            logs.insert(a.clone(), log.read(a, 1).await.unwrap());
        }
        W::check_logs(&logs);
        (report, errors.load(Ordering::Relaxed))
    }

    /// The node processes' log files.
    pub fn logs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| n.log.display().to_string())
            .collect()
    }
}

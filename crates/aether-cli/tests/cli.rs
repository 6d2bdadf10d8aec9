//! The `aether` binary against a real nats-server populated by the library:
//! each command's `--json` output and human table, bad input (one line on
//! stderr, a meaningful exit code, never a panic), and `--follow` under a
//! pseudo-terminal ending cleanly on Ctrl-C.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aether_core::{
    ActorId, Event, EventStore, ExpectedVersion, Metadata, Snapshot, SnapshotStore, json,
};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::{NatsServer, Wait, eventually};
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
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "aether {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn ok_text(url: &str, args: &[&str]) -> String {
    let out = aether(url, args);
    assert!(
        out.status.success(),
        "aether {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A failing command: its exit code, and a single line on stderr.
fn fails(url: &str, args: &[&str]) -> (i32, String) {
    let out = aether(url, args);
    assert!(!out.status.success(), "aether {args:?} should fail");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr:?}");
    (out.status.code().unwrap_or(-1), stderr)
}

async fn populated(server: &NatsServer) -> JetStreamEventStore {
    let store = JetStreamEventStore::connect(
        &server.url(),
        JetStreamConfig {
            namespace: "cli".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let order = ActorId::new("order-1").unwrap();
    let mut meta = Metadata::new();
    meta.insert("aether.node", "node-a");
    meta.insert("aether.claim", "7");
    store
        .append(Event::new(order.clone(), 1, "Placed", json!({"total": 42})).with_metadata(meta))
        .await
        .unwrap();
    store
        .append_batch(
            &order,
            ExpectedVersion::Exact(1),
            vec![
                Event::new(order.clone(), 2, "Paid", json!({})),
                Event::new(order.clone(), 3, "Shipped", json!({})),
            ],
        )
        .await
        .unwrap();
    let snapshots = store.open_snapshot_store().await.unwrap();
    snapshots
        .save_snapshot(Snapshot::new(order.clone(), 2, json!({"state": "paid"})))
        .await
        .unwrap();
    // A malformed entry on another actor's subject.
    let broken = ActorId::new("order-2").unwrap();
    store
        .append(Event::new(broken.clone(), 1, "Placed", json!({})))
        .await
        .unwrap();
    let js = async_nats::jetstream::new(store.client().clone());
    js.publish(store.subject_for(&broken), "not json".into())
        .await
        .unwrap()
        .await
        .unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_events_and_actor_show_what_the_library_stored() {
    let server = NatsServer::start().await;
    let _store = populated(&server).await;
    let url = server.url();

    let streams = ok_json(&url, &["streams"]);
    let names: Vec<&str> = streams
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"AETHER_cli") && names.contains(&"AETHER_cli_SNAP"),
        "{names:?}"
    );
    let events = streams
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "AETHER_cli")
        .unwrap();
    assert_eq!(events["kind"], "events");
    assert_eq!(events["messages"], 4, "three appends and the garbage");
    let table = ok_text(&url, &["streams"]);
    assert!(table.starts_with("STREAM"), "{table}");
    assert!(
        table.contains("AETHER_cli_SNAP") && table.contains("snapshots"),
        "{table}"
    );

    let history = ok_json(&url, &["events", "order-1", "-n", "cli"]);
    let versions: Vec<u64> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(history["events"][0]["metadata"]["aether.node"], "node-a");
    let from = ok_json(&url, &["events", "order-1", "-n", "cli", "--from", "3"]);
    assert_eq!(from["events"].as_array().unwrap().len(), 1);
    let text = ok_text(&url, &["events", "order-1", "-n", "cli"]);
    assert!(
        text.contains("Placed") && text.contains("Shipped") && text.contains(r#"{"total":42}"#),
        "{text}"
    );

    let broken = ok_json(&url, &["events", "order-2", "-n", "cli", "--raw"]);
    assert_eq!(broken["events"].as_array().unwrap().len(), 1);
    assert_eq!(broken["malformed"][0]["raw"], "not json");
    let text = ok_text(&url, &["events", "order-2", "-n", "cli", "--raw"]);
    assert!(
        text.contains("MALFORMED at stream sequence 4") && text.contains("not json"),
        "{text}"
    );

    let actor = ok_json(&url, &["actor", "order-1", "-n", "cli"]);
    assert_eq!(actor["latest_version"], 3);
    assert_eq!(actor["snapshot"]["version"], "2");
    assert_eq!(actor["subject"], "AETHER_cli.events.order.order-1");
    assert_eq!(actor["last_events"][0]["node"], "node-a");
    let text = ok_text(&url, &["actor", "order-1", "-n", "cli"]);
    assert!(
        text.contains("latest version  3") && text.contains("WRITER NODE"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_one_line_and_a_meaningful_exit_code() {
    let server = NatsServer::start().await;
    let _store = populated(&server).await;
    let url = server.url();
    let (code, msg) = fails(&url, &["events", "order-404", "-n", "cli"]);
    assert_eq!(code, 3, "not found: {msg}");
    let (code, msg) = fails(&url, &["actor", "order-404", "-n", "cli"]);
    assert_eq!(code, 3, "{msg}");
    let (code, msg) = fails(&url, &["events", "", "-n", "cli"]);
    assert_eq!(code, 2, "malformed id: {msg}");
    let (code, msg) = fails(&url, &["events", "order-1", "-n", "nosuch"]);
    assert_eq!(code, 3, "unknown namespace: {msg}");
    assert!(msg.contains("AETHER_nosuch"), "{msg}");
    let (code, msg) = fails(&url, &["cluster", "members", "--cluster", "nosuch"]);
    assert_eq!(code, 3, "{msg}");
    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, msg) = fails(
        &format!("nats://127.0.0.1:{port}"),
        &["streams", "--timeout", "1"],
    );
    assert_eq!(code, 4, "unreachable: {msg}");
    // Usage errors are clap's (exit 2).
    let out = aether(&url, &["events"]);
    assert_eq!(out.status.code(), Some(2));
    // Wrong credentials.
    let secured =
        NatsServer::with_config("authorization { users = [ { user: ops, password: right } ] }")
            .jetstream(false)
            .start()
            .await;
    let (code, msg) = fails(
        &secured.url(),
        &["streams", "--user", "ops", "--password", "wrong"],
    );
    assert_eq!(code, 5, "refused: {msg}");
}

/// What is absent is told from a failure by the error's kind, never its
/// text: a namespace without a snapshot stream, a snapshot stream without
/// the actor's snapshot, a cluster whose buckets are empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_snapshots_and_empty_buckets_are_shown_as_none() {
    let server = NatsServer::start().await;
    let url = server.url();
    let store = JetStreamEventStore::connect(
        &url,
        JetStreamConfig {
            namespace: "bare".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let order = ActorId::new("order-9").unwrap();
    store
        .append(Event::new(order, 1, "Placed", json!({})))
        .await
        .unwrap();
    let shown = ok_json(&url, &["actor", "order-9", "-n", "bare"]);
    assert_eq!(
        shown["snapshot"],
        Value::Null,
        "no snapshot stream: {shown}"
    );
    store.open_snapshot_store().await.unwrap();
    let shown = ok_json(&url, &["actor", "order-9", "-n", "bare"]);
    assert_eq!(shown["snapshot"], Value::Null, "no snapshot of it: {shown}");
    assert_eq!(shown["latest_version"], 1);

    let js = async_nats::jetstream::new(store.client().clone());
    for bucket in [
        "empty_members",
        "empty_leader",
        "empty_shards",
        "empty_claims",
    ] {
        js.create_key_value(async_nats::jetstream::kv::Config {
            bucket: bucket.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let members = ok_json(&url, &["cluster", "members", "--cluster", "empty"]);
    assert_eq!(members, json!([]));
    let claims = ok_json(&url, &["claims", "--cluster", "empty"]);
    assert_eq!(claims, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_members_leader_shards_and_map() {
    let server = NatsServer::start().await;
    let config = aether_cluster::ClusterConfig {
        cluster_name: "clitest".into(),
        ..Default::default()
    };
    let node = aether_cluster::ClusterNode::connect(&server.url(), config)
        .await
        .unwrap();
    eventually("a shard map", Duration::from_secs(15), async || {
        node.shard_map()
    })
    .await;
    let url = server.url();
    let me = node.id().to_string();
    let members = ok_json(&url, &["cluster", "members", "--cluster", "clitest"]);
    assert_eq!(members[0]["node"], me.as_str());
    let leader = ok_json(&url, &["cluster", "leader", "--cluster", "clitest"]);
    assert_eq!(leader["node"], me.as_str());
    assert!(leader["term"].as_u64().unwrap() > 0);
    let shards = ok_json(&url, &["cluster", "shards", "--cluster", "clitest"]);
    assert_eq!(shards["nodes"][0]["node"], me.as_str());
    assert_eq!(shards["nodes"][0]["primaries"], shards["shards"]);
    let map = ok_json(&url, &["cluster", "map", "--cluster", "clitest"]);
    assert_eq!(map["leader"], me.as_str());
    assert_eq!(
        map["shards"].as_array().unwrap().len() as u64,
        shards["shards"].as_u64().unwrap()
    );
    let text = ok_text(&url, &["cluster", "members", "--cluster", "clitest"]);
    assert!(
        text.starts_with("NODE") && text.contains(&me) && text.contains("LEASE LEFT"),
        "{text}"
    );
    let claims = ok_json(&url, &["claims", "--cluster", "clitest"]);
    assert_eq!(
        claims,
        serde_json::json!([]),
        "no runtime ran on this cluster"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_show_position_lag_and_the_active_instance() {
    use aether_projection::{
        KvCheckpoints, LeaseConfig, Projection, ProjectionLeases, ProjectionRunner,
    };
    struct Count;
    impl Projection for Count {
        fn name(&self) -> &str {
            "orders"
        }
        async fn handle(
            &mut self,
            _e: &Event,
            _p: aether_core::LogPosition,
        ) -> aether_core::Result<()> {
            Ok(())
        }
    }
    let server = NatsServer::start().await;
    let store = populated(&server).await;
    let client = store.client().clone();
    let checkpoints = KvCheckpoints::open(client.clone(), Default::default())
        .await
        .unwrap();
    let leases = ProjectionLeases::open(
        client,
        LeaseConfig {
            holder: "ops-node-1".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let filter_orders =
        ProjectionRunner::new(store.clone(), Count, checkpoints).with_leases(leases);
    let mut running = filter_orders.start();
    // Four entries: order-1's event, its batch (one entry of two events),
    // order-2's event, and the garbage, which stops it.
    running.wait_for(|s| s.is_failed()).await;
    let url = server.url();
    let list = ok_json(&url, &["projections", "-n", "cli"]);
    assert_eq!(list[0]["projection"], "orders");
    assert_eq!(list[0]["position"], "3.0", "the last good entry");
    assert_eq!(list[0]["lag"], 1, "one entry behind the head");
    running.stop().await.unwrap();
    let list = ok_json(&url, &["projections", "-n", "cli"]);
    assert_eq!(list[0]["active"], Value::Null, "released on stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_live_bus_events() {
    let server = NatsServer::start().await;
    let url = server.url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aether"))
        .args([
            "--server",
            &url,
            "tail",
            "order-*",
            "--bus-namespace",
            "shop",
            "--count",
            "1",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bus = aether_bus::NatsEventBus::connect(&url, Default::default())
        .await
        .unwrap();
    // Publish until the tail has seen its one matching event and exited
    // (it may not have subscribed yet when the first ones go out).
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "tail did not print the event");
        for (id, ty) in [("cart-1", "Ignored"), ("order-9", "Placed")] {
            bus.publish(
                "shop",
                Event::new(ActorId::new(id).unwrap(), 1, ty, json!({})),
            )
            .await
            .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["namespace"], "shop");
    assert_eq!(line["event"]["actor_id"], "order-9");
}

/// `aether --server <url> <args>` in a pseudo-terminal, by `script`.
///
/// `script` runs the command through `$SHELL -c`; the command `exec`s the
/// binary so that no shell stands between the terminal and it (dash, the
/// `/bin/sh` of Debian, does not exec the last command and kills itself
/// with the Ctrl-C after its child exits cleanly, which made the exit 130),
/// and `SHELL` is pinned so the test does not depend on the caller's.
fn in_terminal(url: &str, args: &str) -> Command {
    let cmd = format!(
        "exec {} --server {url} {args}",
        env!("CARGO_BIN_EXE_aether")
    );
    let mut command = Command::new("script");
    command
        .args(["-qfec", &cmd, "/dev/null"])
        .env("SHELL", "/bin/sh");
    command
}

/// The `aether` binary in a pseudo-terminal ([`in_terminal`]), its output
/// read on a thread so that a test can wait for a text with a deadline.
struct Pty {
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Pty {
    fn spawn(url: &str, args: &str) -> Self {
        let mut child = in_terminal(url, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`script` runs the command in a pseudo-terminal");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            rx,
            seen: String::new(),
        }
    }

    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.seen.contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not drawn: {:?}",
                self.seen
            );
            if let Ok(chunk) = self.rx.recv_timeout(Duration::from_millis(100)) {
                self.seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
    }

    /// Ctrl-C through the terminal.
    fn ctrl_c(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"\x03").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the exit and asserts that it was clean: exit 0, no panic,
    /// no error line.
    fn ends_cleanly(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "still running after Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(chunk) = self.rx.recv_timeout(Duration::from_millis(200)) {
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(status.success(), "exit {status:?}: {:?}", self.seen);
        assert!(
            !self.seen.contains("panicked") && !self.seen.contains("error"),
            "{:?}",
            self.seen
        );
        self.seen
    }
}

/// `events --follow` in a pseudo-terminal: prints the history, then a new
/// event live, and ends with exit 0 on Ctrl-C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_draws_live_events_and_ends_cleanly_on_ctrl_c() {
    let server = NatsServer::start().await;
    let store = populated(&server).await;
    let mut pty = Pty::spawn(&server.url(), "events order-1 -n cli --follow");
    pty.wait_for("Shipped");
    // The header is bold on a terminal.
    assert!(pty.seen.contains("\x1b[1mVERSION"), "{:?}", pty.seen);
    store
        .append(Event::new(
            ActorId::new("order-1").unwrap(),
            4,
            "Delivered",
            json!({}),
        ))
        .await
        .unwrap();
    pty.wait_for("Delivered");
    pty.ctrl_c();
    pty.ends_cleanly();
}

/// A Ctrl-C at once after the history, before the follow's first wait, also
/// ends cleanly: the handler is installed before anything is drawn (it once
/// was installed by the first wait, and such a Ctrl-C killed the process
/// with exit 130).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_right_after_the_history_ends_the_follow_cleanly() {
    let server = NatsServer::start().await;
    let _store = populated(&server).await;
    let mut pty = Pty::spawn(&server.url(), "events order-1 -n cli --follow");
    pty.wait_for("Shipped");
    pty.ctrl_c();
    pty.ends_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_actors_passivate_and_claims() {
    use aether_cluster::runtime::{ActorConfig, ActorSystem};
    use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo};
    use aether_testkit::fixtures::Counter;
    let server = NatsServer::start().await;
    let url = server.url();
    let events = JetStreamEventStore::connect(
        &url,
        JetStreamConfig {
            namespace: "rt".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = aether_nats::connect(url.as_str(), &Default::default(), "node")
        .await
        .unwrap();
    let node = ClusterNode::start(
        client,
        ClusterConfig {
            cluster_name: "rtcli".into(),
            node: NodeInfo::new(aether_core::NodeId::new("node-a").unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let system = ActorSystem::cluster(node)
        .events(events)
        .register::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap();
    for id in ["counter-1", "counter-2"] {
        let actor = system.get::<Counter>(ActorId::new(id).unwrap()).unwrap();
        // Asked until the first `Ok`: one +3 takes effect.
        Wait::new(format!("{id} to serve"), Duration::from_secs(20))
            .every(Duration::from_millis(100))
            .until(async || actor.ask(3u64).await)
            .await;
    }
    let active = ok_json(&url, &["actors", "--node", "node-a", "--cluster", "rtcli"]);
    assert_eq!(active["node"], "node-a");
    assert_eq!(
        active["actors"],
        serde_json::json!(["counter-1", "counter-2"])
    );
    let text = ok_text(&url, &["actors", "--node", "node-a", "--cluster", "rtcli"]);
    assert!(
        text.starts_with("ACTOR") && text.contains("2 active on node-a"),
        "{text}"
    );

    let done = ok_json(&url, &["passivate", "counter-1", "--cluster", "rtcli"]);
    assert_eq!(done["node"], "node-a");
    assert_eq!(done["passivated"], true);
    let one = system
        .get::<Counter>(ActorId::new("counter-1").unwrap())
        .unwrap();
    eventually(
        "counter-1 to passivate",
        Duration::from_secs(20),
        async || !one.is_active(),
    )
    .await;
    let active = ok_json(&url, &["actors", "--node", "node-a", "--cluster", "rtcli"]);
    assert_eq!(active["actors"], serde_json::json!(["counter-2"]));
    let again = ok_json(&url, &["passivate", "counter-1", "--cluster", "rtcli"]);
    assert_eq!(again["passivated"], false, "not active any more");

    let claims = ok_json(&url, &["claims", "--cluster", "rtcli"]);
    let claims = claims.as_array().unwrap();
    assert!(!claims.is_empty());
    assert!(
        claims
            .iter()
            .all(|c| c["holder"] == "node-a" && c["phase"] == "serving")
    );
    let (code, msg) = fails(&url, &["actors", "--node", "node-z", "--cluster", "rtcli"]);
    assert_eq!(code, 3, "{msg}");
    system.shutdown().await.unwrap();
}

/// A projection with control: counts the events it is shown, slowly enough
/// that a rebuild of 5,000 events takes a moment.
struct Slow(Arc<std::sync::atomic::AtomicU64>);

impl aether_projection::Projection for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    async fn handle(
        &mut self,
        _e: &Event,
        _p: aether_core::LogPosition,
    ) -> aether_core::Result<()> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_micros(200)).await;
        Ok(())
    }
}

use std::sync::Arc;

async fn slow_projection(
    server: &NatsServer,
) -> (
    aether_projection::RunningProjection<Slow>,
    Arc<std::sync::atomic::AtomicU64>,
) {
    let store = JetStreamEventStore::connect(
        &server.url(),
        JetStreamConfig {
            namespace: "rb".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let work: Vec<_> = (0..5_000u64)
        .map(|n| {
            let a = ActorId::new(format!("acct-{n}")).unwrap();
            (
                a.clone(),
                ExpectedVersion::NoStream,
                vec![Event::new(a, 1, "Opened", json!({}))],
            )
        })
        .collect();
    for r in store.append_many(work).await {
        r.unwrap();
    }
    let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut running = aether_projection::ProjectionRunner::new(
        store.clone(),
        Slow(seen.clone()),
        aether_projection::MemoryCheckpoints::new(),
    )
    .with_control(store.client().clone())
    .start();
    tokio::time::timeout(
        Duration::from_secs(60),
        running.wait_for(|s| s.handled == 5_000 && s.is_live()),
    )
    .await
    .unwrap();
    (running, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_asks_the_active_instance_and_follows_its_progress() {
    let server = NatsServer::start().await;
    let (running, seen) = slow_projection(&server).await;
    let url = server.url();
    let out = aether(&url, &["rebuild", "slow", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["state"], "live");
    assert_eq!(last["done"], 5_000);
    assert!(
        lines.iter().any(|l| l["state"] == "catching-up"),
        "{lines:?}"
    );
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::Relaxed),
        10_000,
        "every event again"
    );
    let (code, msg) = fails(&url, &["rebuild", "nosuch"]);
    assert_eq!(code, 3, "{msg}");
    running.stop().await.unwrap();
}

/// `aether rebuild` in a pseudo-terminal draws a progress bar in place and
/// ends cleanly, also on Ctrl-C while it is drawing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_draws_a_progress_bar_on_a_terminal() {
    let server = NatsServer::start().await;
    let (running, _seen) = slow_projection(&server).await;
    let out = in_terminal(&server.url(), "rebuild slow")
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("\r[") && text.contains("entries"),
        "a bar redrawn in place: {text:?}"
    );
    assert!(text.contains("slow rebuilt: 5000 entries"), "{text:?}");
    // Ctrl-C while the bar is drawn.
    let mut pty = Pty::spawn(&server.url(), "rebuild slow");
    pty.wait_for("entries");
    pty.ctrl_c();
    pty.ends_cleanly();
    running.stop().await.unwrap();
}

/// Two member systems; `aether handoff` moves the shard of an actor to the
/// node that does not serve it, the actor keeps answering, `--unpin` lets
/// the leader place it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_moves_a_shard_to_the_named_node() {
    use aether_cluster::runtime::{ActorConfig, ActorSystem};
    use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo};
    use aether_testkit::fixtures::Counter;
    let server = NatsServer::start().await;
    let url = server.url();
    let mut config = ClusterConfig {
        cluster_name: "hand".into(),
        ..Default::default()
    }
    .with_lease(Duration::from_secs(2));
    config.rebalance_debounce = Duration::from_millis(100);
    let member = |id: &'static str| {
        let (url, config) = (url.clone(), config.clone());
        async move {
            let events = JetStreamEventStore::connect(
                &url,
                JetStreamConfig {
                    namespace: "hand".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let client = aether_nats::connect(url.as_str(), &Default::default(), id)
                .await
                .unwrap();
            let node = ClusterNode::start(
                client,
                ClusterConfig {
                    node: NodeInfo::new(aether_core::NodeId::new(id).unwrap()),
                    ..config
                },
            )
            .await
            .unwrap();
            ActorSystem::cluster(node)
                .events(events)
                .register::<Counter>(ActorConfig::default())
                .start()
                .await
                .unwrap()
        }
    };
    let (a, b) = (member("node-a").await, member("node-b").await);
    let shards = config.shards.shard_count as usize;
    Wait::new("both nodes to serve shards", Duration::from_secs(30))
        .every(Duration::from_millis(100))
        .until(async || {
            let (na, nb) = (a.served_shards().len(), b.served_shards().len());
            if na + nb == shards && na > 0 && nb > 0 {
                Ok(())
            } else {
                Err(format!("a serves {na}, b {nb}, of {shards}"))
            }
        })
        .await;
    let actor = ActorId::new("counter-7").unwrap();
    let shard = aether_cluster::shard_for_actor(&actor, shards as u32);
    let (holder, other) = if a.served_shards().contains(&shard) {
        ("node-a", "node-b")
    } else {
        ("node-b", "node-a")
    };
    let counter = a.get::<Counter>(actor.clone()).unwrap();
    counter.ask(1u64).await.unwrap();
    let url = server.url();
    let s = shard.0.to_string();
    let moved = ok_json(&url, &["handoff", &s, "--to", other, "--cluster", "hand"]);
    assert_eq!(moved["pinned"], other);
    let map = ok_json(&url, &["cluster", "map", "--cluster", "hand"]);
    assert_eq!(
        map["shards"][shard.0 as usize][0], other,
        "the map names it"
    );
    let claims = ok_json(&url, &["claims", "--cluster", "hand"]);
    let claim = claims
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["shard"] == shard.0)
        .unwrap()
        .clone();
    assert_eq!(claim["holder"], other);
    assert_ne!(holder, other);
    // The actor answers, now from the other node.
    eventually(
        "the actor to answer after the move",
        Duration::from_secs(60),
        async || counter.ask(1u64).await,
    )
    .await;
    let (code, msg) = fails(
        &url,
        &["handoff", "99999", "--to", other, "--cluster", "hand"],
    );
    assert_eq!(code, 2, "{msg}");
    let (code, msg) = fails(
        &url,
        &["handoff", &s, "--to", "node-z", "--cluster", "hand"],
    );
    assert_eq!(code, 3, "{msg}");
    let unpinned = ok_json(&url, &["handoff", &s, "--unpin", "--cluster", "hand"]);
    assert_eq!(unpinned["pinned"], Value::Null);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

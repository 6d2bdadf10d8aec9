//! nats-server processes for the partitions benchmark: one, or a routed
//! cluster, each optionally pinned to a CPU and held to a CPU quota in a
//! cgroup of its own (cgroup v1 `cpu` controller at `/sys/fs/cgroup/cpu`),
//! with server tags `node:s<i>` and, on request, a profiling port.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream;

/// What to start.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// How many servers (a routed cluster when above 1).
    pub(crate) servers: usize,
    /// CPU to pin every server to (`taskset -c`), if any.
    pub(crate) cpu: Option<&'static str>,
    /// CPU quota per server, in cores (CFS quota / period), if any.
    pub(crate) quota: Option<f64>,
    /// `jetstream { sync_interval: always }`.
    pub(crate) sync_always: bool,
    /// Open a profiling port on every server.
    pub(crate) profile: bool,
}

/// One running server.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) name: String,
    pub(crate) port: u16,
    pub(crate) prof_port: Option<u16>,
    pub(crate) pid: u32,
    child: Child,
    cgroup: Option<PathBuf>,
}

/// The servers of one run; dropping it kills them and removes their files
/// and cgroups.
#[derive(Debug)]
pub(crate) struct Fleet {
    pub(crate) servers: Vec<Server>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary() -> String {
    std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into())
}

/// The CFS period of the quota: 10 ms (a throttled server waits at most
/// this long).
const PERIOD_US: u64 = 10_000;

impl Fleet {
    pub(crate) async fn start(spec: &Spec) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..spec.servers).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..spec.servers).map(|_| free_port()).collect();
        let mut servers = Vec::new();
        for i in 0..spec.servers {
            let name = format!("s{}", i + 1);
            let store = dir.path().join(&name);
            std::fs::create_dir_all(&store).unwrap();
            let prof_port = spec.profile.then(free_port);
            let mut conf = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{}\nserver_tags: [\"node:{name}\"]\n\
                 jetstream {{\n  store_dir: \"{}\"\n  {}\n}}\n",
                ports[i],
                store.display(),
                if spec.sync_always {
                    "sync_interval: always"
                } else {
                    ""
                },
            );
            if let Some(p) = prof_port {
                conf.push_str(&format!("prof_port: {p}\n"));
            }
            if spec.servers > 1 {
                let others: Vec<String> = (0..spec.servers)
                    .filter(|j| *j != i)
                    .map(|j| format!("nats://127.0.0.1:{}", routes[j]))
                    .collect();
                conf.push_str(&format!(
                    "cluster {{ name: bench, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                    routes[i],
                    others.join(", ")
                ));
            }
            let path = dir.path().join(format!("{name}.conf"));
            std::fs::write(&path, conf).unwrap();
            let log = std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
            let mut command = match spec.cpu {
                Some(cpu) => {
                    let mut c = Command::new("taskset");
                    c.args(["-c", cpu, &binary()]);
                    c
                }
                None => Command::new(binary()),
            };
            let child = command
                .arg("-c")
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start nats-server");
            let pid = child.id();
            let cgroup = spec.quota.map(|cores| {
                let cg = PathBuf::from(format!(
                    "/sys/fs/cgroup/cpu/aether-bench-{}-{name}",
                    std::process::id()
                ));
                std::fs::create_dir_all(&cg).expect("create a cpu cgroup (needs root)");
                std::fs::write(cg.join("cpu.cfs_period_us"), PERIOD_US.to_string()).unwrap();
                let quota = (cores * PERIOD_US as f64).round() as u64;
                std::fs::write(cg.join("cpu.cfs_quota_us"), quota.to_string()).unwrap();
                std::fs::write(cg.join("cgroup.procs"), pid.to_string()).unwrap();
                cg
            });
            servers.push(Server {
                name,
                port: ports[i],
                prof_port,
                pid,
                child,
                cgroup,
            });
        }
        let fleet = Fleet { servers, _dir: dir };
        fleet.ready().await;
        fleet
    }

    pub(crate) fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[i].port)
    }

    /// Waits until every server accepts clients and a stream of as many
    /// replicas as servers can be created.
    async fn ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let client = loop {
            match async_nats::connect(self.url(0)).await {
                Ok(c) => break c,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("nats-server did not start: {e}"),
            }
        };
        for i in 1..self.servers.len() {
            while async_nats::connect(self.url(i)).await.is_err() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "server {i} did not start"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let js = jetstream::new(client);
        let replicas = self.servers.len().min(3);
        loop {
            let made = js
                .create_stream(jetstream::stream::Config {
                    name: "READY".into(),
                    subjects: vec!["ready.>".into()],
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await;
            if made.is_ok() {
                let _ = js.delete_stream("READY").await;
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "JetStream not ready: {made:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// CPU time of every server so far, in nanoseconds.
    pub(crate) fn cpu_ns(&self) -> Vec<u64> {
        self.servers
            .iter()
            .map(|s| aether_testkit::bench::process_cpu_ns(s.pid))
            .collect()
    }

    /// A CPU profile of server `i` over `seconds` (pprof protobuf, gzip).
    pub(crate) async fn profile(&self, i: usize, seconds: u64) -> Vec<u8> {
        let port = self.servers[i].prof_port.expect("started with profile");
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(
                s,
                "GET /debug/pprof/profile?seconds={seconds} HTTP/1.0\r\nHost: localhost\r\n\r\n"
            )
            .unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).unwrap();
            let body = all
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |p| p + 4);
            all[body..].to_vec()
        })
        .await
        .unwrap()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.child.kill();
            let _ = s.child.wait();
            if let Some(cg) = &s.cgroup {
                let _ = std::fs::remove_dir(cg);
            }
        }
    }
}

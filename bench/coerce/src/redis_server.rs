//! A real `redis-server` for the durable rows: random port, temp dir, AOF
//! on with the fsync policy asked for, RDB snapshots off; killed (and its
//! dir removed) when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct RedisServer {
    child: Child,
    port: u16,
    version: String,
    _dir: TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

impl RedisServer {
    /// Starts `$REDIS_SERVER_BIN` (default `redis-server` on the `PATH`)
    /// with `appendfsync` = `fsync` (`everysec` or `always`).
    pub async fn start(fsync: &str) -> Self {
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let version = Command::new(&bin)
            .arg("--version")
            .output()
            .map(|o| {
                // "Redis server v=7.0.15 sha=... build=...": keep the version.
                let out = String::from_utf8_lossy(&o.stdout).to_string();
                out.split_whitespace()
                    .find_map(|w| w.strip_prefix("v="))
                    .map_or_else(|| out.trim().to_string(), |v| format!("redis-server {v}"))
            })
            .unwrap_or_else(|e| {
                panic!(
                    "{bin} not found ({e}): install Debian's redis-server or set REDIS_SERVER_BIN"
                )
            });
        let dir = tempfile::tempdir().expect("a temp dir");
        for _ in 0..10 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--dir", &dir.path().display().to_string()])
                .args(["--appendonly", "yes", "--appendfsync", fsync])
                .args(["--save", "", "--daemonize", "no", "--protected-mode", "no"])
                .args([
                    "--logfile",
                    &dir.path().join("redis.log").display().to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                if ping(port).await {
                    return Self {
                        child,
                        port,
                        version,
                        _dir: dir,
                    };
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "redis-server did not start; its log:\n{}",
            std::fs::read_to_string(dir.path().join("redis.log")).unwrap_or_default()
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn version(&self) -> &str {
        &self.version
    }
}

async fn ping(port: u16) -> bool {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
        return false;
    };
    let Ok(mut conn) = client.get_multiplexed_tokio_connection().await else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<_, String>(&mut conn)
        .await
        .is_ok()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Spawning one `nats-server` process and waiting until it is ready.
//!
//! The server logs to a file (`-l`); we read the real client port from the line
//! "Listening for client connections on 127.0.0.1:PORT" and wait for "Server is ready".
//! stdout and stderr go to a second file so early failures (bad flags) are visible too.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::running::Running;

/// How long a single process may take to log "Server is ready".
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long JetStream may take to answer `$JS.API.INFO` after the server is ready.
pub(crate) const JS_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(5);

/// Cluster settings for one node of a [`crate::NatsCluster`].
#[derive(Clone, Debug)]
pub(crate) struct RouteSpec {
    pub(crate) cluster_name: String,
    pub(crate) server_name: String,
    pub(crate) cluster_port: u16,
    pub(crate) route_ports: Vec<u16>,
}

/// How the readiness probe connects to a server that demands credentials or
/// TLS.
#[derive(Clone, Debug, Default)]
pub(crate) struct Probe {
    pub(crate) user_password: Option<(String, String)>,
    pub(crate) ca: Option<PathBuf>,
}

/// Everything needed to (re)launch a server, except the client port.
#[derive(Clone, Debug)]
pub(crate) struct LaunchSpec {
    pub(crate) exe: PathBuf,
    pub(crate) store_dir: PathBuf,
    pub(crate) log_file: PathBuf,
    pub(crate) output_file: PathBuf,
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) jetstream: bool,
    pub(crate) extra_args: Vec<String>,
    pub(crate) route: Option<RouteSpec>,
    pub(crate) probe: Probe,
}

impl LaunchSpec {
    fn command(&self, port: Option<u16>) -> Result<Command, String> {
        let mut cmd = Command::new(&self.exe);
        if let Some(config) = &self.config_file {
            cmd.arg("-c").arg(config);
        }
        cmd.arg("-a").arg("127.0.0.1");
        cmd.arg("-p")
            .arg(port.map_or_else(|| "-1".to_string(), |p| p.to_string()));
        if self.jetstream {
            cmd.arg("-js");
        }
        cmd.arg("-sd").arg(&self.store_dir);
        cmd.arg("-l").arg(&self.log_file);
        if let Some(route) = &self.route {
            cmd.arg("-n").arg(&route.server_name);
            cmd.arg("--cluster_name").arg(&route.cluster_name);
            cmd.arg("--cluster")
                .arg(format!("nats://127.0.0.1:{}", route.cluster_port));
            let routes: Vec<String> = route
                .route_ports
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect();
            cmd.arg("--routes").arg(routes.join(","));
        }
        cmd.args(&self.extra_args);
        let out = File::options()
            .create(true)
            .append(true)
            .open(&self.output_file)
            .map_err(|e| format!("cannot open {}: {e}", self.output_file.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot clone output file handle: {e}"))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        Ok(cmd)
    }

    /// Spawns the process and waits until it logs "Server is ready".
    ///
    /// `port` is `None` for a random port (`-p -1`). Returns the child and its client port.
    /// On failure the process is killed and reaped.
    pub(crate) async fn launch(&self, port: Option<u16>) -> Result<(Running, u16), String> {
        let offset = file_len(&self.log_file);
        let mut child = Running::new(
            self.command(port)?
                .spawn()
                .map_err(|e| format!("cannot spawn {}: {e}", self.exe.display()))?,
        );
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let log = read_from(&self.log_file, offset);
            // A cluster node binds its route port after "Server is ready" and exits if that
            // fails, so wait for the route listener too.
            let routes_ready =
                self.route.is_none() || log.contains("Listening for route connections on ");
            if log.contains("Server is ready")
                && routes_ready
                && let Some(port) = parse_client_port(&log)
            {
                return Ok((child, port));
            }
            if let Some(status) = child.try_wait() {
                return Err(format!(
                    "nats-server exited during startup ({status}).\n{}",
                    self.diagnostics(offset)
                ));
            }
            if Instant::now() > deadline {
                child.kill();
                return Err(format!(
                    "nats-server did not become ready within {READY_TIMEOUT:?}.\n{}",
                    self.diagnostics(offset)
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The log (from `offset`) and the captured stdout/stderr, for error messages.
    pub(crate) fn diagnostics(&self, offset: u64) -> String {
        let log = read_from(&self.log_file, offset);
        let output = read_from(&self.output_file, 0);
        format!(
            "--- log {} ---\n{}\n--- stdout/stderr ---\n{}",
            self.log_file.display(),
            tail(&log, 40),
            head_and_tail(&output, 10)
        )
    }
}

/// Parses the client port from the "Listening for client connections on HOST:PORT" line.
pub(crate) fn parse_client_port(log: &str) -> Option<u16> {
    let marker = "Listening for client connections on ";
    let line = log.lines().rev().find(|l| l.contains(marker))?;
    let addr = &line[line.find(marker)? + marker.len()..];
    addr.trim().rsplit(':').next()?.parse().ok()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

pub(crate) fn read_from(path: &Path, offset: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The first and last `n` lines (an error is printed before the usage text).
fn head_and_tail(text: &str, n: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    if all.len() <= 2 * n {
        return all.join("\n");
    }
    format!(
        "{}\n[...]\n{}",
        all[..n].join("\n"),
        all[all.len() - n..].join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_port_from_log_line() {
        let log = "[1] 2026/11/23 17:05:31.053373 [INF] Listening for client connections on 127.0.0.1:44967\n\
                   [1] 2026/11/23 17:05:31.053401 [INF] Server is ready\n";
        assert_eq!(parse_client_port(log), Some(44967));
        assert_eq!(parse_client_port("nothing here"), None);
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(head_and_tail("1\n2\n3\n4\n5", 2), "1\n2\n[...]\n4\n5");
        assert_eq!(head_and_tail("1\n2", 2), "1\n2");
    }
}

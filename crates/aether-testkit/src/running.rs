//! [`Running`]: a live server process plus the watchdog that kills it if the test dies.
//!
//! Normal cleanup is ours: [`Running`] kills and reaps the server when dropped. For the
//! abnormal case (the test process is SIGKILLed, aborts, or leaks the guard in a `static`)
//! each server gets a tiny `sh` watchdog whose stdin is a pipe held only by the test process.
//! When the test process exits for any reason the kernel closes the pipe, `read` sees EOF and
//! the watchdog SIGKILLs the server. On normal cleanup we write `stop` first, so it exits
//! quietly. No polling, no extra processes beyond one `sh` per server.

use std::io::Write;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(5);

/// Kills the server (`$1`) unless told `stop` before stdin closes.
const WATCHDOG: &str = r#"read -r line; [ "$line" = stop ] || kill -9 "$1" 2>/dev/null"#;

/// A spawned `nats-server` process, killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct Running {
    server: Child,
    watchdog: Option<Child>,
    exited: Option<ExitStatus>,
}

impl Running {
    /// Wraps a freshly spawned server and arms its watchdog (best effort: without `sh` there
    /// is only the normal drop cleanup).
    pub(crate) fn new(server: Child) -> Running {
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("aether-testkit-watchdog")
            .arg(server.id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        Running {
            server,
            watchdog,
            exited: None,
        }
    }

    /// The server's process id.
    pub(crate) fn id(&self) -> u32 {
        self.server.id()
    }

    /// The exit status if the server has exited (reaping it), `None` while it runs.
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            match self.server.try_wait() {
                Ok(Some(status)) => self.exited = Some(status),
                Ok(None) => return None,
                // Not our child any more (cannot happen in practice): treat as gone.
                Err(_) => self.exited = Some(ExitStatus::default()),
            }
            // Reaped: its pid may be reused, so the watchdog must never fire now.
            self.disarm();
        }
        self.exited
    }

    /// Sends SIGTERM and waits for exit; falls back to SIGKILL after 10 s.
    pub(crate) async fn terminate(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        let signalled = Command::new("kill")
            .arg("-TERM")
            .arg(self.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if signalled {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if self.try_wait().is_some() {
                    return;
                }
                tokio::time::sleep(POLL).await;
            }
        }
        self.kill();
    }

    /// Sends SIGKILL and reaps the process so no zombie is left.
    pub(crate) fn kill(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        let _ = self.server.kill();
        self.exited = Some(self.server.wait().unwrap_or_default());
        self.disarm();
    }

    /// Tells the watchdog to exit without killing anything, and reaps it.
    fn disarm(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            if let Some(mut stdin) = watchdog.stdin.take() {
                let _ = stdin.write_all(b"stop\n");
            }
            let _ = watchdog.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

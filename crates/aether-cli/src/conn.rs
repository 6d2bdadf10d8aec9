//! Connecting as the flags and the environment say.

use std::time::Duration;

use aether_nats::ConnectConfig;
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};

use crate::args::Global;
use crate::error::CliError;

/// The connect settings of the flags (which clap also fills from the
/// `nats` CLI's environment variables), read by the same rules as
/// [`ConnectConfig::from_env`]: the flags stand in for the variables.
pub(crate) fn config(g: &Global) -> Result<ConnectConfig, CliError> {
    let timeout = g.timeout.to_string();
    let var = |name: &str| -> Option<String> {
        match name {
            "NATS_USER" => g.user.clone(),
            "NATS_PASSWORD" => g.password.clone(),
            "NATS_TOKEN" => g.token.clone(),
            "NATS_NKEY" => g.nkey.clone(),
            "NATS_CREDS" => g.creds.clone(),
            "NATS_CA" => g.tls_ca.clone(),
            "NATS_CERT" => g.tls_cert.clone(),
            "NATS_KEY" => g.tls_key.clone(),
            "NATS_TLS_FIRST" => g.tls_first.then(|| "1".to_string()),
            "NATS_TIMEOUT" => Some(timeout.clone()),
            _ => None,
        }
    };
    if g.timeout.is_nan() || g.timeout <= 0.0 {
        return Err(CliError::usage(format!(
            "--timeout {} is not a positive number of seconds",
            g.timeout
        )));
    }
    Ok(ConnectConfig {
        name: Some("aether-cli".into()),
        ..ConnectConfig::from_vars(var)?
    })
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
    Ok(JetStreamEventStore::open_existing(client, store_config(g)).await?)
}

/// The store configuration the global options name.
pub(crate) fn store_config(g: &Global) -> JetStreamConfig {
    JetStreamConfig {
        stream_name: g.stream_name.clone(),
        namespace: g.namespace.clone(),
        request_timeout: Duration::try_from_secs_f64(g.timeout).unwrap_or(Duration::from_secs(5)),
        ..Default::default()
    }
}

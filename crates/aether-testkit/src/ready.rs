//! Readiness probes that talk to a running server with async-nats.

use std::time::{Duration, Instant};

use async_nats::jetstream;

use crate::process::Probe;

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Connects without retrying forever: a probe must fail fast so the caller can retry.
pub(crate) async fn connect<A>(url: A) -> Result<async_nats::Client, String>
where
    A: async_nats::ToServerAddrs + std::fmt::Debug,
{
    connect_as(url, &Probe::default()).await
}

/// [`connect`] with the probe's credentials and CA.
pub(crate) async fn connect_as<A>(url: A, probe: &Probe) -> Result<async_nats::Client, String>
where
    A: async_nats::ToServerAddrs + std::fmt::Debug,
{
    let shown = format!("{url:?}");
    let mut options = async_nats::ConnectOptions::new().connection_timeout(ATTEMPT_TIMEOUT);
    if let Some((user, password)) = &probe.user_password {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(ca) = &probe.ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    let connecting = options.connect(url);
    match tokio::time::timeout(ATTEMPT_TIMEOUT * 2, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("cannot connect to {shown}: {e}")),
        Err(_) => Err(format!("connecting to {shown} timed out")),
    }
}

/// Waits until the JetStream API at `url` answers an account-info request.
///
/// On a cluster node that means the node knows a meta leader. Gives up early when `alive`
/// reports that the server process has exited.
pub(crate) async fn wait_jetstream(
    url: &str,
    probe: &Probe,
    limit: Duration,
    alive: impl Fn() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let mut last_error = String::from("no attempt made");
    let mut client = None;
    while Instant::now() < deadline {
        if !alive() {
            return Err(format!(
                "nats-server at {url} exited while waiting for JetStream ({last_error})"
            ));
        }
        if client.is_none() {
            match connect_as(url, probe).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    last_error = e;
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            }
        }
        if let Some(c) = &client {
            let js = jetstream::new(c.clone());
            match tokio::time::timeout(ATTEMPT_TIMEOUT, js.query_account()).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => last_error = format!("JetStream account info failed: {e}"),
                Err(_) => last_error = "JetStream account info timed out".to_string(),
            }
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    Err(format!(
        "JetStream at {url} not ready within {limit:?}: {last_error}"
    ))
}

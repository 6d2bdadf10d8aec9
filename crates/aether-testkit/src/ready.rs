//! Readiness probes that talk to a running server with async-nats.

use std::time::{Duration, Instant};

use async_nats::jetstream;

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Connects without retrying forever: a probe must fail fast so the caller can retry.
pub(crate) async fn connect(url: &str) -> Result<async_nats::Client, String> {
    let connecting = async_nats::ConnectOptions::new()
        .connection_timeout(ATTEMPT_TIMEOUT)
        .connect(url);
    match tokio::time::timeout(ATTEMPT_TIMEOUT * 2, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("cannot connect to {url}: {e}")),
        Err(_) => Err(format!("connecting to {url} timed out")),
    }
}

/// Waits until the JetStream API at `url` answers an account-info request.
///
/// On a cluster node that means the node knows a meta leader.
pub(crate) async fn wait_jetstream(url: &str, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let mut last_error = String::from("no attempt made");
    let mut client = None;
    while Instant::now() < deadline {
        if client.is_none() {
            match connect(url).await {
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

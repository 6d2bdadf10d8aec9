//! Connecting, checking the server version and creating streams idempotently.

use std::time::Duration;

use aether_core::{Error, Result};
use async_nats::jetstream::Context;
use async_nats::jetstream::context::CreateStreamErrorKind;
use async_nats::jetstream::stream::{Config, Stream};

use crate::config::JetStreamConfig;
use aether_nats::jetstream_code;

/// The JetStream error code of a stream create/update error.
fn create_code(e: &async_nats::jetstream::context::CreateStreamError) -> Option<u64> {
    match e.kind() {
        CreateStreamErrorKind::JetStream(js) => Some(js.error_code().0),
        _ => jetstream_code(e),
    }
}

/// "Stream name already in use with a different configuration".
const STREAM_NAME_EXIST: u64 = 10058;
/// "Subjects overlap with an existing stream".
const SUBJECT_OVERLAP: u64 = 10065;

/// Dials `addrs` with the store's connect settings; the client is named
/// `aether-store` unless `config.connect.name` says otherwise.
pub(crate) async fn connect_client(
    addrs: impl aether_nats::ToServerAddrs,
    config: &JetStreamConfig,
) -> Result<async_nats::Client> {
    let options = async_nats::ConnectOptions::new().request_timeout(Some(config.request_timeout));
    Ok(aether_nats::connect_with::<aether_nats::ConnectErrorKind>(
        addrs,
        &config.connect,
        "aether-store",
        options,
    )
    .await?)
}

/// Whether a server of this version (`"2.12.1"`, `"v2.15.1"`) supports
/// atomic batch publish.
pub(crate) fn supports_atomic_batches(version: &str) -> bool {
    let v = version.trim_start_matches('v');
    let mut parts = v.split(['.', '-']).map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (2, 12)
}

/// Creates the stream, or updates it when it exists with another
/// configuration. Safe to call from many processes at once. Retries briefly
/// while a cluster is still electing leaders.
pub(crate) async fn ensure_stream(
    js: &Context,
    config: Config,
    timeout: Duration,
) -> Result<Stream> {
    let name = config.name.clone();
    ensure_unless_overlapping(js, config, timeout)
        .await?
        .ok_or_else(|| {
            Error::storage(format!(
                "stream {name} cannot be created: its subjects overlap another stream's"
            ))
        })
}

/// [`ensure_stream`], but `None` when the stream does not exist and cannot
/// be created because its subjects overlap another stream's (another
/// layout of the namespace exists).
pub(crate) async fn ensure_unless_overlapping(
    js: &Context,
    config: Config,
    timeout: Duration,
) -> Result<Option<Stream>> {
    let name = config.name.clone();
    // cannot overflow: the config caps timeouts at a day.
    let deadline = tokio::time::Instant::now() + timeout.max(Duration::from_secs(10));
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let last_error = match js.create_stream(config.clone()).await {
            Ok(stream) => {
                led(&stream, config.num_replicas, deadline).await?;
                return Ok(Some(stream));
            }
            Err(e) if create_code(&e) == Some(SUBJECT_OVERLAP) => return Ok(None),
            Err(e) if create_code(&e) == Some(STREAM_NAME_EXIST) => {
                match js.update_stream(config.clone()).await {
                    Ok(_) => match js.get_stream(&name).await {
                        Ok(stream) => {
                            led(&stream, config.num_replicas, deadline).await?;
                            return Ok(Some(stream));
                        }
                        Err(e) => Error::storage_with(format!("opening stream {name}"), e),
                    },
                    Err(e) => {
                        // Another process may have updated it concurrently;
                        // only a conflicting config is fatal.
                        if create_code(&e).is_some_and(|c| c != 10008) {
                            return Err(Error::storage_with(
                                format!(
                                    "stream {name} exists with a configuration that cannot be updated to the requested one"
                                ),
                                e,
                            ));
                        }
                        Error::storage_with(format!("updating stream {name}"), e)
                    }
                }
            }
            Err(e) => {
                let transient = matches!(
                    e.kind(),
                    CreateStreamErrorKind::TimedOut
                        | CreateStreamErrorKind::JetStreamUnavailable
                        | CreateStreamErrorKind::Response
                ) || create_code(&e).is_some_and(|c| c == 10008 || c == 10005);
                if !transient {
                    return Err(Error::storage_with(format!("creating stream {name}"), e));
                }
                Error::unavailable_with(
                    format!("creating stream {name}: JetStream not available"),
                    e,
                )
            }
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(last_error);
        }
        tracing::debug!(attempt, stream = %name, "stream not ready yet, retrying");
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
    }
}

/// Waits until a replicated stream answers reads: right after its creation
/// its Raft group may still be electing a leader, and a message get
/// answered meanwhile says the stream is missing (seen on nats-server 2.12
/// with three servers). Probed with the very request the store's reads make
/// (a get by sequence, answered by the stream's leader): any answer but
/// "stream not found" will do. An error (the stream exists all the same)
/// when it does not answer by `deadline`.
async fn led(stream: &Stream, replicas: usize, deadline: tokio::time::Instant) -> Result<()> {
    use async_nats::jetstream::stream::LastRawMessageErrorKind;
    if replicas <= 1 {
        return Ok(());
    }
    loop {
        let answered = match stream.get_raw_message(1).await {
            Ok(_) => true,
            Err(e) => {
                matches!(
                    e.kind(),
                    LastRawMessageErrorKind::JetStream(_) | LastRawMessageErrorKind::NoMessageFound
                ) && !crate::error::is_stream_missing(&e)
            }
        };
        if answered {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::unavailable(format!(
                "stream {} was created but does not answer reads yet; try again",
                stream.cached_info().config.name
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(supports_atomic_batches("2.12.0"));
        assert!(supports_atomic_batches("v2.15.1"));
        assert!(supports_atomic_batches("3.0.0"));
        assert!(!supports_atomic_batches("2.11.9"));
        assert!(!supports_atomic_batches("2.9.25"));
        assert!(!supports_atomic_batches("garbage"));
    }
}

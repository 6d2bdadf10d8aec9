//! Small helpers around async-nats: bounded calls, bucket creation, error mapping.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use tokio::sync::watch;

use crate::config::{ClusterConfig, KvConfig};
use crate::error::{ClusterError, ClusterErrorKind, Result};

/// Runs `fut` for at most `limit`; a timeout becomes `Unavailable`.
pub(crate) async fn bounded<T, E>(
    what: &str,
    limit: Duration,
    fut: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ClusterError::with_source(
            ClusterErrorKind::Kv,
            format!("{what} failed"),
            e,
        )),
        Err(_) => Err(ClusterError::new(
            ClusterErrorKind::Unavailable,
            format!("{what}: no answer within {limit:?}"),
        )),
    }
}

/// Runs `fut` for at most `limit`; `None` on timeout or as soon as shutdown
/// is signalled (or the node is gone). For the requests of background tasks,
/// which must notice shutdown even while NATS is unreachable (the client then
/// stops taking commands once its queue is full).
pub(crate) async fn unless_shutdown<T>(
    shutdown: &mut watch::Receiver<bool>,
    limit: Duration,
    fut: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        r = tokio::time::timeout(limit, fut) => r.ok(),
        _ = shutdown.wait_for(|stop| *stop) => None,
    }
}

/// Whether `client` is connected now. Goodbyes on shutdown (deleting the member
/// entry, resigning the leader key) are skipped when it is not: they cannot
/// succeed and would only hold shutdown up; the entries expire with their leases.
pub(crate) fn is_connected(client: &async_nats::Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}

/// A JetStream context whose requests time out after `kv.request_timeout`.
pub(crate) fn context(client: async_nats::Client, kv: &KvConfig) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(kv.request_timeout)
        .build(client)
}

/// Creates (or opens, if it exists) a bucket. `max_age` set means a lease
/// bucket: limit markers are enabled so watchers see expiries.
pub(crate) async fn open_bucket(
    js: &jetstream::Context,
    config: &ClusterConfig,
    bucket: String,
    max_age: Option<Duration>,
) -> Result<kv::Store> {
    let kv_cfg = kv::Config {
        bucket: bucket.clone(),
        description: format!("Aether cluster {}", config.cluster_name),
        history: 1,
        max_age: max_age.unwrap_or_default(),
        storage: config.kv.storage,
        num_replicas: config.kv.replicas,
        // Expiry markers stay a while so watchers that were down see them
        // (re-creating a key over a marker works at once).
        limit_markers: max_age.map(|age| (age * 10).max(Duration::from_secs(60))),
        ..Default::default()
    };
    // Created, or opened as another node created it (retrying while a fresh
    // NATS cluster settles); an existing lease bucket must not expire a
    // lease before this node's local lease ends.
    let store = aether_nats::open_bucket(js, kv_cfg, config.kv.request_timeout)
        .await
        .map_err(|e| {
            ClusterError::with_source(
                ClusterErrorKind::Unavailable,
                format!("could not create KV bucket {bucket}"),
                e,
            )
        })?;
    if let Some(lease) = max_age
        && let Ok(status) = store.status().await
    {
        check_lease_bucket(&bucket, status.max_age(), lease)?;
    }
    Ok(store)
}

/// An existing lease bucket must not expire entries sooner than this node's
/// `lease`: the local lease (`sent + lease − safety_margin`) is only safe
/// because the server keeps the entry at least `lease` after writing it.
fn check_lease_bucket(bucket: &str, bucket_max_age: Duration, lease: Duration) -> Result<()> {
    if !bucket_max_age.is_zero() && bucket_max_age < lease {
        return Err(crate::error::config_error(format!(
            "KV bucket {bucket} expires entries after {bucket_max_age:?}, sooner than this \
             node's lease of {lease:?}: the node would act on a lease the server has already \
             expired. Use the same lease on every node (or delete the bucket)"
        )));
    }
    Ok(())
}

pub(crate) use aether_nats::{is_already_exists, is_cas_failure};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_buckets_must_keep_entries_at_least_the_lease() {
        let s = Duration::from_secs;
        assert!(check_lease_bucket("b", s(10), s(10)).is_ok());
        assert!(check_lease_bucket("b", s(20), s(10)).is_ok());
        assert!(
            check_lease_bucket("b", Duration::ZERO, s(10)).is_ok(),
            "never expires"
        );
        let err = check_lease_bucket("b", s(5), s(10)).unwrap_err();
        assert_eq!(err.kind(), ClusterErrorKind::InvalidConfig);
    }
}

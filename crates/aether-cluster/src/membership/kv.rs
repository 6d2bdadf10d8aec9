//! The member entry in the `<cluster>_members` bucket and the lease that keeps it.

use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use bytes::Bytes;
use tokio::sync::watch;
use tracing::Instrument;

use crate::config::ClusterConfig;
use crate::error::{ClusterError, ClusterErrorKind, Result};
use crate::membership::{LeaseStatus, NodeInfo};
use crate::nats::{bounded, is_already_exists, is_cas_failure};

/// Encodes a member entry (JSON of [`NodeInfo`]).
pub(crate) fn encode_info(info: &NodeInfo) -> Result<Bytes> {
    serde_json::to_vec(info).map(Bytes::from).map_err(|e| {
        ClusterError::with_source(ClusterErrorKind::Serialization, "encode member info", e)
    })
}

/// Decodes a member entry.
pub(crate) fn decode_info(bytes: &[u8]) -> Result<NodeInfo> {
    serde_json::from_slice(bytes).map_err(|e| {
        ClusterError::with_source(ClusterErrorKind::Serialization, "decode member info", e)
    })
}

/// Registers `info` under its id. Fails with [`ClusterErrorKind::NodeIdTaken`]
/// if a live entry holds the id.
pub(crate) async fn register(
    store: &kv::Store,
    config: &ClusterConfig,
    info: &NodeInfo,
) -> Result<LeaseStatus> {
    let value = encode_info(info)?;
    let sent = Instant::now();
    match tokio::time::timeout(
        config.kv.request_timeout,
        store.create(info.id.as_str(), value),
    )
    .await
    {
        Ok(Ok(revision)) => Ok(LeaseStatus {
            valid_until: Some(valid_until(sent, config)),
            revision,
            incarnation: revision,
        }),
        Ok(Err(e)) if is_already_exists(&e) => Err(ClusterError::with_source(
            ClusterErrorKind::NodeIdTaken,
            format!(
                "node id {} is registered by a live node (or a crashed one whose lease has not expired yet)",
                info.id
            ),
            e,
        )),
        Ok(Err(e)) => Err(ClusterError::with_source(
            ClusterErrorKind::Kv,
            "register member",
            e,
        )),
        Err(_) => Err(ClusterError::new(
            ClusterErrorKind::Unavailable,
            "register member: no answer in time",
        )),
    }
}

/// How long to wait for the answer to a renewal sent at `now`: while the
/// lease is valid, until it lapses (at least 50 ms) so a retry can still
/// save it; once it has lapsed (or before registration), nothing is gained
/// by giving up early, and a shorter wait would never see the answer of a
/// server slower than that. Never more than `request_timeout`.
fn renewal_limit(
    valid_until: Option<Instant>,
    now: Instant,
    request_timeout: Duration,
) -> Duration {
    valid_until
        .map(|t| t.saturating_duration_since(now))
        .filter(|left| !left.is_zero())
        .map_or(request_timeout, |left| left.max(Duration::from_millis(50)))
        .min(request_timeout)
}

fn valid_until(sent: Instant, config: &ClusterConfig) -> Instant {
    sent + config.membership.lease - config.membership.safety_margin
}

/// Renews the member entry until shutdown, then deletes it (graceful leave).
///
/// The lease is measured from when each renewal was **sent**: the server can
/// only expire the entry `lease` after it wrote it, which is later, so the
/// local `valid_until` always ends before anyone else can see the node gone.
pub(crate) async fn keep_lease(
    client: async_nats::Client,
    store: kv::Store,
    config: ClusterConfig,
    mut info: NodeInfo,
    status: watch::Sender<LeaseStatus>,
    mut shutdown: watch::Receiver<bool>,
    mut draining: watch::Receiver<bool>,
) {
    let span = tracing::info_span!("aether.cluster.member_lease", node = %info.id);
    async move {
        let key = info.id.as_str().to_owned();
        let mut value = match encode_info(&info) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode member info");
                return;
            }
        };
        let renew = config.membership.renew_interval;
        let mut registered = true;
        let mut next = renew;
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                changed = draining.changed() => {
                    if changed.is_ok() && *draining.borrow() && !info.is_draining() {
                        // Renew now, announcing it.
                        info.metadata.insert(crate::membership::DRAINING.to_owned(), "true".to_owned());
                        match encode_info(&info) {
                            Ok(v) => value = v,
                            Err(e) => tracing::warn!(error = %e, "cannot encode member info"),
                        }
                        tracing::info!("draining: the next maps place no shard here");
                    } else {
                        continue;
                    }
                }
                _ = tokio::time::sleep(next) => {}
            }
            let current = *status.borrow();
            let sent = Instant::now();
            let limit = renewal_limit(current.valid_until, sent, config.kv.request_timeout);
            if registered {
                match tokio::time::timeout(limit, store.update(&key, value.clone(), current.revision)).await {
                    Ok(Ok(revision)) => {
                        status.send_replace(LeaseStatus { valid_until: Some(valid_until(sent, &config)), revision, incarnation: current.incarnation });
                        next = renew;
                    }
                    Ok(Err(e)) if is_cas_failure(&e) => {
                        tracing::warn!(error = %e, "member entry expired or was replaced; stopping ownership claims and re-registering");
                        status.send_replace(LeaseStatus::default());
                        registered = false;
                        next = Duration::ZERO;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "member lease renewal failed; retrying");
                        next = renew / 4;
                    }
                    Err(_) => {
                        tracing::debug!("member lease renewal timed out; retrying");
                        next = renew / 4;
                    }
                }
            } else {
                match tokio::time::timeout(limit, store.create(&key, value.clone())).await {
                    Ok(Ok(revision)) => {
                        tracing::info!(revision, "re-registered as a member");
                        status.send_replace(LeaseStatus { valid_until: Some(valid_until(sent, &config)), revision, incarnation: revision });
                        registered = true;
                        next = renew;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "re-registration failed; retrying");
                        next = renew / 2;
                    }
                    Err(_) => next = renew / 4,
                }
            }
        }
        // Graceful leave: stop claiming first, then delete the entry.
        let revision = status.borrow().revision;
        status.send_replace(LeaseStatus::default());
        if registered && !crate::nats::is_connected(&client) {
            tracing::warn!("NATS unreachable; the member entry will expire with its lease");
        } else if registered {
            let res = bounded(
                "delete member entry",
                config.kv.request_timeout,
                store.delete_expect_revision(&key, Some(revision)),
            )
            .await;
            if let Err(e) = res {
                tracing::warn!(error = %e, "graceful leave failed; the entry will expire with its lease");
            } else {
                tracing::info!("left the cluster");
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the limit was `clamp(50 ms, request_timeout)`, which panicked
    /// (killing the lease task) for an accepted `request_timeout` below 50 ms, and
    /// once the lease had lapsed waited only 50 ms, so against a server
    /// slower than that the node never saw an answer and never got its lease
    /// back.
    #[test]
    fn renewal_limit_never_panics_and_waits_fully_once_lapsed() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let op = ms(2000);
        assert_eq!(renewal_limit(Some(now + ms(500)), now, op), ms(500));
        assert_eq!(renewal_limit(Some(now + ms(10)), now, op), ms(50));
        assert_eq!(renewal_limit(Some(now + ms(9000)), now, op), op);
        assert_eq!(renewal_limit(Some(now), now, op), op, "lapsed");
        assert_eq!(renewal_limit(None, now, op), op, "not registered");
        assert_eq!(renewal_limit(Some(now + ms(500)), now, ms(10)), ms(10));
        assert_eq!(renewal_limit(Some(now + ms(20)), now, ms(10)), ms(10));
    }
}

//! NATS KV helpers shared by the components that keep records in buckets:
//! opening a bucket idempotently, and telling a failed compare-and-swap.

use std::time::Duration;

use aether_core::{Error, Result};
use async_nats::jetstream::{self, kv};

use crate::classify::jetstream_code;

/// Creates the bucket `config.bucket`, or opens it when it exists (maybe
/// created by another process with other settings). Retries for a while
/// (at least 15 s) while a fresh NATS cluster is still electing its
/// JetStream leaders; each request is bounded by `timeout`.
pub async fn open_bucket(
    js: &jetstream::Context,
    config: kv::Config,
    timeout: Duration,
) -> Result<kv::Store> {
    let bucket = config.bucket.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15).max(timeout * 4);
    loop {
        let err = match tokio::time::timeout(timeout, js.create_key_value(config.clone())).await {
            Ok(Ok(store)) => return Ok(store),
            Ok(Err(e)) => Error::unavailable_with(format!("creating KV bucket {bucket}"), e),
            Err(_) => Error::unavailable(format!("creating KV bucket {bucket}: timed out")),
        };
        if let Ok(Ok(store)) =
            tokio::time::timeout(timeout, js.get_key_value(bucket.as_str())).await
        {
            return Ok(store);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(err);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether an update failed its compare-and-swap (someone else wrote, or the
/// key expired). 10071 directly; 10164 (an R3 write in flight on the same
/// subject) counts as one too: another writer is active.
pub fn is_cas_failure(err: &kv::UpdateError) -> bool {
    err.kind() == kv::UpdateErrorKind::WrongLastRevision
        || jetstream_code(err).is_some_and(|c| c == 10071 || c == 10164)
}

/// Whether a create failed because the key exists.
pub fn is_already_exists(err: &kv::CreateError) -> bool {
    err.kind() == kv::CreateErrorKind::AlreadyExists
        || jetstream_code(err).is_some_and(|c| c == 10071 || c == 10164)
}

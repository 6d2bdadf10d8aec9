//! [`KvCheckpoints`]: projection positions in a NATS KV bucket.

use std::time::Duration;

use aether_core::{BoxFuture, Error, LogCursor, Result, validate_name};
use async_nats::jetstream::{self, kv};

use crate::checkpoint::CheckpointStore;

/// Where [`KvCheckpoints`] keeps positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvCheckpointConfig {
    /// The bucket (one key per projection name). Default
    /// `AETHER_projection_checkpoints`.
    pub bucket: String,
    /// Bucket replicas (3 on a NATS cluster for durability). Default 1.
    pub replicas: usize,
    /// Timeout of each request. Default 5 s.
    pub request_timeout: Duration,
}

impl Default for KvCheckpointConfig {
    fn default() -> Self {
        Self {
            bucket: "AETHER_projection_checkpoints".into(),
            replicas: 1,
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Checkpoints in NATS KV: the value of key `<projection name>` is the
/// cursor as text ([`LogCursor`]'s `Display`: `sequence.index` for a log of
/// one partition, as before partitions existed; one position per partition,
/// comma separated, for a partitioned one). Saved by the runner after
/// handling, so delivery is at least once.
#[derive(Debug, Clone)]
pub struct KvCheckpoints {
    store: kv::Store,
}

impl KvCheckpoints {
    /// Opens (creating if needed) the checkpoint bucket on `client`.
    pub async fn open(client: async_nats::Client, config: KvCheckpointConfig) -> Result<Self> {
        let js = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client);
        let store = aether_nats::open_bucket(
            &js,
            kv::Config {
                bucket: config.bucket.clone(),
                description: "Aether projection checkpoints".into(),
                history: 1,
                num_replicas: config.replicas,
                ..Default::default()
            },
            config.request_timeout,
        )
        .await?;
        Ok(Self { store })
    }
}

impl CheckpointStore for KvCheckpoints {
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<LogCursor>> {
        Box::pin(async move {
            validate_name("projection name", name)?;
            let value =
                self.store.get(name).await.map_err(|e| {
                    Error::unavailable_with(format!("loading checkpoint {name}"), e)
                })?;
            match value {
                None => Ok(LogCursor::new()),
                Some(bytes) => {
                    let text = std::str::from_utf8(&bytes).map_err(|_| {
                        Error::serialization(format!("checkpoint {name} is not text"))
                    })?;
                    text.parse().map_err(|e| {
                        Error::serialization(format!("checkpoint {name} ({text:?}): {e}"))
                    })
                }
            }
        })
    }

    fn save<'a>(&'a self, name: &'a str, cursor: &'a LogCursor) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            validate_name("projection name", name)?;
            self.store
                .put(name, cursor.to_string().into())
                .await
                .map_err(|e| Error::unavailable_with(format!("saving checkpoint {name}"), e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            validate_name("projection name", name)?;
            self.store
                .delete(name)
                .await
                .map_err(|e| Error::unavailable_with(format!("deleting checkpoint {name}"), e))
        })
    }
}

//! [`ModelRegistry`]: the models published to a cluster, in a JetStream KV
//! bucket; reading them (list, show, diff). Publishing is in `publish.rs`.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, kv};
use futures::TryStreamExt;
use serde::Serialize;

use super::config::{MAX_MODEL_BYTES, RegistryConfig};
use super::diff::ModelDiff;
use super::error::{RegistryError, RegistryErrorKind};
use super::pointer::{Pointer, pointer_name, version_key};
use crate::format::Model;

/// The model registry of a cluster: a JetStream KV bucket holding every
/// published version of every model (`<name>.v<version>`, immutable) and,
/// per model, the pointer to the version the cluster runs (`<name>`).
/// Cheap to clone (one bucket handle).
///
/// # Examples
///
/// ```no_run
/// use aether_model::Model;
/// use aether_model::deploy::{ModelRegistry, PublishOptions, RegistryConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let registry = ModelRegistry::open(client, RegistryConfig::default()).await?;
/// let model = Model::from_yaml(&std::fs::read_to_string("account.yaml")?)?;
/// let published = registry.publish(&model, PublishOptions::default()).await?;
/// println!("{}@{} published", published.name, published.version);
/// for m in registry.list().await? {
///     println!("{} v{} {}", m.name, m.pointer.version, m.pointer.sha256);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    pub(crate) store: kv::Store,
    pub(crate) config: RegistryConfig,
}

/// A model as [`ModelRegistry::list`] shows it: its pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// The model (the actor type).
    pub name: String,
    /// Its pointer: the version the cluster runs.
    pub pointer: Pointer,
    /// The pointer's KV revision.
    pub revision: u64,
    /// When the pointer was last moved.
    #[serde(skip)]
    pub updated: SystemTime,
}

/// One stored version, as [`ModelRegistry::show`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The document.
    pub model: Model,
    /// The SHA-256 of its stored canonical JSON (lower-case hex).
    pub sha256: String,
    /// Whether the pointer names this version now.
    pub current: bool,
    /// The version the pointer names (`None` when there is no pointer).
    pub pointer: Option<u32>,
}

/// What a successful [`ModelRegistry::publish`] did.
#[derive(Debug, Clone)]
pub struct Published {
    /// The model.
    pub name: String,
    /// The version the pointer now names.
    pub version: u32,
    /// The SHA-256 of the stored canonical JSON.
    pub sha256: String,
    /// The state fingerprint.
    pub fingerprint: String,
    /// The pointer's KV revision after the publish.
    pub revision: u64,
    /// The diff from the version published before (`None` for a first
    /// publish, or when nothing was written).
    pub diff: Option<ModelDiff>,
    /// Warnings (a changed state fingerprint, breaking changes allowed, a
    /// forced replay check).
    pub warnings: Vec<String>,
    /// `true` when this very document was already the published version:
    /// nothing was written.
    pub unchanged: bool,
}

pub(crate) fn unavailable(
    what: String,
    e: impl std::error::Error + Send + Sync + 'static,
) -> RegistryError {
    RegistryError::with_source(RegistryErrorKind::Unavailable, what, e)
}

/// The SHA-256 of `bytes`, lower-case hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A name that can be a model's (and so a key): what `check` allows.
pub(crate) fn valid_name(name: &str) -> Result<(), RegistryError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RegistryError::new(
            RegistryErrorKind::InvalidInput,
            format!("{name:?} is not a model name (1 to 64 ASCII letters, digits, `_` or `-`)"),
        ))
    }
}

impl ModelRegistry {
    /// Opens the registry's bucket, creating it when it does not exist
    /// (with `config`'s replicas and history, values up to
    /// [`MAX_MODEL_BYTES`]). Concurrent opens all succeed.
    ///
    /// # Errors
    ///
    /// [`RegistryErrorKind::InvalidInput`] for an invalid `config`;
    /// [`RegistryErrorKind::Unavailable`] when JetStream does not answer or
    /// refuses to create the bucket.
    pub async fn open(
        client: async_nats::Client,
        config: RegistryConfig,
    ) -> Result<Self, RegistryError> {
        config.validate()?;
        let js = context(client, config.timeout);
        let kv_config = kv::Config {
            bucket: config.bucket.clone(),
            description: "Aether models: <name>.v<version> (immutable), <name> (the pointer)"
                .to_owned(),
            history: config.history,
            max_value_size: MAX_MODEL_BYTES as i32,
            num_replicas: config.replicas,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let store = aether_nats::open_bucket(&js, kv_config, config.timeout)
            .await
            .map_err(|e| unavailable(format!("opening the model registry {}", config.bucket), e))?;
        Ok(Self { store, config })
    }

    /// Opens the registry's bucket as it exists, without creating it (for
    /// tools that only read).
    ///
    /// # Errors
    ///
    /// [`RegistryErrorKind::NotFound`] when the bucket does not exist;
    /// [`RegistryErrorKind::Unavailable`] when JetStream does not answer.
    pub async fn open_existing(
        client: async_nats::Client,
        config: RegistryConfig,
    ) -> Result<Self, RegistryError> {
        config.validate()?;
        let js = context(client, config.timeout);
        match js.get_key_value(config.bucket.as_str()).await {
            Ok(store) => Ok(Self { store, config }),
            Err(e) if aether_nats::is_stream_not_found(&e) => Err(RegistryError::new(
                RegistryErrorKind::NotFound,
                format!(
                    "no model registry: the bucket {} does not exist (nothing was published)",
                    config.bucket
                ),
            )),
            Err(e) => Err(unavailable(
                format!("opening the model registry {}", config.bucket),
                e,
            )),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The pointer of model `name` and its revision, read from the
    /// bucket's stream leader (never a lagging replica); `None` when the
    /// model was never published (or its pointer was deleted).
    ///
    /// # Errors
    ///
    /// [`RegistryErrorKind::Corrupt`] when the pointer is not one;
    /// [`RegistryErrorKind::Unavailable`] when JetStream does not answer.
    pub async fn pointer(&self, name: &str) -> Result<Option<(Pointer, u64)>, RegistryError> {
        valid_name(name)?;
        let subject = format!("{}{name}", self.store.prefix);
        let got = tokio::time::timeout(
            self.config.timeout,
            self.store.stream.get_last_raw_message_by_subject(&subject),
        )
        .await;
        let message = match got {
            Err(_) => {
                return Err(RegistryError::new(
                    RegistryErrorKind::Unavailable,
                    format!("reading the pointer of {name}: no answer"),
                ));
            }
            Ok(Err(e))
                if e.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
            {
                return Ok(None);
            }
            Ok(Err(e)) => return Err(unavailable(format!("reading the pointer of {name}"), e)),
            Ok(Ok(m)) => m,
        };
        let deleted = message
            .headers
            .get("KV-Operation")
            .is_some_and(|v| v.as_str() != "PUT");
        if deleted {
            return Ok(None);
        }
        let pointer = Pointer::decode(&message.payload).map_err(|e| {
            RegistryError::with_source(
                RegistryErrorKind::Corrupt,
                format!("the pointer of {name} is not a pointer"),
                e,
            )
        })?;
        Ok(Some((pointer, message.sequence)))
    }

    /// The stored bytes of version `version` of `name` and their revision.
    pub(crate) async fn version_bytes(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<(bytes::Bytes, u64)>, RegistryError> {
        valid_name(name)?;
        let key = version_key(name, version);
        match self.store.entry(key.as_str()).await {
            Ok(Some(e)) if e.operation == kv::Operation::Put => Ok(Some((e.value, e.revision))),
            Ok(_) => Ok(None),
            Err(e) => Err(unavailable(format!("reading {key}"), e)),
        }
    }

    /// Version `version` of model `name` as stored, and its SHA-256.
    ///
    /// # Errors
    ///
    /// [`RegistryErrorKind::NotFound`] when that version was never
    /// published; [`RegistryErrorKind::Corrupt`] when the stored value is
    /// not a model of that name and version;
    /// [`RegistryErrorKind::Unavailable`] when JetStream does not answer.
    pub async fn fetch(&self, name: &str, version: u32) -> Result<(Model, String), RegistryError> {
        let Some((bytes, _)) = self.version_bytes(name, version).await? else {
            return Err(RegistryError::new(
                RegistryErrorKind::NotFound,
                format!("{name}@{version} was never published"),
            ));
        };
        let model = decode_model(name, version, &bytes)?;
        Ok((model, sha256(&bytes)))
    }

    /// Every published model with its pointer, by name.
    ///
    /// # Errors
    ///
    /// [`RegistryErrorKind::Unavailable`] when JetStream does not answer;
    /// [`RegistryErrorKind::Corrupt`] for a pointer that is not one.
    pub async fn list(&self) -> Result<Vec<Listed>, RegistryError> {
        let keys: Vec<String> = self
            .store
            .keys()
            .await
            .map_err(|e| unavailable("listing the model registry".to_owned(), e))?
            .try_collect()
            .await
            .map_err(|e| unavailable("listing the model registry".to_owned(), e))?;
        let mut names: Vec<&str> = keys.iter().filter_map(|k| pointer_name(k)).collect();
        names.sort_unstable();
        let mut out = Vec::new();
        for name in names {
            let entry = match self.store.entry(name).await {
                Ok(Some(e)) if e.operation == kv::Operation::Put => e,
                Ok(_) => continue,
                Err(e) => return Err(unavailable(format!("reading the pointer of {name}"), e)),
            };
            let pointer = Pointer::decode(&entry.value).map_err(|e| {
                RegistryError::with_source(
                    RegistryErrorKind::Corrupt,
                    format!("the pointer of {name} is not a pointer"),
                    e,
                )
            })?;
            let updated = SystemTime::UNIX_EPOCH
                + Duration::from_nanos(
                    u64::try_from(entry.created.unix_timestamp_nanos()).unwrap_or_default(),
                );
            out.push(Listed {
                name: name.to_owned(),
                pointer,
                revision: entry.revision,
                updated,
            });
        }
        Ok(out)
    }

    /// Version `version` of model `name` (the pointer's when `None`).
    ///
    /// # Errors
    ///
    /// [`RegistryErrorKind::NotFound`] when the model (or that version) was
    /// never published; otherwise as [`ModelRegistry::fetch`].
    pub async fn show(&self, name: &str, version: Option<u32>) -> Result<Shown, RegistryError> {
        let pointer = self.pointer(name).await?.map(|(p, _)| p.version);
        let version = match (version, pointer) {
            (Some(v), _) => v,
            (None, Some(p)) => p,
            (None, None) => {
                return Err(RegistryError::new(
                    RegistryErrorKind::NotFound,
                    format!("no model {name} is published"),
                ));
            }
        };
        let (model, sha256) = self.fetch(name, version).await?;
        Ok(Shown {
            model,
            sha256,
            current: pointer == Some(version),
            pointer,
        })
    }

    /// What changed from version `a` of model `name` to version `b`.
    ///
    /// # Errors
    ///
    /// As [`ModelRegistry::fetch`], for either version.
    pub async fn diff(&self, name: &str, a: u32, b: u32) -> Result<ModelDiff, RegistryError> {
        let (old, _) = self.fetch(name, a).await?;
        let (new, _) = self.fetch(name, b).await?;
        Ok(ModelDiff::between(&old, &new))
    }
}

/// A JetStream context whose requests time out after `timeout`.
fn context(client: async_nats::Client, timeout: Duration) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(timeout)
        .build(client)
}

/// The model stored as `name.v<version>`, checked to be that model.
pub(crate) fn decode_model(name: &str, version: u32, bytes: &[u8]) -> Result<Model, RegistryError> {
    let key = version_key(name, version);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        RegistryError::with_source(RegistryErrorKind::Corrupt, format!("{key} is not UTF-8"), e)
    })?;
    let model = Model::from_json(text).map_err(|e| {
        RegistryError::with_source(
            RegistryErrorKind::Corrupt,
            format!("{key} is not a model"),
            e,
        )
    })?;
    if model.model != name || model.version != version {
        return Err(RegistryError::new(
            RegistryErrorKind::Corrupt,
            format!("{key} holds {}@{}", model.model, model.version),
        ));
    }
    Ok(model)
}

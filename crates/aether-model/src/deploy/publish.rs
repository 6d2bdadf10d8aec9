//! Publishing a model: the rules ([`review`]), then the version key
//! (created once), then the pointer (compare-and-set).

use bytes::Bytes;

use super::config::MAX_MODEL_BYTES;
use super::error::{PublishError, RegistryError, RegistryErrorKind};
use super::pointer::{Pointer, version_key};
use super::registry::{ModelRegistry, Published, decode_model, sha256, unavailable, valid_name};
use super::rules::{Previous, PublishOptions, Review, review};
use crate::format::Model;

/// What the registry holds before a publish: the pointer (with its
/// revision) and the document it names.
struct Current {
    pointer: Pointer,
    revision: u64,
    model: Model,
}

impl ModelRegistry {
    /// Publishes `model` as the version its cluster runs: checks it against
    /// the publish rules ([`review`]: check, examples, version = previous +
    /// 1, history still foldable, breaking changes only with
    /// `options.breaking`), writes its canonical JSON once under
    /// `<name>.v<version>`, then moves the pointer `<name>` to it with a
    /// compare-and-set. Every node's [`ModelWatcher`](super::ModelWatcher)
    /// then loads it.
    ///
    /// Publishing the very document the pointer names again writes nothing
    /// ([`Published::unchanged`]); a publish interrupted between its two
    /// writes is completed by publishing the same document again.
    ///
    /// # Errors
    ///
    /// A [`PublishError`]: the rule broken ([`PublishError::Invalid`],
    /// [`PublishError::Examples`], [`PublishError::Version`],
    /// [`PublishError::Unfoldable`], [`PublishError::Breaking`],
    /// [`PublishError::ReplayDiverged`], [`PublishError::TooLarge`]);
    /// [`PublishError::VersionTaken`] when a concurrent publisher won;
    /// [`PublishError::Registry`] when the registry cannot be read or
    /// written.
    pub async fn publish(
        &self,
        model: &Model,
        options: PublishOptions,
    ) -> Result<Published, PublishError> {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "model_publish",
            model = model.model.as_str(),
            version = model.version
        );
        self.publish_in_span(model, options).instrument(span).await
    }

    async fn publish_in_span(
        &self,
        model: &Model,
        options: PublishOptions,
    ) -> Result<Published, PublishError> {
        let name = model.model.as_str();
        let json = model.to_json();
        if json.len() > MAX_MODEL_BYTES {
            return Err(PublishError::TooLarge {
                bytes: json.len(),
                max: MAX_MODEL_BYTES,
            });
        }
        let sha = sha256(json.as_bytes());
        let current = self.current(model).await?;
        if let Some(c) = &current
            && c.pointer.version == model.version
            && c.pointer.sha256 == sha
        {
            return Ok(Published {
                name: name.to_owned(),
                version: model.version,
                sha256: sha,
                fingerprint: c.pointer.fingerprint.clone(),
                revision: c.revision,
                diff: None,
                warnings: Vec::new(),
                unchanged: true,
            });
        }
        let Review {
            compiled,
            diff,
            warnings,
            emitted,
        } = review(model, previous(current.as_ref()), &options)?;
        for w in &warnings {
            tracing::warn!(warning = %w, "publishing with a warning");
        }
        self.write_version(model, &json, &sha, options.force)
            .await?;
        let pointer = Pointer {
            version: model.version,
            sha256: sha.clone(),
            fingerprint: compiled.state_fingerprint(),
            emitted,
        };
        let revision = self
            .move_pointer(name, &pointer, current.as_ref().map(|c| c.revision))
            .await?;
        tracing::info!(revision, "model published");
        Ok(Published {
            name: name.to_owned(),
            version: model.version,
            sha256: sha,
            fingerprint: pointer.fingerprint,
            revision,
            diff,
            warnings,
            unchanged: false,
        })
    }

    /// Applies the publish rules to `model` against what the registry
    /// holds, without writing anything: what [`ModelRegistry::publish`]
    /// would refuse, it refuses the same way; what it would allow comes
    /// back as the [`Review`] (diff and warnings).
    ///
    /// # Errors
    ///
    /// As [`ModelRegistry::publish`], but never
    /// [`PublishError::VersionTaken`] (a check races no one).
    pub async fn check_publish(
        &self,
        model: &Model,
        options: &PublishOptions,
    ) -> Result<Review, PublishError> {
        let json = model.to_json();
        if json.len() > MAX_MODEL_BYTES {
            return Err(PublishError::TooLarge {
                bytes: json.len(),
                max: MAX_MODEL_BYTES,
            });
        }
        let current = self.current(model).await?;
        review(model, previous(current.as_ref()), options)
    }

    /// The pointer of `model`'s name and the document it names.
    async fn current(&self, model: &Model) -> Result<Option<Current>, PublishError> {
        let name = model.model.as_str();
        if valid_name(name).is_err() {
            // Let the checker say what is wrong with the name, with its path.
            return Err(PublishError::Invalid(
                crate::check(model).err().unwrap_or_default(),
            ));
        }
        let Some((pointer, revision)) = self.pointer(name).await? else {
            return Ok(None);
        };
        let (model, stored_sha) = self.fetch(name, pointer.version).await?;
        if stored_sha != pointer.sha256 {
            return Err(RegistryError::new(
                RegistryErrorKind::Corrupt,
                format!(
                    "{} does not hash to the pointer's sha256 ({} against {})",
                    version_key(name, pointer.version),
                    stored_sha,
                    pointer.sha256
                ),
            )
            .into());
        }
        Ok(Some(Current {
            pointer,
            revision,
            model,
        }))
    }

    /// Writes the version key once. An existing key with the same document
    /// (an interrupted publish of it) is fine; another document is a taken
    /// version, replaced only when `force`.
    async fn write_version(
        &self,
        model: &Model,
        json: &str,
        sha: &str,
        force: bool,
    ) -> Result<(), PublishError> {
        let (name, version) = (model.model.as_str(), model.version);
        let key = version_key(name, version);
        let value = Bytes::from(json.to_owned());
        let err = match self.store.create(key.as_str(), value.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) if aether_nats::is_already_exists(&e) => e,
            Err(e) => return Err(unavailable(format!("writing {key}"), e).into()),
        };
        let Some((existing, revision)) = self.version_bytes(name, version).await? else {
            // Created and deleted since: someone else is at work here.
            return Err(PublishError::VersionTaken {
                name: name.to_owned(),
                version,
                detail: format!("{key} changed while publishing ({err})"),
            });
        };
        if sha256(&existing) == sha {
            tracing::info!("completing an interrupted publish of this document");
            return Ok(());
        }
        let holder = decode_model(name, version, &existing)
            .map(|_| "another document")
            .unwrap_or("a value that is not a model");
        if !force {
            return Err(PublishError::VersionTaken {
                name: name.to_owned(),
                version,
                detail: format!(
                    "{key} holds {holder}: another publisher published this version first, or a publish was interrupted before moving the pointer (then publish with `force` to replace it)"
                ),
            });
        }
        tracing::warn!("replacing the document an interrupted publish left");
        match self.store.update(key.as_str(), value, revision).await {
            Ok(_) => Ok(()),
            Err(e) if aether_nats::is_cas_failure(&e) => Err(PublishError::VersionTaken {
                name: name.to_owned(),
                version,
                detail: format!("{key} changed while it was being replaced"),
            }),
            Err(e) => Err(unavailable(format!("replacing {key}"), e).into()),
        }
    }

    /// Moves the pointer: creates it (first publish) or updates it from
    /// `revision` (compare-and-set).
    async fn move_pointer(
        &self,
        name: &str,
        pointer: &Pointer,
        revision: Option<u64>,
    ) -> Result<u64, PublishError> {
        let value = Bytes::from(pointer.encode());
        let lost = match revision {
            None => match self.store.create(name, value).await {
                Ok(rev) => return Ok(rev),
                Err(e) if aether_nats::is_already_exists(&e) => e.to_string(),
                Err(e) => return Err(unavailable(format!("writing the pointer {name}"), e).into()),
            },
            Some(rev) => match self.store.update(name, value, rev).await {
                Ok(rev) => return Ok(rev),
                Err(e) if aether_nats::is_cas_failure(&e) => e.to_string(),
                Err(e) => return Err(unavailable(format!("moving the pointer {name}"), e).into()),
            },
        };
        let now = match self.pointer(name).await {
            Ok(Some((p, _))) => format!("{name} is now at version {}", p.version),
            _ => "the pointer moved".to_owned(),
        };
        Err(PublishError::VersionTaken {
            name: name.to_owned(),
            version: pointer.version,
            detail: format!("another publisher moved the pointer first: {now} ({lost})"),
        })
    }
}

fn previous(current: Option<&Current>) -> Option<Previous<'_>> {
    current.map(|c| Previous {
        model: &c.model,
        emitted: &c.pointer.emitted,
    })
}

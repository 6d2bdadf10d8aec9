//! The errors of deployment: [`PublishError`] (why a publish was refused)
//! and [`RegistryError`] (reading or writing the registry failed).

use std::error::Error as StdError;
use std::fmt;

use super::replay::ReplayFailure;
use crate::error::{ModelError, ModelErrors};
use crate::examples::ExampleFailure;

/// What kind of registry failure, to `match` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryErrorKind {
    /// No such model, version or bucket. **What to do:** check the name,
    /// or publish it first.
    NotFound,
    /// NATS or JetStream did not answer, or answered with an error.
    /// **What to do:** retry later.
    Unavailable,
    /// A stored value cannot be read (not a model, a pointer that is not
    /// JSON, a version whose hash is not the pointer's). **What to do:**
    /// look at the bucket; publish a fixed version.
    Corrupt,
    /// A bad argument (a name that cannot be a key, a configuration out of
    /// range). **What to do:** fix it.
    InvalidInput,
}

/// Reading or writing the model registry failed.
#[derive(Debug)]
pub struct RegistryError {
    kind: RegistryErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl RegistryError {
    /// An error of `kind`.
    pub fn new(kind: RegistryErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind` caused by `source`.
    pub fn with_source(
        kind: RegistryErrorKind,
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The kind.
    pub fn kind(&self) -> RegistryErrorKind {
        self.kind
    }

    /// Whether the model, version or bucket does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == RegistryErrorKind::NotFound
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for RegistryError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Why a publish was refused. Nothing was written, except as
/// [`PublishError::VersionTaken`] says.
#[derive(Debug)]
#[non_exhaustive]
pub enum PublishError {
    /// The model does not pass [`check`](crate::check): every problem,
    /// each with its path. **What to do:** fix the document.
    Invalid(Vec<ModelError>),
    /// Examples of the model fail. **What to do:** fix the model or the
    /// examples (`aether model test`).
    Examples(Vec<ExampleFailure>),
    /// The version is not the next one. **What to do:** publish it as
    /// version `expected`.
    Version {
        /// The model.
        name: String,
        /// The version given.
        given: u32,
        /// The version the registry runs now.
        current: u32,
        /// The version a publish must have (`current + 1`).
        expected: u32,
    },
    /// Another publisher published this version first (exactly one of two
    /// concurrent publishers wins), or an interrupted publish left another
    /// document under the version's key. **What to do:** look at what is
    /// published now (`aether model show`), then publish the next version;
    /// for an interrupted publish (the pointer is still at the previous
    /// version), `force` replaces the document left behind.
    VersionTaken {
        /// The model.
        name: String,
        /// The version that was taken.
        version: u32,
        /// What was found.
        detail: String,
    },
    /// Event types that an earlier version could emit have no fold in this
    /// one: the stored histories could not be replayed. Never forced.
    /// **What to do:** keep the event types (with a fold, `{}` if nothing
    /// changes).
    Unfoldable {
        /// The model.
        name: String,
        /// The event types missing.
        event_types: Vec<String>,
    },
    /// The model removes commands or event types, or tightens command
    /// schemas, and the publish did not say `breaking`. **What to do:**
    /// make sure every caller is ready, then publish with `breaking`.
    Breaking {
        /// The model.
        name: String,
        /// One line per breaking change.
        changes: Vec<String>,
    },
    /// The replay check folded a real history that the new version cannot
    /// fold: that actor would stop activating. **What to do:** fix the
    /// model; `force` publishes anyway.
    ReplayDiverged(ReplayFailure),
    /// The canonical JSON is larger than a registry value may be.
    /// **What to do:** make the model smaller.
    TooLarge {
        /// The size, in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The registry could not be read or written.
    Registry(RegistryError),
}

impl PublishError {
    /// Whether the model itself is at fault (invalid, examples failing,
    /// unfoldable, breaking without leave, too large), rather than the
    /// registry or a concurrent publisher.
    pub fn is_model_fault(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_)
                | Self::Examples(_)
                | Self::Unfoldable { .. }
                | Self::Breaking { .. }
                | Self::TooLarge { .. }
        )
    }

    /// Whether another publisher took the version.
    pub fn is_version_taken(&self) -> bool {
        matches!(self, Self::VersionTaken { .. })
    }
}

impl From<RegistryError> for PublishError {
    fn from(e: RegistryError) -> Self {
        Self::Registry(e)
    }
}

fn lines<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for item in items {
        write!(f, "\n  {item}")?;
    }
    Ok(())
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(errors) => {
                write!(f, "the model does not check ({} problems):", errors.len())?;
                lines(f, errors)
            }
            Self::Examples(failures) => {
                write!(f, "{} examples fail:", failures.len())?;
                lines(f, failures)
            }
            Self::Version {
                name,
                given,
                current,
                expected,
            } => write!(
                f,
                "{name} is at version {current}: the next publish must be version {expected}, not {given}"
            ),
            Self::VersionTaken {
                name,
                version,
                detail,
            } => write!(f, "version taken: {name}@{version}: {detail}"),
            Self::Unfoldable { name, event_types } => write!(
                f,
                "{name}: earlier versions could emit {} but this version has no fold for {}: stored histories could not be replayed (this cannot be forced)",
                event_types.join(", "),
                if event_types.len() == 1 { "it" } else { "them" }
            ),
            Self::Breaking { name, changes } => {
                write!(
                    f,
                    "{name}: breaking changes (publish with `breaking` once every caller is ready):"
                )?;
                lines(f, changes)
            }
            Self::ReplayDiverged(failure) => write!(
                f,
                "the replay check failed: {failure} (fix the model, or publish with `force`)"
            ),
            Self::TooLarge { bytes, max } => write!(
                f,
                "the model is {bytes} bytes as canonical JSON, over the registry's {max}"
            ),
            Self::Registry(e) => write!(f, "{e}"),
        }
    }
}

impl StdError for PublishError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Registry(e) => e.source(),
            _ => None,
        }
    }
}

impl From<ModelErrors> for PublishError {
    fn from(e: ModelErrors) -> Self {
        Self::Invalid(e.0)
    }
}

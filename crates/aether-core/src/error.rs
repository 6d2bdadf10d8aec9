//! The error type shared by every Aether store and component.

use std::fmt;

use crate::id::{ActorId, InvalidId};
use crate::source::{BoxError, SharedError, as_source, share};

/// The result type of Aether operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An optimistic-concurrency failure: someone else appended to the actor first.
///
/// **What to do:** reload the actor (its state at `current`), decide again and
/// retry; or give up and report the conflict. Never retry blindly with the same
/// event: its version is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConflict {
    /// The actor whose stream moved.
    pub actor_id: ActorId,
    /// The version the caller tried to write (the first one, for a batch).
    pub attempted: u64,
    /// The actor's latest version when the store refused the write (`0` = no events).
    pub current: u64,
}

impl fmt::Display for VersionConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "version conflict on actor {:?}: attempted version {}, current version is {}",
            self.actor_id.as_str(),
            self.attempted,
            self.current
        )
    }
}

impl std::error::Error for VersionConflict {}

/// Every error an Aether store or the aggregate repository returns. Match on
/// the variant to decide; each says what to do.
///
/// The source, where there is one, is the error given to the constructor,
/// shared ([`SharedError`]): [`std::error::Error::source`] returns it (it
/// downcasts to its own type) and `Display` does not repeat it. A clone
/// shares the source. Build errors with the constructors
/// ([`Error::unavailable`], [`Error::too_large`], ...): the variants are
/// `#[non_exhaustive]`, so fields may be added.
///
/// ```
/// use std::error::Error as _;
/// use aether_core::Error;
///
/// let e = Error::unavailable_with("reading the tip", std::io::Error::other("reset"));
/// let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
/// assert_eq!(io.map(|io| io.kind()), Some(std::io::ErrorKind::Other));
/// let copy = e.clone();
/// assert!(std::ptr::addr_eq(copy.source().unwrap(), e.source().unwrap()));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The actor's stream is not at the version the caller expected.
    /// **What to do:** reload and retry (see [`VersionConflict`]).
    VersionConflict(VersionConflict),

    /// The caller passed something invalid (an empty id, version 0, a batch that
    /// mixes actors, a bad configuration value, ...). **What to do:** fix the
    /// input; retrying cannot help.
    #[non_exhaustive]
    InvalidInput {
        /// What was wrong.
        message: String,
    },

    /// An encoded event or snapshot is larger than the store accepts.
    /// **What to do:** make the event smaller (store large blobs elsewhere and
    /// reference them) or raise the store's limit.
    #[non_exhaustive]
    TooLarge {
        /// What was too large ("event", "snapshot", "batch").
        what: &'static str,
        /// Its encoded size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// Encoding or decoding failed (bad JSON, a malformed stored message).
    /// **What to do:** for a write, fix the data; for a read, inspect the stored
    /// bytes with a with-errors replay.
    #[non_exhaustive]
    Serialization {
        /// What failed.
        message: String,
        /// The underlying error.
        source: Option<SharedError>,
    },

    /// The backend (or the messaging layer under it) could not be reached in
    /// time: connection refused, timeout, a leader election in progress.
    /// **What to do:** retry later; the operation may or may not have happened
    /// (appends are deduplicated by event id, so retrying the same event is safe).
    #[non_exhaustive]
    Unavailable {
        /// What was unreachable.
        message: String,
        /// The underlying error.
        source: Option<SharedError>,
    },

    /// The backend failed or refused the request for another reason.
    /// **What to do:** report it; retrying may help if the cause is transient.
    #[non_exhaustive]
    Storage {
        /// What failed.
        message: String,
        /// The underlying error.
        source: Option<SharedError>,
    },

    /// Something the store needs does not exist any more (for example its
    /// JetStream stream was deleted while the store was open). **What to do:**
    /// recreate it (opening the store again creates its stream) or fix the
    /// configuration; retrying as it is cannot help.
    #[non_exhaustive]
    Missing {
        /// What is missing.
        message: String,
        /// The underlying error.
        source: Option<SharedError>,
    },

    /// The server refused this client: its credentials were not accepted
    /// (wrong password, unknown user, expired or revoked credentials), or it
    /// lacks the permission for a subject or a JetStream API call. The
    /// refused operation did not take effect. **What to do:** fix the
    /// credentials or grant the permission (`docs/security.md` lists what
    /// each component needs); retrying as it is cannot help.
    #[non_exhaustive]
    PermissionDenied {
        /// What was refused.
        message: String,
        /// The subject the server refused, when it named one.
        subject: Option<String>,
        /// The underlying error.
        source: Option<SharedError>,
    },

    /// The backend does not support the operation (for example a server too old
    /// for atomic batches). **What to do:** upgrade the backend or avoid the call.
    #[non_exhaustive]
    Unsupported {
        /// What is missing.
        message: String,
    },
}

impl Error {
    /// A version conflict.
    pub fn conflict(actor_id: ActorId, attempted: u64, current: u64) -> Self {
        Self::VersionConflict(VersionConflict {
            actor_id,
            attempted,
            current,
        })
    }

    /// An invalid-input error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
        }
    }

    /// A too-large error: `what` ("event", "snapshot", ...) is `size` bytes,
    /// over `limit`.
    pub fn too_large(what: &'static str, size: usize, limit: usize) -> Self {
        Self::TooLarge { what, size, limit }
    }

    /// A serialization error without a source.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::Serialization {
            message: message.into(),
            source: None,
        }
    }

    /// A serialization error with its source.
    pub fn serialization_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Serialization {
            message: message.into(),
            source: Some(share(source)),
        }
    }

    /// An unavailable error without a source.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// An unavailable error with its source.
    pub fn unavailable_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: Some(share(source)),
        }
    }

    /// A storage error without a source.
    pub fn storage(message: impl Into<String>) -> Self {
        Self::Storage {
            message: message.into(),
            source: None,
        }
    }

    /// A storage error with its source.
    pub fn storage_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Storage {
            message: message.into(),
            source: Some(share(source)),
        }
    }

    /// A missing-resource error without a source.
    pub fn missing(message: impl Into<String>) -> Self {
        Self::Missing {
            message: message.into(),
            source: None,
        }
    }

    /// A missing-resource error with its source.
    pub fn missing_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Missing {
            message: message.into(),
            source: Some(share(source)),
        }
    }

    /// A permission-denied error; `subject` is the refused subject, if known.
    pub fn permission_denied(message: impl Into<String>, subject: Option<String>) -> Self {
        Self::PermissionDenied {
            message: message.into(),
            subject,
            source: None,
        }
    }

    /// A permission-denied error with its source.
    pub fn permission_denied_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::PermissionDenied {
            message: message.into(),
            subject: None,
            source: Some(share(source)),
        }
    }

    /// Whether the server refused the client's credentials or permissions.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Self::PermissionDenied { .. })
    }

    /// An unsupported-operation error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported {
            message: message.into(),
        }
    }

    /// Whether this is a version conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::VersionConflict(_))
    }

    /// The conflict details, if this is a version conflict.
    pub fn as_conflict(&self) -> Option<&VersionConflict> {
        match self {
            Self::VersionConflict(c) => Some(c),
            _ => None,
        }
    }

    /// Whether the caller's input was invalid.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::InvalidInput { .. } | Self::TooLarge { .. })
    }

    /// Whether retrying the same operation later may succeed (unavailable or
    /// storage failures; not conflicts, invalid input or missing resources).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Storage { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VersionConflict(c) => fmt::Display::fmt(c, f),
            Self::InvalidInput { message } => write!(f, "invalid input: {message}"),
            Self::TooLarge { what, size, limit } => {
                write!(f, "{what} is {size} bytes; the limit is {limit} bytes")
            }
            Self::Serialization { message, .. } => write!(f, "serialization failed: {message}"),
            Self::Unavailable { message, .. } => write!(f, "unavailable: {message}"),
            Self::Storage { message, .. } => write!(f, "storage failure: {message}"),
            Self::Missing { message, .. } => write!(f, "missing: {message}"),
            Self::PermissionDenied { message, .. } => write!(f, "permission denied: {message}"),
            Self::Unsupported { message } => write!(f, "not supported: {message}"),
        }
    }
}

impl std::error::Error for Error {
    /// The error given to the constructor, as given (it downcasts to its
    /// own type).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Serialization { source, .. }
            | Self::Unavailable { source, .. }
            | Self::Storage { source, .. }
            | Self::Missing { source, .. }
            | Self::PermissionDenied { source, .. } => as_source(source),
            Self::VersionConflict(_)
            | Self::InvalidInput { .. }
            | Self::TooLarge { .. }
            | Self::Unsupported { .. } => None,
        }
    }
}

impl From<InvalidId> for Error {
    fn from(e: InvalidId) -> Self {
        Self::invalid_input(e.message())
    }
}

impl From<VersionConflict> for Error {
    fn from(c: VersionConflict) -> Self {
        Self::VersionConflict(c)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::serialization_with("JSON", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn conflict_carries_details_and_displays_them() {
        let e = Error::conflict(ActorId::new("a-1").unwrap(), 3, 5);
        assert!(e.is_conflict());
        let c = e.as_conflict().unwrap();
        assert_eq!((c.attempted, c.current), (3, 5));
        assert_eq!(
            e.to_string(),
            "version conflict on actor \"a-1\": attempted version 3, current version is 5"
        );
    }

    #[test]
    fn source_is_not_repeated_in_display() {
        let bad = serde_json::from_str::<u8>("x").unwrap_err();
        let e = Error::from(bad);
        assert_eq!(e.to_string(), "serialization failed: JSON");
        assert!(e.source().is_some());
    }

    #[test]
    fn source_is_the_error_given_and_a_clone_shares_it() {
        let bad = serde_json::from_str::<u8>("x").unwrap_err();
        let e = Error::from(bad);
        let source = e.source().unwrap();
        assert!(source.downcast_ref::<serde_json::Error>().is_some());
        let copy = e.clone();
        assert_eq!(copy.to_string(), e.to_string());
        assert!(std::ptr::addr_eq(copy.source().unwrap(), source));
    }

    #[test]
    fn every_constructor_with_a_source_keeps_it() {
        let made: [fn(&'static str, std::io::Error) -> Error; 5] = [
            |m, s| Error::serialization_with(m, s),
            |m, s| Error::unavailable_with(m, s),
            |m, s| Error::storage_with(m, s),
            |m, s| Error::missing_with(m, s),
            |m, s| Error::permission_denied_with(m, s),
        ];
        for make in made {
            let e = make("doing it", std::io::Error::other("reset"));
            let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
            assert_eq!(io.map(|io| io.to_string()).as_deref(), Some("reset"), "{e}");
        }
    }
}

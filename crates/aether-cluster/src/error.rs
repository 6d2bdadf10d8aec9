//! [`ClusterError`]: what the cluster layer returns, with a kind to match on.

use std::fmt;

use aether_core::{ComponentError, Error, ErrorKind, SharedError};

/// What went wrong, for callers to `match` on. See each variant for what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClusterErrorKind {
    /// A configuration value is out of range (zero shards, lease shorter than
    /// its safety margin, ...). **What to do:** fix the configuration.
    InvalidConfig,
    /// An argument is invalid (a malformed node id, a shard out of range, a
    /// replica list with duplicates). **What to do:** fix the input.
    InvalidInput,
    /// Another live node already holds this node id in the membership bucket.
    /// **What to do:** pick another id, or wait one member lease for a crashed
    /// predecessor's entry to expire.
    NodeIdTaken,
    /// NATS or JetStream could not be reached or did not answer in time.
    /// **What to do:** retry later; the cluster keeps retrying in the background.
    Unavailable,
    /// A JetStream KV operation failed for another reason.
    /// **What to do:** report it; retrying may help if it was transient.
    Kv,
    /// A value read from NATS could not be decoded (a foreign writer, a newer format).
    /// **What to do:** report it; the value is ignored.
    Serialization,
    /// A decision carried a fencing token (term or epoch) older than the one in
    /// force. **What to do:** drop the decision; a newer leader or map exists.
    Fenced,
    /// The node has been shut down. **What to do:** nothing; start a new node.
    Shutdown,
    /// The server refused the credentials or a permission the cluster needs
    /// (`docs/security.md` lists them). **What to do:** fix the credentials
    /// or grant the permissions.
    PermissionDenied,
    /// What was asked for does not exist: no cluster of that name ever ran
    /// on this NATS (its KV buckets are missing). **What to do:** check the
    /// cluster name and the server; start a node of the cluster first.
    NotFound,
}

impl fmt::Display for ClusterErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidConfig => "invalid configuration",
            Self::InvalidInput => "invalid input",
            Self::NodeIdTaken => "node id taken",
            Self::Unavailable => "NATS unavailable",
            Self::Kv => "KV operation failed",
            Self::Serialization => "serialization failed",
            Self::Fenced => "fenced by a newer term or epoch",
            Self::Shutdown => "node shut down",
            Self::PermissionDenied => "permission denied",
            Self::NotFound => "not found",
        })
    }
}

impl ErrorKind for ClusterErrorKind {
    fn is_transient(self) -> bool {
        matches!(self, Self::Unavailable | Self::Kv)
    }

    fn is_invalid_input(self) -> bool {
        matches!(self, Self::InvalidConfig | Self::InvalidInput)
    }

    fn into_core(self, message: String, source: Option<SharedError>) -> Error {
        match (self, source) {
            (k, _) if k.is_invalid_input() => Error::invalid_input(message),
            (Self::Serialization, Some(s)) => Error::serialization_with(message, s),
            (Self::Serialization, None) => Error::serialization(message),
            (Self::Unavailable, Some(s)) => Error::unavailable_with(message, s),
            (Self::Unavailable, None) => Error::unavailable(message),
            (Self::Shutdown, _) | (Self::NotFound, None) => Error::missing(message),
            (Self::NotFound, Some(s)) => Error::missing_with(message, s),
            (Self::PermissionDenied, Some(s)) => Error::permission_denied_with(message, s),
            (Self::PermissionDenied, None) => Error::permission_denied(message, None),
            (_, Some(s)) => Error::storage_with(message, s),
            (_, None) => Error::storage(message),
        }
    }
}

#[cfg(feature = "nats")]
impl From<aether_nats::ConnectErrorKind> for ClusterErrorKind {
    fn from(k: aether_nats::ConnectErrorKind) -> Self {
        match k {
            aether_nats::ConnectErrorKind::Unreachable => Self::Unavailable,
            aether_nats::ConnectErrorKind::Unauthorized
            | aether_nats::ConnectErrorKind::CredentialsExpired => Self::PermissionDenied,
            _ => Self::InvalidConfig,
        }
    }
}

/// The error type of the cluster layer: a [`ClusterErrorKind`], a message and
/// an optional source (see [`ComponentError`]).
pub type ClusterError = ComponentError<ClusterErrorKind>;

pub(crate) fn config_error(message: impl Into<String>) -> ClusterError {
    ClusterError::new(ClusterErrorKind::InvalidConfig, message)
}

pub(crate) fn input_error(message: impl Into<String>) -> ClusterError {
    ClusterError::new(ClusterErrorKind::InvalidInput, message)
}

/// The result type of the cluster layer.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::error_chain;
    use std::error::Error as _;

    #[test]
    fn display_does_not_repeat_source() {
        let e = ClusterError::with_source(ClusterErrorKind::Kv, "renewing the lease", "boom");
        assert_eq!(e.to_string(), "renewing the lease");
        assert_eq!(e.source().unwrap().to_string(), "boom");
        assert!(e.is_transient());
        let core: aether_core::Error = input_error("bad").into();
        assert!(core.is_invalid_input());
    }

    /// Regression: the conversion used to put the whole cluster error in the
    /// source, so a chain printed its message twice.
    #[test]
    fn the_core_chain_prints_each_message_once() {
        let e = ClusterError::with_source(
            ClusterErrorKind::Unavailable,
            "creating KV bucket c_members",
            std::io::Error::other("connection reset"),
        );
        let core = Error::from(e);
        assert_eq!(
            error_chain(&core),
            "unavailable: creating KV bucket c_members: connection reset"
        );
        assert!(core.is_transient());
        let shut = Error::from(ClusterError::new(ClusterErrorKind::Shutdown, "gone"));
        assert!(!shut.is_transient());
    }

    #[test]
    fn the_core_error_keeps_the_source_of_every_kind_that_has_one() {
        for kind in [
            ClusterErrorKind::Unavailable,
            ClusterErrorKind::Kv,
            ClusterErrorKind::Serialization,
            ClusterErrorKind::PermissionDenied,
            ClusterErrorKind::NotFound,
        ] {
            let e = ClusterError::with_source(kind, "doing it", std::io::Error::other("reset"));
            let core = Error::from(e);
            let io = core
                .source()
                .and_then(|s| s.downcast_ref::<std::io::Error>());
            assert!(io.is_some(), "{kind:?}: {core:?}");
        }
        let missing = Error::from(ClusterError::new(ClusterErrorKind::NotFound, "no cluster"));
        assert!(matches!(missing, Error::Missing { .. }), "{missing:?}");
        assert!(!missing.is_transient());
    }
}

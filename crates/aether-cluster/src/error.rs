//! [`ClusterError`]: what the cluster layer returns, with a kind to match on.

use std::fmt;

use aether_core::BoxError;

/// What went wrong, for callers to `match` on. See each variant for what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        })
    }
}

/// The error type of the cluster layer: a [`ClusterErrorKind`], a message and
/// an optional source (reachable through [`std::error::Error::source`], not
/// repeated in `Display`).
#[derive(Debug)]
pub struct ClusterError {
    kind: ClusterErrorKind,
    message: String,
    source: Option<BoxError>,
}

impl ClusterError {
    /// An error of `kind` with a message.
    pub fn new(kind: ClusterErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind` with a message and a source.
    pub fn with_source(
        kind: ClusterErrorKind,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ClusterErrorKind::InvalidConfig, message)
    }

    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self::new(ClusterErrorKind::InvalidInput, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> ClusterErrorKind {
        self.kind
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ClusterErrorKind::Unavailable | ClusterErrorKind::Kv
        )
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ClusterError> for aether_core::Error {
    fn from(e: ClusterError) -> Self {
        let message = e.message.clone();
        match e.kind {
            ClusterErrorKind::InvalidConfig | ClusterErrorKind::InvalidInput => {
                aether_core::Error::invalid_input(message)
            }
            ClusterErrorKind::Unavailable | ClusterErrorKind::Shutdown => {
                aether_core::Error::unavailable(message, Some(Box::new(e)))
            }
            ClusterErrorKind::Serialization => aether_core::Error::serialization(message, e),
            _ => aether_core::Error::storage_with(message, e),
        }
    }
}

/// The result type of the cluster layer.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_does_not_repeat_source() {
        let e = ClusterError::with_source(ClusterErrorKind::Kv, "renew lease", "boom");
        assert_eq!(e.to_string(), "KV operation failed: renew lease");
        assert_eq!(e.source().unwrap().to_string(), "boom");
        assert!(e.is_transient());
        let core: aether_core::Error = ClusterError::input("bad").into();
        assert!(core.is_invalid_input());
    }
}

//! [`BusError`]: what bus operations fail with.

use std::fmt;

use aether_core::{ComponentError, Error, ErrorKind, SharedError};

/// What went wrong, so callers can `match err.kind()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BusErrorKind {
    /// A namespace is not a valid concrete namespace (bad token, wildcard on
    /// publish, reserved prefix). **What to do:** fix the namespace.
    InvalidNamespace,
    /// A namespace or actor-id pattern is malformed. **What to do:** fix it.
    InvalidPattern,
    /// Options or configuration are invalid (a zero capacity, a policy not
    /// allowed for this kind of subscription, a bad subject prefix or server
    /// address). **What to do:** fix them.
    InvalidOptions,
    /// The event failed validation ([`aether_core::Event::validate`]).
    /// **What to do:** fix the event.
    InvalidEvent,
    /// Encoding or decoding an event or notification failed.
    Serialization,
    /// The encoded message exceeds the NATS server's maximum payload.
    /// **What to do:** make the event smaller or raise `max_payload`.
    TooLarge,
    /// NATS could not be reached or refused the operation. **What to do:**
    /// retry later; the client reconnects on its own.
    Nats,
    /// The bus has been shut down. **What to do:** create a new bus.
    Closed,
    /// The server refused the credentials, or a publish or subscription
    /// (the namespace is not permitted to this user). **What to do:** fix the
    /// credentials or the permissions (`docs/security.md`).
    PermissionDenied,
}

impl fmt::Display for BusErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidNamespace => "invalid namespace",
            Self::InvalidPattern => "invalid pattern",
            Self::InvalidOptions => "invalid options",
            Self::InvalidEvent => "invalid event",
            Self::Serialization => "serialization failed",
            Self::TooLarge => "too large",
            Self::Nats => "NATS unavailable",
            Self::Closed => "bus shut down",
            Self::PermissionDenied => "permission denied",
        })
    }
}

impl ErrorKind for BusErrorKind {
    fn is_transient(self) -> bool {
        self == Self::Nats
    }

    fn is_invalid_input(self) -> bool {
        matches!(
            self,
            Self::InvalidNamespace
                | Self::InvalidPattern
                | Self::InvalidEvent
                | Self::InvalidOptions
                | Self::TooLarge
        )
    }

    fn into_core(self, message: String, source: Option<SharedError>) -> Error {
        match (self, source) {
            (k, _) if k.is_invalid_input() => Error::invalid_input(message),
            (Self::Serialization, Some(s)) => Error::serialization_with(message, s),
            (Self::Serialization, None) => Error::serialization(message),
            (Self::Closed, _) => Error::missing(message),
            (Self::PermissionDenied, Some(s)) => Error::permission_denied_with(message, s),
            (Self::PermissionDenied, None) => Error::permission_denied(message, None),
            (_, Some(s)) => Error::unavailable_with(message, s),
            (_, None) => Error::unavailable(message),
        }
    }
}

/// The error of a bus operation: a [`BusErrorKind`], a message and an
/// optional source (see [`ComponentError`]).
pub type BusError = ComponentError<BusErrorKind>;

pub(crate) fn invalid_namespace(ns: &str, why: impl fmt::Display) -> BusError {
    BusError::new(
        BusErrorKind::InvalidNamespace,
        format!("invalid namespace {ns:?}: {why}"),
    )
}

pub(crate) fn invalid_pattern(pattern: &str, why: impl fmt::Display) -> BusError {
    BusError::new(
        BusErrorKind::InvalidPattern,
        format!("invalid pattern {pattern:?}: {why}"),
    )
}

impl From<aether_nats::ConnectErrorKind> for BusErrorKind {
    fn from(k: aether_nats::ConnectErrorKind) -> Self {
        match k {
            aether_nats::ConnectErrorKind::Unreachable => Self::Nats,
            aether_nats::ConnectErrorKind::Unauthorized
            | aether_nats::ConnectErrorKind::CredentialsExpired => Self::PermissionDenied,
            _ => Self::InvalidOptions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::error_chain;

    #[test]
    fn the_chain_prints_each_message_once() {
        let e = BusError::with_source(
            BusErrorKind::Nats,
            "subscribing to orders.>",
            std::io::Error::other("connection reset"),
        );
        assert_eq!(error_chain(&e), "subscribing to orders.>: connection reset");
        let core = Error::from(e);
        assert_eq!(
            error_chain(&core),
            "unavailable: subscribing to orders.>: connection reset"
        );
        assert!(core.is_transient());
    }

    #[test]
    fn kinds_map_onto_core_errors() {
        for k in [
            BusErrorKind::InvalidNamespace,
            BusErrorKind::InvalidPattern,
            BusErrorKind::InvalidOptions,
            BusErrorKind::InvalidEvent,
            BusErrorKind::TooLarge,
        ] {
            assert!(Error::from(BusError::new(k, "x")).is_invalid_input(), "{k}");
        }
        assert!(Error::from(BusError::new(BusErrorKind::Nats, "x")).is_transient());
        let closed = Error::from(BusError::new(BusErrorKind::Closed, "x"));
        assert!(!closed.is_transient() && matches!(closed, Error::Missing { .. }));
        assert!(matches!(
            Error::from(BusError::new(BusErrorKind::Serialization, "x")),
            Error::Serialization { .. }
        ));
        let refused = BusError::with_source(
            BusErrorKind::PermissionDenied,
            "subscribing",
            std::io::Error::other("refused"),
        );
        let core = Error::from(refused);
        assert!(core.is_permission_denied());
        let kept =
            std::error::Error::source(&core).and_then(|s| s.downcast_ref::<std::io::Error>());
        assert!(kept.is_some(), "the source is kept: {core:?}");
    }
}

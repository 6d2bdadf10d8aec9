//! [`BusError`]: what bus operations fail with.

use std::fmt;

use aether_core::BoxError;

/// What went wrong, so callers can `match err.kind()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BusErrorKind {
    /// A namespace is not a valid concrete namespace (bad token, wildcard on
    /// publish, reserved prefix). **What to do:** fix the namespace.
    InvalidNamespace,
    /// A namespace or actor-id pattern is malformed. **What to do:** fix it.
    InvalidPattern,
    /// Subscription options are not allowed for this kind of subscription.
    /// **What to do:** pick another overflow policy.
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
}

/// The error of a bus operation: a kind, a message and an optional source.
///
/// The source is reachable through [`std::error::Error::source`] and is not
/// repeated in `Display`.
#[derive(Debug)]
pub struct BusError {
    kind: BusErrorKind,
    message: String,
    source: Option<BoxError>,
}

impl BusError {
    pub(crate) fn new(kind: BusErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn invalid_namespace(ns: &str, why: impl fmt::Display) -> Self {
        Self::new(
            BusErrorKind::InvalidNamespace,
            format!("invalid namespace {ns:?}: {why}"),
        )
    }

    pub(crate) fn invalid_pattern(pattern: &str, why: impl fmt::Display) -> Self {
        Self::new(
            BusErrorKind::InvalidPattern,
            format!("invalid pattern {pattern:?}: {why}"),
        )
    }

    /// What went wrong.
    pub fn kind(&self) -> BusErrorKind {
        self.kind
    }

    /// Whether the namespace or pattern was invalid (retrying cannot help).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self.kind,
            BusErrorKind::InvalidNamespace
                | BusErrorKind::InvalidPattern
                | BusErrorKind::InvalidEvent
                | BusErrorKind::InvalidOptions
        )
    }
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<BusError> for aether_core::Error {
    fn from(e: BusError) -> Self {
        match e.kind {
            BusErrorKind::InvalidNamespace
            | BusErrorKind::InvalidPattern
            | BusErrorKind::InvalidEvent
            | BusErrorKind::InvalidOptions => aether_core::Error::invalid_input(e.message),
            BusErrorKind::Serialization => aether_core::Error::Serialization {
                message: e.message,
                source: e.source,
            },
            _ => aether_core::Error::unavailable(e.message, e.source),
        }
    }
}

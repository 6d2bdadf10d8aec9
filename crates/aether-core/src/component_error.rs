//! [`ComponentError`]: the one error shape of Aether's components (the bus,
//! the cluster, the runtime): a kind to match on, a message and a source.

use std::fmt;
use std::hash::Hash;

use crate::error::{BoxError, Error};

/// What a component's error kind enum provides, so every component error
/// answers the same questions the same way.
///
/// Implemented by `BusErrorKind`, `ClusterErrorKind` and the other kind enums;
/// implement it for a kind of your own to use [`ComponentError`] with it.
pub trait ErrorKind: fmt::Debug + fmt::Display + Copy + Eq + Hash + Send + Sync + 'static {
    /// Whether an operation that failed with this kind may succeed if retried
    /// later (the network, a leader election, a busy server).
    fn is_transient(self) -> bool;

    /// Whether the caller's input or configuration was wrong: retrying the
    /// same call cannot help.
    fn is_invalid_input(self) -> bool;

    /// The [`crate::Error`] an error of this kind becomes (for `?` in code
    /// that returns [`crate::Result`]). `message` and `source` are the
    /// component error's own, moved over, so the chain prints each once.
    fn into_core(self, message: String, source: Option<BoxError>) -> Error;
}

/// The error of a component operation: a kind `K`, a message, and an
/// optional source, in the shape of async-nats's `Error<Kind>`.
///
/// `Display` prints the message; the source is reachable through
/// [`std::error::Error::source`] and never repeated in `Display`, so an error
/// chain prints every cause once. Match on [`ComponentError::kind`] to
/// decide; the kind enums are `#[non_exhaustive]` and document what to do on
/// each kind.
///
/// ```
/// use aether_core::{BoxError, ComponentError, Error, ErrorKind};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
/// enum MyKind { Down }
/// impl std::fmt::Display for MyKind {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("down") }
/// }
/// impl ErrorKind for MyKind {
///     fn is_transient(self) -> bool { true }
///     fn is_invalid_input(self) -> bool { false }
///     fn into_core(self, message: String, source: Option<BoxError>) -> Error {
///         match source { Some(s) => Error::unavailable_with(message, s), None => Error::unavailable(message) }
///     }
/// }
///
/// let e = ComponentError::with_source(MyKind::Down, "renewing the lease", "connection reset");
/// assert_eq!(e.to_string(), "renewing the lease");
/// assert!(e.is_transient());
/// let core: Error = e.into();
/// assert_eq!(core.to_string(), "unavailable: renewing the lease");
/// ```
#[derive(Debug)]
pub struct ComponentError<K> {
    kind: K,
    message: String,
    source: Option<BoxError>,
}

impl<K: ErrorKind> ComponentError<K> {
    /// An error of `kind` with a message.
    pub fn new(kind: K, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind` with a message and a source.
    pub fn with_source(kind: K, message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: crate::cause::cause(source),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> K {
        self.kind
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying later may succeed (see [`ErrorKind::is_transient`]).
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    /// Whether the input or configuration was wrong (see
    /// [`ErrorKind::is_invalid_input`]).
    pub fn is_invalid_input(&self) -> bool {
        self.kind.is_invalid_input()
    }

    /// The same error under another kind (message and source kept): for a
    /// component reporting what a lower layer failed with.
    pub fn map_kind<L: ErrorKind>(self, f: impl FnOnce(K) -> L) -> ComponentError<L> {
        ComponentError {
            kind: f(self.kind),
            message: self.message,
            source: self.source,
        }
    }
}

impl<K> fmt::Display for ComponentError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<K: fmt::Debug> std::error::Error for ComponentError<K> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl<K: ErrorKind> From<ComponentError<K>> for Error {
    fn from(e: ComponentError<K>) -> Self {
        e.kind.into_core(e.message, e.source)
    }
}

/// Every message of an error chain, outermost first, joined by `": "`: what
/// a chain-printing error reporter (anyhow, eyre) shows. Each message
/// appears once when every error follows the rule of [`ComponentError`].
///
/// ```
/// use aether_core::{Error, error_chain};
/// let e = Error::unavailable_with("reading the tip", std::io::Error::other("reset"));
/// assert_eq!(error_chain(&e), "unavailable: reading the tip: reset");
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cur = error.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum K {
        Bad,
        Down,
    }

    impl fmt::Display for K {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(self, f)
        }
    }

    impl ErrorKind for K {
        fn is_transient(self) -> bool {
            self == K::Down
        }
        fn is_invalid_input(self) -> bool {
            self == K::Bad
        }
        fn into_core(self, message: String, source: Option<BoxError>) -> Error {
            match (self, source) {
                (K::Bad, _) => Error::invalid_input(message),
                (K::Down, Some(s)) => Error::unavailable_with(message, s),
                (K::Down, None) => Error::unavailable(message),
            }
        }
    }

    #[test]
    fn each_message_once_in_the_chain() {
        let io = std::io::Error::other("connection reset");
        let e = ComponentError::with_source(K::Down, "renewing the lease", io);
        assert_eq!(error_chain(&e), "renewing the lease: connection reset");
        let core = Error::from(e);
        assert_eq!(
            error_chain(&core),
            "unavailable: renewing the lease: connection reset"
        );
        assert!(core.is_transient());
    }

    #[test]
    fn predicates_and_map_kind() {
        let e = ComponentError::new(K::Bad, "no");
        assert!(e.is_invalid_input() && !e.is_transient());
        let e = e.map_kind(|_| K::Down);
        assert_eq!((e.kind(), e.message()), (K::Down, "no"));
    }
}

//! [`ComponentError`]: the one error shape of Aether's components (the bus,
//! the cluster, the runtime): a kind to match on, a message and a source.

use std::fmt;
use std::hash::Hash;

use crate::error::Error;
use crate::source::{BoxError, SharedError, as_source, share};

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
    /// component error's own, moved over; give `source` to a constructor
    /// ([`crate::Error::unavailable_with`], ...) and the core error keeps
    /// the same shared source, not a wrapper of it.
    fn into_core(self, message: String, source: Option<SharedError>) -> Error;
}

/// The error of a component operation: a kind `K`, a message, and an
/// optional source, in the shape of async-nats's `Error<Kind>`.
///
/// `Display` prints the message; the source is the error given, shared
/// ([`SharedError`]): [`std::error::Error::source`] returns it (it downcasts
/// to its own type), `Display` never repeats it, and a clone shares it.
/// Match on [`ComponentError::kind`] to decide; the kind enums are
/// `#[non_exhaustive]` and document what to do on each kind.
///
/// ```
/// use aether_core::{ComponentError, Error, ErrorKind, SharedError};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
/// enum MyKind { Down }
/// impl std::fmt::Display for MyKind {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("down") }
/// }
/// impl ErrorKind for MyKind {
///     fn is_transient(self) -> bool { true }
///     fn is_invalid_input(self) -> bool { false }
///     fn into_core(self, message: String, source: Option<SharedError>) -> Error {
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
#[derive(Debug, Clone)]
pub struct ComponentError<K> {
    kind: K,
    message: String,
    source: Option<SharedError>,
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
            source: Some(share(source)),
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
    /// The error given to [`ComponentError::with_source`], as given (it
    /// downcasts to its own type).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        as_source(&self.source)
    }
}

impl<K: ErrorKind> From<ComponentError<K>> for Error {
    fn from(e: ComponentError<K>) -> Self {
        e.kind.into_core(e.message, e.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_chain;
    use std::error::Error as _;

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
        fn into_core(self, message: String, source: Option<SharedError>) -> Error {
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
    fn the_source_downcasts_through_every_shape() {
        let e = ComponentError::with_source(K::Down, "renewing", std::io::Error::other("reset"));
        let given: *const dyn std::error::Error = e.source().unwrap();
        assert!(
            e.source()
                .unwrap()
                .downcast_ref::<std::io::Error>()
                .is_some()
        );

        let copy = e.clone();
        assert_eq!((copy.kind(), copy.message()), (K::Down, "renewing"));
        assert!(std::ptr::addr_eq(copy.source().unwrap(), given));

        let mapped = copy.map_kind(|_| K::Down);
        assert!(std::ptr::addr_eq(mapped.source().unwrap(), given));

        let core = Error::from(e);
        let through = core.source().unwrap();
        assert!(through.downcast_ref::<std::io::Error>().is_some());
        assert!(
            std::ptr::addr_eq(through, given),
            "the same object, not a copy or a wrapper"
        );
    }

    #[test]
    fn predicates_and_map_kind() {
        let e = ComponentError::new(K::Bad, "no");
        assert!(e.is_invalid_input() && !e.is_transient());
        let e = e.map_kind(|_| K::Down);
        assert_eq!((e.kind(), e.message()), (K::Down, "no"));
    }
}

//! [`Cause`]: a source error as Aether keeps it, so that an error chain
//! prints each message once.

use std::fmt;

use crate::error::BoxError;

/// The source of an Aether error, as kept by every constructor that takes
/// one ([`crate::Error::unavailable_with`], [`crate::ComponentError::with_source`],
/// ...).
///
/// Some libraries' errors print their own cause in `Display` *and* return it
/// from `source()` (async-nats's `Error<Kind>` does: `"IO error: connection
/// refused"` with the io error as source), so a chain reporter would show the
/// cause twice. A `Cause` keeps each level's message without the trailing
/// `": <its source>"` it repeats, and the levels below as `Cause`s too, so the
/// chain shows every message once. The error given is kept whole:
/// [`Cause::original`] returns it, for downcasting.
///
/// ```
/// use aether_core::{Error, error_chain};
///
/// #[derive(Debug)]
/// struct Chatty(std::io::Error); // prints its cause in Display, like async-nats
/// impl std::fmt::Display for Chatty {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "IO error: {}", self.0)
///     }
/// }
/// impl std::error::Error for Chatty {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) }
/// }
///
/// let e = Error::unavailable_with("connecting", Chatty(std::io::Error::other("refused")));
/// assert_eq!(error_chain(&e), "unavailable: connecting: IO error: refused");
/// ```
pub struct Cause {
    message: String,
    source: Option<Box<Cause>>,
    original: Option<BoxError>,
}

impl Cause {
    /// Keeps `error` as a cause.
    pub fn new(error: impl Into<BoxError>) -> Self {
        let original: BoxError = error.into();
        // An error that is already a `Cause` needs no second wrapping.
        let original = match original.downcast::<Cause>() {
            Ok(cause) => return *cause,
            Err(other) => other,
        };
        let mut cause = Self::level(&*original);
        cause.original = Some(original);
        cause
    }

    /// The chain from `error` down, each message without its repeated source.
    fn level(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = error.to_string();
        let source = error.source().map(|s| {
            let below = s.to_string();
            if let Some(stripped) = message
                .strip_suffix(below.as_str())
                .and_then(|m| m.strip_suffix(": "))
                && !stripped.is_empty()
            {
                message = stripped.to_owned();
            }
            Box::new(Self::level(s))
        });
        Self {
            message,
            source,
            original: None,
        }
    }

    /// The error this cause was made from, as given (for downcasting).
    pub fn original(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.original.as_deref()
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.original {
            Some(o) => fmt::Debug::fmt(o, f),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// A source as every Aether error keeps it.
pub(crate) fn cause(source: impl Into<BoxError>) -> Option<BoxError> {
    Some(Box::new(Cause::new(source)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_chain;

    #[derive(Debug)]
    struct Chatty(&'static str, Option<Box<Chatty>>);
    impl fmt::Display for Chatty {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match &self.1 {
                Some(s) => write!(f, "{}: {s}", self.0),
                None => f.write_str(self.0),
            }
        }
    }
    impl std::error::Error for Chatty {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|c| c as _)
        }
    }

    #[test]
    fn nested_repeats_are_removed_at_every_level() {
        let e = Chatty(
            "a",
            Some(Box::new(Chatty("b", Some(Box::new(Chatty("c", None)))))),
        );
        assert_eq!(error_chain(&e), "a: b: c: b: c: c");
        let c = Cause::new(e);
        assert_eq!(error_chain(&c), "a: b: c");
        assert!(c.original().unwrap().downcast_ref::<Chatty>().is_some());
    }

    #[test]
    fn well_behaved_errors_are_kept_as_they_are() {
        let io = std::io::Error::other("reset");
        let c = Cause::new(io);
        assert_eq!(error_chain(&c), "reset");
        let again = Cause::new(c);
        assert_eq!(again.to_string(), "reset");
        assert!(again.original().is_some());
    }
}

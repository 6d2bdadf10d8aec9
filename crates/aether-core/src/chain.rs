//! [`error_chain`]: an error and its sources as one line, each message once.

/// Every message of an error chain, outermost first, joined by `": "`: what
/// a chain-printing error reporter (anyhow, eyre) shows, with each message
/// once.
///
/// Aether's own errors never repeat their source in `Display`. Some
/// libraries' errors do: async-nats's `Error<Kind>` prints `"IO error:
/// connection refused"` *and* returns the io error from `source()`. So a
/// level whose message ends with `": "` and the message of the level below
/// is printed without that ending, and a level whose message is the same as
/// the one below is left out. The errors themselves are kept as given (their
/// sources downcast); only the printing leaves the repeats out.
///
/// ```
/// use aether_core::{Error, error_chain};
///
/// let e = Error::unavailable_with("reading the tip", std::io::Error::other("reset"));
/// assert_eq!(error_chain(&e), "unavailable: reading the tip: reset");
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
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut message = error.to_string();
    let mut below = error.source();
    loop {
        let Some(next) = below else {
            push(&mut out, &message);
            return out;
        };
        let next_message = next.to_string();
        if message != next_message {
            push(&mut out, without_repeat(&message, &next_message));
        }
        message = next_message;
        below = next.source();
    }
}

/// `message` without a trailing `": <below>"` (unless nothing else is left).
fn without_repeat<'a>(message: &'a str, below: &str) -> &'a str {
    match message
        .strip_suffix(below)
        .and_then(|m| m.strip_suffix(": "))
    {
        Some(own) if !own.is_empty() => own,
        _ => message,
    }
}

fn push(out: &mut String, message: &str) {
    if !out.is_empty() {
        out.push_str(": ");
    }
    out.push_str(message);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    /// An error that prints its source in `Display` and returns it from
    /// `source()`, like async-nats's.
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

    fn chatty() -> Chatty {
        Chatty(
            "a",
            Some(Box::new(Chatty("b", Some(Box::new(Chatty("c", None)))))),
        )
    }

    #[test]
    fn nested_repeats_are_removed_at_every_level() {
        assert_eq!(error_chain(&chatty()), "a: b: c");
    }

    #[test]
    fn repeats_are_removed_below_an_aether_error_and_the_source_is_kept() {
        let e = crate::Error::storage_with("appending", chatty());
        assert_eq!(error_chain(&e), "storage failure: appending: a: b: c");
        let source = std::error::Error::source(&e).unwrap();
        assert!(source.downcast_ref::<Chatty>().is_some());
    }

    #[test]
    fn well_behaved_errors_are_kept_as_they_are() {
        let io = std::io::Error::other("reset");
        assert_eq!(error_chain(&io), "reset");
        let e = crate::Error::unavailable_with("reading", io);
        assert_eq!(error_chain(&e), "unavailable: reading: reset");
    }

    #[test]
    fn a_level_that_prints_only_the_one_below_is_printed_once() {
        let same = Same(std::io::Error::other("reset"));
        assert_eq!(error_chain(&same), "reset");
        let e = crate::Error::unavailable_with("reading", same);
        assert_eq!(error_chain(&e), "unavailable: reading: reset");
    }

    /// Prints exactly what its source prints.
    #[derive(Debug)]
    struct Same(std::io::Error);
    impl fmt::Display for Same {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(&self.0, f)
        }
    }
    impl std::error::Error for Same {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_suffix_that_is_not_a_whole_level_is_kept() {
        // "ab" ends with "b" but not with ": b".
        #[derive(Debug)]
        struct Ab(std::io::Error);
        impl fmt::Display for Ab {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("ab")
            }
        }
        impl std::error::Error for Ab {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(error_chain(&Ab(std::io::Error::other("b"))), "ab: b");
    }
}

//! [`Refusal`]: one refused operation, as the server reported it.

use std::fmt;

use tokio::time::Instant;

/// One refused operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// `Publish` or `Subscription`, as the server said.
    pub operation: String,
    /// The refused subject.
    pub subject: String,
    /// When it was recorded.
    pub at: Instant,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server refused {} on {:?} (permissions violation)",
            self.operation.to_lowercase(),
            self.subject
        )
    }
}

impl From<Refusal> for aether_core::Error {
    fn from(r: Refusal) -> Self {
        aether_core::Error::permission_denied(r.to_string(), Some(r.subject))
    }
}

impl Refusal {
    /// Reads a server error text: `Permissions Violation for Publish to
    /// "x"`; `None` for any other error.
    pub(super) fn parse(server_error: &str) -> Option<Self> {
        const MARK: &str = "permissions violation for ";
        let at = server_error.to_ascii_lowercase().find(MARK)?;
        // ASCII lowercasing keeps byte offsets.
        let rest = &server_error[at + MARK.len()..];
        let (operation, rest) = rest.split_once(' ')?;
        let start = rest.find('"')? + 1;
        let len = rest[start..].find('"')?;
        Some(Self {
            operation: operation.to_string(),
            subject: rest[start..start + len].to_string(),
            at: Instant::now(),
        })
    }

    /// Whether this refusal concerns `part`: its subject is `part`, or one
    /// of its tokens is (a stream name in `$JS.API.STREAM.INFO.<stream>` or
    /// in `<stream>.events.<type>.<id>`).
    pub(super) fn concerns(&self, part: &str) -> bool {
        self.subject == part || self.subject.split('.').any(|t| t == part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<(String, String)> {
        Refusal::parse(text).map(|r| (r.operation, r.subject))
    }

    #[test]
    fn parses_the_servers_text() {
        assert_eq!(
            parsed(r#"Permissions Violation for Publish to "B.x""#),
            Some(("Publish".into(), "B.x".into()))
        );
        assert_eq!(
            parsed(r#"permissions violation for subscription to "aether.bus.b.>" using queue "q""#),
            Some(("subscription".into(), "aether.bus.b.>".into()))
        );
        assert_eq!(parsed("Authorization Violation"), None);
        assert_eq!(parsed("Permissions Violation for Publish"), None);
        assert_eq!(
            parsed(r#"Permissions Violation for Publish to "unterminated"#),
            None
        );
    }

    #[test]
    fn a_refusal_concerns_its_subject_and_its_tokens() {
        let r = |subject: &str| Refusal {
            operation: "Publish".into(),
            subject: subject.into(),
            at: Instant::now(),
        };
        assert!(r("$JS.API.STREAM.INFO.AETHER_a").concerns("AETHER_a"));
        assert!(r("AETHER_a.events.t.1").concerns("AETHER_a"));
        assert!(r("aether.bus.ev.x").concerns("aether.bus.ev.x"));
        assert!(!r("$JS.API.STREAM.INFO.AETHER_ab").concerns("AETHER_a"));
        let e: aether_core::Error = r("AETHER_a.events.t.1").into();
        assert!(e.is_permission_denied(), "{e}");
    }
}

//! Permission refusals, reported as they happen.
//!
//! A NATS server refuses a publish or a subscription the user may not make
//! by sending `-ERR 'Permissions Violation for Publish to "<subject>"'` on
//! the connection, and drops the message: a request to a refused subject
//! would otherwise only end in its timeout. Connections dialed by
//! [`crate::connect`] (and clients built with [`on_event`] as their event
//! callback) record each refusal here; [`refusable`] runs an operation and
//! ends it with a [`Refusal`] as soon as the server refuses a subject it
//! uses.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::{LazyLock, Mutex};

use tokio::sync::watch;
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

/// The most recent refusals kept.
const KEPT: usize = 64;

struct Registry {
    recent: Mutex<VecDeque<Refusal>>,
    /// Bumped on every refusal.
    count: watch::Sender<u64>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    recent: Mutex::new(VecDeque::with_capacity(KEPT)),
    count: watch::channel(0).0,
});

/// Parses a server error text: `Permissions Violation for Publish to "x"`.
fn parse(text: &str) -> Option<(String, String)> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("permissions violation for ")?;
    let rest = &text[at + "permissions violation for ".len()..];
    let (operation, rest) = rest.split_once(' ')?;
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some((operation.to_string(), rest[start..start + len].to_string()))
}

/// Records a server error if it is a permissions violation.
pub fn record(server_error: &str) {
    let Some((operation, subject)) = parse(server_error) else {
        return;
    };
    tracing::warn!(%operation, %subject, "NATS permissions violation");
    let refusal = Refusal {
        operation,
        subject,
        at: Instant::now(),
    };
    {
        let mut recent = REGISTRY.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(refusal);
    }
    REGISTRY.count.send_modify(|n| *n += 1);
}

/// An event callback for `async_nats::ConnectOptions::event_callback` that
/// records refusals (and logs other server errors). [`crate::connect`]
/// installs it on every connection it dials.
pub async fn on_event(event: async_nats::Event) {
    match event {
        async_nats::Event::ServerError(async_nats::ServerError::Other(text)) => record(&text),
        async_nats::Event::ServerError(e) => tracing::warn!(error = %e, "NATS server error"),
        _ => {}
    }
}

/// Whether a refused `subject` concerns `part`: it is `part`, or one of its
/// tokens is (a stream name in `$JS.API.STREAM.INFO.<stream>` or in
/// `<stream>.events.<type>.<id>`).
fn concerns(subject: &str, part: &str) -> bool {
    subject == part || subject.split('.').any(|t| t == part)
}

/// The first refusal since `since` that concerns `part`.
fn find(part: &str, since: Instant) -> Option<Refusal> {
    let recent = REGISTRY.recent.lock().unwrap_or_else(|e| e.into_inner());
    recent
        .iter()
        .find(|r| r.at >= since && concerns(&r.subject, part))
        .cloned()
}

/// Runs `operation`; if meanwhile the server refuses a subject that is
/// `part` or has it as a token (a stream name), ends at once with that
/// [`Refusal`] instead of waiting for the operation's timeout.
pub async fn refusable<T>(part: &str, operation: impl Future<Output = T>) -> Result<T, Refusal> {
    let since = Instant::now();
    // On the heap: operations are large futures, and keeping them inline
    // here would copy them through the stack at every layer that wraps one.
    let operation = Box::pin(operation);
    let mut count = REGISTRY.count.subscribe();
    let refused = async {
        loop {
            if let Some(r) = find(part, since) {
                return r;
            }
            if count.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        done = operation => Ok(done),
        r = refused => Err(r),
    }
}

/// A refusal of `part` recorded since `since`, if any (for operations whose
/// refusal arrives after they returned, like a subscription: check after a
/// flush).
pub fn refused_since(part: &str, since: Instant) -> Option<Refusal> {
    find(part, since)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_servers_text() {
        assert_eq!(
            parse(r#"Permissions Violation for Publish to "B.x""#),
            Some(("Publish".into(), "B.x".into()))
        );
        assert_eq!(
            parse(r#"permissions violation for subscription to "aether.bus.b.>" using queue "q""#),
            Some(("subscription".into(), "aether.bus.b.>".into()))
        );
        assert_eq!(parse("Authorization Violation"), None);
        assert!(concerns("$JS.API.STREAM.INFO.AETHER_a", "AETHER_a"));
        assert!(concerns("AETHER_a.events.t.1", "AETHER_a"));
        assert!(!concerns("$JS.API.STREAM.INFO.AETHER_ab", "AETHER_a"));
    }

    #[tokio::test]
    async fn a_refusal_ends_the_operation_at_once() {
        let part = format!("T{}", std::process::id());
        let subject = format!("$JS.API.STREAM.INFO.{part}");
        let waiting = tokio::spawn({
            let part = part.clone();
            async move { refusable(&part, std::future::pending::<()>()).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        record(&format!(
            "Permissions Violation for Publish to \"{subject}\""
        ));
        let r = tokio::time::timeout(std::time::Duration::from_secs(2), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert_eq!(r.subject, subject);
        let e: aether_core::Error = r.into();
        assert!(e.is_permission_denied(), "{e}");
        assert_eq!(refusable(&part, async { 7 }).await.unwrap(), 7);
    }
}

//! Mapping async-nats errors onto [`aether_core::Error`].

use std::error::Error as StdError;

use aether_core::Error;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};

/// JetStream "wrong last sequence": the expected-sequence check failed.
pub(crate) const WRONG_LAST_SEQUENCE: u64 = 10071;
/// JetStream "wrong last sequence" raised on replicated streams while another
/// write to the same subject is still in flight.
pub(crate) const WRONG_LAST_SEQUENCE_IN_FLIGHT: u64 = 10164;

/// JetStream "stream not found".
pub(crate) const STREAM_NOT_FOUND: u64 = 10059;

/// Whether a JetStream error code means "someone else wrote first".
pub(crate) fn is_conflict_code(code: u64) -> bool {
    code == WRONG_LAST_SEQUENCE || code == WRONG_LAST_SEQUENCE_IN_FLIGHT
}

/// The JetStream API error code somewhere in `err`'s source chain.
pub(crate) fn jetstream_code(err: &(dyn StdError + 'static)) -> Option<u64> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(js) = e.downcast_ref::<async_nats::jetstream::Error>() {
            return Some(js.error_code().0);
        }
        cur = e.source();
    }
    None
}

/// How a publish failed, as far as the append logic cares.
#[derive(Debug)]
pub(crate) enum PublishFailure {
    /// The expected-sequence check failed (10071 or 10164).
    Conflict,
    /// No ack in time: the message may or may not be stored.
    Ambiguous(Error),
    /// Definitely not stored.
    Failed(Error),
    /// Nothing answered on the subject: the stream is missing, or (on a
    /// replicated stream) it is electing a leader. Not stored; the caller
    /// asks the server which (see `JetStreamEventStore::no_stream`).
    NoStream(Error),
}

/// Classifies a failed JetStream publish.
pub(crate) fn classify_publish(err: PublishError, what: &str) -> PublishFailure {
    if let Some(code) = jetstream_code(&err)
        && is_conflict_code(code)
    {
        return PublishFailure::Conflict;
    }
    match err.kind() {
        PublishErrorKind::WrongLastSequence => PublishFailure::Conflict,
        PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => {
            PublishFailure::Ambiguous(Error::unavailable(
                format!("{what}: no acknowledgement from the server in time"),
                Some(Box::new(err)),
            ))
        }
        PublishErrorKind::StreamNotFound => PublishFailure::NoStream(Error::unavailable(
            format!("{what}: no stream answered (it may be electing a leader)"),
            Some(Box::new(err)),
        )),
        PublishErrorKind::MaxAckPending => PublishFailure::Failed(Error::unavailable(
            format!("{what}: too many publishes awaiting acknowledgement"),
            Some(Box::new(err)),
        )),
        _ => PublishFailure::Failed(Error::storage_with(format!("{what} failed"), err)),
    }
}

/// Maps any other async-nats error: a missing stream becomes
/// [`Error::Missing`], timeouts and connection problems
/// [`Error::Unavailable`], the rest [`Error::Storage`].
pub(crate) fn other<E>(what: impl Into<String>, err: E) -> Error
where
    E: StdError + Send + Sync + 'static,
{
    if jetstream_code(&err) == Some(STREAM_NOT_FOUND) {
        return Error::missing_with(what, err);
    }
    let mut text = err.to_string().to_ascii_lowercase();
    let mut cur = err.source();
    while let Some(e) = cur {
        text.push_str(&e.to_string().to_ascii_lowercase());
        cur = e.source();
    }
    let what = what.into();
    if text.contains("timed out")
        || text.contains("timeout")
        || text.contains("no responders")
        || text.contains("broken pipe")
        || text.contains("disconnected")
    {
        Error::unavailable(what, Some(Box::new(err)))
    } else {
        Error::storage_with(what, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_codes() {
        assert!(is_conflict_code(10071) && is_conflict_code(10164));
        assert!(!is_conflict_code(10058));
    }

    #[test]
    fn timeouts_are_unavailable() {
        let e = other("x", std::io::Error::other("request timed out"));
        assert!(matches!(e, Error::Unavailable { .. }));
        let e = other("x", std::io::Error::other("nope"));
        assert!(matches!(e, Error::Storage { .. }));
    }
}

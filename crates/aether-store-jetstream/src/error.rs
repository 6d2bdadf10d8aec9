//! Mapping async-nats errors onto [`aether_core::Error`], by their typed
//! kinds and JetStream error codes (never their texts).

use std::error::Error as StdError;

use aether_core::Error;
use aether_nats::{is_transient, jetstream_code};
use async_nats::jetstream::consumer::pull::{MessagesError, MessagesErrorKind};
use async_nats::jetstream::consumer::{StreamError, StreamErrorKind};
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::stream::{
    ConsumerError, ConsumerErrorKind, LastRawMessageError, LastRawMessageErrorKind,
};

/// JetStream "wrong last sequence": the expected-sequence check failed.
pub(crate) const WRONG_LAST_SEQUENCE: u64 = 10071;
/// JetStream "wrong last sequence" raised on replicated streams while another
/// write to the same subject is still in flight.
pub(crate) const WRONG_LAST_SEQUENCE_IN_FLIGHT: u64 = 10164;

/// JetStream "stream not found".
pub(crate) const STREAM_NOT_FOUND: u64 = 10059;

/// JetStream's "invalid operation on sealed stream": the stream takes no
/// more writes (a repartition sealed it).
pub(crate) const STREAM_SEALED: u64 = 10109;

/// Whether a JetStream error code means "someone else wrote first".
pub(crate) fn is_conflict_code(code: u64) -> bool {
    code == WRONG_LAST_SEQUENCE || code == WRONG_LAST_SEQUENCE_IN_FLIGHT
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
    /// The stream is sealed: the namespace was repartitioned; not stored.
    Sealed,
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
            PublishFailure::Ambiguous(Error::unavailable_with(
                format!("{what}: no acknowledgement from the server in time"),
                err,
            ))
        }
        PublishErrorKind::StreamNotFound => PublishFailure::NoStream(Error::unavailable_with(
            format!("{what}: no stream answered (it may be electing a leader)"),
            err,
        )),
        PublishErrorKind::MaxAckPending => PublishFailure::Failed(Error::unavailable_with(
            format!("{what}: too many publishes awaiting acknowledgement"),
            err,
        )),
        _ => PublishFailure::Failed(Error::storage_with(format!("{what} failed"), err)),
    }
}

/// Maps any other async-nats error by its type: a missing stream (JetStream
/// code 10059) becomes [`Error::Missing`]; what [`aether_nats::is_transient`]
/// recognises (timeouts, no responders, connection problems, a cluster
/// electing leaders) becomes [`Error::Unavailable`]; the rest
/// [`Error::Storage`]. `code` is a JetStream code the caller read from the
/// error's kind (async-nats keeps API errors there, not in the source chain).
pub(crate) fn other<E>(what: impl Into<String>, code: Option<u64>, err: E) -> Error
where
    E: StdError + Send + Sync + 'static,
{
    let code = code.or_else(|| jetstream_code(&err));
    if code == Some(STREAM_NOT_FOUND) {
        return Error::missing_with(what, err);
    }
    if is_transient(&err) {
        Error::unavailable_with(what, err)
    } else {
        Error::storage_with(what, err)
    }
}

/// Whether a failed message get says the stream does not exist (JetStream
/// code 10059).
pub(crate) fn is_stream_missing(err: &LastRawMessageError) -> bool {
    matches!(err.kind(), LastRawMessageErrorKind::JetStream(js) if js.error_code().0 == STREAM_NOT_FOUND)
}

/// A failed message get (last by subject, next by subject).
pub(crate) fn get_error(what: impl Into<String>, err: LastRawMessageError) -> Error {
    let code = match err.kind() {
        LastRawMessageErrorKind::JetStream(js) => Some(js.error_code().0),
        _ => None,
    };
    other(what, code, err)
}

/// A failed consumer creation.
pub(crate) fn consumer_error(what: impl Into<String>, err: ConsumerError) -> Error {
    match err.kind() {
        ConsumerErrorKind::TimedOut => Error::unavailable_with(what, err),
        ConsumerErrorKind::JetStream(js) => {
            let code = js.error_code().0;
            other(what, Some(code), err)
        }
        _ => other(what, None, err),
    }
}

/// A failed start of a consumer's message stream.
pub(crate) fn stream_error(what: impl Into<String>, err: StreamError) -> Error {
    match err.kind() {
        StreamErrorKind::TimedOut => Error::unavailable_with(what, err),
        StreamErrorKind::Other => other(what, None, err),
    }
}

/// A failure while a pull consumer delivers.
pub(crate) fn messages_error(what: impl Into<String>, err: MessagesError) -> Error {
    use MessagesErrorKind as K;
    match err.kind() {
        K::MissingHeartbeat | K::ConsumerDeleted | K::Pull | K::NoResponders => {
            Error::unavailable_with(what, err)
        }
        K::PushBasedConsumer | K::RequestLimitExceeded => Error::storage_with(what, err),
        _ => other(what, None, err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::jetstream::context::{RequestError, RequestErrorKind};

    fn js_error(code: u64) -> async_nats::jetstream::Error {
        serde_json::from_str(&format!(
            r#"{{"code":400,"err_code":{code},"description":"x"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn conflict_codes() {
        assert!(is_conflict_code(10071) && is_conflict_code(10164));
        assert!(!is_conflict_code(10058));
    }

    #[test]
    fn a_timed_out_request_is_unavailable() {
        let e = LastRawMessageError::with_source(
            LastRawMessageErrorKind::Other,
            RequestError::new(RequestErrorKind::TimedOut),
        );
        assert!(matches!(other("x", None, e), Error::Unavailable { .. }));
        let e = LastRawMessageError::with_source(
            LastRawMessageErrorKind::Other,
            RequestError::new(RequestErrorKind::NoResponders),
        );
        assert!(matches!(other("x", None, e), Error::Unavailable { .. }));
    }

    #[test]
    fn each_operation_kind() {
        let t = |e: &Error| e.is_transient() && matches!(e, Error::Unavailable { .. });
        assert!(t(&consumer_error(
            "x",
            ConsumerError::new(ConsumerErrorKind::TimedOut)
        )));
        assert!(!t(&consumer_error(
            "x",
            ConsumerError::new(ConsumerErrorKind::InvalidName)
        )));
        let gone = ConsumerError::new(ConsumerErrorKind::JetStream(js_error(10059)));
        assert!(matches!(consumer_error("x", gone), Error::Missing { .. }));
        assert!(t(&stream_error(
            "x",
            StreamError::new(StreamErrorKind::TimedOut)
        )));
        assert!(!t(&stream_error(
            "x",
            StreamError::new(StreamErrorKind::Other)
        )));
        for k in [
            MessagesErrorKind::MissingHeartbeat,
            MessagesErrorKind::ConsumerDeleted,
            MessagesErrorKind::Pull,
            MessagesErrorKind::NoResponders,
        ] {
            assert!(t(&messages_error("x", MessagesError::new(k))), "{k:?}");
        }
        for k in [
            MessagesErrorKind::PushBasedConsumer,
            MessagesErrorKind::RequestLimitExceeded,
            MessagesErrorKind::Other,
        ] {
            assert!(!t(&messages_error("x", MessagesError::new(k))), "{k:?}");
        }
        assert!(!t(&get_error(
            "x",
            LastRawMessageError::new(LastRawMessageErrorKind::InvalidSubject)
        )));
    }

    #[test]
    fn api_errors_by_code() {
        let missing = LastRawMessageError::new(LastRawMessageErrorKind::JetStream(js_error(10059)));
        assert!(matches!(
            other("x", Some(STREAM_NOT_FOUND), missing),
            Error::Missing { .. }
        ));
        let refused = LastRawMessageError::new(LastRawMessageErrorKind::JetStream(js_error(10052)));
        assert!(matches!(
            other("x", Some(10052), refused),
            Error::Storage { .. }
        ));
        let electing = js_error(10008);
        assert!(matches!(
            other("x", None, electing),
            Error::Unavailable { .. }
        ));
    }

    #[test]
    fn texts_never_decide() {
        let e = other("x", None, std::fmt::Error);
        assert!(matches!(e, Error::Storage { .. }));
        // An io error is a connection problem whatever it says.
        let e = other("x", None, std::io::Error::other("nope"));
        assert!(matches!(e, Error::Unavailable { .. }));
    }
}

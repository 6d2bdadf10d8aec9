//! Typed classification of async-nats errors: by their kinds and JetStream
//! error codes, never by their texts.

use std::error::Error as StdError;

use async_nats::jetstream;

/// The JetStream API error code somewhere in `err`'s source chain.
pub fn jetstream_code(err: &(dyn StdError + 'static)) -> Option<u64> {
    chain(err).find_map(|e| {
        e.downcast_ref::<jetstream::Error>()
            .map(|js| js.error_code().0)
    })
}

/// Whether `err` (or an error in its source chain) says the JetStream
/// stream does not exist: error code 10059, in the chain or in the kind of
/// a `GetStreamError` (what `get_stream` returns for a missing stream, and
/// `get_key_value` as the source of its `GetBucket` error for a missing
/// bucket).
pub fn is_stream_not_found(err: &(dyn StdError + 'static)) -> bool {
    use jetstream::context::{GetStreamError, GetStreamErrorKind};
    let missing = |js: &jetstream::Error| js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND;
    chain(err).any(|e| {
        if let Some(e) = e.downcast_ref::<GetStreamError>()
            && let GetStreamErrorKind::JetStream(js) = e.kind()
        {
            return missing(&js);
        }
        e.downcast_ref::<jetstream::Error>().is_some_and(missing)
    })
}

/// JetStream error codes meaning "try again soon": the meta leader or a
/// stream leader is being elected, or the cluster is still forming.
const TRANSIENT_CODES: &[jetstream::ErrorCode] = &[
    jetstream::ErrorCode::CLUSTER_NOT_AVAILABLE,
    jetstream::ErrorCode::CLUSTER_NOT_LEADER,
    jetstream::ErrorCode::CLUSTER_NO_PEERS,
];

/// Whether `err` (an async-nats error, or one with such a cause) is one a
/// later retry may get past: a request that timed out or that nothing
/// answered (a leader election), a connection problem, or a JetStream
/// error code saying the cluster is not ready.
///
/// Decided from the typed errors in the chain (async-nats's error kinds,
/// `std::io::Error`, JetStream codes), never from their texts. Anything not
/// recognised is not transient.
pub fn is_transient(err: &(dyn StdError + 'static)) -> bool {
    use async_nats::jetstream::context::RequestErrorKind as JsRequest;
    chain(err).any(|e| {
        if let Some(e) = e.downcast_ref::<jetstream::context::RequestError>() {
            return matches!(e.kind(), JsRequest::TimedOut | JsRequest::NoResponders);
        }
        if let Some(e) = e.downcast_ref::<async_nats::RequestError>() {
            return matches!(
                e.kind(),
                async_nats::RequestErrorKind::TimedOut | async_nats::RequestErrorKind::NoResponders
            );
        }
        if let Some(e) = e.downcast_ref::<async_nats::PublishError>() {
            return e.kind() == async_nats::client::PublishErrorKind::Send;
        }
        if let Some(e) = e.downcast_ref::<async_nats::SubscribeError>() {
            return e.kind() == async_nats::client::SubscribeErrorKind::Other;
        }
        if e.downcast_ref::<async_nats::client::FlushError>().is_some() {
            return true;
        }
        if let Some(js) = e.downcast_ref::<jetstream::Error>() {
            return TRANSIENT_CODES.contains(&js.error_code());
        }
        if e.downcast_ref::<tokio::time::error::Elapsed>().is_some() {
            return true;
        }
        e.downcast_ref::<std::io::Error>().is_some()
    })
}

fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e: &&'a (dyn StdError + 'static)| (*e).source())
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::jetstream::stream::{
        ConsumerError, ConsumerErrorKind, LastRawMessageError, LastRawMessageErrorKind,
    };

    fn js_request(kind: jetstream::context::RequestErrorKind) -> jetstream::context::RequestError {
        jetstream::context::RequestError::new(kind)
    }

    #[test]
    fn request_kinds() {
        use jetstream::context::RequestErrorKind as K;
        assert!(is_transient(&js_request(K::TimedOut)));
        assert!(is_transient(&js_request(K::NoResponders)));
        assert!(!is_transient(&js_request(K::InvalidSubject)));
        assert!(!is_transient(&js_request(K::Other)));
        use async_nats::RequestErrorKind as C;
        assert!(is_transient(&async_nats::RequestError::new(C::TimedOut)));
        assert!(is_transient(&async_nats::RequestError::new(
            C::NoResponders
        )));
        assert!(!is_transient(&async_nats::RequestError::new(
            C::InvalidSubject
        )));
    }

    #[test]
    fn wrapped_in_a_jetstream_operation_error() {
        // What `get_last_raw_message_by_subject` returns when its request timed out.
        let timed_out = LastRawMessageError::with_source(
            LastRawMessageErrorKind::Other,
            js_request(jetstream::context::RequestErrorKind::TimedOut),
        );
        assert!(is_transient(&timed_out));
        let bad = LastRawMessageError::new(LastRawMessageErrorKind::InvalidSubject);
        assert!(!is_transient(&bad));
        let consumer = ConsumerError::new(ConsumerErrorKind::InvalidName);
        assert!(!is_transient(&consumer));
    }

    #[test]
    fn connection_kinds() {
        use async_nats::client::{PublishErrorKind, SubscribeErrorKind};
        assert!(is_transient(&async_nats::PublishError::new(
            PublishErrorKind::Send
        )));
        assert!(!is_transient(&async_nats::PublishError::new(
            PublishErrorKind::MaxPayloadExceeded
        )));
        assert!(is_transient(&async_nats::SubscribeError::new(
            SubscribeErrorKind::Other
        )));
        assert!(!is_transient(&async_nats::SubscribeError::new(
            SubscribeErrorKind::InvalidSubject
        )));
        assert!(is_transient(&std::io::Error::other("reset")));
    }

    #[test]
    fn texts_do_not_decide() {
        #[derive(Debug)]
        struct Liar;
        impl std::fmt::Display for Liar {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("request timed out; no responders; disconnected")
            }
        }
        impl StdError for Liar {}
        assert!(!is_transient(&Liar));
    }

    #[test]
    fn a_missing_stream_or_bucket() {
        use jetstream::context::{
            GetStreamError, GetStreamErrorKind, KeyValueError, KeyValueErrorKind,
        };
        let js = |code: u64| -> jetstream::Error {
            serde_json::from_str(&format!(
                r#"{{"code":404,"err_code":{code},"description":"x"}}"#
            ))
            .unwrap()
        };
        assert!(is_stream_not_found(&js(10059)));
        assert!(!is_stream_not_found(&js(10014)));
        let get = GetStreamError::new(GetStreamErrorKind::JetStream(js(10059)));
        assert!(is_stream_not_found(&get));
        // What `get_key_value` returns for a bucket that does not exist.
        let bucket = KeyValueError::with_source(KeyValueErrorKind::GetBucket, get);
        assert!(is_stream_not_found(&bucket));
        let other = GetStreamError::new(GetStreamErrorKind::JetStream(js(10039)));
        assert!(!is_stream_not_found(&other));
        let timed_out = GetStreamError::with_source(
            GetStreamErrorKind::Request,
            js_request(jetstream::context::RequestErrorKind::TimedOut),
        );
        assert!(!is_stream_not_found(&timed_out));
        // Through an Aether error, which keeps its source as given.
        let kept = aether_core::Error::missing_with("opening the bucket", bucket);
        assert!(is_stream_not_found(&kept));
    }

    #[test]
    fn codes_in_the_chain() {
        let js: jetstream::Error = serde_json::from_str(
            r#"{"code":503,"err_code":10008,"description":"JetStream cluster not available"}"#,
        )
        .unwrap();
        assert_eq!(jetstream_code(&js), Some(10008));
        assert!(is_transient(&js));
        let not_found: jetstream::Error = serde_json::from_str(
            r#"{"code":404,"err_code":10059,"description":"stream not found"}"#,
        )
        .unwrap();
        assert_eq!(jetstream_code(&not_found), Some(10059));
        assert!(!is_transient(&not_found));
        let wrapped = LastRawMessageError::new(LastRawMessageErrorKind::JetStream(not_found));
        // The kind holds the code; the chain does not (no source).
        assert_eq!(jetstream_code(&wrapped), None);
    }
}

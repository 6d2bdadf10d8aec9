//! Publish acknowledgements: one wildcard subscription per store, not a
//! request inbox per append.
//!
//! async-nats's `send_publish` builds a fresh inbox name, takes a permit,
//! arms a timer for the send and another for the ack, and decodes the ack
//! through an untagged enum, for every publish. An append needs less: it
//! publishes with the reply subject `<prefix><n>` (`n` from a counter) and
//! waits for the one message the server sends there. One task reads the
//! store's `<prefix>*` subscription and hands each ack to its waiter.
//!
//! Nothing here decides whether an append landed: an ack that never arrives
//! (lost connection, slow consumer, timeout) is reported as ambiguous, and
//! the append logic asks the stream what it holds, as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aether_core::{Error, Result};
use async_nats::{Client, HeaderMap, Message, StatusCode, Subject};
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{PublishFailure, STREAM_NOT_FOUND, STREAM_SEALED, is_conflict_code};

type Waiters = HashMap<u64, oneshot::Sender<Message>, foldhash::fast::RandomState>;

/// State shared by the publishers and the routing task.
#[derive(Debug, Default)]
struct Shared {
    waiters: Mutex<Waiters>,
    /// Set when the subscription has ended (the client was closed): no ack
    /// can arrive any more.
    closed: AtomicBool,
}

impl Shared {
    fn waiters(&self) -> std::sync::MutexGuard<'_, Waiters> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Routes the server's publish acknowledgements to the appends waiting for
/// them.
#[derive(Debug)]
pub(crate) struct Acks {
    client: Client,
    /// `<inbox>.`; reply subjects are this plus a decimal counter.
    prefix: String,
    next: AtomicU64,
    shared: Arc<Shared>,
    router: JoinHandle<()>,
}

impl Drop for Acks {
    fn drop(&mut self) {
        // Ends the subscription too.
        self.router.abort();
    }
}

/// Removes a waiter whose append ended (dropped, failed, timed out) before
/// its ack arrived; the router has already removed those it answered.
struct Waiting<'a> {
    shared: &'a Shared,
    id: u64,
    answered: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.shared.waiters().remove(&self.id);
        }
    }
}

impl Acks {
    /// Subscribes to a fresh inbox of `client` (under its inbox prefix, so
    /// permissions set for inboxes apply) and starts routing.
    pub(crate) async fn new(client: Client) -> Result<Self> {
        let prefix = format!("{}.", client.new_inbox());
        let subscriber = client
            .subscribe(format!("{prefix}*"))
            .await
            .map_err(|e| crate::error::other("subscribing to publish acknowledgements", None, e))?;
        let shared = Arc::new(Shared::default());
        let router = tokio::spawn(route(subscriber, prefix.len(), Arc::clone(&shared)));
        Ok(Self {
            client,
            prefix,
            next: AtomicU64::new(1),
            shared,
            router,
        })
    }

    /// Publishes `payload` on `subject` with `headers` and returns the
    /// server's answer: the stream sequence it was stored at (or already
    /// held, for a duplicate), or why not. `what` names the operation in
    /// errors.
    pub(crate) async fn publish(
        &self,
        subject: Subject,
        headers: HeaderMap,
        payload: Bytes,
        timeout: Duration,
        what: &str,
    ) -> std::result::Result<u64, PublishFailure> {
        self.send(subject, headers, payload, what)
            .await?
            .answer(timeout, what)
            .await
    }

    /// Whether the client was closed (no acknowledgement, nor anything
    /// else, can arrive any more).
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Hands the message to the connection now (messages sent one after
    /// another reach the server in that order) and returns the wait for
    /// its acknowledgement.
    pub(crate) async fn send(
        &self,
        subject: Subject,
        headers: HeaderMap,
        payload: Bytes,
        what: &str,
    ) -> std::result::Result<Pending<'_>, PublishFailure> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut reply = String::with_capacity(self.prefix.len() + 20);
        reply.push_str(&self.prefix);
        crate::headers::push_decimal(&mut reply, id);
        let (tx, rx) = oneshot::channel();
        self.shared.waiters().insert(id, tx);
        let waiting = Waiting {
            shared: &self.shared,
            id,
            answered: false,
        };
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(PublishFailure::Failed(Error::unavailable(format!(
                "{what}: the connection is closed"
            ))));
        }
        // Boxed: async-nats's publish future is 700 bytes, and every
        // append's future, which would hold it, is boxed (a box under
        // 1 KiB stays on the allocator's fast path: glibc's thread cache
        // and small bins end at 1,024 bytes).
        let publish = self.client.publish_with_reply_and_headers(
            subject,
            Subject::from(reply),
            headers,
            payload,
        );
        Box::pin(publish).await.map_err(|e| {
            // Not handed to the connection: nothing was sent.
            PublishFailure::Failed(Error::unavailable_with(
                format!("{what}: the message could not be sent"),
                e,
            ))
        })?;
        Ok(Pending { rx, waiting })
    }
}

/// A sent message's acknowledgement to come (see [`Acks::send`]).
pub(crate) struct Pending<'a> {
    rx: oneshot::Receiver<Message>,
    waiting: Waiting<'a>,
}

impl Pending<'_> {
    /// The server's answer, within `timeout`.
    pub(crate) async fn answer(
        mut self,
        timeout: Duration,
        what: &str,
    ) -> std::result::Result<u64, PublishFailure> {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(message)) => {
                self.waiting.answered = true;
                read_ack(&message, what)
            }
            // Either way the message may have been stored.
            Ok(Err(_)) => Err(PublishFailure::Ambiguous(Error::unavailable(format!(
                "{what}: the connection closed before an acknowledgement arrived"
            )))),
            Err(_) => Err(PublishFailure::Ambiguous(Error::unavailable(format!(
                "{what}: no acknowledgement from the server in time"
            )))),
        }
    }
}

/// Hands every message of the subscription to the waiter its subject names.
async fn route(mut subscriber: async_nats::Subscriber, prefix: usize, shared: Arc<Shared>) {
    while let Some(message) = subscriber.next().await {
        let id = message
            .subject
            .get(prefix..)
            .and_then(|token| token.parse::<u64>().ok());
        // Late acks (their append timed out or was dropped) find no waiter.
        if let Some(tx) = id.and_then(|id| shared.waiters().remove(&id)) {
            let _ = tx.send(message);
        }
    }
    // The client is closed: fail the waiting appends now, not at their timeout.
    shared.closed.store(true, Ordering::Release);
    shared.waiters().clear();
}

/// The JSON body of a publish acknowledgement.
#[derive(Debug, Deserialize)]
struct AckBody {
    seq: Option<u64>,
    #[serde(default)]
    duplicate: bool,
    error: Option<ApiError>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

/// Reads the server's answer to a publish.
pub(crate) fn read_ack(message: &Message, what: &str) -> std::result::Result<u64, PublishFailure> {
    if message.status == Some(StatusCode::NO_RESPONDERS) {
        return Err(PublishFailure::NoStream(Error::unavailable(format!(
            "{what}: no stream answered (it may be electing a leader)"
        ))));
    }
    if let Some(status) = message.status.filter(|s| *s != StatusCode::OK) {
        return Err(PublishFailure::Ambiguous(Error::unavailable(format!(
            "{what}: the server answered with status {status}"
        ))));
    }
    let body: AckBody = serde_json::from_slice(&message.payload).map_err(|e| {
        PublishFailure::Ambiguous(Error::serialization_with(
            format!("{what}: unreadable acknowledgement"),
            e,
        ))
    })?;
    match (body.seq, body.error) {
        (_, Some(e)) if is_conflict_code(e.err_code) => Err(PublishFailure::Conflict),
        (_, Some(e)) if e.err_code == STREAM_SEALED => Err(PublishFailure::Sealed),
        (_, Some(e)) if e.err_code == STREAM_NOT_FOUND => Err(PublishFailure::NoStream(
            Error::unavailable(format!("{what}: {}", e.description)),
        )),
        (_, Some(e)) => Err(PublishFailure::Failed(Error::storage(format!(
            "{what} refused by the server: {} (status {}, error code {})",
            e.description, e.code, e.err_code
        )))),
        (Some(seq), None) => {
            if body.duplicate {
                tracing::debug!(seq, "server reported a duplicate: already stored");
            }
            Ok(seq)
        }
        (None, None) => Err(PublishFailure::Ambiguous(Error::storage(format!(
            "{what}: acknowledgement without a sequence"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &str, status: Option<StatusCode>) -> Message {
        Message {
            subject: "_INBOX.x.1".into(),
            reply: None,
            payload: Bytes::from(payload.to_string()),
            headers: None,
            status,
            description: None,
            length: payload.len(),
        }
    }

    #[test]
    fn acks_are_read() {
        let ok = message(r#"{"stream":"S","seq":42}"#, None);
        assert!(matches!(read_ack(&ok, "append"), Ok(42)));
        let dup = message(r#"{"stream":"S","seq":7,"duplicate":true}"#, None);
        assert!(matches!(read_ack(&dup, "append"), Ok(7)));
        for code in [10071, 10164] {
            let conflict = message(
                &format!(
                    r#"{{"error":{{"code":400,"err_code":{code},"description":"wrong last sequence: 3"}}}}"#
                ),
                None,
            );
            assert!(matches!(
                read_ack(&conflict, "append"),
                Err(PublishFailure::Conflict)
            ));
        }
        let other = message(
            r#"{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}"#,
            None,
        );
        match read_ack(&other, "append") {
            Err(PublishFailure::Failed(e)) => {
                assert!(e.to_string().contains("message size exceeds"), "{e}")
            }
            r => panic!("{r:?}"),
        }
        let sealed = message(
            r#"{"error":{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"},"stream":"S","seq":0}"#,
            None,
        );
        assert!(matches!(
            read_ack(&sealed, "append"),
            Err(PublishFailure::Sealed)
        ));
        let missing = message(
            r#"{"error":{"code":404,"err_code":10059,"description":"stream not found"}}"#,
            None,
        );
        assert!(matches!(
            read_ack(&missing, "append"),
            Err(PublishFailure::NoStream(_))
        ));
    }

    #[test]
    fn bad_answers_are_ambiguous_or_missing_never_a_panic() {
        let none = message("", Some(StatusCode::NO_RESPONDERS));
        assert!(matches!(
            read_ack(&none, "append"),
            Err(PublishFailure::NoStream(_))
        ));
        let timeout = message("", Some(StatusCode::TIMEOUT));
        assert!(matches!(
            read_ack(&timeout, "append"),
            Err(PublishFailure::Ambiguous(_))
        ));
        for garbage in [
            "",
            "{",
            "[]",
            r#"{"seq":"x"}"#,
            r#"{"stream":"S"}"#,
            "\u{0}\u{ff}",
        ] {
            assert!(
                matches!(
                    read_ack(&message(garbage, None), "append"),
                    Err(PublishFailure::Ambiguous(_))
                ),
                "{garbage:?}"
            );
        }
    }

    /// A stream on `acks.>` and a router on a real server.
    async fn setup() -> (aether_testkit::NatsServer, Client, Acks) {
        let server = aether_testkit::NatsServer::start().await;
        let client = server.connect().await;
        async_nats::jetstream::new(client.clone())
            .create_stream(async_nats::jetstream::stream::Config {
                name: "ACKS".into(),
                subjects: vec!["acks.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let acks = Acks::new(client.clone()).await.unwrap();
        (server, client, acks)
    }

    const WAIT: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn acks_reach_their_publishers_and_dropped_publishes_leave_no_waiter() {
        let (_server, _client, acks) = setup().await;
        let publish = |n: u64| {
            acks.publish(
                Subject::from(format!("acks.{n}")),
                HeaderMap::new(),
                Bytes::from_static(b"x"),
                WAIT,
                "test",
            )
        };
        // Abandoned right after sending, before any ack can arrive.
        for n in 0..50 {
            let mut fut = std::pin::pin!(publish(n));
            let _ = futures::poll!(fut.as_mut());
        }
        assert!(acks.shared.waiters().is_empty());
        let sequences = futures::future::join_all((0..100).map(publish)).await;
        let mut sequences: Vec<u64> = sequences.into_iter().map(|r| r.unwrap()).collect();
        sequences.sort_unstable();
        sequences.dedup();
        assert_eq!(sequences.len(), 100, "every publisher got its own ack");
        assert!(acks.shared.waiters().is_empty());
    }

    #[tokio::test]
    async fn no_stream_and_closed_connections_are_reported() {
        let (_server, client, acks) = setup().await;
        let r = acks
            .publish(
                "elsewhere.1".into(),
                HeaderMap::new(),
                Bytes::new(),
                WAIT,
                "test",
            )
            .await;
        assert!(matches!(r, Err(PublishFailure::NoStream(_))), "{r:?}");
        client.drain().await.unwrap();
        let r = acks
            .publish(
                "acks.1".into(),
                HeaderMap::new(),
                Bytes::new(),
                WAIT,
                "test",
            )
            .await;
        // Refused outright, or (if it was handed to the connection before
        // the close was noticed) ambiguous at once: never a wait for the
        // timeout.
        match r {
            Err(PublishFailure::Failed(e) | PublishFailure::Ambiguous(e)) => {
                assert!(e.to_string().contains("closed"), "{e}")
            }
            r => panic!("{r:?}"),
        }
    }
}

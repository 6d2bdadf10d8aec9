//! [`JetStreamSnapshotStore`]: the latest snapshot per actor, on its own
//! stream with `max_msgs_per_subject = 1`.

use std::fmt;

use aether_core::{ActorId, Error, Result, Snapshot, SnapshotStore};
use aether_nats::{Refusable, Refusals};
use async_nats::Client;
use async_nats::jetstream::Context;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use bytes::Bytes;
use tracing::Instrument;

use crate::config::JetStreamConfig;
use crate::error::{PublishFailure, classify_publish, get_error};
use crate::store::{connect_client, ensure_stream};
use crate::subject::Subjects;

/// Header carrying the snapshot's version.
const SNAPSHOT_VERSION: &str = "Aether-Snapshot-Version";
/// Header carrying the event stream sequence of the message holding the
/// snapshot's last version, when known.
const EVENT_SEQUENCE: &str = "Aether-Event-Sequence";
/// Retries of a save that lost a race with another save.
const MAX_ATTEMPTS: u32 = 8;

/// A [`SnapshotStore`] on NATS JetStream. Subjects are
/// `<stream>.snapshots.<type>.<id>` on the stream `<stream>_SNAP`, which keeps
/// one message per subject. A save never replaces a snapshot of a higher
/// version (checked with the expected-last-subject-sequence header, so
/// concurrent saves from many processes are safe).
#[derive(Clone)]
pub struct JetStreamSnapshotStore {
    js: Context,
    stream: Stream,
    subjects: Subjects,
    stream_name: String,
    /// What a refusal must concern to end an operation: the snapshot
    /// stream (its API) and the event stream's name (its subjects).
    parts: [String; 2],
    /// The connection's refusal record, if it has one.
    refusals: Option<Refusals>,
    config: JetStreamConfig,
    limit: usize,
    /// The event store this one was opened from (see
    /// `JetStreamEventStore::open_snapshot_store`).
    pub(crate) events: Option<std::sync::Arc<crate::store::Inner>>,
}

impl fmt::Debug for JetStreamSnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamSnapshotStore")
            .field("stream", &self.stream_name)
            .finish()
    }
}

impl crate::JetStreamEventStore {
    /// Opens the snapshot store that goes with this store, on the same
    /// connection and configuration.
    ///
    /// Opened this way, the two cooperate: a snapshot records the stream
    /// sequence of its last event (when this store appended it), and reading
    /// the snapshot tells this store where the events after it start, so the
    /// replay that follows skips the search for its start.
    ///
    /// # Errors
    ///
    /// As [`JetStreamSnapshotStore::open`](crate::JetStreamSnapshotStore::open).
    pub async fn open_snapshot_store(&self) -> Result<JetStreamSnapshotStore> {
        let mut snapshots =
            JetStreamSnapshotStore::open(self.inner.client.clone(), self.inner.config.clone())
                .await?;
        snapshots.events = Some(self.inner.clone());
        Ok(snapshots)
    }
}

impl JetStreamSnapshotStore {
    /// Dials `addrs` (see [`aether_nats::ToServerAddrs`]) with
    /// `config.connect` and opens the snapshot store
    /// ([`JetStreamSnapshotStore::open`]). A store that runs beside a
    /// [`JetStreamEventStore`](crate::JetStreamEventStore) is better opened
    /// from it ([`open_snapshot_store`](crate::JetStreamEventStore::open_snapshot_store)):
    /// the two then share a connection and the replay after a snapshot skips
    /// the search for its start.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidInput`]: an invalid `config`, bad addresses, or TLS
    ///   settings the server does not accept.
    /// - [`Error::Unavailable`]: no server answered within
    ///   `config.connect.timeout`, or JetStream did not answer in time.
    /// - [`Error::PermissionDenied`]: the server refused the credentials, or
    ///   the permission to create or update the snapshot stream
    ///   (`docs/security.md`).
    /// - [`Error::Storage`]: the snapshot stream exists with a configuration
    ///   that cannot be updated to `config`'s, or the server refused to create
    ///   it for another reason.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_core::{ActorId, Snapshot, SnapshotStore, json};
    /// use aether_store_jetstream::{JetStreamConfig, JetStreamSnapshotStore};
    ///
    /// # async fn demo() -> aether_core::Result<()> {
    /// let snapshots =
    ///     JetStreamSnapshotStore::connect("nats://127.0.0.1:4222", JetStreamConfig::default()).await?;
    /// let actor = ActorId::new("account-1")?;
    /// snapshots.save_snapshot(Snapshot::new(actor.clone(), 10, json!({"balance": 7}))).await?;
    /// assert_eq!(snapshots.latest_snapshot(&actor).await?.map(|s| s.version), Some(10));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(
        addrs: impl aether_nats::ToServerAddrs,
        config: JetStreamConfig,
    ) -> Result<Self> {
        config.validate()?;
        let client = connect_client(addrs, &config).await?;
        Self::open(client, config).await
    }

    /// Opens the snapshot store on an existing connection, creating or
    /// updating its stream. A refused operation ends at once when `client`
    /// has a refusal record, as for
    /// [`JetStreamEventStore::open`](crate::JetStreamEventStore::open).
    ///
    /// # Errors
    ///
    /// As [`JetStreamSnapshotStore::connect`], but for the dial: an invalid
    /// `config` ([`Error::InvalidInput`]), JetStream not answering in time
    /// ([`Error::Unavailable`]), no permission to create or update the stream
    /// ([`Error::PermissionDenied`]), a stream whose configuration cannot be
    /// updated to `config`'s ([`Error::Storage`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_store_jetstream::{JetStreamConfig, JetStreamSnapshotStore};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// // Dialed by aether_nats::connect: a refused operation ends at once.
    /// let client = aether_nats::connect("nats://127.0.0.1:4222", &Default::default(), "shop").await?;
    /// let config = JetStreamConfig { namespace: "shop".into(), ..JetStreamConfig::default() };
    /// let snapshots = JetStreamSnapshotStore::open(client, config).await?;
    /// println!("snapshots on stream {}", snapshots.stream_name());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open(client: Client, config: JetStreamConfig) -> Result<Self> {
        config.validate()?;
        let max_payload = match client.server_info().max_payload {
            0 => 1024 * 1024,
            n => n,
        };
        let refusals = Refusals::of(&client);
        let js = async_nats::jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .ack_timeout(config.request_timeout)
            .build(client);
        let stream_config = config.snapshot_stream_config()?;
        let stream_name = stream_config.name.clone();
        let events_name = config.effective_stream_name()?;
        let parts = [stream_name.clone(), events_name.clone()];
        let ensure = ensure_stream(&js, stream_config, config.request_timeout);
        let stream = Refusable::new(refusals.as_ref(), &parts, ensure).await??;
        Ok(Self {
            js,
            stream,
            subjects: Subjects::new(events_name),
            stream_name,
            parts,
            refusals,
            limit: max_payload.saturating_sub(1024),
            config,
            events: None,
        })
    }

    /// The snapshot stream's name.
    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }

    /// The latest stored snapshot and its stream sequence.
    async fn latest_with_sequence(&self, actor: &ActorId) -> Result<Option<(Snapshot, u64)>> {
        let subject = self.subjects.snapshots(actor);
        let get = self.stream.get_last_raw_message_by_subject(&subject);
        let msg = match tokio::time::timeout(self.config.request_timeout, get).await {
            Err(_) => {
                return Err(Error::unavailable("reading a snapshot: no answer in time"));
            }
            Ok(Err(e)) if e.kind() == LastRawMessageErrorKind::NoMessageFound => return Ok(None),
            Ok(Err(e)) => return Err(get_error("reading a snapshot", e)),
            Ok(Ok(msg)) => msg,
        };
        let snapshot: Snapshot = serde_json::from_slice(&msg.payload).map_err(|e| {
            Error::serialization_with(
                format!("snapshot at stream sequence {} is malformed", msg.sequence),
                e,
            )
        })?;
        if let Some(events) = &self.events
            && let Some(seq) = msg
                .headers
                .get(EVENT_SEQUENCE)
                .and_then(|v| v.as_str().parse::<u64>().ok())
        {
            events.positions.record(actor, snapshot.version, seq);
        }
        Ok(Some((snapshot, msg.sequence)))
    }

    /// The event stream sequence of `version`'s message, if the event store
    /// this one was opened from knows it (it appended it last).
    fn event_sequence(&self, actor: &ActorId, version: u64) -> Option<u64> {
        let tip = self.events.as_ref()?.cache.get(actor)?;
        (tip.version == version).then_some(tip.sequence).flatten()
    }
}

impl SnapshotStore for JetStreamSnapshotStore {
    async fn latest_snapshot(&self, actor_id: &ActorId) -> Result<Option<Snapshot>> {
        let span = tracing::debug_span!("aether.jetstream.latest_snapshot", actor = %actor_id);
        let read = self.latest_with_sequence(actor_id).instrument(span);
        Ok(self.refusable(read).await??.map(|(s, _)| s))
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.refusable(self.save(snapshot)).await?
    }
}

impl JetStreamSnapshotStore {
    /// Runs `operation`, ending it at once on a permissions violation for
    /// the snapshot stream (its API) or its subjects (under the event
    /// stream's name); `?` on the output turns the refusal into
    /// [`Error::PermissionDenied`].
    fn refusable<F: std::future::Future>(&self, operation: F) -> Refusable<'_, String, F> {
        Refusable::new(self.refusals.as_ref(), &self.parts, operation)
    }

    async fn save(&self, snapshot: Snapshot) -> Result<()> {
        let span = tracing::debug_span!(
            "aether.jetstream.save_snapshot",
            actor = %snapshot.actor_id,
            version = snapshot.version
        );
        async move {
            let payload = Bytes::from(serde_json::to_vec(&snapshot)?);
            if payload.len() > self.limit {
                return Err(Error::too_large("snapshot", payload.len(), self.limit));
            }
            let subject = self.subjects.snapshots(&snapshot.actor_id);
            for _ in 0..MAX_ATTEMPTS {
                let sequence = match self.latest_with_sequence(&snapshot.actor_id).await {
                    Ok(Some((stored, _))) if stored.version > snapshot.version => return Ok(()),
                    Ok(Some((_, seq))) => seq,
                    Ok(None) => 0,
                    // A malformed stored snapshot is simply replaced.
                    Err(Error::Serialization { .. }) => self.last_sequence(&subject).await?,
                    Err(e) => return Err(e),
                };
                let mut message = PublishMessage::build()
                    .payload(payload.clone())
                    .header(SNAPSHOT_VERSION, snapshot.version.to_string().as_str())
                    .expected_last_subject_sequence(sequence);
                if let Some(seq) = self.event_sequence(&snapshot.actor_id, snapshot.version) {
                    message = message.header(EVENT_SEQUENCE, seq.to_string().as_str());
                }
                let sent = match self.js.send_publish(subject.clone(), message).await {
                    Ok(ack) => ack.await,
                    Err(e) => Err(e),
                };
                match sent.map_err(|e| classify_publish(e, "saving a snapshot")) {
                    Ok(_) => return Ok(()),
                    Err(PublishFailure::Conflict) => continue,
                    Err(PublishFailure::Sealed) => {
                        return Err(Error::storage(
                            "saving a snapshot: the snapshot stream is sealed",
                        ));
                    }
                    Err(
                        PublishFailure::Ambiguous(e)
                        | PublishFailure::Failed(e)
                        | PublishFailure::NoStream(e),
                    ) => return Err(e),
                }
            }
            Err(Error::storage(
                "saving a snapshot: too many concurrent saves for this actor",
            ))
        }
        .instrument(span)
        .await
    }
}

impl JetStreamSnapshotStore {
    async fn last_sequence(&self, subject: &str) -> Result<u64> {
        match self.stream.get_last_raw_message_by_subject(subject).await {
            Ok(m) => Ok(m.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(e) => Err(get_error("reading a snapshot", e)),
        }
    }
}

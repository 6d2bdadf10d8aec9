//! [`JetStreamEventStore`]: construction, accessors and the [`EventStore`] impl.

mod acks;
mod append;
mod batch;
mod decode;
mod delivery;
mod direct;
mod log;
mod read;
mod reading;
mod setup;

pub use reading::PULL_BATCH;

use std::fmt;
use std::sync::Arc;

use aether_core::{
    ActorId, Event, EventStore, EventStoredHook, ExpectedVersion, HookSlot, Replay, Result,
};
use aether_nats::{Refusable, Refusals, ToServerAddrs};
use async_nats::Client;
use async_nats::jetstream::Context;
use async_nats::jetstream::stream::Stream;

use crate::cache::VersionCache;
use crate::config::JetStreamConfig;
use crate::subject::Subjects;

pub(crate) use setup::{connect_client, ensure_stream};

/// The most events one atomic batch may hold (the server's limit).
pub const MAX_BATCH_EVENTS: usize = 1000;

/// An [`EventStore`] on NATS JetStream: one subject per actor, per-actor
/// optimistic concurrency enforced by the server, atomic batches,
/// deduplication by event id and replay through pull consumers.
///
/// Cheap to clone; clones share the connection, the version cache and the
/// hook.
#[derive(Clone)]
pub struct JetStreamEventStore {
    pub(crate) inner: Arc<Inner>,
}

/// Shared state of a store.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) client: Client,
    pub(crate) js: Context,
    pub(crate) stream: Stream,
    pub(crate) config: JetStreamConfig,
    pub(crate) stream_name: String,
    pub(crate) subjects: Subjects,
    pub(crate) cache: VersionCache,
    /// Where the events after a snapshot start: the stream sequence of the
    /// message holding a snapshot's last version, learned from snapshots
    /// read through this store's snapshot store (a replay from there skips
    /// the start search).
    pub(crate) positions: VersionCache,
    /// The largest payload accepted: the config's and the server's limit.
    pub(crate) event_limit: usize,
    /// Whether the server supports atomic batch publish (≥ 2.12).
    pub(crate) atomic_batches: bool,
    /// Whether an actor's last message is read by direct get (any server
    /// holding the stream may answer): only on a single-replica stream,
    /// where the one holder is the leader, so reads still see every
    /// acknowledged write. Replicated streams ask the leader.
    pub(crate) direct_tip: bool,
    pub(crate) server_version: String,
    /// Routes publish acknowledgements to the appends awaiting them.
    pub(crate) acks: acks::Acks,
    /// Told of every stored event.
    pub(crate) hook: HookSlot,
    /// The connection's refusal record, if it has one (see
    /// [`JetStreamEventStore::open`]).
    pub(crate) refusals: Option<Refusals>,
}

impl fmt::Debug for JetStreamEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamEventStore")
            .field("stream", &self.inner.stream_name)
            .field("namespace", &self.inner.config.namespace)
            .field("server_version", &self.inner.server_version)
            .field("atomic_batches", &self.inner.atomic_batches)
            .field("direct_tip", &self.inner.direct_tip)
            .field("hook", &self.inner.hook.is_set())
            .finish()
    }
}

/// Bytes kept free below the server's `max_payload` for the headers.
const HEADER_RESERVE: usize = 1024 + aether_core::Event::MAX_EVENT_TYPE_LEN;

impl JetStreamEventStore {
    /// Dials `addrs` (a URL, several separated by commas, or a list; see
    /// [`aether_nats::ToServerAddrs`]) with `config.connect` and opens the
    /// store ([`JetStreamEventStore::open`]).
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidInput`](aether_core::Error::InvalidInput): an
    ///   invalid `config`, bad addresses, or TLS settings the server does not
    ///   accept.
    /// - [`Error::Unavailable`](aether_core::Error::Unavailable): no server
    ///   answered within `config.connect.timeout`, or JetStream did not answer
    ///   in time (for example while a cluster elects its leaders).
    /// - [`Error::PermissionDenied`](aether_core::Error::PermissionDenied):
    ///   the server refused the credentials, or the permission to create or
    ///   update the event stream (`docs/security.md`).
    /// - [`Error::Storage`](aether_core::Error::Storage): the stream exists
    ///   with a configuration that cannot be updated to `config`'s, or the
    ///   server refused to create it for another reason.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_core::{ActorId, Event, EventStore, json};
    /// use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
    ///
    /// # async fn demo() -> aether_core::Result<()> {
    /// let config = JetStreamConfig { namespace: "shop".into(), ..JetStreamConfig::default() };
    /// let store = JetStreamEventStore::connect("nats://127.0.0.1:4222", config).await?;
    /// let cart = ActorId::new("cart-42")?;
    /// store.append(Event::new(cart.clone(), 1, "ItemAdded", json!({"sku": "tea"}))).await?;
    /// assert_eq!(store.latest_version(&cart).await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(addrs: impl ToServerAddrs, config: JetStreamConfig) -> Result<Self> {
        config.validate()?;
        let client = connect_client(addrs, &config).await?;
        Self::open(client, config).await
    }

    /// Opens the store on an existing connection: creates the event stream,
    /// or updates it to `config` (idempotent; concurrent opens all succeed).
    ///
    /// The store subscribes once to an inbox of `client` for the
    /// acknowledgements of its appends. Keep the client's subscription
    /// capacity (async-nats default: 65,536) above the number of appends in
    /// flight at once: acks beyond it are dropped by the client (slow
    /// consumer), and those appends then wait for `request_timeout` before
    /// the store checks whether they landed (correct, but slow).
    ///
    /// An operation the server refuses (a permissions violation on the
    /// store's stream or subjects) ends at once with
    /// [`aether_core::Error::PermissionDenied`] when `client` has a refusal
    /// record: clients from [`aether_nats::connect`] do, a client of your own
    /// once you attach one ([`aether_nats::Refusals`]). Without one it ends
    /// by `request_timeout`, as unavailable.
    ///
    /// # Errors
    ///
    /// As [`JetStreamEventStore::connect`], but for the dial: an invalid
    /// `config` ([`Error::InvalidInput`](aether_core::Error::InvalidInput)),
    /// JetStream not answering in time
    /// ([`Error::Unavailable`](aether_core::Error::Unavailable)), no permission
    /// to create or update the stream
    /// ([`Error::PermissionDenied`](aether_core::Error::PermissionDenied)), a
    /// stream whose configuration cannot be updated to `config`'s
    /// ([`Error::Storage`](aether_core::Error::Storage)).
    ///
    /// # Examples
    ///
    /// Sharing one connection between the store and other components:
    ///
    /// ```no_run
    /// use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// // Dialed by aether_nats::connect: a refused operation ends at once.
    /// let client = aether_nats::connect("nats://127.0.0.1:4222", &Default::default(), "shop").await?;
    /// let store = JetStreamEventStore::open(client.clone(), JetStreamConfig::default()).await?;
    /// let snapshots = store.open_snapshot_store().await?; // the same connection
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open(client: Client, config: JetStreamConfig) -> Result<Self> {
        Self::open_with(client, config, true).await
    }

    /// Attaches to the event stream of `config` as it exists, without
    /// creating or changing it (for tools that must not alter a deployment,
    /// such as the `aether` CLI).
    ///
    /// # Errors
    ///
    /// [`Error::Missing`](aether_core::Error::Missing) when the stream does
    /// not exist; otherwise as [`JetStreamEventStore::open`].
    pub async fn open_existing(client: Client, config: JetStreamConfig) -> Result<Self> {
        Self::open_with(client, config, false).await
    }

    async fn open_with(client: Client, config: JetStreamConfig, create: bool) -> Result<Self> {
        config.validate()?;
        let info = client.server_info();
        let atomic_batches = config.atomic_batches && setup::supports_atomic_batches(&info.version);
        let js = async_nats::jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .ack_timeout(config.request_timeout)
            .build(client.clone());
        let stream_config = config.event_stream_config(atomic_batches)?;
        let stream_name = stream_config.name.clone();
        let refusals = Refusals::of(&client);
        let parts = std::slice::from_ref(&stream_name);
        let stream = if create {
            let ensure = ensure_stream(&js, stream_config, config.request_timeout);
            Refusable::new(refusals.as_ref(), parts, ensure).await??
        } else {
            let existing = setup::existing_stream(&js, &stream_name);
            Refusable::new(refusals.as_ref(), parts, existing).await??
        };
        let max_payload = if info.max_payload == 0 {
            1024 * 1024
        } else {
            info.max_payload
        };
        let event_limit = config
            .max_event_size
            .min(max_payload.saturating_sub(HEADER_RESERVE));
        let acks = acks::Acks::new(client.clone()).await?;
        let direct_tip = {
            let stream_config = &stream.cached_info().config;
            stream_config.num_replicas <= 1 && stream_config.allow_direct
        };
        tracing::debug!(stream = %stream_name, server = %info.version, atomic_batches, direct_tip, "opened JetStream event store");
        Ok(Self {
            inner: Arc::new(Inner {
                subjects: Subjects::new(stream_name.clone()),
                cache: VersionCache::new(config.version_cache_capacity),
                positions: VersionCache::new(config.version_cache_capacity),
                client,
                js,
                stream,
                stream_name,
                event_limit,
                atomic_batches,
                direct_tip,
                server_version: info.version,
                acks,
                config,
                hook: HookSlot::new(),
                refusals,
            }),
        })
    }

    /// Returns the store calling `hook` once per stored event after every
    /// successful append, in version order per actor.
    ///
    /// The hook belongs to the store, not to this handle: every clone, made
    /// before or after, notifies it, and a later `with_hook` replaces it (the
    /// same on every Aether store; see [`aether_core::HookSlot`]).
    pub fn with_hook(self, hook: impl EventStoredHook) -> Self {
        self.inner.hook.set(Arc::new(hook));
        self
    }

    /// The namespace (empty when none).
    pub fn namespace(&self) -> &str {
        &self.inner.config.namespace
    }

    /// The effective event stream name (`<stream_name>_<namespace>`).
    pub fn stream_name(&self) -> &str {
        &self.inner.stream_name
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &JetStreamConfig {
        &self.inner.config
    }

    /// The NATS connection.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The largest encoded event accepted, in bytes: the smaller of
    /// `max_event_size` and the server's `max_payload` minus room for headers.
    pub fn max_event_size(&self) -> usize {
        self.inner.event_limit
    }

    /// Whether the server supports atomic batches (nats-server ≥ 2.12).
    pub fn supports_atomic_batches(&self) -> bool {
        self.inner.atomic_batches
    }

    /// The event subject of `actor` (`<stream>.events.<type>.<id>`, encoded
    /// injectively).
    pub fn subject_for(&self, actor: &ActorId) -> String {
        self.inner.subjects.events(actor)
    }

    /// The latest version this store has cached for `actor` (a hint, possibly
    /// stale; `None` when not cached).
    pub fn cached_version(&self, actor: &ActorId) -> Option<u64> {
        self.inner.cache.get(actor).map(|t| t.version)
    }

    /// Tells the cache that `actor` has reached `version` (for example from a
    /// bus notification). Only ever raises the cached version; the next
    /// append then looks the stream sequence up on the server.
    pub fn update_version_cache(&self, actor: &ActorId, version: u64) {
        self.inner.cache.raise(actor, version);
    }

    /// Forgets the cached version of `actor`.
    pub fn invalidate_version_cache(&self, actor: &ActorId) {
        self.inner.cache.remove(actor);
    }

    fn notify(&self, events: &[Event]) {
        self.inner.hook.notify(events);
    }

    /// Runs a store operation; a permissions violation the server reports
    /// to this store's connection for the stream meanwhile ends it at once
    /// (the refused request took no effect) instead of the request's
    /// timeout. `?` on the output turns the refusal into
    /// [`aether_core::Error::PermissionDenied`].
    pub(crate) fn refusable<F: std::future::Future>(
        &self,
        operation: F,
    ) -> Refusable<'_, String, F> {
        let parts = std::slice::from_ref(&self.inner.stream_name);
        Refusable::new(self.inner.refusals.as_ref(), parts, operation)
    }
}

impl EventStore for JetStreamEventStore {
    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<u64> {
        self.refusable(self.append_checked(actor_id, expected, events))
            .await?
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from_version: u64) -> Result<Replay> {
        self.refusable(self.replay(actor_id, from_version)).await?
    }

    async fn latest_version(&self, actor_id: &ActorId) -> Result<u64> {
        self.refusable(self.latest(actor_id)).await?
    }
}

//! [`JetStreamEventStore`]: construction, accessors and the [`EventStore`] impl.

mod acks;
mod append;
mod batch;
mod decode;
mod delivery;
mod direct;
mod discover;
mod log;
mod read;
mod reading;
mod setup;
mod translate;

pub use reading::PULL_BATCH;

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use aether_core::{
    ActorId, Event, EventStore, EventStoredHook, ExpectedVersion, HookSlot, Replay, Result,
};
use aether_nats::{Refusable, Refusals, ToServerAddrs};
use async_nats::Client;
use async_nats::jetstream::Context;

use crate::cache::VersionCache;
use crate::config::JetStreamConfig;
use crate::layout::{Layout, Partition};

pub(crate) use acks::Acks;
pub(crate) use delivery::Delivery;
pub(crate) use discover::info as stream_info;
pub(crate) use reading::Reading;
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
    /// The namespace's layout: its streams and which actor goes where.
    pub(crate) layout: RwLock<Arc<Layout>>,
    pub(crate) config: JetStreamConfig,
    /// The effective stream name: the v1 stream's name, the partitions'
    /// prefix and the first token of every subject.
    pub(crate) stream_name: String,
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
        let layout = self.layout();
        f.debug_struct("JetStreamEventStore")
            .field("stream", &self.inner.stream_name)
            .field("namespace", &self.inner.config.namespace)
            .field("layout", &layout.version)
            .field("partitions", &layout.count())
            .field("server_version", &self.inner.server_version)
            .field("atomic_batches", &self.inner.atomic_batches)
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

    /// Opens the store on an existing connection: finds the namespace's
    /// layout from its streams, and creates them when the namespace does not
    /// exist yet (one stream, or `config.partitions` partition streams), or
    /// updates them to `config` (idempotent; concurrent opens all succeed).
    /// An existing namespace keeps its layout whatever `config.partitions`
    /// says ([`Self::partitions`] tells which it has).
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

    /// Attaches to the event streams of `config`'s namespace as they exist,
    /// without creating or changing them (for tools that must not alter a
    /// deployment, such as the `aether` CLI).
    ///
    /// # Errors
    ///
    /// [`Error::Missing`](aether_core::Error::Missing) when the namespace
    /// (or one of its partitions) does not exist; otherwise as
    /// [`JetStreamEventStore::open`].
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
        let stream_name = config.effective_stream_name()?;
        let refusals = Refusals::of(&client);
        let parts = std::slice::from_ref(&stream_name);
        let found = discover::discover(&js, &config, atomic_batches, create);
        let layout = Refusable::new(refusals.as_ref(), parts, found).await??;
        let max_payload = if info.max_payload == 0 {
            1024 * 1024
        } else {
            info.max_payload
        };
        let event_limit = config
            .max_event_size
            .min(max_payload.saturating_sub(HEADER_RESERVE));
        let acks = acks::Acks::new(client.clone()).await?;
        tracing::debug!(
            stream = %stream_name,
            server = %info.version,
            atomic_batches,
            layout = layout.version,
            partitions = layout.count(),
            "opened JetStream event store"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                cache: VersionCache::new(config.version_cache_capacity),
                positions: VersionCache::new(config.version_cache_capacity),
                client,
                js,
                layout: RwLock::new(Arc::new(layout)),
                stream_name,
                event_limit,
                atomic_batches,
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

    /// The effective event stream name (`<stream_name>_<namespace>`): the
    /// event stream of an unpartitioned namespace, the prefix of a
    /// partitioned one's streams, the first token of every subject.
    pub fn stream_name(&self) -> &str {
        &self.inner.stream_name
    }

    /// How many partitions the namespace has (1: one stream, layout v1).
    pub fn partitions(&self) -> u16 {
        self.layout().count()
    }

    /// The name of each partition's stream, by partition.
    pub fn partition_streams(&self) -> Vec<String> {
        self.layout()
            .partitions
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// The partition holding `actor`'s events.
    pub fn partition_of(&self, actor: &ActorId) -> u16 {
        self.layout().index_of(actor)
    }

    /// The layout generation (0 unless the namespace was repartitioned):
    /// the epoch of every [`aether_core::LogPosition`] this store's log
    /// gives.
    pub fn epoch(&self) -> u16 {
        self.layout().epoch
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

    /// The event subject of `actor` (`<stream>.events.<type>.<id>`, or
    /// `<stream>.events.<slice>.<type>.<id>` when partitioned; encoded
    /// injectively).
    pub fn subject_for(&self, actor: &ActorId) -> String {
        self.read_layout(|l| l.subjects.events(actor))
    }

    /// The layout in force.
    pub(crate) fn layout(&self) -> Arc<Layout> {
        self.read_layout(Arc::clone)
    }

    /// Runs `f` on the layout in force, under its lock (no clone).
    pub(crate) fn read_layout<T>(&self, f: impl FnOnce(&Arc<Layout>) -> T) -> T {
        f(&self
            .inner
            .layout
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Finds the namespace's layout again (after a write met a sealed
    /// stream: a repartition moved the namespace on) and puts it in force;
    /// waits, up to the request timeout, while the new layout is still
    /// being filled. The caches of tips and positions are dropped when the
    /// layout changed: their sequences are of the old streams.
    pub(crate) async fn reload_layout(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.inner.config.request_timeout;
        loop {
            let found = discover::discover(
                &self.inner.js,
                &self.inner.config,
                self.inner.atomic_batches,
                false,
            )
            .await;
            match found {
                Ok(layout) => {
                    let mut slot = self
                        .inner
                        .layout
                        .write()
                        .unwrap_or_else(PoisonError::into_inner);
                    if (slot.epoch, slot.version) != (layout.epoch, layout.version) {
                        tracing::info!(
                            stream = %self.inner.stream_name,
                            epoch = layout.epoch,
                            partitions = layout.count(),
                            "the namespace was repartitioned; using its new layout"
                        );
                        self.inner.cache.clear();
                        self.inner.positions.clear();
                        *slot = Arc::new(layout);
                    }
                    return Ok(());
                }
                Err(e) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The partition holding `actor`'s events.
    pub(crate) fn partition(&self, actor: &ActorId) -> Arc<Partition> {
        self.read_layout(|l| Arc::clone(l.partition_of(actor)))
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
    /// to this store's connection for the namespace meanwhile (its subjects,
    /// or the API of one of its streams) ends it at once (the refused
    /// request took no effect) instead of the request's timeout, as
    /// [`aether_core::Error::PermissionDenied`].
    ///
    /// `operation` makes the future here (a future passed in would be kept
    /// twice in this one's state, and an append's future is boxed on every
    /// append: smaller is cheaper).
    pub(crate) async fn refused<F: std::future::Future>(
        &self,
        operation: impl FnOnce() -> F,
    ) -> Result<F::Output> {
        let layout = self.layout();
        Ok(Refusable::new(self.inner.refusals.as_ref(), &layout.parts, operation()).await?)
    }
}

impl EventStore for JetStreamEventStore {
    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<u64> {
        self.refused(|| self.append_checked(actor_id, expected, events))
            .await?
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from_version: u64) -> Result<Replay> {
        self.refused(|| self.replay(actor_id, from_version)).await?
    }

    async fn latest_version(&self, actor_id: &ActorId) -> Result<u64> {
        self.refused(|| self.latest(actor_id)).await?
    }
}

//! [`NatsEventBus`]: the bus across processes over core NATS.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use aether_core::{Event, EventStored, EventStoredHook, NodeId};
use async_nats::Client;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::bus::EventBus;
use crate::core::{Core, parse_subscription_pattern, write};
use crate::dispatch::Entry;
use crate::error::{BusError, BusErrorKind};
use crate::filter::Filter;
use crate::item::{Envelope, SubscribeOptions};
use crate::local::check_event;
use crate::metrics::{BusStats, NsMetrics};
use crate::pattern::validate_namespace;
use crate::subscription::{EventSubscription, Registry, StoredSubscription, Subscription};

mod config;
mod origin;
mod outbox;
mod tasks;

pub use self::config::NatsBusConfig;
use self::outbox::{Outgoing, run_outbox};
use self::tasks::{pump_stored, run_group, run_stored_listener};
pub use crate::sync::VersionCacheSync;

/// The event bus across processes: the [`EventBus`] API over core NATS.
///
/// - Publishing to namespace `ns` delivers to this node's matching
///   subscriptions directly and queues the event for `<prefix>.ev.<ns>`
///   (a compact binary encoding of every field; see `src/wire.rs`); other nodes
///   deliver it to theirs. A node skips its own publications when they come
///   back from NATS, so each local subscriber gets each event once.
/// - One task hands queued publications to the NATS client in order. Events
///   of one namespace that queue up while it is busy travel as one message
///   (up to [`NatsBusConfig::max_batch_bytes`]); an
///   event alone is sent at once. [`NatsEventBus::publish`] returns when the
///   event is queued (waiting while the queue is full), as a plain NATS
///   publish returns when the client has buffered it: neither means the
///   server has it. [`NatsEventBus::flush`] waits until it has.
/// - Each distinct subscription pattern is one NATS subscription, shared by
///   the local subscriptions with that pattern; received subjects are checked
///   again against the namespace rules, so nothing with a wildcard or
///   malformed namespace is delivered.
/// - Core NATS is at-most-once. Each publication carries its node id and a
///   per-namespace sequence number (in the message's reply-subject field,
///   `_aeb.<node id>.<seq>`, which is cheaper than NATS headers; there is
///   nothing to reply to); a receiver that sees a gap tells the
///   affected subscriptions with [`crate::BusItem::Lagged`] and counts it in
///   [`BusStats::remote_lost`]. A loss at the very end of a stream (nothing
///   from that node afterwards) cannot be detected.
/// - The NATS client reconnects by itself and re-establishes subscriptions;
///   messages published by others while this node was disconnected are lost
///   (and reported as lag when the next message from their publisher arrives).
///
/// - A subscription with [`crate::OverflowPolicy::Wait`] slows down this
///   node's delivery for its whole pattern. If that falls behind by more than
///   the NATS client's buffer (`subscription_capacity`, 65,536 messages by
///   default), the client drops messages, and every subscription of that
///   pattern on this node is told by a lag item. Prefer `DropOldest` for
///   cross-node subscriptions.
///
/// Implements [`aether_core::EventStoredHook`]: give a clone of the bus to a
/// store as its hook and its `EventStored` notifications reach every node's
/// [`EventBus::subscribe_event_stored`] subscribers.
#[derive(Debug, Clone)]
pub struct NatsEventBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Group {
    entries: Arc<RwLock<Vec<Arc<Entry<Envelope>>>>>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Inner {
    core: Arc<Core>,
    client: Client,
    node_id: Arc<str>,
    node: NodeId,
    /// `<prefix>.ev.`
    events_prefix: Arc<str>,
    stored_subject: String,
    ping_subject: String,
    confirm_timeout: Duration,
    groups: Mutex<HashMap<Box<str>, Group>>,
    /// Subscription id → pattern of its group.
    sub_patterns: Mutex<HashMap<u64, Box<str>>>,
    stored_tx: mpsc::UnboundedSender<Arc<EventStored>>,
    stored_listener: Mutex<Option<JoinHandle<()>>>,
    stored_pump: Mutex<Option<JoinHandle<()>>>,
    /// Notifications queued for the pump and not yet published.
    stored_pending: Arc<AtomicU64>,
    /// Set by [`Inner::stop`]: the bus refuses new work.
    closed: AtomicBool,
    /// The outbox queue; its task ends when this sender is dropped (with the
    /// last handle), after handing over what is queued.
    outbox: mpsc::Sender<Outgoing>,
    /// The server's maximum payload, in bytes.
    max_payload: usize,
    /// The connection's refusal record, if it has one.
    refusals: Option<aether_nats::Refusals>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn nats_err(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> BusError {
    BusError::with_source(BusErrorKind::Nats, what, e)
}

impl NatsEventBus {
    /// Dials `addrs` (a URL, several separated by commas, or a list; see
    /// [`aether_nats::ToServerAddrs`]) with `config.connect` on a connection
    /// of its own (`no_echo`, reconnecting forever, named
    /// `aether-bus-<node id>`), then opens the bus on it
    /// ([`NatsEventBus::open`]).
    ///
    /// # Errors
    ///
    /// A [`BusError`] of kind:
    /// - [`BusErrorKind::InvalidOptions`]: an invalid `config`, bad
    ///   addresses or TLS settings, or no tokio runtime to run in;
    /// - [`BusErrorKind::Nats`]: no server answered within
    ///   `config.connect.timeout`;
    /// - [`BusErrorKind::PermissionDenied`]: the server refused the
    ///   credentials.
    ///
    /// A subject this user may not publish or subscribe to is reported by
    /// the publish or the subscription that needs it, not here.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_bus::{BusItem, NatsBusConfig, NatsEventBus};
    /// use aether_core::{ActorId, Event, json};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let bus = NatsEventBus::connect("nats://127.0.0.1:4222", NatsBusConfig::default()).await?;
    /// let mut orders = bus.subscribe("orders").await?;
    /// let placed = Event::new(ActorId::new("order-1")?, 1, "Placed", json!({"total": 42}));
    /// bus.publish("orders", placed).await?; // to this node's subscribers and every other node's
    /// if let BusItem::Event(e) = orders.recv().await? {
    ///     println!("{} {}", e.event.actor_id, e.event.event_type);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(
        addrs: impl aether_nats::ToServerAddrs,
        config: NatsBusConfig,
    ) -> Result<Self, BusError> {
        config.validate()?;
        // Fix the id now: the client is named after it.
        let node = config.node_id.clone().unwrap_or_else(NodeId::random);
        let name = format!("aether-bus-{node}");
        let config = NatsBusConfig {
            node_id: Some(node),
            ..config
        };
        let client = aether_nats::connect_with::<BusErrorKind>(
            addrs,
            &config.connect,
            &name,
            async_nats::ConnectOptions::new().no_echo(),
        )
        .await?;
        Self::open(client, config).await
    }

    /// Opens a bus on an existing client (in a tokio runtime: it spawns the
    /// tasks that hand publications and notifications to NATS).
    ///
    /// A client made with `no_echo` (as [`NatsEventBus::connect`] makes its
    /// own) spares NATS sending this node's publications back to it, where
    /// the bus would skip them.
    ///
    /// A subscription the server refuses is an error of kind
    /// [`BusErrorKind::PermissionDenied`] when `client` has a refusal record:
    /// clients from [`aether_nats::connect`] do, a client of your own once
    /// you attach one ([`aether_nats::Refusals`]). Without one the refused
    /// subscription is returned, and never receives anything.
    ///
    /// # Errors
    ///
    /// [`BusErrorKind::InvalidOptions`]: an invalid `config`, or no tokio
    /// runtime to run in.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aether_bus::{NatsBusConfig, NatsEventBus};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// // A client of your own, with a refusal record attached
    /// // (`aether_nats::connect_with` does all of this for you).
    /// let refusals = aether_nats::Refusals::new();
    /// let client = refusals
    ///     .install(async_nats::ConnectOptions::new().no_echo())
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// refusals.attach(&client);
    /// let config = NatsBusConfig { subject_prefix: "shop".into(), ..NatsBusConfig::default() };
    /// let bus = NatsEventBus::open(client, config).await?;
    /// println!("bus node {}", bus.node_id());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open(client: Client, config: NatsBusConfig) -> Result<Self, BusError> {
        config.validate()?;
        let prefix = config.subject_prefix.as_str();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            BusError::new(
                BusErrorKind::InvalidOptions,
                "NatsEventBus must be opened inside a tokio runtime",
            )
        })?;
        let node = config.node_id.clone().unwrap_or_else(NodeId::random);
        let node_id: Arc<str> = node.as_str().into();
        let max_payload = match client.server_info().max_payload {
            0 => 1024 * 1024,
            n => n,
        };
        let events_prefix: Arc<str> = format!("{prefix}.ev.").into();
        let (outbox, outbox_rx) = mpsc::channel(config.outbox_capacity);
        let core = Arc::new(Core::default());
        runtime.spawn(run_outbox(
            client.clone(),
            core.clone(),
            node_id.clone(),
            events_prefix.clone(),
            config.max_batch_bytes.min(max_payload),
            outbox_rx,
        ));
        let (stored_tx, stored_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            core,
            client: client.clone(),
            events_prefix,
            stored_subject: format!("{prefix}.stored"),
            ping_subject: format!("{prefix}.ping.{node_id}"),
            node,
            node_id,
            confirm_timeout: config.subscribe_confirm_timeout,
            groups: Mutex::new(HashMap::new()),
            sub_patterns: Mutex::new(HashMap::new()),
            stored_tx,
            stored_listener: Mutex::new(None),
            stored_pump: Mutex::new(None),
            stored_pending: Arc::new(AtomicU64::new(0)),
            closed: AtomicBool::new(false),
            outbox,
            max_payload,
            refusals: aether_nats::Refusals::of(&client),
        });
        let pump = runtime.spawn(pump_stored(
            client,
            inner.stored_subject.clone(),
            inner.node_id.clone(),
            Arc::downgrade(&inner.stored_pending),
            stored_rx,
        ));
        *lock(&inner.stored_pump) = Some(pump);
        Ok(Self { inner })
    }

    /// This node's id.
    pub fn node_id(&self) -> &NodeId {
        &self.inner.node
    }

    /// The NATS subject events of `namespace` travel on
    /// (`<prefix>.ev.<namespace>`), for talking to the bus from outside
    /// (plain NATS clients may publish JSON events there, one per line).
    pub fn subject_for(&self, namespace: &str) -> Result<String, BusError> {
        validate_namespace(namespace)?;
        Ok(format!("{}{namespace}", self.inner.events_prefix))
    }

    /// The NATS subject [`EventStored`] notifications travel on
    /// (`<prefix>.stored`).
    pub fn stored_subject(&self) -> &str {
        &self.inner.stored_subject
    }

    /// The NATS client the bus uses.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    fn registry(&self) -> Weak<dyn Registry> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        weak
    }

    /// Publishes `event` to `namespace` on this node and across NATS; see
    /// [`EventBus::publish`]. Returns the number of local deliveries.
    pub async fn publish(
        &self,
        namespace: &str,
        event: impl Into<Arc<Event>>,
    ) -> Result<u64, BusError> {
        let event = event.into();
        let inner = &self.inner;
        inner.check_open()?;
        let ns = inner.core.metrics.checked(namespace, validate_namespace)?;
        check_event(&event)?;
        let span = tracing::debug_span!(
            "aether.bus.publish",
            namespace = %ns.name,
            event_type = %event.event_type,
            remote = true,
        );
        if span.is_disabled() {
            return inner.publish(ns, event).await;
        }
        inner.publish(ns, event).instrument(span).await
    }

    /// Subscribes to all events of namespaces matching `pattern` on every node.
    pub async fn subscribe(&self, pattern: &str) -> Result<EventSubscription, BusError> {
        self.subscribe_with(pattern, Filter::new(), SubscribeOptions::default())
            .await
    }

    /// Subscribes with a filter and options; see [`EventBus::subscribe_with`].
    pub async fn subscribe_with(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<EventSubscription, BusError> {
        self.subscribe_inner(pattern, filter, options, false).await
    }

    /// Subscribes across namespaces; see [`EventBus::subscribe_cross_namespace`].
    pub async fn subscribe_cross_namespace(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<EventSubscription, BusError> {
        self.subscribe_inner(pattern, filter, options, true).await
    }

    async fn subscribe_inner(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
        cross: bool,
    ) -> Result<EventSubscription, BusError> {
        let parsed = parse_subscription_pattern(pattern, cross)?;
        let inner = &self.inner;
        inner.check_open()?;
        let (entry, name) = inner
            .core
            .add_event_subscription(parsed.clone(), filter, options)?;
        // From here on, dropping `subscription` undoes everything.
        let subscription = Subscription::new(entry.queue.clone(), entry.id, name, self.registry());
        lock(&inner.sub_patterns).insert(entry.id, pattern.into());
        if inner.join_group(pattern, &entry) {
            return Ok(subscription);
        }
        let subject = format!("{}{}", inner.events_prefix, pattern);
        let since = inner.refusals.as_ref().map(aether_nats::Refusals::count);
        let subscriber = inner
            .client
            .subscribe(subject.clone())
            .await
            .map_err(|e| nats_err("subscribing", e))?;
        if !inner.join_group(pattern, &entry) {
            let entries = Arc::new(RwLock::new(vec![entry.clone()]));
            let task = tokio::spawn(run_group(
                subscriber,
                inner.core.clone(),
                entries.clone(),
                parsed,
                inner.events_prefix.clone(),
                inner.node_id.clone(),
            ));
            lock(&inner.groups).insert(pattern.into(), Group { entries, task });
        }
        if inner.closed.load(Ordering::SeqCst) {
            // Shut down meanwhile: stop what this call started.
            inner.stop();
            return Err(Inner::closed_error());
        }
        inner.confirm_with_server().await;
        // The server refuses a subscription it does not permit with an
        // error on the connection, which arrives before the confirmation;
        // give the client's event task a moment to record it (in this
        // connection's record: without one, there is nothing to look at).
        if let (Some(refusals), Some(since)) = (&inner.refusals, since) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if let Some(refusal) = refusals.refused_since(&[&subject], since) {
                // Dropping `subscription` undoes the local side.
                return Err(BusError::new(
                    BusErrorKind::PermissionDenied,
                    format!("subscribing to {pattern:?}: {refusal}"),
                ));
            }
        }
        Ok(subscription)
    }

    /// Subscribes to `EventStored` notifications from every node; see
    /// [`EventBus::subscribe_event_stored`].
    pub async fn subscribe_event_stored(
        &self,
        actor_pattern: &str,
    ) -> Result<StoredSubscription, BusError> {
        self.subscribe_event_stored_with(actor_pattern, SubscribeOptions::default())
            .await
    }

    /// Like [`NatsEventBus::subscribe_event_stored`] with options.
    pub async fn subscribe_event_stored_with(
        &self,
        actor_pattern: &str,
        options: SubscribeOptions,
    ) -> Result<StoredSubscription, BusError> {
        self.inner.check_open()?;
        let sub =
            self.inner
                .core
                .add_stored_subscription(actor_pattern, options, self.registry())?;
        self.inner.ensure_stored_listener().await?;
        Ok(sub)
    }

    /// Hands an `EventStored` notification to local subscribers at once and
    /// queues it for the other nodes; never blocks.
    pub fn notify_event_stored(&self, notification: EventStored) {
        let n = Arc::new(notification);
        self.inner.core.deliver_stored(n.clone());
        self.inner.stored_pending.fetch_add(1, Ordering::Relaxed);
        // Fails only when the pump has stopped (bus shutting down).
        if self.inner.stored_tx.send(n).is_err() {
            self.inner.stored_pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Keeps a version cache current from `EventStored` notifications of every
    /// node: calls `update(actor, version)` for each notification whose actor
    /// matches `actor_pattern`, until the returned handle is dropped. Wire it
    /// to `aether_store_jetstream`'s `update_version_cache` (which only ever
    /// raises cached versions).
    pub async fn sync_version_cache<F>(
        &self,
        actor_pattern: &str,
        update: F,
    ) -> Result<VersionCacheSync, BusError>
    where
        F: Fn(&aether_core::ActorId, u64) + Send + Sync + 'static,
    {
        let sub = self.subscribe_event_stored(actor_pattern).await?;
        Ok(VersionCacheSync::spawn(sub, update))
    }

    /// Unsubscribes `subscription` (same as dropping it).
    pub fn unsubscribe<T>(&self, subscription: Subscription<T>) {
        drop(subscription);
    }

    /// The number of live event subscriptions on this node.
    pub fn subscription_count(&self) -> usize {
        self.inner.core.event_subscription_count()
    }

    /// The number of NATS subscriptions for events (one per distinct pattern).
    pub fn nats_subscription_count(&self) -> usize {
        lock(&self.inner.groups).len()
    }

    /// Totals since the bus was created.
    pub fn stats(&self) -> BusStats {
        self.inner.core.metrics.snapshot()
    }

    /// Waits until every publication made before the call is with the
    /// server: hands the queued ones to the client, then flushes the client.
    pub async fn flush(&self) -> Result<(), BusError> {
        let (done, handed_over) = tokio::sync::oneshot::channel();
        if self.inner.outbox.send(Outgoing::Flush(done)).await.is_ok() {
            // Fails only if the outbox task is gone (runtime shutting down).
            let _ = handed_over.await;
        }
        self.inner
            .client
            .flush()
            .await
            .map_err(|e| nats_err("flushing", e))
    }

    /// Stops the bus: forwards queued `EventStored` notifications (waiting
    /// up to a second), flushes (waiting up to
    /// [`NatsBusConfig::subscribe_confirm_timeout`]: the client cannot flush
    /// while disconnected), stops the background tasks and closes every
    /// subscription. Every clone of the handle sees the closed bus: later
    /// calls fail with [`BusErrorKind::Closed`]. Returns the flush's error,
    /// if any, after stopping.
    pub async fn shutdown(&self) -> Result<(), BusError> {
        // Let the pump drain what is queued: it stops when the queue is empty
        // and this is the only path that aborts it afterwards.
        for _ in 0..200 {
            if self.inner.stored_pending.load(Ordering::Relaxed) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let flushed = match tokio::time::timeout(self.inner.confirm_timeout, self.flush()).await {
            Ok(flushed) => flushed,
            Err(_) => Err(BusError::new(
                BusErrorKind::Nats,
                format!(
                    "flushing on shutdown: no answer from NATS within {:?}; unflushed \
                     publications may be lost",
                    self.inner.confirm_timeout
                ),
            )),
        };
        self.inner.stop();
        flushed
    }
}

impl Inner {
    /// Encodes `event`, queues it for NATS, then delivers it locally.
    async fn publish(&self, ns: Arc<NsMetrics>, event: Arc<Event>) -> Result<u64, BusError> {
        let mut payload = Vec::with_capacity(512);
        crate::wire::encode_message(&event, &mut payload)
            .map_err(|e| BusError::with_source(BusErrorKind::Serialization, "encoding event", e))?;
        if payload.len() > self.max_payload {
            return Err(BusError::new(
                BusErrorKind::TooLarge,
                format!(
                    "event for namespace {:?} is {} bytes encoded, over the server's maximum \
                     payload of {} bytes",
                    ns.name,
                    payload.len(),
                    self.max_payload
                ),
            ));
        }
        let item = Outgoing::Event {
            ns: ns.clone(),
            payload: Bytes::from(payload),
        };
        self.outbox
            .send(item)
            .await
            .map_err(|_| Self::closed_error())?;
        self.core.metrics.published(&ns);
        Ok(self.core.deliver_local(&ns, event).await)
    }

    /// Adds `entry` to the existing group of `pattern`; `false` if none exists
    /// (or its NATS subscription has ended).
    fn join_group(&self, pattern: &str, entry: &Arc<Entry<Envelope>>) -> bool {
        match lock(&self.groups).get(pattern) {
            Some(group) if !group.task.is_finished() => {
                write(&group.entries).push(entry.clone());
                true
            }
            _ => false,
        }
    }

    /// A round trip through the server, so that subscriptions sent before are
    /// in place when it returns: a request nobody answers, which the server
    /// rejects with "no responders" after processing everything sent before.
    async fn confirm_with_server(&self) {
        let req = self.client.request(self.ping_subject.clone(), Bytes::new());
        match tokio::time::timeout(self.confirm_timeout, req).await {
            Ok(Ok(_)) | Ok(Err(_)) => {}
            Err(_) => tracing::debug!("server did not confirm a new subscription in time"),
        }
    }

    fn closed_error() -> BusError {
        BusError::new(BusErrorKind::Closed, "the bus has been shut down")
    }

    fn check_open(&self) -> Result<(), BusError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Self::closed_error());
        }
        Ok(())
    }

    /// Starts the listener for other nodes' `EventStored` notifications if
    /// it is not running yet.
    async fn ensure_stored_listener(self: &Arc<Self>) -> Result<(), BusError> {
        let running =
            |slot: &Option<JoinHandle<()>>| slot.as_ref().is_some_and(|t| !t.is_finished());
        if running(&lock(&self.stored_listener)) {
            return Ok(());
        }
        let subscriber = self
            .client
            .subscribe(self.stored_subject.clone())
            .await
            .map_err(|e| nats_err("subscribing to EventStored", e))?;
        {
            let mut slot = lock(&self.stored_listener);
            // Checked under the lock `stop` takes after setting `closed`.
            self.check_open()?;
            // A concurrent call may have won; dropping `subscriber` then
            // unsubscribes it.
            if !running(&slot) {
                *slot = Some(tokio::spawn(run_stored_listener(
                    subscriber,
                    self.core.clone(),
                    self.node_id.clone(),
                )));
            }
        }
        self.confirm_with_server().await;
        Ok(())
    }

    /// Marks the bus closed, aborts its tasks and closes every subscription.
    /// Idempotent.
    fn stop(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for (_, group) in lock(&self.groups).drain() {
            group.task.abort();
        }
        if let Some(t) = lock(&self.stored_listener).take() {
            t.abort();
        }
        if let Some(t) = lock(&self.stored_pump).take() {
            t.abort();
        }
        self.core.close_all();
    }
}

impl Registry for Inner {
    fn unsubscribe(&self, id: u64) {
        self.core.remove(id);
        let Some(pattern) = lock(&self.sub_patterns).remove(&id) else {
            return;
        };
        let mut groups = lock(&self.groups);
        let empty = match groups.get(&*pattern) {
            Some(group) => {
                let mut entries = write(&group.entries);
                entries.retain(|e| e.id != id);
                entries.is_empty()
            }
            None => false,
        };
        if empty && let Some(group) = groups.remove(&*pattern) {
            // Dropping the task drops its NATS subscriber, which unsubscribes.
            group.task.abort();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

impl EventStoredHook for NatsEventBus {
    fn event_stored(&self, notification: EventStored) {
        self.notify_event_stored(notification);
    }
}

impl EventBus for NatsEventBus {
    async fn publish(
        &self,
        namespace: &str,
        event: impl Into<Arc<Event>> + Send,
    ) -> Result<u64, BusError> {
        NatsEventBus::publish(self, namespace, event).await
    }

    async fn subscribe_with(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<EventSubscription, BusError> {
        NatsEventBus::subscribe_with(self, pattern, filter, options).await
    }

    async fn subscribe_cross_namespace(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<EventSubscription, BusError> {
        NatsEventBus::subscribe_cross_namespace(self, pattern, filter, options).await
    }

    async fn subscribe_event_stored_with(
        &self,
        actor_pattern: &str,
        options: SubscribeOptions,
    ) -> Result<StoredSubscription, BusError> {
        NatsEventBus::subscribe_event_stored_with(self, actor_pattern, options).await
    }

    fn notify_event_stored(&self, notification: EventStored) {
        NatsEventBus::notify_event_stored(self, notification);
    }

    fn stats(&self) -> BusStats {
        NatsEventBus::stats(self)
    }
}

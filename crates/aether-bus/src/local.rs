//! [`LocalEventBus`]: the in-process bus.

use std::sync::{Arc, Weak};

use aether_core::{Event, EventStored, EventStoredHook};
use tracing::Instrument;

use crate::bus::EventBus;
use crate::core::{Core, parse_subscription_pattern};
use crate::error::{BusError, BusErrorKind};
use crate::filter::Filter;
use crate::item::SubscribeOptions;
use crate::metrics::BusStats;
use crate::pattern::validate_namespace;
use crate::subscription::{EventSubscription, Registry, StoredSubscription, Subscription};

/// An in-process event bus: publish to a namespace, subscribe by pattern and
/// filter, each subscription with its own bounded queue and overflow policy.
///
/// Cloning is cheap and gives another handle to the same bus. When the last
/// handle is dropped, every subscription ends with [`crate::RecvError::Closed`]
/// after its queued events.
///
/// Delivery: every subscription receives the matching events of each
/// publisher in publication order, each exactly once, unless its declared
/// overflow policy drops some, which it then reports (see
/// [`crate::OverflowPolicy`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), aether_bus::BusError> {
/// use aether_bus::{BusItem, LocalEventBus};
/// use aether_core::{ActorId, Event, json};
///
/// let bus = LocalEventBus::new();
/// let mut sub = bus.subscribe("tenant-a.*")?;
/// let event = Event::new(ActorId::new("order-1").unwrap(), 1, "Placed", json!({}));
/// bus.publish("tenant-a.orders", event.clone()).await?;
/// match sub.recv().await.unwrap() {
///     BusItem::Event(env) => {
///         assert_eq!(&*env.namespace, "tenant-a.orders");
///         assert_eq!(*env.event, event);
///     }
///     BusItem::Lagged(n) => panic!("missed {n}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct LocalEventBus {
    core: Arc<Core>,
}

impl Registry for Core {
    fn unsubscribe(&self, id: u64) {
        self.remove(id);
    }
}

impl LocalEventBus {
    /// A new, empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn registry(&self) -> Weak<dyn Registry> {
        let weak: Weak<Core> = Arc::downgrade(&self.core);
        weak
    }

    /// Publishes `event` to `namespace`; see [`EventBus::publish`].
    pub async fn publish(
        &self,
        namespace: &str,
        event: impl Into<Arc<Event>>,
    ) -> Result<u64, BusError> {
        let event = event.into();
        let ns = self.core.metrics.checked(namespace, validate_namespace)?;
        check_event(&event)?;
        self.core.metrics.published(&ns);
        let span = tracing::debug_span!(
            "aether.bus.publish",
            namespace = %ns.name,
            event_type = %event.event_type,
            delivered = tracing::field::Empty,
        );
        if span.is_disabled() {
            return Ok(self.core.deliver_local(&ns, event).await);
        }
        let core = &self.core;
        async move {
            let n = core.deliver_local(&ns, event).await;
            tracing::Span::current().record("delivered", n);
            Ok(n)
        }
        .instrument(span)
        .await
    }

    /// Subscribes to all events of namespaces matching `pattern`.
    pub fn subscribe(&self, pattern: &str) -> Result<EventSubscription, BusError> {
        self.subscribe_with(pattern, Filter::new(), SubscribeOptions::default())
    }

    /// Subscribes with a filter and options; see [`EventBus::subscribe_with`].
    pub fn subscribe_with(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<EventSubscription, BusError> {
        self.subscribe_inner(pattern, filter, options, false)
    }

    /// Subscribes across namespaces; see [`EventBus::subscribe_cross_namespace`].
    pub fn subscribe_cross_namespace(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<EventSubscription, BusError> {
        self.subscribe_inner(pattern, filter, options, true)
    }

    fn subscribe_inner(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
        cross: bool,
    ) -> Result<EventSubscription, BusError> {
        let pattern = parse_subscription_pattern(pattern, cross)?;
        let (entry, name) = self.core.add_event_subscription(pattern, filter, options)?;
        Ok(Subscription::new(
            entry.queue.clone(),
            entry.id,
            name,
            self.registry(),
        ))
    }

    /// Subscribes to `EventStored` notifications; see
    /// [`EventBus::subscribe_event_stored`].
    pub fn subscribe_event_stored(
        &self,
        actor_pattern: &str,
    ) -> Result<StoredSubscription, BusError> {
        self.subscribe_event_stored_with(actor_pattern, SubscribeOptions::default())
    }

    /// Subscribes to `EventStored` notifications with options.
    pub fn subscribe_event_stored_with(
        &self,
        actor_pattern: &str,
        options: SubscribeOptions,
    ) -> Result<StoredSubscription, BusError> {
        self.core
            .add_stored_subscription(actor_pattern, options, self.registry())
    }

    /// Unsubscribes `subscription` (same as dropping it).
    pub fn unsubscribe<T>(&self, subscription: Subscription<T>) {
        drop(subscription);
    }

    /// The number of live event subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.core.event_subscription_count()
    }

    /// The number of live `EventStored` subscriptions.
    pub fn stored_subscription_count(&self) -> usize {
        self.core.stored_subscription_count()
    }

    /// Delivers an `EventStored` notification to local subscribers.
    pub fn notify_event_stored(&self, notification: EventStored) {
        self.core.deliver_stored(Arc::new(notification));
    }

    /// Totals since the bus was created.
    pub fn stats(&self) -> BusStats {
        self.core.metrics.snapshot()
    }
}

pub(crate) fn check_event(event: &Event) -> Result<(), BusError> {
    event
        .validate()
        .map_err(|e| BusError::new(BusErrorKind::InvalidEvent, e.to_string()))
}

impl EventStoredHook for LocalEventBus {
    fn event_stored(&self, notification: EventStored) {
        self.notify_event_stored(notification);
    }
}

impl EventBus for LocalEventBus {
    async fn publish(
        &self,
        namespace: &str,
        event: impl Into<Arc<Event>> + Send,
    ) -> Result<u64, BusError> {
        LocalEventBus::publish(self, namespace, event).await
    }

    async fn subscribe_with(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<EventSubscription, BusError> {
        LocalEventBus::subscribe_with(self, pattern, filter, options)
    }

    async fn subscribe_cross_namespace(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<EventSubscription, BusError> {
        LocalEventBus::subscribe_cross_namespace(self, pattern, filter, options)
    }

    async fn subscribe_event_stored_with(
        &self,
        actor_pattern: &str,
        options: SubscribeOptions,
    ) -> Result<StoredSubscription, BusError> {
        LocalEventBus::subscribe_event_stored_with(self, actor_pattern, options)
    }

    fn notify_event_stored(&self, notification: EventStored) {
        LocalEventBus::notify_event_stored(self, notification);
    }

    fn stats(&self) -> BusStats {
        LocalEventBus::stats(self)
    }
}

//! [`EventBus`]: the API both buses share.

use std::future::Future;
use std::sync::Arc;

use aether_core::{Event, EventStored};

use crate::error::BusError;
use crate::filter::Filter;
use crate::item::SubscribeOptions;
use crate::metrics::BusStats;
use crate::subscription::{EventSubscription, StoredSubscription};

/// The API shared by [`crate::LocalEventBus`] and [`crate::NatsEventBus`], so
/// code can be written once against either.
///
/// Namespaces are `.`-separated NATS tokens (`tenant-a.orders`); patterns add
/// `*` (one token) and a final `>` (one or more tokens). The first token is
/// the isolation boundary: [`EventBus::subscribe`] and
/// [`EventBus::subscribe_with`] refuse patterns whose first token is a
/// wildcard; [`EventBus::subscribe_cross_namespace`] allows them explicitly.
pub trait EventBus: Send + Sync + 'static {
    /// Publishes `event` to the concrete `namespace` (no wildcards). Returns
    /// the number of *local* subscriptions it was queued for. With a
    /// subscriber under [`crate::OverflowPolicy::Wait`] this waits for room.
    fn publish(
        &self,
        namespace: &str,
        event: impl Into<Arc<Event>> + Send,
    ) -> impl Future<Output = Result<u64, BusError>> + Send;

    /// Subscribes to every event of the namespaces matching `pattern`, with
    /// default options.
    fn subscribe(
        &self,
        pattern: &str,
    ) -> impl Future<Output = Result<EventSubscription, BusError>> + Send {
        self.subscribe_with(pattern, Filter::new(), SubscribeOptions::default())
    }

    /// Subscribes to the events of the namespaces matching `pattern` that pass
    /// `filter`, with a queue set up by `options`.
    fn subscribe_with(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> impl Future<Output = Result<EventSubscription, BusError>> + Send;

    /// Like [`EventBus::subscribe_with`], but the pattern may start with a
    /// wildcard and so receive events of *every* namespace it matches (all
    /// tenants for `>`). Meant for trusted, operator-level consumers (audit,
    /// projections across tenants); see the crate docs on security.
    fn subscribe_cross_namespace(
        &self,
        pattern: &str,
        filter: Filter,
        options: SubscribeOptions,
    ) -> impl Future<Output = Result<EventSubscription, BusError>> + Send;

    /// Subscribes to [`EventStored`] notifications for actors matching
    /// `actor_pattern` (see [`crate::Pattern::actor`]; `>` for all), with
    /// default options (drop-oldest with lag notices).
    fn subscribe_event_stored(
        &self,
        actor_pattern: &str,
    ) -> impl Future<Output = Result<StoredSubscription, BusError>> + Send {
        self.subscribe_event_stored_with(actor_pattern, SubscribeOptions::default())
    }

    /// Like [`EventBus::subscribe_event_stored`] with explicit options
    /// (`OverflowPolicy::Wait` is refused: stores never wait for the bus).
    fn subscribe_event_stored_with(
        &self,
        actor_pattern: &str,
        options: SubscribeOptions,
    ) -> impl Future<Output = Result<StoredSubscription, BusError>> + Send;

    /// Hands an [`EventStored`] notification to the bus without blocking (this
    /// is what the bus's [`aether_core::EventStoredHook`] impl calls).
    fn notify_event_stored(&self, notification: EventStored);

    /// Totals of this bus since it was created.
    fn stats(&self) -> BusStats;
}

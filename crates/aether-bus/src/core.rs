//! The in-process subscription registry and fan-out shared by both buses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use aether_core::{Event, EventStored};

use crate::dispatch::{Delivery, Entry, Routes};
use crate::error::{BusError, BusErrorKind};
use crate::filter::Filter;
use crate::item::{Envelope, OverflowPolicy, RecvError, SubscribeOptions};
use crate::metrics::{Metrics, NsMetrics};
use crate::pattern::Pattern;
use crate::queue::Queue;
use crate::sublist::Sublist;
use crate::subscription::{Registry, StoredSubscription, Subscription};

/// The pseudo-namespace under which `EventStored` counters are reported.
pub(crate) const STORED_NAMESPACE: &str = "_event_stored";

#[derive(Debug, Default)]
struct Subs {
    list: Sublist<Arc<Entry<Envelope>>>,
    patterns: HashMap<u64, Pattern>,
}

/// Subscriptions and fan-out of one bus.
#[derive(Debug, Default)]
pub(crate) struct Core {
    subs: RwLock<Subs>,
    stored: RwLock<Vec<Arc<Entry<Arc<EventStored>>>>>,
    next_id: AtomicU64,
    /// Bumped (under the `subs` write lock) whenever event subscriptions change.
    generation: AtomicU64,
    pub(crate) metrics: Metrics,
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// Parses a subscription pattern; unless `cross_namespace`, a wildcard first
/// token (which would span namespaces, e.g. tenants) is refused.
pub(crate) fn parse_subscription_pattern(
    pattern: &str,
    cross_namespace: bool,
) -> Result<Pattern, BusError> {
    let parsed = Pattern::namespace(pattern)?;
    if !cross_namespace && parsed.first_token_is_wildcard() {
        return Err(crate::error::invalid_pattern(
            pattern,
            "its first token is a wildcard, so it spans namespaces (tenants); \
             use subscribe_cross_namespace to do that explicitly",
        ));
    }
    Ok(parsed)
}

impl Core {
    pub(crate) fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Registers an event subscription in the index.
    pub(crate) fn add_event_subscription(
        &self,
        pattern: Pattern,
        filter: Filter,
        options: SubscribeOptions,
    ) -> Result<(Arc<Entry<Envelope>>, Arc<str>), BusError> {
        options.validate()?;
        let entry = Arc::new(Entry {
            id: self.new_id(),
            filter,
            queue: Arc::new(Queue::new(options.capacity, options.overflow)),
        });
        let name: Arc<str> = Arc::from(pattern.as_str());
        let mut subs = write(&self.subs);
        subs.list.insert(&pattern, entry.id, entry.clone());
        subs.patterns.insert(entry.id, pattern);
        self.generation.fetch_add(1, Ordering::Release);
        Ok((entry, name))
    }

    /// Registers an `EventStored` subscription.
    pub(crate) fn add_stored_subscription(
        &self,
        actor_pattern: &str,
        options: SubscribeOptions,
        registry: Weak<dyn Registry>,
    ) -> Result<StoredSubscription, BusError> {
        options.validate()?;
        if options.overflow == OverflowPolicy::Wait {
            return Err(BusError::new(
                BusErrorKind::InvalidOptions,
                "EventStored subscriptions cannot use OverflowPolicy::Wait: stores call the \
                 hook without waiting; use DropOldest (lag is reported) or Close",
            ));
        }
        let filter = Filter::new().actor_pattern(actor_pattern)?;
        let entry = Arc::new(Entry {
            id: self.new_id(),
            filter,
            queue: Arc::new(Queue::new(options.capacity, options.overflow)),
        });
        write(&self.stored).push(entry.clone());
        Ok(Subscription::new(
            entry.queue.clone(),
            entry.id,
            Arc::from(actor_pattern),
            registry,
        ))
    }

    /// Removes subscription `id` (event or stored). Returns whether it existed.
    pub(crate) fn remove(&self, id: u64) -> bool {
        {
            let mut subs = write(&self.subs);
            if let Some(pattern) = subs.patterns.remove(&id) {
                if let Some(entry) = subs.list.remove(&pattern, id) {
                    entry.queue.close(RecvError::Closed);
                }
                self.generation.fetch_add(1, Ordering::Release);
                return true;
            }
        }
        let mut stored = write(&self.stored);
        if let Some(pos) = stored.iter().position(|e| e.id == id) {
            stored.swap_remove(pos).queue.close(RecvError::Closed);
            return true;
        }
        false
    }

    /// The number of event subscriptions.
    pub(crate) fn event_subscription_count(&self) -> usize {
        read(&self.subs).list.len()
    }

    /// The number of `EventStored` subscriptions.
    pub(crate) fn stored_subscription_count(&self) -> usize {
        read(&self.stored).len()
    }

    /// Delivers `event`, published to the valid concrete `namespace`, to every
    /// matching local subscription. Returns the number it was queued for.
    pub(crate) async fn deliver_local(&self, ns: &NsMetrics, event: Arc<Event>) -> u64 {
        let mut delivery = Delivery::default();
        let routes = self.routes(ns);
        // The last accepting subscription gets the original envelope, the
        // others clones: one reference-count change less per delivery.
        let mut previous: Option<&Arc<Entry<Envelope>>> = None;
        for entry in routes.iter() {
            if entry.filter.accepts(&event)
                && let Some(prev) = previous.replace(entry)
            {
                delivery.offer(
                    prev,
                    Envelope {
                        namespace: ns.delivered_name.clone(),
                        event: event.clone(),
                    },
                );
            }
        }
        if let Some(last) = previous {
            delivery.offer(
                last,
                Envelope {
                    namespace: ns.delivered_name.clone(),
                    event,
                },
            );
        }
        drop(routes);
        self.finish(ns, delivery).await
    }

    /// The subscriptions matching `ns`, from its cache when still valid.
    fn routes(&self, ns: &NsMetrics) -> Arc<[Arc<Entry<Envelope>>]> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(routes) = read(&ns.routes).as_ref()
            && routes.generation == generation
        {
            return routes.entries.clone();
        }
        let subs = read(&self.subs);
        // Stable while the read lock is held: writers bump it under the write lock.
        let generation = self.generation.load(Ordering::Acquire);
        let mut matched = Vec::new();
        subs.list
            .for_each_match(&ns.name, |entry| matched.push(entry.clone()));
        drop(subs);
        let entries: Arc<[_]> = matched.into();
        *write(&ns.routes) = Some(Routes {
            generation,
            entries: entries.clone(),
        });
        entries
    }

    /// Delivers `envelope` to the given entries (already matched by pattern).
    pub(crate) async fn deliver_group(
        &self,
        ns: &NsMetrics,
        entries: &RwLock<Vec<Arc<Entry<Envelope>>>>,
        envelope: Envelope,
    ) -> u64 {
        let mut delivery = Delivery::default();
        for entry in read(entries).iter() {
            if entry.filter.accepts(&envelope.event) {
                delivery.offer(entry, envelope.clone());
            }
        }
        self.finish(ns, delivery).await
    }

    async fn finish(&self, ns: &NsMetrics, mut delivery: Delivery<Envelope>) -> u64 {
        if delivery.must_wait() {
            delivery.finish().await;
        }
        self.account(ns, &delivery);
        delivery.delivered
    }

    fn account<T>(&self, ns: &NsMetrics, delivery: &Delivery<T>) {
        self.metrics.delivered(ns, delivery.delivered);
        self.metrics.dropped_oldest(ns, delivery.dropped_oldest);
        for id in &delivery.overflowed {
            self.metrics.overflow_closed(ns);
            self.remove_overflowed(*id);
        }
    }

    fn remove_overflowed(&self, id: u64) {
        // The queue is already closed with the overflow error; only unindex it.
        let mut subs = write(&self.subs);
        if let Some(pattern) = subs.patterns.remove(&id) {
            subs.list.remove(&pattern, id);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        drop(subs);
        write(&self.stored).retain(|e| e.id != id);
    }

    /// Delivers an `EventStored` notification to local stored subscriptions,
    /// never waiting (those queues never use `Wait`).
    pub(crate) fn deliver_stored(&self, notification: Arc<EventStored>) -> u64 {
        let mut delivery = Delivery::default();
        for entry in read(&self.stored).iter() {
            if entry.filter.accepts_actor(notification.actor_id.as_str()) {
                delivery.offer(entry, notification.clone());
            }
        }
        debug_assert!(!delivery.must_wait());
        let ns = self.metrics.namespace(STORED_NAMESPACE);
        self.account(&ns, &delivery);
        delivery.delivered
    }

    /// Reports `n` lost upstream items to every stored subscription.
    pub(crate) fn stored_lag(&self, n: u64) {
        for entry in read(&self.stored).iter() {
            entry.queue.push_lag(n);
        }
    }

    /// Closes every `EventStored` subscription (their NATS feed ended).
    pub(crate) fn close_stored(&self) {
        for entry in read(&self.stored).iter() {
            entry.queue.close(RecvError::Closed);
        }
    }

    /// Closes every subscription (the bus is shutting down).
    pub(crate) fn close_all(&self) {
        let mut subs = write(&self.subs);
        subs.patterns.clear();
        self.generation.fetch_add(1, Ordering::Release);
        for entry in subs.list.clear() {
            entry.queue.close(RecvError::Closed);
        }
        drop(subs);
        for entry in write(&self.stored).drain(..) {
            entry.queue.close(RecvError::Closed);
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.close_all();
    }
}

//! Counters per namespace through the [`metrics`] facade, plus per-bus totals.
//!
//! Facade counters (labels: `namespace`):
//! - `aether_bus_published_total`: events published on this node;
//! - `aether_bus_delivered_total`: events queued for a local subscriber;
//! - `aether_bus_dropped_total` (extra label `reason`): with `drop_oldest`,
//!   events a full drop-oldest queue pushed out (the subscriber sees them as
//!   lag); with `overflow_closed`, subscriptions closed because their queue
//!   overflowed under the `Close` policy (one per subscription, not per
//!   event);
//! - `aether_bus_remote_lost_total`: events published on another node that a
//!   sequence gap shows never reached this node (see `NatsEventBus`);
//! - `aether_bus_unsent_total`: events published on this node that the NATS
//!   client refused after they were queued (a closed client), so no other
//!   node gets them.
//!
//! Counter handles are registered with the recorder installed when a namespace
//! is first used; install your recorder before creating the bus.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use metrics::{Counter, counter};

use crate::hash::FastMap;

/// At most this many namespaces keep cached counter handles; beyond it,
/// handles are registered per call (slower, still counted).
const MAX_CACHED_NAMESPACES: usize = 10_000;

/// Cached counters of one namespace.
#[derive(Debug)]
pub(crate) struct NsMetrics {
    pub(crate) name: Arc<str>,
    /// The name as delivered to subscribers.
    pub(crate) delivered_name: crate::Namespace,
    published: Counter,
    delivered: Counter,
    dropped_oldest: Counter,
    overflow_closed: Counter,
    remote_lost: Counter,
    unsent: Counter,
    /// This node's last publication sequence number in the namespace
    /// (cross-node gap detection); `None` when the namespace is not cached
    /// (no gap detection). Written only by the `NatsEventBus` outbox task,
    /// which hands messages to the client in queue order.
    pub(crate) seq: Option<std::sync::atomic::AtomicU64>,
    /// The local subscriptions matching this namespace, cached (see
    /// [`crate::dispatch::Routes`]).
    pub(crate) routes: RwLock<Option<crate::dispatch::Routes>>,
    /// The NATS subject of this namespace (`NatsEventBus` only), built on
    /// first publication.
    pub(crate) nats_subject: OnceLock<async_nats::Subject>,
}

impl NsMetrics {
    fn new(name: &str, numbered: bool) -> Self {
        let ns = name.to_owned();
        Self {
            name: Arc::from(name),
            delivered_name: crate::Namespace::new(name),
            published: counter!("aether_bus_published_total", "namespace" => ns.clone()),
            delivered: counter!("aether_bus_delivered_total", "namespace" => ns.clone()),
            dropped_oldest: counter!("aether_bus_dropped_total", "namespace" => ns.clone(), "reason" => "drop_oldest"),
            overflow_closed: counter!("aether_bus_dropped_total", "namespace" => ns.clone(), "reason" => "overflow_closed"),
            remote_lost: counter!("aether_bus_remote_lost_total", "namespace" => ns.clone()),
            unsent: counter!("aether_bus_unsent_total", "namespace" => ns),
            seq: numbered.then(|| std::sync::atomic::AtomicU64::new(0)),
            routes: RwLock::new(None),
            nats_subject: OnceLock::new(),
        }
    }
}

/// A snapshot of a bus's totals over all namespaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BusStats {
    /// Events published through this bus handle's node.
    pub published: u64,
    /// Events queued for local subscribers (one per subscriber).
    pub delivered: u64,
    /// Events dropped from full drop-oldest queues (each reported to its
    /// subscriber as lag).
    pub dropped_oldest: u64,
    /// Subscriptions closed because their queue overflowed (policy `Close`).
    pub overflow_closed: u64,
    /// Events from other nodes detected missing by sequence gaps (each
    /// reported to the affected subscribers as lag).
    pub remote_lost: u64,
    /// Remote messages that could not be decoded (counted, then skipped).
    pub decode_errors: u64,
    /// Events published on this node (`NatsEventBus`) that the NATS client
    /// refused after they were queued (a closed client): other nodes never
    /// get them. Logged as errors too.
    pub unsent: u64,
}

/// The bus's metrics: totals and per-namespace facade counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    namespaces: RwLock<FastMap<Box<str>, Arc<NsMetrics>>>,
    published: AtomicU64,
    delivered: AtomicU64,
    dropped_oldest: AtomicU64,
    overflow_closed: AtomicU64,
    remote_lost: AtomicU64,
    decode_errors: AtomicU64,
    unsent: AtomicU64,
}

impl Metrics {
    /// The counters of `namespace` if cached (cached namespaces are valid).
    pub(crate) fn cached(&self, namespace: &str) -> Option<Arc<NsMetrics>> {
        self.namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(namespace)
            .cloned()
    }

    /// The counters of a valid `namespace`, validated with `validate` and
    /// cached on first use.
    pub(crate) fn checked(
        &self,
        namespace: &str,
        validate: impl FnOnce(&str) -> Result<(), crate::BusError>,
    ) -> Result<Arc<NsMetrics>, crate::BusError> {
        if let Some(m) = self.cached(namespace) {
            return Ok(m);
        }
        validate(namespace)?;
        Ok(self.namespace(namespace))
    }

    /// The cached counters (and shared name) of `namespace`.
    pub(crate) fn namespace(&self, namespace: &str) -> Arc<NsMetrics> {
        if let Some(m) = self.cached(namespace) {
            return m;
        }
        let mut map = self.namespaces.write().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = map.get(namespace) {
            return m.clone();
        }
        if map.len() < MAX_CACHED_NAMESPACES {
            let m = Arc::new(NsMetrics::new(namespace, true));
            map.insert(namespace.into(), m.clone());
            m
        } else {
            Arc::new(NsMetrics::new(namespace, false))
        }
    }

    pub(crate) fn published(&self, ns: &NsMetrics) {
        ns.published.increment(1);
        self.published.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn delivered(&self, ns: &NsMetrics, n: u64) {
        if n > 0 {
            ns.delivered.increment(n);
            self.delivered.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn dropped_oldest(&self, ns: &NsMetrics, n: u64) {
        if n > 0 {
            ns.dropped_oldest.increment(n);
            self.dropped_oldest.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn overflow_closed(&self, ns: &NsMetrics) {
        ns.overflow_closed.increment(1);
        self.overflow_closed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(namespace = %ns.name, "subscription closed: its queue overflowed");
    }

    pub(crate) fn remote_lost(&self, ns: &NsMetrics, n: u64) {
        ns.remote_lost.increment(n);
        self.remote_lost.fetch_add(n, Ordering::Relaxed);
        tracing::warn!(namespace = %ns.name, missed = n, "events from another node were lost");
    }

    pub(crate) fn decode_error(&self) {
        self.decode_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unsent(&self, ns: &NsMetrics, n: u64) {
        ns.unsent.increment(n);
        self.unsent.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BusStats {
        BusStats {
            published: self.published.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped_oldest: self.dropped_oldest.load(Ordering::Relaxed),
            overflow_closed: self.overflow_closed.load(Ordering::Relaxed),
            remote_lost: self.remote_lost.load(Ordering::Relaxed),
            decode_errors: self.decode_errors.load(Ordering::Relaxed),
            unsent: self.unsent.load(Ordering::Relaxed),
        }
    }
}

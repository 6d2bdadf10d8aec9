//! The background tasks of a [`super::NatsEventBus`]: per-pattern receivers,
//! the `EventStored` listener and the `EventStored` publisher.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};

use aether_core::EventStored;
use async_nats::{Client, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::origin;
use crate::core::{Core, STORED_NAMESPACE};
use crate::dispatch::Entry;
use crate::gaps::GapTracker;
use crate::item::{Envelope, RecvError};
use crate::metrics::NsMetrics;
use crate::pattern::{Pattern, validate_namespace};
use crate::wire;

/// How many events a receiver delivers before letting other tasks run.
const YIELD_EVERY: usize = 128;

/// Receives one pattern's NATS messages and delivers them to its group.
pub(super) async fn run_group(
    mut subscriber: Subscriber,
    core: Arc<Core>,
    entries: Arc<RwLock<Vec<Arc<Entry<Envelope>>>>>,
    pattern: Pattern,
    events_prefix: Arc<str>,
    node_id: Arc<str>,
) {
    let mut gaps = GapTracker::default();
    let mut delivered_since_yield = 0usize;
    // The namespace of the previous message: a stream usually stays on one
    // namespace, so its checks and counters are reused without a lookup.
    let mut last: Option<Arc<NsMetrics>> = None;
    while let Some(msg) = subscriber.next().await {
        let Some(ns) = msg.subject.as_str().strip_prefix(&*events_prefix) else {
            continue;
        };
        let (origin, seq) = origin::parse(msg.reply.as_ref());
        if origin == Some(&*node_id) {
            continue;
        }
        let nsm = match &last {
            Some(m) if *m.name == *ns => m.clone(),
            _ => {
                // Isolation: only concrete, valid namespaces the pattern matches.
                match core.metrics.checked(ns, validate_namespace) {
                    Ok(m) if pattern.matches_valid(ns) => {
                        last = Some(m.clone());
                        m
                    }
                    _ => {
                        core.metrics.decode_error();
                        tracing::warn!(subject = %msg.subject, "ignoring message on an invalid namespace");
                        continue;
                    }
                }
            }
        };
        // One message carries one event or several of one namespace.
        let payload = &msg.payload;
        if let (Some(origin), Some(seq)) = (origin, seq) {
            let lost = gaps.observe_run(origin, ns, seq, wire::count(payload));
            if lost > 0 {
                core.metrics.remote_lost(&nsm, lost);
                for entry in crate::core::read(&entries).iter() {
                    entry.queue.push_lag(lost);
                }
            }
        }
        for event in wire::decode(payload) {
            let event = match event {
                Ok(e) => Arc::new(e),
                Err(e) => {
                    core.metrics.decode_error();
                    tracing::warn!(subject = %msg.subject, error = %e, "ignoring undecodable event");
                    continue;
                }
            };
            let envelope = Envelope {
                namespace: nsm.delivered_name.clone(),
                event,
            };
            core.deliver_group(&nsm, &entries, envelope).await;
            // A message can hold hundreds of events, and tokio's cooperative
            // budget counts messages, not events: without this, a subscriber
            // task on the same worker could starve while this one fills its
            // queue.
            delivered_since_yield += 1;
            if delivered_since_yield == YIELD_EVERY {
                delivered_since_yield = 0;
                tokio::task::yield_now().await;
            }
        }
    }
    // The client ended the subscription (closed, drained, out of reconnect
    // attempts): nothing more will come, so say so instead of leaving the
    // subscriptions waiting forever.
    tracing::warn!(pattern = %pattern.as_str(), "NATS subscription ended; closing its subscriptions");
    for entry in crate::core::read(&entries).iter() {
        entry.queue.close(RecvError::Closed);
    }
}

/// Receives `EventStored` notifications from other nodes.
pub(super) async fn run_stored_listener(
    mut subscriber: Subscriber,
    core: Arc<Core>,
    node_id: Arc<str>,
) {
    let mut gaps = GapTracker::default();
    while let Some(msg) = subscriber.next().await {
        let (origin, seq) = origin::parse(msg.reply.as_ref());
        if origin == Some(&*node_id) {
            continue;
        }
        if let (Some(origin), Some(seq)) = (origin, seq) {
            let lost = gaps.observe_run(origin, STORED_NAMESPACE, seq, 1);
            if lost > 0 {
                let ns = core.metrics.namespace(STORED_NAMESPACE);
                core.metrics.remote_lost(&ns, lost);
                core.stored_lag(lost);
            }
        }
        // The listener outlives its last subscription (it starts once per
        // bus): do not decode for nobody.
        if core.stored_subscription_count() == 0 {
            continue;
        }
        match serde_json::from_slice::<EventStored>(&msg.payload) {
            Ok(n) => {
                core.deliver_stored(Arc::new(n));
            }
            Err(e) => {
                core.metrics.decode_error();
                tracing::warn!(error = %e, "ignoring undecodable EventStored notification");
            }
        }
    }
    tracing::warn!("NATS subscription for EventStored ended; closing EventStored subscriptions");
    core.close_stored();
}

/// Forwards this node's `EventStored` notifications to NATS, in order.
pub(super) async fn pump_stored(
    client: Client,
    subject: String,
    node_id: Arc<str>,
    pending: Weak<AtomicU64>,
    mut rx: mpsc::UnboundedReceiver<Arc<EventStored>>,
) {
    // Every notification takes a number, even one that then fails to encode
    // or publish: receivers see the gap and report the loss as lag.
    let mut seq = 0u64;
    while let Some(n) = rx.recv().await {
        // The bus's count of queued notifications: gone with the bus.
        let Some(pending) = pending.upgrade() else {
            return;
        };
        seq += 1;
        let _pending = PendingGuard(&pending);
        let payload = match serde_json::to_vec(&*n) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode EventStored notification");
                continue;
            }
        };
        let reply = origin::reply(&node_id, Some(seq));
        if let Err(e) = client
            .publish_with_reply(subject.clone(), reply, Bytes::from(payload))
            .await
        {
            tracing::warn!(error = %e, "cannot publish EventStored notification");
        }
    }
}

pub(super) struct PendingGuard<'a>(&'a AtomicU64);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

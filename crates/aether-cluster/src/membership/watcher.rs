//! The membership watcher task: KV entries + heartbeats → view and events.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use futures::StreamExt;
use tokio::sync::{broadcast, watch};
use tracing::Instrument;

use crate::config::ClusterConfig;
use crate::id::NodeId;
use crate::membership::heartbeat::{HeartbeatTracker, Suspicion};
use crate::membership::kv::decode_info;
use crate::membership::{LeaveReason, Member, MemberView, MembershipEvent};
use crate::nats::unless_shutdown;

pub(crate) struct Watcher {
    pub(crate) client: async_nats::Client,
    pub(crate) store: kv::Store,
    pub(crate) config: ClusterConfig,
    pub(crate) me: NodeId,
    pub(crate) view: watch::Sender<Arc<MemberView>>,
    pub(crate) events: broadcast::Sender<MembershipEvent>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Watcher {
    pub(crate) async fn run(mut self) {
        let span = tracing::info_span!("aether.cluster.membership", node = %self.me);
        async move {
            let prefix = self.config.heartbeat_prefix();
            let my_subject = format!("{prefix}.{}", self.me);
            let mut hb_sub = loop {
                match self.client.subscribe(format!("{prefix}.*")).await {
                    Ok(s) => break s,
                    Err(e) => {
                        tracing::warn!(error = %e, "heartbeat subscribe failed; retrying");
                        if self.sleep_or_shutdown(Duration::from_millis(200)).await {
                            return;
                        }
                    }
                }
            };
            let mut tracker = HeartbeatTracker::new(self.config.membership.suspect_after());
            let mut view = MemberView::default();
            // Keys seen live since the last (re-)watch, until the snapshot is complete.
            let mut resync: Option<BTreeSet<NodeId>> = None;
            let mut entries = None;
            // Every member renews every `renew_interval`, so a healthy watch is
            // never silent for long; a silent one lost its consumer (a NATS
            // server died) and is re-created instead of waiting for idle heartbeats.
            let stale_after = (self.config.membership.renew_interval * 3).max(Duration::from_secs(1));
            let mut last_entry = Instant::now();
            let hb_period = self.config.membership.heartbeat_interval;
            let mut hb_tick = tokio::time::interval(hb_period);
            hb_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut check_tick = tokio::time::interval((hb_period / 4).max(Duration::from_millis(10)));
            check_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                if entries.is_none() {
                    // Always start from the current value of every key: expiry
                    // markers may have aged out while the watch was down, so a
                    // snapshot is reconciled against the view instead.
                    let limit = self.config.kv.request_timeout;
                    let watch = self.store.watch_with_history(">");
                    match unless_shutdown(&mut self.shutdown, limit, watch).await {
                        Some(Ok(w)) => {
                            entries = Some(w);
                            last_entry = Instant::now();
                            resync = Some(BTreeSet::new());
                        }
                        Some(Err(e)) => tracing::warn!(error = %e, "membership watch failed; retrying"),
                        None if *self.shutdown.borrow() => return,
                        None => tracing::warn!("membership watch: no answer in time; retrying"),
                    }
                }
                tokio::select! {
                    _ = self.shutdown.changed() => return,
                    _ = hb_tick.tick() => {
                        // Bounded: while NATS is unreachable the client stops
                        // taking commands once its queue is full, and this
                        // loop must still see the shutdown signal.
                        let beat = self.client.publish(my_subject.clone(), bytes::Bytes::new());
                        match tokio::time::timeout(hb_period, beat).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => tracing::debug!(error = %e, "heartbeat publish failed"),
                            Err(_) => tracing::debug!("heartbeat publish timed out (NATS unreachable?)"),
                        }
                    }
                    _ = check_tick.tick() => {
                        for s in tracker.check(Instant::now()) {
                            self.suspicion(&mut view, s);
                        }
                        if entries.is_some() && last_entry.elapsed() > stale_after {
                            tracing::warn!("membership watch silent; re-watching");
                            entries = None;
                        }
                    }
                    Some(msg) = hb_sub.next() => {
                        let token = msg.subject.as_str().rsplit('.').next().unwrap_or_default();
                        if let Ok(node) = NodeId::new(token)
                            && let Some(s) = tracker.heard(&node, Instant::now())
                        {
                            self.suspicion(&mut view, s);
                        }
                    }
                    entry = next_entry(&mut entries) => match entry {
                        Some(Ok(entry)) => {
                            last_entry = Instant::now();
                            let snapshot_done = entry.delta == 0;
                            if let Some(seen) = resync.as_mut()
                                && entry.operation == kv::Operation::Put
                                && let Ok(node) = NodeId::new(&entry.key)
                            {
                                seen.insert(node);
                            }
                            self.apply(&mut view, &mut tracker, entry);
                            if snapshot_done && let Some(seen) = resync.take() {
                                self.reconcile(&mut view, &mut tracker, &seen);
                            }
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "membership watch error; re-watching");
                            entries = None;
                        }
                        None => {
                            entries = None;
                            if self.sleep_or_shutdown(Duration::from_millis(100)).await {
                                return;
                            }
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn sleep_or_shutdown(&mut self, d: Duration) -> bool {
        tokio::select! {
            _ = self.shutdown.changed() => true,
            _ = tokio::time::sleep(d) => *self.shutdown.borrow(),
        }
    }

    fn publish(&self, view: &MemberView, event: MembershipEvent) {
        self.view.send_replace(Arc::new(view.clone()));
        tracing::info!(?event, "membership change");
        // No receiver is fine: events are also reflected in the view.
        let _ = self.events.send(event);
    }

    fn suspicion(&self, view: &mut MemberView, s: Suspicion) {
        let (node, suspected) = match s {
            Suspicion::Suspected(n) => (n, true),
            Suspicion::Recovered(n) => (n, false),
        };
        let Some(m) = view.members.get_mut(&node) else {
            return;
        };
        m.suspected = suspected;
        let event = if suspected {
            MembershipEvent::Suspected(node)
        } else {
            MembershipEvent::Recovered(node)
        };
        self.publish(view, event);
    }

    /// Members missing from a complete snapshot expired while we were not watching.
    fn reconcile(
        &self,
        view: &mut MemberView,
        tracker: &mut HeartbeatTracker,
        seen: &BTreeSet<NodeId>,
    ) {
        let gone: Vec<NodeId> = view
            .members
            .keys()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect();
        for node in gone {
            view.members.remove(&node);
            tracker.forget(&node);
            self.publish(
                view,
                MembershipEvent::Left {
                    node,
                    reason: LeaveReason::Expired,
                },
            );
        }
    }

    fn apply(&self, view: &mut MemberView, tracker: &mut HeartbeatTracker, entry: kv::Entry) {
        let Ok(node) = NodeId::new(&entry.key) else {
            tracing::warn!(key = %entry.key, "ignoring member entry with an invalid key");
            return;
        };
        match entry.operation {
            kv::Operation::Put => {
                if let Some(known) = view.members.get_mut(&node) {
                    // A renewal; the info changes when the member starts
                    // draining.
                    match decode_info(&entry.value) {
                        Ok(info) if info.id == node && info != known.info => {
                            let draining = info.is_draining() && !known.info.is_draining();
                            known.info = info;
                            if draining {
                                self.publish(view, MembershipEvent::Draining(node));
                            } else {
                                self.view.send_replace(Arc::new(view.clone()));
                            }
                        }
                        _ => {}
                    }
                    return;
                }
                let info = match decode_info(&entry.value) {
                    Ok(info) if info.id == node => info,
                    Ok(info) => {
                        tracing::warn!(key = %node, id = %info.id, "ignoring member entry whose id differs from its key");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(key = %node, error = %e, "ignoring undecodable member entry");
                        return;
                    }
                };
                let member = Member {
                    info,
                    incarnation: entry.revision,
                    suspected: false,
                };
                if node != self.me {
                    tracker.track(node.clone(), Instant::now());
                }
                view.members.insert(node, member.clone());
                self.publish(view, MembershipEvent::Joined(member));
            }
            op => {
                if view.members.remove(&node).is_none() {
                    return;
                }
                tracker.forget(&node);
                let reason = if op == kv::Operation::Delete {
                    LeaveReason::Graceful
                } else {
                    LeaveReason::Expired
                };
                self.publish(view, MembershipEvent::Left { node, reason });
            }
        }
    }
}

async fn next_entry(
    entries: &mut Option<kv::Watch>,
) -> Option<Result<kv::Entry, kv::WatcherError>> {
    match entries {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

//! The shard keeper of one node: it claims the shards the map in force
//! gives this node, serves them, and releases those the map takes away.
//!
//! - **Claim** (compare-and-swap on the shard's claim key) only when the
//!   node's lease is valid, its member view has caught up (it sees itself),
//!   and the claim is free: absent, released, this node's own from an earlier
//!   life, or held by a node that is no longer a member (whose lease has
//!   expired, so it stopped serving before). A live holder keeps its shard
//!   until it releases it. Then serve: the fence admits turns, the shard's
//!   subscription takes calls.
//! - **Release, planned** (the map moved the shard to a live node): stop
//!   admitting (turns answer `NotOwner`, calls `not-owner`), claim
//!   `Releasing{to}`, let the shard's actors finish their turns and
//!   passivate (snapshot per policy), claim `Released{to}`, keep answering
//!   `not-owner` until the new owner serves, then unsubscribe.
//! - **At most `max_concurrent_handoffs` planned releases at once**: a
//!   shard the map moved away waits for a permit with its claim unchanged
//!   (`Serving`, ours): the fence admits no turn for it (the map names
//!   another owner), its subscription answers `not-owner`, and the new owner
//!   cannot claim it from a live holder, so nobody serves it twice and its
//!   callers retry until the new owner serves. If the map gives it back
//!   meanwhile, it is served again at once.
//! - **Release, lease lost**: stop admitting and unsubscribe at once; the
//!   claim stays as it is and is taken over once this node's member entry
//!   expires.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use aether_core::ActorId;
use async_nats::jetstream::kv;
use futures::StreamExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::claim_fence::ClaimFence;
use super::claims::{
    Cas, Claim, Claims, Held, Phase, claimable, shard_of_key, taken_from, taken_over,
};
use super::shard_server::{Handlers, Mode, ServeCtx, ShardServer};
use super::transfer::{self, Arrivals, handoff_subject};
use crate::id::{NodeId, ShardId};
use crate::runtime::config::RoutingConfig;
use crate::runtime::host::{Actors, Eviction};

/// How often the keeper looks again without a notification.
const TICK: Duration = Duration::from_millis(50);

/// What the keeper and its release tasks share.
pub(crate) struct Shared {
    pub(crate) fence: Arc<ClaimFence>,
    pub(crate) claims: Claims,
    pub(crate) ctx: Arc<ServeCtx>,
    /// The system's types: the serving side of each, and its actors.
    pub(crate) handlers: Arc<Handlers>,
    pub(crate) config: RoutingConfig,
    /// States handed off to this node, until it claims their shards.
    pub(crate) arrivals: Arc<Arrivals>,
    /// Planned releases under way (drain, handoff, `Released`).
    releasing: std::sync::atomic::AtomicUsize,
    /// One permit per planned release under way (`max_concurrent_handoffs`).
    handoffs: Arc<Semaphore>,
    /// Told when a planned release gives its permit back.
    handoff_done: Notify,
    /// Shards the map moved away that wait for a permit (last reconcile).
    queued: std::sync::atomic::AtomicUsize,
    /// The claims as the bucket's watch delivered them, by shard.
    cache: RwLock<HashMap<u32, Held>>,
    /// Bumped on every change of `cache`.
    changes: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("served", &self.fence.served().len())
            .finish()
    }
}

/// One shard as this node has it.
#[derive(Default)]
struct Slot {
    /// The claim revision while serving, 0 otherwise.
    revision: u64,
    server: Option<ShardServer>,
    /// A release under way.
    release: Option<JoinHandle<()>>,
}

/// Released shards whose subscriptions still answer `not-owner`.
pub(crate) type Released = Vec<(ShardId, ShardServer)>;

/// The running keeper.
#[derive(Debug)]
pub(crate) struct Keeper {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<Released>>>,
}

impl Keeper {
    pub(crate) fn start(
        fence: Arc<ClaimFence>,
        claims: Claims,
        ctx: Arc<ServeCtx>,
        handlers: Arc<Handlers>,
        config: RoutingConfig,
        arrivals: Arc<Arrivals>,
    ) -> Self {
        let shared = Arc::new(Shared {
            fence,
            claims,
            ctx,
            handlers,
            handoffs: Arc::new(Semaphore::new(config.max_concurrent_handoffs.max(1))),
            config,
            arrivals,
            releasing: std::sync::atomic::AtomicUsize::new(0),
            handoff_done: Notify::new(),
            queued: std::sync::atomic::AtomicUsize::new(0),
            cache: RwLock::new(HashMap::new()),
            changes: std::sync::atomic::AtomicU64::new(0),
        });
        let (stop, rx) = watch::channel(false);
        let span = tracing::info_span!("aether.runtime.keeper");
        let task = tokio::spawn(tracing::Instrument::instrument(
            run(shared.clone(), rx),
            span,
        ));
        Self {
            shared,
            stop,
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    /// Whether no release is under way (its claim not yet `Released`).
    pub(crate) fn releases_done(&self) -> bool {
        self.shared
            .releasing
            .load(std::sync::atomic::Ordering::Acquire)
            == 0
    }

    /// How long handing one shard on may take: its drain, then its
    /// transfer.
    pub(crate) fn handoff_allowance(&self) -> Duration {
        self.shared.config.drain_timeout + self.shared.config.handoff_timeout * 2
    }

    /// Stops claiming and releases every served shard (drained, claim
    /// `Released`); returns their subscriptions, still answering
    /// `not-owner`, for [`Keeper::retire_all`] once the node has left the
    /// cluster.
    pub(crate) async fn release_all(&self) -> Released {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Releases under way wait for their new owners to serve: keep the
        // claims cache fresh while the loop winds down.
        let follow = self.follow();
        let released = match task {
            Some(t) => t.await.unwrap_or_default(),
            None => Vec::new(),
        };
        follow.abort();
        released
    }

    /// Applies the claims watch to the cache until aborted (once the
    /// keeper's loop, which does that, is over).
    fn follow(&self) -> JoinHandle<()> {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let (mut watch, _) = open_watch(&shared).await;
            while let Some(e) = next_entry(&mut watch).await {
                shared.apply(e);
            }
        })
    }

    /// Ends the released shards' subscriptions once their new owners serve
    /// them (or the grace passed).
    pub(crate) async fn retire_all(&self, servers: Released) {
        if servers.is_empty() {
            return;
        }
        // The keeper's loop is over: keep the claims cache fresh meanwhile,
        // so each subscription ends as soon as its shard's new owner serves.
        let follow = self.follow();
        futures::stream::iter(servers)
            .for_each_concurrent(None, |(shard, server)| retire(&self.shared, shard, server))
            .await;
        follow.abort();
    }
}

async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) -> Released {
    let count = shared.fence.subjects.shard_count() as usize;
    let mut slots: Vec<Slot> = (0..count).map(|_| Slot::default()).collect();
    let mut maps = shared.fence.node.watch_shard_map();
    let mut watch: Option<kv::Watch> = None;
    let mut synced = false;
    let mut maps_alive = true;
    // The claims seen by the last reconcile (a taken claim shows there).
    let mut seen = u64::MAX;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if watch.is_none() {
            (watch, synced) = open_watch(&shared).await;
        }
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            entry = next_entry(&mut watch) => match entry {
                Some(e) => {
                    synced |= e.seen_current || e.delta == 0;
                    shared.apply(e);
                    // Take what else is ready before looking again.
                    while let Some(w) = watch.as_mut() {
                        let Some(Some(Ok(e))) = futures::FutureExt::now_or_never(w.next()) else {
                            break;
                        };
                        synced |= e.seen_current || e.delta == 0;
                        shared.apply(e);
                    }
                }
                None => watch = None,
            },
            changed = maps.changed(), if maps_alive => {
                // The node's tasks are gone (aborted): its lease lapses and
                // the tick does the rest.
                maps_alive = changed.is_ok();
            }
            _ = tick.tick() => {}
            // A permit came free: a shard waiting for one can go.
            _ = shared.handoff_done.notified() => {}
        }
        if synced {
            reconcile(&shared, &mut slots, &mut seen).await;
        }
    }
    // Stopping: let releases under way finish, release the rest (those
    // that waited for a handoff permit too: they move cold, at once).
    shared.set_queued(0);
    let mut servers = Vec::new();
    let mut releases = Vec::new();
    for (i, slot) in slots.iter_mut().enumerate() {
        if let Some(r) = slot.release.take() {
            let _ = r.await;
        }
        let shard = ShardId(i as u32);
        if slot.revision != 0 {
            shared.fence.stop(shard);
            if let Some(s) = &slot.server {
                s.set(Mode::NotOwner);
            }
            releases.push((shard, std::mem::take(&mut slot.revision)));
        }
        if let Some(s) = slot.server.take() {
            servers.push((shard, s));
        }
    }
    let lease_ok = shared.fence.lease_valid();
    futures::stream::iter(releases)
        .for_each_concurrent(64, |(shard, revision)| {
            let shared = shared.clone();
            async move {
                shared
                    .drain_and_release(shard, revision, lease_ok, None)
                    .await
            }
        })
        .await;
    servers
}

/// A watch over every claim; with whether it is caught up already (an
/// empty bucket sends nothing to say so).
async fn open_watch(shared: &Shared) -> (Option<kv::Watch>, bool) {
    let limit = Duration::from_secs(2);
    let store = shared.claims.store();
    let empty = matches!(
        tokio::time::timeout(limit, store.status()).await,
        Ok(Ok(s)) if s.values() == 0
    );
    match tokio::time::timeout(limit, store.watch_with_history(">")).await {
        Ok(Ok(w)) => (Some(w), empty),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "watching the claims failed; retrying");
            tokio::time::sleep(TICK).await;
            (None, false)
        }
        Err(_) => (None, false),
    }
}

async fn next_entry(watch: &mut Option<kv::Watch>) -> Option<kv::Entry> {
    match watch {
        Some(w) => match w.next().await {
            Some(Ok(e)) => Some(e),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "the claims watch failed; reopening");
                None
            }
            None => None,
        },
        None => std::future::pending().await,
    }
}

impl Shared {
    /// Records how many shards wait for a handoff permit (the gauge
    /// `aether_runtime_handoffs_queued`, summed over the process's nodes).
    fn set_queued(&self, now: usize) {
        let before = self.queued.swap(now, std::sync::atomic::Ordering::Relaxed);
        if now != before {
            let gauge = metrics::gauge!("aether_runtime_handoffs_queued");
            if now > before {
                gauge.increment((now - before) as f64);
            } else {
                gauge.decrement((before - now) as f64);
            }
        }
    }

    fn apply(&self, e: kv::Entry) {
        let Some(shard) = shard_of_key(&e.key) else {
            return;
        };
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match e.operation {
            kv::Operation::Put => match Claim::decode(&e.value) {
                Some(c) => {
                    cache.insert(shard.0, (c, e.revision));
                }
                None => {
                    tracing::warn!(key = %e.key, "an unreadable claim was ignored");
                }
            },
            kv::Operation::Delete | kv::Operation::Purge => {
                cache.remove(&shard.0);
            }
        }
    }

    fn cached(&self, shard: ShardId) -> Option<Held> {
        self.cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&shard.0)
            .cloned()
    }

    fn me(&self) -> &NodeId {
        self.fence.node.id()
    }

    /// Claims `shard` from what the cache holds; the revision on success.
    /// A claim taken over from a holder that looks gone is taken only once
    /// the members stream's leader confirms its entry is gone.
    async fn claim(&self, shard: ShardId, held: Option<&Held>, epoch: u64) -> Option<u64> {
        if let Some(holder) = taken_from(held.map(|h| &h.0), self.me()) {
            match self.claims.member_gone(holder).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(shard = shard.0, %holder, "the holder is a member again; not taking its shard");
                    return None;
                }
                Err(e) => {
                    tracing::debug!(shard = shard.0, error = %e, "confirming the holder is gone failed");
                    return None;
                }
            }
        }
        let held = held.map(|h| h.1);
        let claim = Claim::serving(self.me().clone(), epoch);
        let cas = match held {
            None => self.claims.create(shard, &claim).await,
            Some(rev) => self.claims.update(shard, &claim, rev).await,
        };
        match cas {
            Ok(Cas::Won(rev)) => Some(rev),
            Ok(Cas::Lost) => None,
            Err(e) => {
                tracing::debug!(shard = shard.0, error = %e, "claiming failed");
                None
            }
        }
    }

    /// Tells the shard's actors to leave (`how`) and waits until none is
    /// active (at most `drain_timeout`).
    async fn drain(&self, shard: ShardId, how: Eviction) {
        let until = Instant::now() + self.config.drain_timeout;
        // One scan of the tables finds the shard's actors; then only they
        // are looked at, and one more scan makes sure none started since.
        let tables: Vec<Arc<dyn Actors>> = self
            .handlers
            .actors()
            .into_iter()
            .map(|(_, a, _)| a)
            .collect();
        let mut left: Vec<Vec<ActorId>> =
            tables.iter().map(|a| a.evict_unit(shard.0, how)).collect();
        loop {
            for (actors, ids) in tables.iter().zip(left.iter_mut()) {
                actors.evict_these(ids, how);
            }
            let mut active: usize = left.iter().map(Vec::len).sum();
            if active == 0 {
                left = tables.iter().map(|a| a.evict_unit(shard.0, how)).collect();
                active = left.iter().map(Vec::len).sum();
                if active == 0 {
                    return;
                }
            }
            if Instant::now() >= until {
                tracing::warn!(
                    shard = shard.0,
                    active,
                    "actors still active after the drain timeout; releasing anyway"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Releases a shard this node stopped admitting for: `Releasing{to}`,
    /// drain, `Released{to}` (`write: false`, when the lease lapsed or the
    /// claim was taken: only drain; the claim is not ours to write).
    async fn drain_and_release(
        &self,
        shard: ShardId,
        revision: u64,
        write: bool,
        to: Option<NodeId>,
    ) {
        let started = Instant::now();
        if !write {
            self.drain(shard, Eviction::Passivate).await;
            metrics::counter!("aether_runtime_shard_releases_total", "how" => "lost").increment(1);
            return;
        }
        let epoch = self.fence.epoch();
        let releasing = Claim {
            owner: self.me().clone(),
            epoch,
            phase: Phase::Releasing,
            to: to.clone(),
        };
        let step = self.claims.update(shard, &releasing, revision).await;
        let warm = self.config.warm_handoff
            && matches!(step, Ok(Cas::Won(_)))
            && to.as_ref().is_some_and(|t| t != self.me());
        if warm {
            self.drain(shard, Eviction::HandOff).await;
            self.hand_off(shard, epoch, to.as_ref()).await;
        } else {
            self.drain(shard, Eviction::Passivate).await;
        }
        let mut written = false;
        if let Ok(Cas::Won(rev)) = step {
            let released = Claim {
                phase: Phase::Released,
                ..releasing
            };
            for _ in 0..3 {
                match self.claims.update(shard, &released, rev).await {
                    Ok(_) => {
                        written = true;
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(shard = shard.0, error = %e, "releasing failed; again");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
        if !written {
            // The keeper's next passes finish it from the claim.
            tracing::info!(
                shard = shard.0,
                "the shard's claim was not released; finishing later"
            );
        }
        metrics::counter!("aether_runtime_shard_releases_total", "how" => "planned").increment(1);
        metrics::histogram!("aether_runtime_handoff_seconds")
            .record(started.elapsed().as_secs_f64());
        tracing::debug!(shard = shard.0, took = ?started.elapsed(), "shard released");
    }
}

impl Shared {
    /// Sends the states of `shard`'s actors, docked as they left, to `to`
    /// (the map's new owner); those that do not arrive move cold.
    async fn hand_off(&self, shard: ShardId, epoch: u64, to: Option<&NodeId>) {
        let states: Vec<_> = self
            .handlers
            .actors()
            .iter()
            .flat_map(|(_, a, _)| a.take_docked(shard.0))
            .collect();
        let Some(to) = to else {
            return;
        };
        if states.is_empty() {
            return;
        }
        let total = states.len();
        let span = tracing::info_span!("aether.runtime.handoff", shard = shard.0, to = %to, actors = total);
        let subject = handoff_subject(&self.fence.node.config().cluster_name, to);
        let sent = tracing::Instrument::instrument(
            transfer::send(
                &self.ctx.client,
                subject,
                (shard, self.me(), epoch),
                states,
                self.config.handoff_timeout,
            ),
            span,
        )
        .await;
        let warm = match sent {
            Ok(n) => n,
            Err((n, why)) => {
                tracing::info!(shard = shard.0, %to, sent = n, total, %why, "handoff cut short; the rest moves cold");
                n
            }
        };
        metrics::counter!("aether_runtime_handoff_actors_total", "how" => "warm")
            .increment(warm as u64);
        metrics::counter!("aether_runtime_handoff_actors_total", "how" => "cold")
            .increment((total - warm) as u64);
    }

    /// Installs the states handed off for `shard` (by the release `held`
    /// records) as active actors, before the shard is served.
    fn install_arrivals(&self, shard: ShardId, held: Option<&Claim>) {
        let states = self.arrivals.take(shard, held);
        if states.is_empty() {
            return;
        }
        let (mut warm, total) = (0, states.len());
        for s in states {
            let Some(actors) = self
                .handlers
                .get(s.snapshot.actor_id.actor_type())
                .and_then(|r| r.actors)
            else {
                continue;
            };
            match actors.install(s) {
                Ok(true) => warm += 1,
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "a handed-off state was not installed"),
            }
        }
        metrics::counter!("aether_runtime_handoff_installed_total").increment(warm as u64);
        tracing::debug!(shard = shard.0, warm, total, "handed-off actors installed");
    }
}

/// Ends a released shard's subscription: `not-owner` until another node
/// serves the shard (or `handoff_grace` passed), then silent for a moment
/// (the new owner's replies win), then unsubscribed.
async fn retire(shared: &Shared, shard: ShardId, server: ShardServer) {
    let until = Instant::now() + shared.config.handoff_grace;
    while Instant::now() < until {
        if let Some((c, _)) = shared.cached(shard)
            && c.phase == Phase::Serving
            && &c.owner != shared.me()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.set(Mode::Silent);
    tokio::time::sleep(Duration::from_millis(250)).await;
    server.stop().await;
}

async fn reconcile(shared: &Arc<Shared>, slots: &mut [Slot], seen: &mut u64) {
    let node = &shared.fence.node;
    // Whether the claims changed since the last look (only then can one of
    // ours have been taken).
    let changes = shared.changes.load(std::sync::atomic::Ordering::Relaxed);
    let claims_changed = std::mem::replace(seen, changes) != changes;
    let me = node.id();
    let lease = node.lease();
    let lease_ok = lease.is_valid();
    let map = node.shard_map();
    let view = node.members();
    let ready = lease_ok && view.contains(me);
    let mut to_claim = Vec::new();
    let mut queued = 0;
    for (i, slot) in slots.iter_mut().enumerate() {
        let shard = ShardId(i as u32);
        if let Some(r) = &slot.release {
            if !r.is_finished() {
                continue;
            }
            slot.release = None;
        }
        let target = map.as_ref().and_then(|m| m.primary(shard));
        let mine = lease_ok && target == Some(me);
        if slot.revision != 0 {
            // Someone else wrote the claim since we took it (an operator, or
            // a node that believes we are gone): not ours any more.
            let taken =
                claims_changed && taken_over(shared.cached(shard).as_ref(), slot.revision, me);
            // Registered again since the claim (the entry expired: a pause,
            // a partition): others may have taken it. The fence serves it no
            // more; claim it again if it is still ours.
            let stale = shared.fence.incarnation(shard) != lease.incarnation;
            if taken {
                tracing::warn!(
                    shard = shard.0,
                    "our claim was taken over; stopping at once"
                );
                begin_release(shared, shard, slot, false, None);
            } else if stale && lease_ok {
                tracing::info!(
                    shard = shard.0,
                    "registered again since claiming; stopping, to claim again"
                );
                begin_release(shared, shard, slot, false, None);
            } else if !mine && !lease_ok {
                begin_release(shared, shard, slot, false, None);
            } else if !mine {
                // A planned release: it waits for a permit, still holding
                // the claim (the fence admits no turn: the map names
                // another owner).
                match shared.handoffs.clone().try_acquire_owned() {
                    Ok(permit) => {
                        start_release(shared, shard, slot, target.cloned(), permit);
                    }
                    Err(_) => queued += 1,
                }
            }
            continue;
        }
        // Ours in the bucket, yet not served here and not ours by the map:
        // a release whose claim write failed (the bucket did not answer),
        // which would keep the shard from its new owner for as long as this
        // node lives. Finish it from the claim.
        if !mine
            && lease_ok
            && map.is_some()
            && let Some((c, rev)) = shared.cached(shard)
            && &c.owner == me
            && c.phase != Phase::Released
        {
            finish_release(shared, shard, slot, rev, target.cloned());
            continue;
        }
        let Some(m) = map.as_ref().filter(|_| mine && ready) else {
            continue;
        };
        let held = shared.cached(shard);
        let member = |x: &NodeId| view.contains(x) || m.members.contains(x);
        if claimable(held.as_ref().map(|h| &h.0), me, m.epoch, member) {
            to_claim.push((shard, held, m.epoch));
        }
    }
    shared.set_queued(queued);
    if to_claim.is_empty() {
        return;
    }
    let won: Vec<(ShardId, u64, Option<Held>)> = futures::stream::iter(to_claim)
        .map(|(shard, held, epoch)| {
            let shared = shared.clone();
            async move {
                shared
                    .claim(shard, held.as_ref(), epoch)
                    .await
                    .map(|rev| (shard, rev, held))
            }
        })
        .buffer_unordered(32)
        .filter_map(std::future::ready)
        .collect()
        .await;
    for (shard, revision, held) in won {
        let slot = &mut slots[shard.0 as usize];
        shared.install_arrivals(shard, held.as_ref().map(|h| &h.0));
        shared.fence.serve(shard, revision, lease.incarnation);
        slot.revision = revision;
        metrics::counter!("aether_runtime_shard_claims_total").increment(1);
        tracing::debug!(shard = shard.0, revision, "shard claimed");
        match ShardServer::start(shard, shared.ctx.clone(), shared.handlers.clone()).await {
            Ok(s) => slot.server = Some(s),
            Err(e) => {
                // Local calls still work; callers elsewhere see no
                // responders and retry. The next pass tries again.
                tracing::warn!(shard = shard.0, error = %e, "subscribing to a claimed shard failed");
            }
        }
    }
    // Subscriptions that failed earlier.
    for (i, slot) in slots.iter_mut().enumerate() {
        if slot.revision != 0 && slot.server.is_none() {
            let shard = ShardId(i as u32);
            if let Ok(s) =
                ShardServer::start(shard, shared.ctx.clone(), shared.handlers.clone()).await
            {
                slot.server = Some(s);
            }
        }
    }
    // One flush writes every subscription started above out to the server
    // (async-nats's flush does not wait for the server: it has them a moment
    // later, before anything this node sends next).
    let _ = shared.ctx.client.flush().await;
}

/// Writes `Released{to}` over this node's claim of `shard` (at `revision`),
/// which it no longer serves, in the background; a failed write is tried
/// again by a later pass.
fn finish_release(
    shared: &Arc<Shared>,
    shard: ShardId,
    slot: &mut Slot,
    revision: u64,
    to: Option<NodeId>,
) {
    let shared = shared.clone();
    slot.release = Some(tokio::spawn(async move {
        shared.fence.stop(shard);
        shared.drain(shard, Eviction::Passivate).await;
        let released = Claim {
            owner: shared.me().clone(),
            epoch: shared.fence.epoch(),
            phase: Phase::Released,
            to,
        };
        match shared.claims.update(shard, &released, revision).await {
            Ok(Cas::Won(_)) => {
                metrics::counter!("aether_runtime_shard_releases_total", "how" => "finished")
                    .increment(1);
                tracing::info!(
                    shard = shard.0,
                    "an unfinished release of the shard finished"
                );
            }
            // Written meanwhile (by the release itself, or another node).
            Ok(Cas::Lost) => {}
            Err(e) => {
                tracing::debug!(shard = shard.0, error = %e, "finishing a release failed; again later");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }));
}

/// [`begin_release`], planned, under a handoff `permit` (given back once the
/// claim is `Released`, before the subscription retires).
fn start_release(
    shared: &Arc<Shared>,
    shard: ShardId,
    slot: &mut Slot,
    to: Option<NodeId>,
    permit: OwnedSemaphorePermit,
) {
    metrics::gauge!("aether_runtime_handoffs_in_flight").increment(1.0);
    begin_release_with(shared, shard, slot, true, to, Some(permit));
}

/// Stops admitting for `shard` and releases it in the background (`planned`:
/// hands it on with the claim phases; otherwise just stops serving).
fn begin_release(
    shared: &Arc<Shared>,
    shard: ShardId,
    slot: &mut Slot,
    planned: bool,
    to: Option<NodeId>,
) {
    begin_release_with(shared, shard, slot, planned, to, None);
}

fn begin_release_with(
    shared: &Arc<Shared>,
    shard: ShardId,
    slot: &mut Slot,
    planned: bool,
    to: Option<NodeId>,
    permit: Option<OwnedSemaphorePermit>,
) {
    shared.fence.stop(shard);
    let revision = std::mem::take(&mut slot.revision);
    let server = slot.server.take();
    if let Some(s) = &server {
        s.set(if planned { Mode::NotOwner } else { Mode::Stop });
    }
    let shared = shared.clone();
    shared
        .releasing
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    slot.release = Some(tokio::spawn(async move {
        shared.drain_and_release(shard, revision, planned, to).await;
        shared
            .releasing
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        if let Some(permit) = permit {
            drop(permit);
            metrics::gauge!("aether_runtime_handoffs_in_flight").decrement(1.0);
            shared.handoff_done.notify_one();
        }
        if let Some(server) = server {
            if planned {
                retire(&shared, shard, server).await;
            } else {
                server.stop().await;
            }
        }
    }));
}

//! Leader election by compare-and-swap on the `leader` key, and the leader's
//! duty: planning and publishing shard maps.
//!
//! **Protocol.** The `<cluster>_leader` bucket has `max_age` = leader lease.
//! A candidate `create`s the key `leader` (succeeds only if absent, deleted or
//! expired); the KV revision of that write is its [`Term`]. The leader renews
//! with `update(leader, {node, term}, last_revision)` every `renew_interval`;
//! each acknowledged renewal extends its lease to `sent_at + lease −
//! safety_margin` on its own monotonic clock, where `sent_at` is taken
//! **before** the request is sent. The server can only expire the key `lease`
//! after it wrote it, i.e. after `sent_at`, so the leader has stepped down
//! before any other node can acquire the key. A failed compare-and-swap means
//! someone else holds the key: step down at once. Resigning deletes the key so
//! a successor is elected immediately.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::Instrument;

use crate::assignment::ShardAssignment;
use crate::config::ClusterConfig;
use crate::id::{NodeId, Term};
use crate::membership::MemberView;
use crate::nats::{is_already_exists, is_cas_failure, unless_shutdown};
use crate::planner::{limit_moves, plan_rebalance};
use crate::shard_map::{MapState, SHARD_MAP_KEY, ShardMap};
use crate::strategy::PlacementStrategy;

/// The KV key of the leader record in the `<cluster>_leader` bucket.
pub const LEADER_KEY: &str = "leader";

/// This node's leadership while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leadership {
    /// The fencing token: carry it in every leader decision.
    pub term: Term,
    /// When the leader stops acting as leader unless it renews (local monotonic clock).
    pub valid_until: Instant,
}

impl Leadership {
    /// Whether the leadership is still valid now.
    pub fn is_valid(&self) -> bool {
        Instant::now() < self.valid_until
    }
}

/// The leader as seen in the KV bucket (by any node).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaderInfo {
    /// The leader.
    pub node: NodeId,
    /// Its term.
    pub term: Term,
}

#[derive(Serialize, Deserialize)]
struct LeaderRecord {
    node: NodeId,
    /// 0 in the acquiring write (its revision is the term), the term afterwards.
    #[serde(default)]
    term: u64,
}

fn record(node: &NodeId, term: u64) -> Bytes {
    // Serialising two plain fields cannot fail.
    Bytes::from(
        serde_json::to_vec(&LeaderRecord {
            node: node.clone(),
            term,
        })
        .unwrap_or_default(),
    )
}

pub(crate) fn observed(entry: &kv::Entry) -> Option<LeaderInfo> {
    if entry.operation != kv::Operation::Put {
        return None;
    }
    let rec: LeaderRecord = serde_json::from_slice(&entry.value).ok()?;
    let term = if rec.term == 0 {
        entry.revision
    } else {
        rec.term
    };
    Some(LeaderInfo {
        node: rec.node,
        term: Term(term),
    })
}

pub(crate) struct Election {
    pub(crate) client: async_nats::Client,
    pub(crate) leader_store: kv::Store,
    pub(crate) map_store: kv::Store,
    pub(crate) config: ClusterConfig,
    pub(crate) me: NodeId,
    pub(crate) strategy: Arc<dyn PlacementStrategy>,
    pub(crate) leadership: watch::Sender<Option<Leadership>>,
    pub(crate) observed: watch::Sender<Option<LeaderInfo>>,
    pub(crate) members: watch::Receiver<Arc<MemberView>>,
    pub(crate) maps: watch::Receiver<MapState>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

enum Outcome {
    SteppedDown,
    Shutdown,
}

/// A rebalance the leader publishes in rounds (`rebalance_max_moves`
/// shards a map): the strategy's target, planned once, so every round moves
/// shards straight to it and the later rounds do not re-plan from a map
/// half-way there.
struct Rounds {
    /// The members the target was planned for.
    members: Vec<NodeId>,
    /// The strategy's placement for them (before pins).
    target: ShardAssignment,
    /// The epoch of the last round's map.
    epoch: u64,
}

/// What a planning pass did.
enum Planned {
    /// Published the whole move, or nothing to publish.
    Done,
    /// Published a round; moves are held back for the next.
    More,
}

impl Election {
    pub(crate) async fn run(mut self) {
        let span = tracing::info_span!("aether.cluster.election", node = %self.me);
        async move {
            let mut watch: Option<kv::Watch> = None;
            // The leader renews every `renew_interval`; a watch silent for
            // longer lost its consumer (a NATS server died): re-create it.
            let stale_after = (self.config.election.renew_interval * 3).max(Duration::from_secs(1));
            let mut last_entry = Instant::now();
            loop {
                if last_entry.elapsed() > stale_after {
                    watch = None;
                }
                if *self.shutdown.borrow() {
                    return;
                }
                if watch.is_none() {
                    let limit = self.config.kv.request_timeout;
                    let created = self.leader_store.watch_with_history(LEADER_KEY);
                    watch = unless_shutdown(&mut self.shutdown, limit, created)
                        .await
                        .and_then(Result::ok);
                    last_entry = Instant::now();
                    if *self.shutdown.borrow() {
                        return;
                    }
                }
                if let Some(leadership) = self.try_acquire().await {
                    match self.lead(leadership, &mut watch).await {
                        Outcome::Shutdown => return,
                        Outcome::SteppedDown => continue,
                    }
                }
                // Follower: wait for the key to go away, or retry periodically.
                let retry = tokio::time::sleep(self.config.election.renew_interval);
                tokio::pin!(retry);
                loop {
                    tokio::select! {
                        _ = self.shutdown.changed() => return,
                        _ = &mut retry => break,
                        entry = next(&mut watch) => match entry {
                            Some(Ok(e)) => {
                                last_entry = Instant::now();
                                let info = observed(&e);
                                let vacant = info.is_none();
                                self.observed.send_replace(info);
                                if vacant {
                                    break;
                                }
                            }
                            _ => {
                                watch = None;
                                break;
                            }
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn try_acquire(&self) -> Option<Leadership> {
        let sent = Instant::now();
        let op = self.leader_store.create(LEADER_KEY, record(&self.me, 0));
        match tokio::time::timeout(self.config.kv.request_timeout, op).await {
            Ok(Ok(revision)) => {
                let leadership = Leadership {
                    term: Term(revision),
                    valid_until: sent + self.config.election.lease
                        - self.config.election.safety_margin,
                };
                tracing::info!(term = revision, "elected leader");
                Some(leadership)
            }
            Ok(Err(e)) if is_already_exists(&e) => None,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "leader acquisition failed");
                None
            }
            Err(_) => None,
        }
    }

    async fn lead(&mut self, mut me: Leadership, watch: &mut Option<kv::Watch>) -> Outcome {
        let span = tracing::info_span!("aether.cluster.leader", term = me.term.get());
        let this = &mut *self;
        async move {
            let cfg = this.config.election.clone();
            this.leadership.send_replace(Some(me));
            this.observed.send_replace(Some(LeaderInfo { node: this.me.clone(), term: me.term }));
            let mut revision = me.term.get();
            let mut next_renew = Instant::now() + cfg.renew_interval;
            let mut renewals = 0u64;
            let mut plan_at = Some(Instant::now() + this.config.rebalance_debounce);
            let far = Instant::now() + Duration::from_secs(3600);
            let (mut members_open, mut maps_open) = (true, true);
            let mut rounds: Option<Rounds> = None;
            loop {
                let wake = next_renew.min(me.valid_until).min(plan_at.unwrap_or(far));
                tokio::select! {
                    _ = this.shutdown.changed() => {
                        this.resign(revision).await;
                        return Outcome::Shutdown;
                    }
                    // A closed channel (its task ended) would fire forever: stop
                    // selecting on it then.
                    changed = this.members.changed(), if members_open => {
                        members_open = changed.is_ok();
                        if changed.is_ok() {
                            let at = Instant::now() + this.config.rebalance_debounce;
                            plan_at = Some(plan_at.map_or(at, |p| p.min(at)));
                        }
                    }
                    changed = this.maps.changed(), if maps_open => {
                        maps_open = changed.is_ok();
                        if changed.is_ok() {
                            let newer = this.maps.borrow().accepted.as_ref().is_some_and(|m| m.term > me.term);
                            if newer {
                                tracing::warn!("a shard map from a newer term exists; stepping down");
                                break;
                            }
                        }
                    }
                    entry = next(watch) => match entry {
                        // Entries from before our acquisition are stale.
                        Some(Ok(e)) if e.revision < me.term.get() => {}
                        Some(Ok(e)) => {
                            let info = observed(&e);
                            let ours = info.as_ref().is_some_and(|i| i.node == this.me && i.term == me.term);
                            if !ours {
                                this.observed.send_replace(info);
                                tracing::warn!("leader key changed under us; stepping down");
                                break;
                            }
                        }
                        _ => *watch = None,
                    },
                    _ = tokio::time::sleep_until(wake.into()) => {
                        let now = Instant::now();
                        if now >= me.valid_until {
                            tracing::warn!("leader lease not renewed in time; stepping down");
                            break;
                        }
                        if now >= next_renew {
                            let sent = Instant::now();
                            let limit = me.valid_until.saturating_duration_since(sent).min(this.config.kv.request_timeout);
                            let op = this.leader_store.update(LEADER_KEY, record(&this.me, me.term.get()), revision);
                            match tokio::time::timeout(limit, op).await {
                                Ok(Ok(rev)) => {
                                    revision = rev;
                                    me.valid_until = sent + cfg.lease - cfg.safety_margin;
                                    this.leadership.send_replace(Some(me));
                                    next_renew = sent + cfg.renew_interval;
                                    // Re-plan every fifth renewal, so changed shard pins
                                    // take effect (cheap when nothing changed);
                                    // not while NATS is gone, when the requests
                                    // would only queue up behind the others.
                                    renewals += 1;
                                    if renewals.is_multiple_of(5) && crate::nats::is_connected(&this.client) {
                                        plan_at = plan_at.or(Some(Instant::now()));
                                    }
                                }
                                Ok(Err(e)) if is_cas_failure(&e) => {
                                    tracing::warn!(error = %e, "leader renewal refused (key taken or expired); stepping down");
                                    break;
                                }
                                _ => {
                                    tracing::debug!("leader renewal failed; retrying");
                                    next_renew = Instant::now() + cfg.renew_interval / 4;
                                }
                            }
                        }
                        if plan_at.is_some_and(|p| p <= Instant::now()) {
                            // Planning makes KV requests (the pins, the map):
                            // a shutdown must not wait for them.
                            let mut stop = this.shutdown.clone();
                            let planned = tokio::select! {
                                r = this.publish_map(me, &mut rounds) => Some(r),
                                _ = stop.changed() => None,
                            };
                            plan_at = match planned {
                                Some(Ok(Planned::Done)) => None,
                                // The next round of a rebalance held back.
                                Some(Ok(Planned::More)) => Some(Instant::now() + this.config.rebalance_interval),
                                Some(Err(())) => Some(Instant::now() + cfg.renew_interval / 2),
                                None => {
                                    this.resign(revision).await;
                                    return Outcome::Shutdown;
                                }
                            };
                        }
                    }
                }
            }
            this.leadership.send_replace(None);
            tracing::info!("stepped down");
            Outcome::SteppedDown
        }
        .instrument(span)
        .await
    }

    async fn resign(&self, revision: u64) {
        self.leadership.send_replace(None);
        if !crate::nats::is_connected(&self.client) {
            tracing::warn!("NATS unreachable; the leader key will expire with its lease");
            return;
        }
        let op = self
            .leader_store
            .delete_expect_revision(LEADER_KEY, Some(revision));
        match tokio::time::timeout(self.config.kv.request_timeout, op).await {
            Ok(Ok(())) => tracing::info!("resigned leadership"),
            _ => tracing::warn!("could not resign; the leader key will expire with its lease"),
        }
    }

    /// Plans against the current map and publishes if anything changed:
    /// the strategy's placement, or the next round toward it (`rounds`)
    /// when it moves more than `rebalance_max_moves` shards between staying
    /// members.
    async fn publish_map(
        &self,
        me: Leadership,
        rounds: &mut Option<Rounds>,
    ) -> Result<Planned, ()> {
        // Draining members keep their shards only until this map moves
        // them (when every member drains, the map stays as it is).
        let members = self.members.borrow().placeable();
        if members.is_empty() || !me.is_valid() {
            return Ok(Planned::Done);
        }
        let state = self.maps.borrow().clone();
        let shards = &self.config.shards;
        let unassigned;
        let current: &ShardAssignment = match &state.accepted {
            Some(m) => &m.assignment,
            None => {
                unassigned = ShardAssignment::unassigned(shards.shard_count);
                &unassigned
            }
        };
        // A rebalance under way keeps its target while the members stay
        // and the map in force is its last round's.
        let accepted_epoch = state.accepted.as_ref().map_or(0, |m| m.epoch);
        let ongoing = rounds
            .take()
            .filter(|r| r.members == members && r.target.shard_count() == shards.shard_count);
        if let Some(r) = &ongoing
            && accepted_epoch < r.epoch
        {
            // Our last round's map has not reached us yet: plan once it has.
            *rounds = ongoing;
            return Err(());
        }
        let target = match ongoing.filter(|r| r.epoch == accepted_epoch) {
            Some(r) => r.target,
            None => {
                plan_rebalance(
                    self.strategy.as_ref(),
                    current,
                    &members,
                    shards.shard_count,
                    shards.replication_factor,
                )
                .assignment
            }
        };
        // Kept for a retry (a failed read or publication) and the next round.
        *rounds = Some(Rounds {
            members: members.clone(),
            target: target.clone(),
            epoch: accepted_epoch,
        });
        // An operator's pins (`aether handoff`) override the strategy; if
        // they cannot be read, the previous map's placement of the pinned
        // shards is not known either, so wait for the next round.
        let mut pinned = target;
        let pins = match crate::pins::read(&self.map_store, self.config.kv.request_timeout).await {
            Ok((pins, _)) => {
                crate::pins::apply(&mut pinned, &pins, &members, shards.replication_factor);
                pins
            }
            Err(e) => {
                tracing::debug!(error = %e, "shard pins not readable; planning again later");
                return Err(());
            }
        };
        // At most `rebalance_max_moves` shards move between staying members
        // in this map; pinned shards go at once.
        let plan = limit_moves(
            current,
            &pinned,
            &members,
            self.config.rebalance_max_moves,
            |s| pins.contains_key(&s.0),
        );
        if let Some(cur) = &state.accepted
            && cur.members == members
            && cur.assignment == plan.assignment
        {
            *rounds = None;
            return Ok(Planned::Done);
        }
        let Some(epoch) = state.next_epoch() else {
            tracing::error!(
                "a shard map with the largest epoch (u64::MAX) exists; no newer map can be published \
                 until the shards bucket is reset"
            );
            return Ok(Planned::Done);
        };
        let map = ShardMap {
            epoch,
            term: me.term,
            leader: self.me.clone(),
            strategy: self.strategy.name().to_owned(),
            replication_factor: shards.replication_factor,
            members,
            assignment: plan.assignment.clone(),
        };
        let span = tracing::info_span!(
            "aether.cluster.publish_shard_map",
            epoch = map.epoch,
            term = me.term.get(),
            members = map.members.len(),
            moves = plan.moves.len(),
            held_back = plan.deferred
        );
        let deferred = plan.deferred;
        let published = async {
            let bytes = map.encode().map_err(|e| tracing::error!(error = %e, "cannot encode shard map"))?;
            let limit = me.valid_until.saturating_duration_since(Instant::now()).min(self.config.kv.request_timeout);
            if limit.is_zero() {
                return Err(());
            }
            let result = if state.revision == 0 {
                match tokio::time::timeout(limit, self.map_store.create(SHARD_MAP_KEY, bytes)).await {
                    Ok(Ok(rev)) => Ok(rev),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".into()),
                }
            } else {
                match tokio::time::timeout(limit, self.map_store.update(SHARD_MAP_KEY, bytes, state.revision)).await {
                    Ok(Ok(rev)) => Ok(rev),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".into()),
                }
            };
            match result {
                Ok(rev) => {
                    tracing::info!(revision = rev, "published shard map");
                    Ok(())
                }
                Err(e) => {
                    tracing::warn!(error = %e, "shard map publication failed (another writer or NATS trouble); will re-plan");
                    Err(())
                }
            }
        }
        .instrument(span)
        .await;
        published?;
        if deferred == 0 {
            *rounds = None;
            return Ok(Planned::Done);
        }
        tracing::info!(
            held_back = deferred,
            epoch,
            "a rebalance round published; the next follows"
        );
        if let Some(r) = rounds {
            r.epoch = epoch;
        }
        Ok(Planned::More)
    }
}

async fn next(watch: &mut Option<kv::Watch>) -> Option<Result<kv::Entry, kv::WatcherError>> {
    match watch {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

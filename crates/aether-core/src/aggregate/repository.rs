//! [`Repository`]: loads aggregates and executes commands over any store.

use std::fmt;
use std::marker::PhantomData;

use tracing::Instrument;

use crate::error::Error;
use crate::event::Event;
use crate::id::ActorId;
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::store::{EventStore, ExpectedVersion};

use super::Aggregate;
use super::error::ExecuteError;
use super::retry::RetryPolicy;
use super::snapshot_policy::SnapshotPolicy;
use super::typed::{CommandEnvelope, EventEnvelope};
use super::upcast::{Upcaster, UpcasterChain};

/// The error of [`Repository::execute`] for aggregate `A`.
pub type ExecError<A> = ExecuteError<<A as Aggregate>::Error, <A as Aggregate>::Command>;

/// A snapshot store that has no snapshots: the default of a [`Repository`]
/// built without one. Loads always replay the full history.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSnapshots;

impl SnapshotStore for NoSnapshots {
    async fn latest_snapshot(&self, _actor_id: &ActorId) -> crate::Result<Option<Snapshot>> {
        Ok(None)
    }

    async fn save_snapshot(&self, _snapshot: Snapshot) -> crate::Result<()> {
        Ok(())
    }
}

/// An aggregate as loaded from the store. `Loaded::default()` is an
/// aggregate without events (version 0), as [`Repository::load`] returns for a
/// new actor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded<A> {
    /// The state.
    pub state: A,
    /// The version of the last event folded in (`0` = no events).
    pub version: u64,
    /// The version of the snapshot the load started from (`0` = none used).
    pub snapshot_version: u64,
    /// How many events were replayed on top of the snapshot.
    pub replayed: u64,
}

/// A committed command.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Committed<A: Aggregate> {
    /// The aggregate's version after the command (unchanged when the command
    /// caused no events).
    pub version: u64,
    /// The events the command caused, as stored.
    pub events: Vec<EventEnvelope<A::Event>>,
    /// The aggregate's state after the command.
    pub state: A,
    /// The attempts it took (1 = no conflict).
    pub attempts: u32,
}

/// The events of a command committed by [`Repository::execute_loaded`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CommittedEvents<E> {
    /// The aggregate's version after the command.
    pub version: u64,
    /// The events the command caused, as stored.
    pub events: Vec<EventEnvelope<E>>,
    /// The attempts it took (1 = no conflict).
    pub attempts: u32,
}

/// Checks the policy's circuit breaker; hands the command back if it is open.
fn acquire<E, C>(
    policy: &RetryPolicy,
    command: CommandEnvelope<C>,
) -> Result<CommandEnvelope<C>, ExecuteError<E, C>> {
    if let Some(b) = &policy.circuit_breaker
        && let Err(retry_after) = b.try_acquire()
    {
        return Err(ExecuteError::CircuitOpen {
            retry_after,
            command: Box::new(command),
        });
    }
    Ok(command)
}

/// Tells the policy's circuit breaker how an execution ended (a domain
/// rejection is a success: the store and the aggregate work).
fn settle<T, E, C>(policy: &RetryPolicy, result: &Result<T, ExecuteError<E, C>>) {
    if let Some(b) = &policy.circuit_breaker {
        match result {
            Ok(_) | Err(ExecuteError::Rejected(_)) => b.record_success(),
            Err(_) => b.record_failure(),
        }
    }
}

fn execute_span<A: Aggregate>(
    id: &ActorId,
    command: &CommandEnvelope<A::Command>,
) -> tracing::Span {
    tracing::debug_span!(
        "aether.aggregate.execute",
        aggregate = A::TYPE,
        actor = id.as_str(),
        command_id = command.command_id.as_str()
    )
}

/// Loads aggregates of type `A` from event store `S` (starting from snapshot
/// store `SS` when it has a usable snapshot) and executes commands on them.
///
/// ```
/// # use aether_core::aggregate::*;
/// # fn doc<A: Aggregate, S: aether_core::EventStore, SS: aether_core::SnapshotStore>(store: S, snaps: SS) {
/// let repo = Repository::<A, _>::new(store)
///     .with_snapshots(snaps)
///     .with_snapshot_policy(SnapshotPolicy::EveryNEvents(500))
///     .with_retry_policy(RetryPolicy::default());
/// # }
/// ```
#[must_use]
pub struct Repository<A, S, SS = NoSnapshots> {
    store: S,
    snapshots: SS,
    snapshots_enabled: bool,
    snapshot_policy: SnapshotPolicy,
    retry: RetryPolicy,
    upcasters: UpcasterChain,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A, S: Clone, SS: Clone> Clone for Repository<A, S, SS> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            snapshots: self.snapshots.clone(),
            snapshots_enabled: self.snapshots_enabled,
            snapshot_policy: self.snapshot_policy,
            retry: self.retry.clone(),
            upcasters: self.upcasters.clone(),
            _aggregate: PhantomData,
        }
    }
}

impl<A, S: fmt::Debug, SS: fmt::Debug> fmt::Debug for Repository<A, S, SS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("store", &self.store)
            .field("snapshots", &self.snapshots)
            .field("snapshot_policy", &self.snapshot_policy)
            .field("retry", &self.retry)
            .field("upcasters", &self.upcasters)
            .finish()
    }
}

impl<A: Aggregate, S: EventStore> Repository<A, S, NoSnapshots> {
    /// A repository over `store`, without snapshots, with the aggregate's
    /// snapshot policy and the default [`RetryPolicy`].
    pub fn new(store: S) -> Self {
        Self {
            store,
            snapshots: NoSnapshots,
            snapshots_enabled: false,
            snapshot_policy: A::snapshot_policy(),
            retry: RetryPolicy::default(),
            upcasters: UpcasterChain::new(),
            _aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate, S: EventStore, SS: SnapshotStore> Repository<A, S, SS> {
    /// Returns the repository using `snapshots` to store and load snapshots.
    pub fn with_snapshots<SS2: SnapshotStore>(self, snapshots: SS2) -> Repository<A, S, SS2> {
        Repository {
            store: self.store,
            snapshots,
            snapshots_enabled: true,
            snapshot_policy: self.snapshot_policy,
            retry: self.retry,
            upcasters: self.upcasters,
            _aggregate: PhantomData,
        }
    }

    /// Returns self with `policy` instead of [`Aggregate::snapshot_policy`].
    pub fn with_snapshot_policy(mut self, policy: SnapshotPolicy) -> Self {
        self.snapshot_policy = policy;
        self
    }

    /// Returns self with the retry policy [`Repository::execute`] uses.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Returns self with `upcaster` appended to the upcasters every replayed
    /// event goes through before decoding.
    pub fn with_upcaster(mut self, upcaster: impl Upcaster + 'static) -> Self {
        self.upcasters.push(upcaster);
        self
    }

    /// Returns self with `chain` as its upcasters.
    pub fn with_upcasters(mut self, chain: UpcasterChain) -> Self {
        self.upcasters = chain;
        self
    }

    /// The event store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The snapshot store.
    pub fn snapshot_store(&self) -> &SS {
        &self.snapshots
    }

    /// The snapshot policy.
    pub fn snapshot_policy(&self) -> SnapshotPolicy {
        self.snapshot_policy
    }

    /// The retry policy of [`Repository::execute`].
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Upcasts and decodes one stored event.
    pub fn decode(&self, event: Event) -> Result<EventEnvelope<A::Event>, Error> {
        self.upcasters.decode(event)
    }

    /// Loads aggregate `id`: its latest snapshot if there is a usable one
    /// (same [`Aggregate::SNAPSHOT_SCHEMA_VERSION`], decodable), then the
    /// events after it. An aggregate without events loads as
    /// `A::default()` at version 0.
    pub async fn load(&self, id: &ActorId) -> Result<Loaded<A>, Error> {
        let span = tracing::debug_span!(
            "aether.aggregate.load",
            aggregate = A::TYPE,
            actor = id.as_str()
        );
        async {
            let mut loaded = self.start_from_snapshot(id).await?;
            self.catch_up(id, &mut loaded, None).await?;
            metrics::histogram!("aether_aggregate_events_replayed", "aggregate" => A::TYPE)
                .record(loaded.replayed as f64);
            tracing::debug!(
                version = loaded.version,
                snapshot = loaded.snapshot_version,
                replayed = loaded.replayed,
                "loaded"
            );
            Ok(loaded)
        }
        .instrument(span)
        .await
    }

    async fn start_from_snapshot(&self, id: &ActorId) -> Result<Loaded<A>, Error> {
        let empty = Loaded {
            state: A::default(),
            version: 0,
            snapshot_version: 0,
            replayed: 0,
        };
        let Some(snap) = self.snapshots.latest_snapshot(id).await? else {
            return Ok(empty);
        };
        if snap.schema_version != A::SNAPSHOT_SCHEMA_VERSION {
            tracing::info!(
                found = snap.schema_version,
                expected = A::SNAPSHOT_SCHEMA_VERSION,
                "ignoring snapshot of another state schema; replaying in full"
            );
            metrics::counter!("aether_aggregate_snapshots_ignored_total", "aggregate" => A::TYPE)
                .increment(1);
            return Ok(empty);
        }
        match serde_json::from_value::<A>(snap.state) {
            Ok(state) => Ok(Loaded {
                state,
                version: snap.version,
                snapshot_version: snap.version,
                replayed: 0,
            }),
            Err(e) => {
                tracing::warn!(error = %e, version = snap.version, "undecodable snapshot ignored; replaying in full");
                metrics::counter!("aether_aggregate_snapshots_ignored_total", "aggregate" => A::TYPE)
                    .increment(1);
                Ok(empty)
            }
        }
    }

    /// Applies the events after `loaded.version`. When `command_id` is given
    /// and one of those events was caused by it, returns that command's
    /// events (its earlier append did happen).
    async fn catch_up(
        &self,
        id: &ActorId,
        loaded: &mut Loaded<A>,
        command_id: Option<&str>,
    ) -> Result<Vec<EventEnvelope<A::Event>>, Error> {
        // A history already at u64::MAX has nothing after it.
        let Some(from) = loaded.version.checked_add(1) else {
            return Ok(Vec::new());
        };
        let events = self.store.read(id, from).await?;
        let mut ours = Vec::new();
        for stored in events {
            if stored.version <= loaded.version {
                continue;
            }
            let env = self.decode(stored)?;
            loaded.state.apply(&env.event);
            loaded.version = env.version;
            loaded.replayed += 1;
            if command_id.is_some() && env.metadata.causation_id() == command_id {
                ours.push(env);
            }
        }
        Ok(ours)
    }

    /// Executes a command with the repository's retry policy: load, decide,
    /// append atomically at the loaded version, apply, snapshot if the policy
    /// says so. On a conflict, catches up and decides again.
    pub async fn execute(
        &self,
        id: &ActorId,
        command: impl Into<CommandEnvelope<A::Command>>,
    ) -> Result<Committed<A>, ExecError<A>> {
        self.execute_with(id, command, &self.retry).await
    }

    /// Executes a command once: a version conflict fails at once with
    /// [`ExecuteError::ConflictsExhausted`] (`attempts: 1`). The retry
    /// policy's circuit breaker, if any, still applies.
    pub async fn execute_once(
        &self,
        id: &ActorId,
        command: impl Into<CommandEnvelope<A::Command>>,
    ) -> Result<Committed<A>, ExecError<A>> {
        let once = RetryPolicy {
            max_attempts: 1,
            circuit_breaker: self.retry.circuit_breaker.clone(),
            ..RetryPolicy::no_retry()
        };
        self.execute_with(id, command, &once).await
    }

    /// Executes a command like [`Repository::execute`] under `policy`.
    pub async fn execute_with(
        &self,
        id: &ActorId,
        command: impl Into<CommandEnvelope<A::Command>>,
        policy: &RetryPolicy,
    ) -> Result<Committed<A>, ExecError<A>> {
        let command = acquire(policy, command.into())?;
        let span = execute_span::<A>(id, &command);
        let result = async {
            let mut loaded = self.load(id).await.map_err(ExecuteError::Store)?;
            let done = self.run_on(id, &mut loaded, command, policy).await?;
            Ok(Committed {
                version: done.version,
                events: done.events,
                state: loaded.state,
                attempts: done.attempts,
            })
        }
        .instrument(span)
        .await;
        settle(policy, &result);
        result
    }

    /// Executes a command on an aggregate the caller keeps loaded (as an
    /// actor holding its state in memory does), with the repository's retry
    /// policy: no load unless a conflict forces a catch-up. `loaded` is
    /// updated in place: after success it holds the new state and version;
    /// after an error it is still consistent (possibly caught up).
    pub async fn execute_loaded(
        &self,
        id: &ActorId,
        loaded: &mut Loaded<A>,
        command: impl Into<CommandEnvelope<A::Command>>,
    ) -> Result<CommittedEvents<A::Event>, ExecError<A>> {
        let policy = &self.retry;
        let command = acquire(policy, command.into())?;
        let span = execute_span::<A>(id, &command);
        let result = self
            .run_on(id, loaded, command, policy)
            .instrument(span)
            .await;
        settle(policy, &result);
        result
    }

    async fn run_on(
        &self,
        id: &ActorId,
        loaded: &mut Loaded<A>,
        command: CommandEnvelope<A::Command>,
        policy: &RetryPolicy,
    ) -> Result<CommittedEvents<A::Event>, ExecError<A>> {
        let mut attempt: u32 = 1;
        loop {
            let decided = loaded
                .state
                .handle(&command.command)
                .map_err(ExecuteError::Rejected)?;
            if decided.is_empty() {
                return Ok(CommittedEvents {
                    version: loaded.version,
                    events: Vec::new(),
                    attempts: attempt,
                });
            }
            if u64::try_from(decided.len())
                .ok()
                .and_then(|n| loaded.version.checked_add(n))
                .is_none()
            {
                return Err(ExecuteError::Store(Error::invalid_input(format!(
                    "{} new event(s) after version {} would run past the largest version (u64::MAX)",
                    decided.len(),
                    loaded.version
                ))));
            }
            let envelopes = command.envelopes(id, loaded.version, decided);
            let stored = envelopes
                .iter()
                .map(EventEnvelope::to_event)
                .collect::<Result<Vec<_>, _>>()
                .map_err(ExecuteError::Store)?;
            let old_version = loaded.version;
            let appended = self
                .store
                .append_batch(id, ExpectedVersion::Exact(old_version), stored)
                .await;
            let delay = match appended {
                Ok(new_version) => {
                    for e in &envelopes {
                        loaded.state.apply(&e.event);
                    }
                    loaded.version = new_version;
                    self.maybe_snapshot(id, loaded, old_version).await;
                    return Ok(CommittedEvents {
                        version: new_version,
                        events: envelopes,
                        attempts: attempt,
                    });
                }
                Err(Error::VersionConflict(conflict)) => {
                    metrics::counter!("aether_aggregate_conflicts_total", "aggregate" => A::TYPE)
                        .increment(1);
                    if !policy.should_retry(attempt, &conflict) {
                        tracing::debug!(attempt, %conflict, "giving up");
                        return Err(ExecuteError::ConflictsExhausted {
                            attempts: attempt,
                            conflict,
                            command: Box::new(command),
                        });
                    }
                    let delay = policy.delay(attempt, Some(&conflict));
                    tracing::debug!(attempt, %conflict, ?delay, "conflict; retrying");
                    delay
                }
                Err(error)
                    if error.is_transient()
                        && policy.retry_transient
                        && attempt < policy.max_attempts.max(1) =>
                {
                    let delay = policy.delay(attempt, None);
                    tracing::debug!(attempt, %error, ?delay, "transient store failure; retrying");
                    delay
                }
                Err(error) => return Err(ExecuteError::Store(error)),
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            attempt += 1;
            // Catch up from where we were: only the events after our version.
            let ours = self
                .catch_up(id, loaded, Some(command.command_id.as_str()))
                .await
                .map_err(ExecuteError::Store)?;
            if !ours.is_empty() {
                // An earlier append of this command did happen.
                return Ok(CommittedEvents {
                    version: loaded.version,
                    events: ours,
                    attempts: attempt - 1,
                });
            }
        }
    }

    async fn maybe_snapshot(&self, id: &ActorId, loaded: &mut Loaded<A>, old_version: u64) {
        if !self.snapshots_enabled
            || !self.snapshot_policy.should_snapshot(
                loaded.snapshot_version,
                old_version,
                loaded.version,
            )
        {
            return;
        }
        match self.snapshot(id, &loaded.state, loaded.version).await {
            Ok(()) => {
                loaded.snapshot_version = loaded.version;
                metrics::counter!("aether_aggregate_snapshots_taken_total", "aggregate" => A::TYPE)
                    .increment(1);
            }
            Err(e) => {
                // The commit stands; the next load simply replays more.
                tracing::warn!(error = %e, version = loaded.version, "snapshot failed");
                metrics::counter!("aether_aggregate_snapshot_failures_total", "aggregate" => A::TYPE)
                    .increment(1);
            }
        }
    }

    /// Saves a snapshot of `state` at `version` now, whatever the policy.
    pub async fn snapshot(&self, id: &ActorId, state: &A, version: u64) -> Result<(), Error> {
        let value = serde_json::to_value(state)
            .map_err(|e| Error::serialization_with("encoding aggregate state for a snapshot", e))?;
        self.snapshots
            .save_snapshot(
                Snapshot::new(id.clone(), version, value)
                    .with_schema_version(A::SNAPSHOT_SCHEMA_VERSION),
            )
            .await
    }
}

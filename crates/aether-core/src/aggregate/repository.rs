//! [`Repository`]: loads aggregates and executes commands over any store.

use std::fmt;
use std::marker::PhantomData;

use tracing::Instrument;

use crate::error::Error;
use crate::event::Event;
use crate::id::ActorId;
use crate::snapshot::SnapshotStore;
use crate::store::{EventStore, ExpectedVersion};

use super::Aggregate;
use super::error::ExecuteError;
use super::load::{Loaded, Loader, NoSnapshots};
use super::retry::RetryPolicy;
use super::snapshot_format::SnapshotEnvelope;
use super::snapshot_policy::SnapshotPolicy;
use super::typed::{CommandEnvelope, EventEnvelope};
use super::upcast::{Upcaster, UpcasterChain};

/// The error of [`Repository::execute`] for aggregate `A`.
pub type ExecError<A> = ExecuteError<<A as Aggregate>::Error, <A as Aggregate>::Command>;

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

    /// The [`Loader`] of this repository's stores and upcasters.
    pub fn loader(&self) -> Loader<'_, S, SS> {
        Loader::new(&self.store)
            .with_snapshots(self.snapshots_enabled.then_some(&self.snapshots))
            .with_upcasters(&self.upcasters)
    }

    /// Loads aggregate `id` with [`Loader::load`]: its latest snapshot if
    /// there is a usable one (same [`Aggregate::SNAPSHOT_SCHEMA_VERSION`],
    /// decodable: the snapshot envelope the repository and the actor runtime
    /// write, or the bare state of an earlier release), then the events
    /// after it. An aggregate without events loads as `A::default()` at
    /// version 0.
    ///
    /// # Errors
    ///
    /// As [`Loader::load`]: the stores' errors, an upcaster's, or a stored
    /// event that does not decode.
    pub async fn load(&self, id: &ActorId) -> Result<Loaded<A>, Error> {
        let span = tracing::debug_span!(
            "aether.aggregate.load",
            aggregate = A::TYPE,
            actor = id.as_str()
        );
        async {
            let loaded = self.loader().load::<A>(id).await?;
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

    /// Applies the events after `loaded.version`; returns those caused by
    /// `command_id` (when there are some, its earlier append did happen).
    async fn catch_up(
        &self,
        id: &ActorId,
        loaded: &mut Loaded<A>,
        command_id: &str,
    ) -> Result<Vec<EventEnvelope<A::Event>>, Error> {
        let mut ours = Vec::new();
        self.loader()
            .catch_up(id, loaded, |event| {
                if event.metadata.causation_id() == Some(command_id) {
                    ours.push(event);
                }
            })
            .await?;
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
                .catch_up(id, loaded, command.command_id.as_str())
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

    /// Saves a snapshot of `state` at `version` now, whatever the policy, in
    /// the one snapshot format ([`SnapshotEnvelope`], with no recent
    /// commands: the repository keeps no dedupe window), which the actor
    /// runtime reads too.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the state does not serialize; the
    /// snapshot store's errors.
    pub async fn snapshot(&self, id: &ActorId, state: &A, version: u64) -> Result<(), Error> {
        self.snapshots
            .save_snapshot(SnapshotEnvelope::snapshot(id, version, state, &[])?)
            .await
    }
}

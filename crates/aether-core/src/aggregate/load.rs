//! [`Loader`]: the one way an aggregate is loaded — its latest usable
//! snapshot, then the events after it through the upcasters, each decoded
//! once and folded — for the [`super::Repository`] and the actor runtime
//! alike.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;
use crate::event::Event;
use crate::id::{ActorId, CommandId};
use crate::metadata::Metadata;
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::store::EventStore;

use super::behavior::Behavior;
use super::snapshot_format::{RecentCommand, SnapshotEnvelope};
use super::typed::EventEnvelope;
use super::upcast::UpcasterChain;
use super::{Aggregate, DomainEvent};

/// An aggregate as loaded from the store. `Loaded::default()` is an
/// aggregate without events (version 0), as [`Loader::load`] returns for a
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

/// A snapshot store that has no snapshots: the default of a
/// [`super::Repository`] built without one, and of a [`Loader`]. Loads
/// always replay the full history.
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

/// No upcasters: what a [`Loader`] uses until given some.
static NO_UPCASTERS: UpcasterChain = UpcasterChain::new();

/// Loads aggregates from an event store `S`, starting from the latest usable
/// snapshot of snapshot store `SS` when there is one.
///
/// A load is: the latest snapshot, if its schema is
/// [`Aggregate::SNAPSHOT_SCHEMA_VERSION`] and it decodes
/// ([`SnapshotEnvelope::decode`]: the envelope both writers store, or the
/// bare state of an earlier release); otherwise the default state at
/// version 0 (an ignored snapshot is logged and counted in
/// `aether_aggregate_snapshots_ignored_total`, never mis-read). Then the
/// events after it, read in one call, each run through the
/// [`UpcasterChain`], decoded once into `A::Event` and folded with
/// [`Aggregate::apply`].
///
/// The [`super::Repository`] loads with it, and so does the actor runtime
/// (over `Arc<dyn DynEventStore>` and `Arc<dyn DynSnapshotStore>`, which
/// implement the store traits), which also takes the commands found on the
/// way for its dedupe window ([`Loader::load_with_commands`]).
///
/// # Examples
///
/// ```
/// use aether_core::aggregate::{Loader, Repository, UpcasterChain};
/// # use aether_core::aggregate::{Aggregate, DomainEvent};
/// # use aether_core::ActorId;
/// # use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
/// # struct Counter { value: u64 }
/// # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// # enum Added { Added(u64) }
/// # impl DomainEvent for Added { fn event_type(&self) -> &'static str { "Added" } }
/// # impl Aggregate for Counter {
/// #     const TYPE: &'static str = "counter";
/// #     type Command = u64;
/// #     type Event = Added;
/// #     type Error = std::convert::Infallible;
/// #     fn handle(&self, by: &u64) -> Result<Vec<Added>, Self::Error> { Ok(vec![Added::Added(*by)]) }
/// #     fn apply(&mut self, Added::Added(by): &Added) { self.value += by }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (events, snapshots) = (InMemoryEventStore::new(), InMemorySnapshotStore::new());
/// let id = ActorId::new("counter-1")?;
/// let repo = Repository::<Counter, _>::new(events.clone()).with_snapshots(snapshots.clone());
/// repo.execute(&id, 2).await?;
/// repo.snapshot(&id, &Counter { value: 2 }, 1).await?;
/// repo.execute(&id, 3).await?;
///
/// let upcasters = UpcasterChain::new();
/// let loaded = Loader::new(&events)
///     .with_snapshots(Some(&snapshots))
///     .with_upcasters(&upcasters)
///     .load::<Counter>(&id)
///     .await?;
/// assert_eq!((loaded.state.value, loaded.version), (5, 2));
/// assert_eq!((loaded.snapshot_version, loaded.replayed), (1, 1));
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct Loader<'a, S: ?Sized, SS: ?Sized = NoSnapshots> {
    events: &'a S,
    snapshots: Option<&'a SS>,
    upcasters: &'a UpcasterChain,
}

impl<S: ?Sized, SS: ?Sized> Clone for Loader<'_, S, SS> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized, SS: ?Sized> Copy for Loader<'_, S, SS> {}

impl<S: ?Sized, SS: ?Sized> fmt::Debug for Loader<'_, S, SS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("snapshots", &self.snapshots.is_some())
            .field("upcasters", self.upcasters)
            .finish_non_exhaustive()
    }
}

impl<'a, S: EventStore + ?Sized> Loader<'a, S> {
    /// A loader of the events of `events`, without snapshots or upcasters.
    pub fn new(events: &'a S) -> Self {
        Self {
            events,
            snapshots: None,
            upcasters: &NO_UPCASTERS,
        }
    }
}

impl<'a, S, SS> Loader<'a, S, SS>
where
    S: EventStore + ?Sized,
    SS: SnapshotStore + ?Sized,
{
    /// Returns the loader starting from the snapshots of `snapshots` (`None`:
    /// always a full replay).
    pub fn with_snapshots<SS2: SnapshotStore + ?Sized>(
        self,
        snapshots: Option<&'a SS2>,
    ) -> Loader<'a, S, SS2> {
        Loader {
            events: self.events,
            snapshots,
            upcasters: self.upcasters,
        }
    }

    /// Returns the loader running every replayed event through `upcasters`
    /// before decoding it.
    pub fn with_upcasters(mut self, upcasters: &'a UpcasterChain) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// Loads aggregate `id`: its latest usable snapshot, then the events
    /// after it. An aggregate without events loads as `A::default()` at
    /// version 0.
    ///
    /// # Errors
    ///
    /// The stores' errors (reading the snapshot or the events), an
    /// upcaster's error, or [`Error::Serialization`] for a stored event that
    /// does not decode as an `A::Event` (an upcaster may be missing). An
    /// unusable snapshot is not an error: the load replays in full.
    pub async fn load<A: Aggregate>(&self, id: &ActorId) -> Result<Loaded<A>, Error> {
        self.load_behavior::<A>(&(), id, |_| {}).await
    }

    /// Loads like [`Loader::load`], and hands `commands` the commands found
    /// on the way, oldest first: those the snapshot envelope remembers, then,
    /// for the events after the snapshot, each run of consecutive events
    /// with the same causation id (one [`RecentCommand`] per command, not
    /// per event; a causation id that is not a valid [`CommandId`], and an
    /// event without one, are skipped). Nothing is collected: a caller that
    /// keeps a bounded window (the actor runtime keeps its last
    /// `dedupe_window` commands) stays bounded over any tail.
    ///
    /// # Errors
    ///
    /// As [`Loader::load`].
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::aggregate::{CommandEnvelope, Loader, Repository};
    /// # use aether_core::aggregate::{Aggregate, DomainEvent};
    /// # use aether_core::{ActorId, CommandId};
    /// # use aether_store_memory::InMemoryEventStore;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    /// # struct Counter { value: u64 }
    /// # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    /// # enum Added { Added(u64) }
    /// # impl DomainEvent for Added { fn event_type(&self) -> &'static str { "Added" } }
    /// # impl Aggregate for Counter {
    /// #     const TYPE: &'static str = "counter";
    /// #     type Command = u64;
    /// #     type Event = Added;
    /// #     type Error = std::convert::Infallible;
    /// #     fn handle(&self, by: &u64) -> Result<Vec<Added>, Self::Error> {
    /// #         Ok(vec![Added::Added(*by); 2])
    /// #     }
    /// #     fn apply(&mut self, Added::Added(by): &Added) { self.value += by }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let events = InMemoryEventStore::new();
    /// let id = ActorId::new("counter-1")?;
    /// let repo = Repository::<Counter, _>::new(events.clone());
    /// // Each command writes two events.
    /// repo.execute(&id, CommandEnvelope::new(1).with_command_id(CommandId::new("a")?)).await?;
    /// repo.execute(&id, CommandEnvelope::new(2).with_command_id(CommandId::new("b")?)).await?;
    ///
    /// let mut seen = Vec::new();
    /// let loaded = Loader::new(&events)
    ///     .load_with_commands::<Counter>(&id, |c| seen.push((c.id.as_str().to_owned(), c.first, c.last)))
    ///     .await?;
    /// assert_eq!(loaded.state.value, 6);
    /// assert_eq!(seen, [("a".to_owned(), 1, 2), ("b".to_owned(), 3, 4)]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn load_with_commands<A: Aggregate>(
        &self,
        id: &ActorId,
        commands: impl FnMut(RecentCommand),
    ) -> Result<Loaded<A>, Error> {
        self.load_behavior::<A>(&(), id, commands).await
    }

    /// Loads actor `id` of the [`Behavior`] `B` defined by `def`, as
    /// [`Loader::load_with_commands`] does an aggregate: the latest snapshot
    /// of `B`'s state version, then the events after it, each upcast,
    /// decoded and folded with [`Behavior::evolve`]; the commands found on
    /// the way go to `commands`.
    ///
    /// # Errors
    ///
    /// As [`Loader::load`], and an event `B` cannot fold (never skipped).
    pub async fn load_behavior<B: Behavior>(
        &self,
        def: &B::Def,
        id: &ActorId,
        mut commands: impl FnMut(RecentCommand),
    ) -> Result<Loaded<B::State>, Error> {
        let mut loaded = self.start::<B>(def, id, &mut commands).await?;
        let mut run: Option<RecentCommand> = None;
        self.catch_up_behavior::<B>(def, id, &mut loaded, |event| {
            let cause = event.metadata.get_shared(Metadata::KEY_CAUSATION_ID);
            // The events of one command share its id (compared by address
            // first: a read shares it, a decode does not).
            if let Some(r) = &mut run
                && let Some(cause) = cause
                && (Arc::ptr_eq(cause, r.id.shared()) || **cause == *r.id.as_str())
            {
                r.last = event.version;
                return;
            }
            if let Some(done) = run.take() {
                commands(done);
            }
            run = cause
                .and_then(|c| CommandId::from_shared(c).ok())
                .map(|c| RecentCommand::new(c, event.version, event.version));
        })
        .await?;
        if let Some(done) = run {
            commands(done);
        }
        Ok(loaded)
    }

    /// Folds the events after `loaded.version` into `loaded` (read in one
    /// call, upcast, decoded once, applied), counting them in
    /// `loaded.replayed`, and hands each one to `folded` once applied. Used
    /// by a load, and to catch an aggregate kept in memory up with the store
    /// (as the repository does after a version conflict).
    ///
    /// # Errors
    ///
    /// As [`Loader::load`]. On an error, `loaded` holds the events folded
    /// before it (state and version agree).
    pub async fn catch_up<A: Aggregate>(
        &self,
        id: &ActorId,
        loaded: &mut Loaded<A>,
        folded: impl FnMut(EventEnvelope<A::Event>),
    ) -> Result<(), Error> {
        self.catch_up_behavior::<A>(&(), id, loaded, folded).await
    }

    /// [`Loader::catch_up`] for the [`Behavior`] `B` defined by `def`.
    ///
    /// # Errors
    ///
    /// As [`Loader::catch_up`], and an event `B` cannot fold.
    pub async fn catch_up_behavior<B: Behavior>(
        &self,
        def: &B::Def,
        id: &ActorId,
        loaded: &mut Loaded<B::State>,
        mut folded: impl FnMut(EventEnvelope<B::Event>),
    ) -> Result<(), Error> {
        // A history already at u64::MAX has nothing after it.
        let Some(from) = loaded.version.checked_add(1) else {
            return Ok(());
        };
        for stored in self.events.read(id, from).await? {
            if stored.version <= loaded.version {
                continue;
            }
            let event = decode_stored::<B>(def, self.upcasters.upcast(stored)?)?;
            B::evolve(def, &mut loaded.state, &event.event).map_err(|e| {
                Error::invalid_input(format!(
                    "{} cannot fold event {} ({}) of actor {:?}: {e}",
                    B::name(def),
                    event.version,
                    event.event.event_type(),
                    id.as_str()
                ))
            })?;
            loaded.version = event.version;
            loaded.replayed += 1;
            folded(event);
        }
        Ok(())
    }

    /// The latest usable snapshot as a start (its recent commands handed to
    /// `commands`), or the initial state.
    async fn start<B: Behavior>(
        &self,
        def: &B::Def,
        id: &ActorId,
        commands: &mut impl FnMut(RecentCommand),
    ) -> Result<Loaded<B::State>, Error> {
        let empty = || Loaded {
            state: B::initial(def),
            version: 0,
            snapshot_version: 0,
            replayed: 0,
        };
        let Some(snapshots) = self.snapshots else {
            return Ok(empty());
        };
        let Some(snap) = snapshots.latest_snapshot(id).await? else {
            return Ok(empty());
        };
        let expected = B::state_version(def);
        if snap.schema_version != expected {
            tracing::info!(
                found = snap.schema_version,
                expected,
                "ignoring snapshot of another state schema; replaying in full"
            );
            ignored(B::name(def));
            return Ok(empty());
        }
        let decoded = SnapshotEnvelope::<serde_json::Value>::decode(snap.state)
            .and_then(|e| Ok((B::decode_state(def, e.state)?, e.recent)));
        match decoded {
            Ok((state, recent)) => {
                recent.into_iter().for_each(commands);
                Ok(Loaded {
                    state,
                    version: snap.version,
                    snapshot_version: snap.version,
                    replayed: 0,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, version = snap.version, "undecodable snapshot ignored; replaying in full");
                ignored(B::name(def));
                Ok(empty())
            }
        }
    }
}

/// Counts a snapshot that could not be used.
fn ignored(name: &str) {
    metrics::counter!("aether_aggregate_snapshots_ignored_total", "aggregate" => name.to_owned())
        .increment(1);
}

/// A stored (and upcast) event, decoded once into `B`'s event
/// ([`Behavior::decode_event`]); the envelope takes the stored event's actor
/// id and metadata.
///
/// # Errors
///
/// As [`Behavior::decode_event`].
pub fn decode_stored<B: Behavior>(
    def: &B::Def,
    event: Event,
) -> Result<EventEnvelope<B::Event>, Error> {
    let typed = B::decode_event(def, &event)?;
    Ok(EventEnvelope {
        id: event.id,
        actor_id: event.actor_id,
        version: event.version,
        event: typed,
        metadata: event.metadata,
        timestamp: event.timestamp,
    })
}

//! [`Activation`]: an actor's state in memory (its state, the definition of
//! its behaviour it was folded under, version and recent command ids),
//! loaded by core's [`Loader`] (the snapshot, then the events after it) and
//! snapshotted in core's snapshot envelope, the one format a `Repository`
//! reads and writes too.

use std::sync::Arc;

use aether_core::aggregate::{
    Behavior, EventEnvelope, Loader, UpcasterChain, decode_stored, write_snapshot,
};
use aether_core::{ActorId, DynEventStore, DynSnapshotStore, Error, EventStore, SnapshotStore};

use super::dedupe::RecentCommands;

/// Where an actor's history and snapshots come from (its type's stores and
/// settings).
#[derive(Clone, Copy)]
pub(crate) struct Sources<'a> {
    /// The type's name (for metrics).
    pub(crate) name: &'a Arc<str>,
    pub(crate) store: &'a Arc<dyn DynEventStore>,
    pub(crate) snapshots: Option<&'a Arc<dyn DynSnapshotStore>>,
    pub(crate) upcasters: &'a UpcasterChain,
    pub(crate) dedupe_window: usize,
}

/// An actor in memory.
pub(crate) struct Activation<A: Behavior> {
    pub(crate) state: A::State,
    /// The definition its state was folded under, which decides its
    /// commands (pinned for a turn: a new one is adopted between turns).
    pub(crate) def: Arc<A::Def>,
    /// The host's generation of `def`.
    pub(crate) generation: u64,
    /// The version of the last event folded into `state` (0: none).
    pub(crate) version: u64,
    /// The version of the last snapshot taken or loaded (0: none).
    pub(crate) snapshot_version: u64,
    pub(crate) recent: RecentCommands,
    /// A turn found the node no longer serving the actor: the state is the
    /// log's as of then (it may be handed off), but stale should the node
    /// serve the actor again.
    pub(crate) fenced: bool,
}

impl<A: Behavior> Activation<A> {
    /// Loads actor `id`: its latest usable snapshot (same schema version,
    /// decodable), then the events after it; the dedupe window from the
    /// snapshot's recent commands and the causation ids of those events.
    pub(crate) async fn load(
        from: Sources<'_>,
        id: &ActorId,
        (def, generation): (Arc<A::Def>, u64),
    ) -> Result<Self, Error> {
        // Only the last commands of a long history end up in the window (and
        // its evicted ids): the rest is not recorded only to be pushed out.
        let mut tail = RecentCommands::tail(from.dedupe_window);
        let loaded = Loader::new(from.store)
            .with_snapshots(from.snapshots)
            .with_upcasters(from.upcasters)
            .load_behavior::<A>(&def, id, |c| tail.push(c))
            .await?;
        let recent = tail.into_recent();
        Ok(Self {
            state: loaded.state,
            def,
            generation,
            fenced: false,
            version: loaded.version,
            snapshot_version: loaded.snapshot_version,
            recent,
        })
    }

    /// Saves a snapshot of the state and the recent command ids now.
    pub(crate) async fn snapshot(&mut self, from: Sources<'_>, id: &ActorId) -> Result<(), Error> {
        let Some(snapshots) = from.snapshots else {
            return Ok(());
        };
        let saved = async {
            let recent = self.recent.to_vec();
            let state = A::encode_state(&self.def, &self.state)?;
            let snapshot = write_snapshot(
                id,
                self.version,
                &state,
                &recent,
                A::state_version(&self.def),
            )?;
            snapshots.save_snapshot(snapshot).await
        }
        .await;
        let counted = match saved {
            Ok(()) => {
                self.snapshot_version = self.version;
                "aether_runtime_snapshots_total"
            }
            // The caller logs it; the commits stand, the next load replays more.
            Err(_) => "aether_runtime_snapshot_failures_total",
        };
        metrics::counter!(counted, "type" => from.name.clone()).increment(1);
        saved
    }
}

/// The stored events of versions `first..=last` (a recorded command's
/// outcome), decoded.
pub(crate) async fn read_range<A: Behavior>(
    from: Sources<'_>,
    def: &A::Def,
    id: &ActorId,
    first: u64,
    last: u64,
) -> Result<Vec<EventEnvelope<A::Event>>, Error> {
    let mut out = Vec::new();
    for stored in from.store.read(id, first).await? {
        if stored.version > last {
            break;
        }
        out.push(decode_stored::<A>(def, from.upcasters.upcast(stored)?)?);
    }
    Ok(out)
}

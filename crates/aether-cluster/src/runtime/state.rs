//! [`Activation`]: an actor's state in memory (its aggregate, version and
//! recent command ids), loaded from a snapshot plus the events after it, and
//! the runtime's snapshot envelope.

use aether_core::aggregate::{Aggregate, EventEnvelope, UpcasterChain};
use aether_core::{ActorId, CommandId, DynEventStore, Error, EventStore, Snapshot, SnapshotStore};
use serde::{Deserialize, Serialize};

use super::dedupe::{RecentCommands, Recorded};
use super::host::Host;

/// The marker of a runtime snapshot (beside the aggregate's state, it holds
/// the recent command ids, so deduplication survives passivation and
/// restarts). Snapshots without it (written by a `Repository`) are read as
/// the bare state.
const ENVELOPE_FORMAT: &str = "aether-runtime/1";

#[derive(Serialize)]
struct EnvelopeRef<'a, A> {
    format: &'static str,
    state: &'a A,
    recent: Vec<Recorded>,
}

#[derive(Deserialize)]
#[serde(bound = "A: serde::de::DeserializeOwned")]
struct Envelope<A> {
    state: A,
    #[serde(default)]
    recent: Vec<Recorded>,
}

/// An actor in memory.
#[derive(Debug)]
pub(crate) struct Activation<A> {
    pub(crate) state: A,
    /// The version of the last event folded into `state` (0: none).
    pub(crate) version: u64,
    /// The version of the last snapshot taken or loaded (0: none).
    pub(crate) snapshot_version: u64,
    pub(crate) recent: RecentCommands,
}

impl<A: Aggregate> Activation<A> {
    /// Loads actor `id`: its latest usable snapshot (same schema version,
    /// decodable), then the events after it.
    pub(crate) async fn load(host: &Host<A>, id: &ActorId) -> Result<Self, Error> {
        let mut act = Self {
            state: A::default(),
            version: 0,
            snapshot_version: 0,
            recent: RecentCommands::new(host.config.dedupe_window),
        };
        if let Some(snapshots) = &host.snapshots
            && let Some(snap) = snapshots.latest_snapshot(id).await?
        {
            act.start_from(snap);
        }
        act.catch_up(&host.store, &host.upcasters, id).await?;
        Ok(act)
    }

    fn start_from(&mut self, snap: Snapshot) {
        if snap.schema_version != A::SNAPSHOT_SCHEMA_VERSION {
            tracing::info!(
                found = snap.schema_version,
                expected = A::SNAPSHOT_SCHEMA_VERSION,
                "ignoring snapshot of another state schema; replaying in full"
            );
            return;
        }
        let is_envelope =
            snap.state.get("format").and_then(|f| f.as_str()) == Some(ENVELOPE_FORMAT);
        let decoded = if is_envelope {
            serde_json::from_value::<Envelope<A>>(snap.state).map(|e| (e.state, e.recent))
        } else {
            serde_json::from_value::<A>(snap.state).map(|s| (s, Vec::new()))
        };
        match decoded {
            Ok((state, recent)) => {
                self.state = state;
                self.version = snap.version;
                self.snapshot_version = snap.version;
                for r in recent {
                    self.recent.record(r.id, r.first, r.last);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, version = snap.version, "undecodable snapshot ignored; replaying in full");
            }
        }
    }

    /// Applies the stored events after `version`, remembering the commands
    /// they name as their cause.
    async fn catch_up(
        &mut self,
        store: &std::sync::Arc<dyn DynEventStore>,
        upcasters: &UpcasterChain,
        id: &ActorId,
    ) -> Result<(), Error> {
        let Some(from) = self.version.checked_add(1) else {
            return Ok(());
        };
        for stored in store.read(id, from).await? {
            if stored.version <= self.version {
                continue;
            }
            let env = upcasters.decode::<A::Event>(stored)?;
            self.state.apply(&env.event);
            self.version = env.version;
            if let Some(cause) = env.metadata.causation_id()
                && let Ok(cmd) = CommandId::new(cause)
            {
                self.recent.record(cmd, env.version, env.version);
            }
        }
        Ok(())
    }

    /// Saves a snapshot of the state and the recent command ids now.
    pub(crate) async fn snapshot(&mut self, host: &Host<A>, id: &ActorId) -> Result<(), Error> {
        let Some(snapshots) = &host.snapshots else {
            return Ok(());
        };
        let value = serde_json::to_value(EnvelopeRef {
            format: ENVELOPE_FORMAT,
            state: &self.state,
            recent: self.recent.to_vec(),
        })
        .map_err(|e| Error::serialization_with("encoding an actor snapshot", e))?;
        snapshots
            .save_snapshot(
                Snapshot::new(id.clone(), self.version, value)
                    .with_schema_version(A::SNAPSHOT_SCHEMA_VERSION),
            )
            .await?;
        self.snapshot_version = self.version;
        metrics::counter!("aether_runtime_snapshots_total", "type" => A::TYPE).increment(1);
        Ok(())
    }
}

/// The stored events of versions `first..=last` (a recorded command's
/// outcome), decoded.
pub(crate) async fn read_range<A: Aggregate>(
    host: &Host<A>,
    id: &ActorId,
    first: u64,
    last: u64,
) -> Result<Vec<EventEnvelope<A::Event>>, Error> {
    let mut out = Vec::new();
    for stored in host.store.read(id, first).await? {
        if stored.version > last {
            break;
        }
        out.push(host.upcasters.decode::<A::Event>(stored)?);
    }
    Ok(out)
}

//! The states of actors moving warm from one node to another, without the
//! transport: [`dehydrate`] an actor leaving its node into a
//! [`Dehydrated`] state (the snapshot envelope every snapshot uses: state,
//! version, recent command ids), and [`install`] one as an active actor at
//! rest on the node taking the shard over — no store read.
//!
//! A shipped state is exact: the old owner stopped its turns for the shard
//! before it took the states, and a state that may not match the log (a
//! commit whose outcome is unknown) is never shipped. Should the log have
//! moved on anyway, the new owner's first commit conflicts (it commits at
//! the shipped version) and it reloads from the log: a warm move cannot
//! corrupt an actor.

use std::sync::{Arc, PoisonError};

use aether_core::Error;
use aether_core::aggregate::{Behavior, SnapshotEnvelope};

use super::dedupe::RecentCommands;
use super::dehydrated::Dehydrated;
use super::dispatch::put;
use super::host::{Host, Rest};
use super::state::Activation;

/// Installs `state` as an active actor at rest (`false`: it is active
/// here already, and kept).
///
/// # Errors
///
/// A state of another state version, or one that does not decode.
pub(crate) fn install<A: Behavior>(host: &Arc<Host<A>>, state: Dehydrated) -> Result<bool, Error> {
    let Dehydrated {
        snapshot,
        snapshot_version,
    } = state;
    let (def, generation) = host.current();
    if snapshot.schema_version != A::state_version(&def) {
        return Err(Error::serialization(format!(
            "a state of schema version {}, this node reads {}",
            snapshot.schema_version,
            A::state_version(&def)
        )));
    }
    let envelope = SnapshotEnvelope::<serde_json::Value>::decode(snapshot.state)?;
    let state = A::decode_state(&def, envelope.state)?;
    let recent = RecentCommands::rebuilt(host.config.dedupe_window, envelope.recent);
    let activation = Activation {
        state,
        def,
        generation,
        version: snapshot.version,
        snapshot_version,
        recent,
        fenced: false,
    };
    let rest = Rest {
        activation: Some(activation),
        ..Rest::default()
    };
    Ok(put(host, &snapshot.actor_id, rest).is_ok())
}

impl<A: Behavior> Host<A> {
    /// Docks the state of an actor of `unit` handed off.
    pub(crate) fn dock_push(&self, unit: u32, state: Dehydrated) {
        self.dock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((unit, state));
    }

    /// Takes the docked states of `unit`.
    pub(crate) fn dock_take(&self, unit: u32) -> Vec<Dehydrated> {
        let mut dock = self.dock.lock().unwrap_or_else(PoisonError::into_inner);
        let (taken, kept): (Vec<_>, Vec<_>) = dock.drain(..).partition(|(u, _)| *u == unit);
        *dock = kept;
        taken.into_iter().map(|(_, d)| d).collect()
    }
}

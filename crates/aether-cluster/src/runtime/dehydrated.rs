//! An actor's state in transit between nodes ([`Dehydrated`]): the snapshot
//! envelope every snapshot uses (state, version, recent command ids), taken
//! from an activation by [`dehydrate`].

use aether_core::aggregate::{Behavior, write_snapshot};
use aether_core::{ActorId, Error, Snapshot};
use serde::{Deserialize, Serialize};

use super::state::Activation;

/// One actor's state in transit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Dehydrated {
    /// Its state, version and recent commands, as a snapshot stores them.
    pub(crate) snapshot: Snapshot,
    /// The version of its last snapshot in the store (the new owner
    /// snapshots when it is far enough behind).
    pub(crate) snapshot_version: u64,
}

/// The state of actor `id` as it leaves for another node.
///
/// # Errors
///
/// [`Error::Serialization`] when the state does not encode (the actor then
/// moves cold).
pub(crate) fn dehydrate<A: Behavior>(id: &ActorId, a: &Activation<A>) -> Result<Dehydrated, Error> {
    let state = A::encode_state(&a.def, &a.state)?;
    let snapshot = write_snapshot(
        id,
        a.version,
        &state,
        &a.recent.to_vec(),
        A::state_version(&a.def),
    )?;
    Ok(Dehydrated {
        snapshot,
        snapshot_version: a.snapshot_version,
    })
}

//! Snapshots: an actor's state at a version, so replays can start late.

use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::id::ActorId;
use crate::timestamp::Timestamp;

/// An actor's state as of `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The actor.
    pub actor_id: ActorId,
    /// The version of the last event folded into `state`.
    pub version: u64,
    /// The state, serialized.
    pub state: Value,
    /// The schema version of `state`; readers ignore snapshots of a schema they
    /// do not know (and replay from the start instead).
    #[serde(default)]
    pub schema_version: u32,
    /// When the snapshot was taken.
    pub timestamp: Timestamp,
}

impl Snapshot {
    /// A snapshot taken now, with schema version 0.
    pub fn new(actor_id: ActorId, version: u64, state: Value) -> Self {
        Self {
            actor_id,
            version,
            state,
            schema_version: 0,
            timestamp: Timestamp::now(),
        }
    }

    /// Returns self with `schema_version`.
    #[must_use]
    pub fn with_schema_version(mut self, schema_version: u32) -> Self {
        self.schema_version = schema_version;
        self
    }
}

/// A store of the latest snapshot per actor.
pub trait SnapshotStore: Send + Sync {
    /// The actor's latest snapshot, or `None` when it has none (not an error).
    fn latest_snapshot(
        &self,
        actor_id: &ActorId,
    ) -> impl Future<Output = Result<Option<Snapshot>>> + Send;

    /// Saves a snapshot. Only the latest per actor is kept: saving one whose
    /// version is lower than the stored one's leaves the stored one in place.
    fn save_snapshot(&self, snapshot: Snapshot) -> impl Future<Output = Result<()>> + Send;
}

impl<T: SnapshotStore> SnapshotStore for Arc<T> {
    fn latest_snapshot(
        &self,
        actor_id: &ActorId,
    ) -> impl Future<Output = Result<Option<Snapshot>>> + Send {
        (**self).latest_snapshot(actor_id)
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> impl Future<Output = Result<()>> + Send {
        (**self).save_snapshot(snapshot)
    }
}

//! The stores a node's actors keep their histories in.

use std::sync::Arc;

use aether_core::{DynEventStore, DynSnapshotStore};

/// The stores the actors' histories live in.
#[derive(Default, Clone)]
pub(crate) struct Stores {
    pub(crate) events: Option<Arc<dyn DynEventStore>>,
    pub(crate) snapshots: Option<Arc<dyn DynSnapshotStore>>,
}

//! [`NodeId`]: which process of a cluster this is.

use std::sync::Arc;

use super::{InvalidId, check_token};

/// The id of an Aether node (a process taking part in a bus or a cluster):
/// 1 to [`NodeId::MAX_LEN`] characters from `[A-Za-z0-9_-]`, the alphabet of
/// [`crate::validate_name`].
///
/// The one way to say "this process is node X": the bus stamps it on every
/// publication, the cluster registers it as a member, the runtime stamps it
/// on the events it writes. The alphabet makes it usable as-is as a NATS
/// subject token and a KV key, so distinct nodes never share a subject or
/// key. Cheap to clone.
///
/// ```
/// use aether_core::NodeId;
/// let id = NodeId::new("node-1").unwrap();
/// assert_eq!(id.as_str(), "node-1");
/// assert!(NodeId::new("a.b").is_err());
/// assert_ne!(NodeId::random(), NodeId::random());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// The longest node id accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Validates `id` and builds a node id.
    pub fn new(id: impl AsRef<str>) -> Result<Self, InvalidId> {
        let id = id.as_ref();
        check_token("node id", id, Self::MAX_LEN)?;
        Ok(Self(Arc::from(id)))
    }

    /// A random node id (`node-` and 16 hex digits), for nodes without a
    /// stable name.
    pub fn random() -> Self {
        Self(Arc::from(format!("node-{:016x}", rand::random::<u64>())))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id_impls!(NodeId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_validation() {
        assert!(NodeId::new("").is_err());
        assert!(NodeId::new("a b").is_err());
        assert!(NodeId::new("a*").is_err());
        assert!(NodeId::new("x".repeat(65)).is_err());
        assert!(NodeId::new("x".repeat(64)).is_ok());
        assert!(NodeId::new("Node_1-a").is_ok());
        let r = NodeId::random();
        assert!(NodeId::new(r.as_str()).is_ok());
    }

    #[test]
    fn node_id_serde_validates() {
        let id = NodeId::new("n1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"n1\"");
        assert_eq!(serde_json::from_str::<NodeId>("\"n1\"").unwrap(), id);
        assert!(serde_json::from_str::<NodeId>("\"a.b\"").is_err());
    }
}

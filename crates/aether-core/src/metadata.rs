//! [`Metadata`]: string key/value pairs carried with every event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Free-form string metadata of an event, with typed accessors for the
/// well-known keys used for tracing causality.
///
/// The well-known keys are `correlation_id`, `causation_id`, `user_id`,
/// `trace_id` and `span_id`, and the writer stamps of the cluster runtime
/// `aether.node` and `aether.claim` (the `KEY_*` constants). Any other key may be used
/// freely.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

macro_rules! well_known {
    ($($key:ident, $name:literal, $get:ident, $set:ident, $with:ident, $doc:literal;)*) => {
        $(
            #[doc = concat!("The metadata key of the ", $doc, ".")]
            pub const $key: &'static str = $name;

            #[doc = concat!("The ", $doc, ", if set.")]
            pub fn $get(&self) -> Option<&str> {
                self.get(Self::$key)
            }

            #[doc = concat!("Sets the ", $doc, ".")]
            pub fn $set(&mut self, value: impl Into<String>) {
                self.insert(Self::$key, value);
            }

            #[doc = concat!("Returns self with the ", $doc, " set.")]
            #[must_use]
            pub fn $with(mut self, value: impl Into<String>) -> Self {
                self.$set(value);
                self
            }
        )*
    };
}

impl Metadata {
    well_known! {
        KEY_CORRELATION_ID, "correlation_id", correlation_id, set_correlation_id, with_correlation_id, "correlation id (shared by everything one request caused)";
        KEY_CAUSATION_ID, "causation_id", causation_id, set_causation_id, with_causation_id, "causation id (the id of the event or command that caused this one)";
        KEY_USER_ID, "user_id", user_id, set_user_id, with_user_id, "user id (who caused it)";
        KEY_TRACE_ID, "trace_id", trace_id, set_trace_id, with_trace_id, "distributed-tracing trace id";
        KEY_SPAN_ID, "span_id", span_id, set_span_id, with_span_id, "distributed-tracing span id";
        KEY_TRACEPARENT, "traceparent", traceparent, set_traceparent, with_traceparent, "W3C trace context (`traceparent`) of the call that caused it";
        KEY_WRITER_NODE, "aether.node", writer_node, set_writer_node, with_writer_node, "cluster node that wrote the event (stamped by the actor runtime)";
        KEY_WRITER_CLAIM, "aether.claim", writer_claim, set_writer_claim, with_writer_claim, "shard claim the event was written under, `<shard>/<claim revision>` (stamped by the actor runtime; the revisions never decrease along an actor's log)";
    }

    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(key.into(), value.into())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Metadata for something caused by an event or command with id `cause_id`
    /// and metadata `cause`: the correlation id is inherited (or, when the cause
    /// has none, it is the cause's id: the cause started the conversation), the
    /// causation id is `cause_id`, and user, trace and span ids and the trace
    /// context are copied.
    /// Other keys are not copied.
    pub fn caused_by(cause_id: &str, cause: &Metadata) -> Self {
        let mut m = Metadata::new();
        m.set_correlation_id(cause.correlation_id().unwrap_or(cause_id));
        m.set_causation_id(cause_id);
        for key in [
            Self::KEY_USER_ID,
            Self::KEY_TRACE_ID,
            Self::KEY_SPAN_ID,
            Self::KEY_TRACEPARENT,
        ] {
            if let Some(v) = cause.get(key) {
                m.insert(key, v);
            }
        }
        m
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl From<BTreeMap<String, String>> for Metadata {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

impl From<Metadata> for BTreeMap<String, String> {
    fn from(m: Metadata) -> Self {
        m.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_accessors() {
        let m = Metadata::new()
            .with_correlation_id("c")
            .with_user_id("u")
            .with_trace_id("t");
        assert_eq!(m.correlation_id(), Some("c"));
        assert_eq!(m.user_id(), Some("u"));
        assert_eq!(m.causation_id(), None);
        assert_eq!(m.get("trace_id"), Some("t"));
    }

    #[test]
    fn caused_by_links_and_inherits() {
        let root = Metadata::new()
            .with_user_id("alice")
            .with_span_id("s1")
            .with_traceparent("00-t-s-01");
        let child = Metadata::caused_by("e1", &root);
        assert_eq!(child.traceparent(), Some("00-t-s-01"));
        assert_eq!(child.correlation_id(), Some("e1"));
        assert_eq!(child.causation_id(), Some("e1"));
        assert_eq!(child.user_id(), Some("alice"));
        assert_eq!(child.span_id(), Some("s1"));
        let grandchild = Metadata::caused_by("e2", &child);
        assert_eq!(grandchild.correlation_id(), Some("e1"));
        assert_eq!(grandchild.causation_id(), Some("e2"));
    }
}

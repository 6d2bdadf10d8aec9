//! [`Metadata`]: string key/value pairs carried with every event.
//!
//! Shared and copied on write: the events of one command carry one copy of
//! their metadata (a clone is a reference count), and the values taken from
//! a command id are shared with it, so deriving an event's metadata from its
//! command allocates once, not once per key and value and per event.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A key: a well-known one (no allocation) or any other.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Known(&'static str),
    Other(Arc<str>),
}

impl Key {
    fn new(key: &str) -> Self {
        match Metadata::WELL_KNOWN.iter().find(|k| **k == key) {
            Some(k) => Self::Known(k),
            None => Self::Other(Arc::from(key)),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Known(k) => k,
            Self::Other(k) => k,
        }
    }
}

type Entry = (Key, Arc<str>);

/// Free-form string metadata of an event, with typed accessors for the
/// well-known keys used for tracing causality.
///
/// The well-known keys are `correlation_id`, `causation_id`, `user_id`,
/// `trace_id` and `span_id`, and the writer stamps of the cluster runtime
/// `aether.node` and `aether.claim` and the model stamp `aether.model` (the
/// `KEY_*` constants). Any other key may be used
/// freely.
///
/// It serializes as a JSON object of strings in key order. Cloning it is
/// cheap (the entries are shared until one of the copies changes).
#[derive(Clone, Default)]
pub struct Metadata(Option<Arc<[Entry]>>);

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
        KEY_MODEL, "aether.model", model, set_model, with_model, "executable model (`<name>@<version>`) that decided the event (stamped by the actor runtime; the versions never decrease along an actor's log)";
    }

    /// Every well-known key.
    const WELL_KNOWN: [&'static str; 9] = [
        Self::KEY_CORRELATION_ID,
        Self::KEY_CAUSATION_ID,
        Self::KEY_USER_ID,
        Self::KEY_TRACE_ID,
        Self::KEY_SPAN_ID,
        Self::KEY_TRACEPARENT,
        Self::KEY_WRITER_NODE,
        Self::KEY_WRITER_CLAIM,
        Self::KEY_MODEL,
    ];

    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> &[Entry] {
        self.0.as_deref().unwrap_or(&[])
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries()
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_shared(key).map(|v| &**v)
    }

    /// The value of `key`, shared (a command id taken from it allocates
    /// nothing).
    pub(crate) fn get_shared(&self, key: &str) -> Option<&Arc<str>> {
        let entries = self.entries();
        // An event carries a handful of keys: a scan that compares lengths
        // first beats a binary search of string comparisons.
        if entries.len() <= 8 {
            return entries
                .iter()
                .find(|(k, _)| k.as_str() == key)
                .map(|(_, v)| v);
        }
        self.find(key).ok().map(|i| &entries[i].1)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let key = key.into();
        let value: Arc<str> = Arc::from(value.into());
        self.set(&key, value).map(|old| old.to_string())
    }

    /// Sets `key` to a shared `value`; the previous value, if any.
    fn set(&mut self, key: &str, value: Arc<str>) -> Option<Arc<str>> {
        let mut entries = self.entries().to_vec();
        let old = match self.find(key) {
            Ok(i) => Some(std::mem::replace(&mut entries[i].1, value)),
            Err(i) => {
                entries.insert(i, (Key::new(key), value));
                None
            }
        };
        self.0 = Some(entries.into());
        old
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.find(key).ok()?;
        let mut entries = self.entries().to_vec();
        let (_, old) = entries.remove(i);
        self.0 = (!entries.is_empty()).then(|| entries.into());
        Some(old.to_string())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Iterates over the entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries().iter().map(|(k, v)| (k.as_str(), &**v))
    }

    /// Metadata for something caused by an event or command with id `cause_id`
    /// and metadata `cause`: the correlation id is inherited (or, when the cause
    /// has none, it is the cause's id: the cause started the conversation), the
    /// causation id is `cause_id`, and user, trace and span ids and the trace
    /// context are copied.
    /// Other keys are not copied.
    pub fn caused_by(cause_id: &str, cause: &Metadata) -> Self {
        Self::caused_by_shared(&Arc::from(cause_id), cause)
    }

    /// [`Metadata::caused_by`] with the cause's id already shared (a command
    /// id): one allocation for the whole result.
    pub(crate) fn caused_by_shared(cause_id: &Arc<str>, cause: &Metadata) -> Self {
        Self::caused_by_with(cause_id, cause, &Metadata::new())
    }

    /// [`Metadata::caused_by_shared`] with the entries of `extra` set too
    /// (its values win): one allocation when the cause carries none of the
    /// inherited keys and `extra`'s keys all sort before the ids' (the
    /// runtime's `aether.…` stamps) or all after them; two otherwise.
    pub(crate) fn caused_by_with(cause_id: &Arc<str>, cause: &Metadata, extra: &Metadata) -> Self {
        let shared = |key: &str| {
            let entries = cause.entries();
            cause.find(key).ok().map(|i| entries[i].1.clone())
        };
        let causation = (Key::Known(Self::KEY_CAUSATION_ID), cause_id.clone());
        let correlation = (
            Key::Known(Self::KEY_CORRELATION_ID),
            shared(Self::KEY_CORRELATION_ID).unwrap_or_else(|| cause_id.clone()),
        );
        const INHERITED: [&str; 4] = [
            Metadata::KEY_USER_ID,
            Metadata::KEY_TRACE_ID,
            Metadata::KEY_SPAN_ID,
            Metadata::KEY_TRACEPARENT,
        ];
        let ids = [causation, correlation];
        if INHERITED.iter().all(|k| cause.find(k).is_err()) {
            // The usual command: the two ids and the writer's stamps, made
            // in place in key order (a `Vec` would be sorted, then copied
            // into the `Arc` once more). The stamps' keys (`aether.…`) sort
            // before the ids'.
            let stamps = extra.entries();
            match (stamps.first(), stamps.last()) {
                (None, _) => return Self(Some(Arc::from(ids))),
                (_, Some((k, _))) if k.as_str() < Self::KEY_CAUSATION_ID => {
                    return Self(Some(stamps.iter().cloned().chain(ids).collect()));
                }
                (Some((k, _)), _) if k.as_str() > Self::KEY_CORRELATION_ID => {
                    return Self(Some(
                        ids.into_iter().chain(stamps.iter().cloned()).collect(),
                    ));
                }
                _ => {}
            }
        }
        let [causation, correlation] = ids;
        let mut entries: Vec<Entry> = Vec::with_capacity(6 + extra.len());
        entries.push(causation);
        entries.push(correlation);
        for key in INHERITED {
            if let Some(v) = shared(key) {
                entries.push((Key::Known(key), v));
            }
        }
        for (k, v) in extra.entries() {
            match entries.iter_mut().find(|(e, _)| e == k) {
                Some(e) => e.1 = v.clone(),
                None => entries.push((k.clone(), v.clone())),
            }
        }
        entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Self(Some(entries.into()))
    }

    /// Returns self with every entry of `other` set (its values win); one
    /// allocation at most.
    #[must_use]
    pub fn merged(self, other: &Metadata) -> Self {
        if self.is_empty() {
            return other.clone();
        }
        if other.is_empty() {
            return self;
        }
        let mut entries = self.entries().to_vec();
        for (k, v) in other.entries() {
            match entries.binary_search_by(|(e, _)| e.as_str().cmp(k.as_str())) {
                Ok(i) => entries[i].1 = v.clone(),
                Err(i) => entries.insert(i, (k.clone(), v.clone())),
            }
        }
        Self(Some(entries.into()))
    }
}

impl PartialEq for Metadata {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Metadata {}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Metadata;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut access: M) -> Result<Metadata, M::Error> {
                let mut entries: Vec<Entry> =
                    Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = access.next_entry::<Text<'de>, Text<'de>>()? {
                    entries.push((Key::new(&k.0), Arc::from(&*v.0)));
                }
                // Key order; a key given twice keeps its last value.
                entries.reverse();
                entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
                entries.dedup_by(|b, a| a.0 == b.0);
                Ok(Metadata((!entries.is_empty()).then(|| entries.into())))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A string read in place where the input allows (serde's `Cow<str>`
/// always copies into a `String` first: two allocations more per entry,
/// on every event decoded).
struct Text<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Str;
        impl<'de> Visitor<'de> for Str {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let map: BTreeMap<String, String> = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from(map)
    }
}

impl From<BTreeMap<String, String>> for Metadata {
    fn from(map: BTreeMap<String, String>) -> Self {
        let entries: Vec<Entry> = map
            .into_iter()
            .map(|(k, v)| (Key::new(&k), Arc::from(v)))
            .collect();
        Self((!entries.is_empty()).then(|| entries.into()))
    }
}

impl From<Metadata> for BTreeMap<String, String> {
    fn from(m: Metadata) -> Self {
        m.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_in_place_escaped_and_from_values() {
        let text = r#"{"a":"plain","b\"q":"esc\"aped \u00e9","a":"last"}"#;
        let m: Metadata = serde_json::from_str(text).unwrap();
        assert_eq!(
            m.get("a"),
            Some("last"),
            "a key given twice keeps its last value"
        );
        assert_eq!(m.get("b\"q"), Some("esc\"aped é"));
        let v = serde_json::json!({"user_id": "u", "k": "v"});
        let m: Metadata = serde_json::from_value(v).unwrap();
        assert_eq!((m.user_id(), m.get("k")), (Some("u"), Some("v")));
        assert!(serde_json::from_str::<Metadata>(r#"{"a":1}"#).is_err());
    }

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
    fn sorted_shared_and_serialized_as_an_object_in_key_order() {
        let mut m = Metadata::new().with_user_id("u");
        m.insert("zeta", "z");
        m.insert("alpha", "a");
        let copy = m.clone();
        assert_eq!(m.insert("alpha", "b"), Some("a".into()));
        assert_eq!(copy.get("alpha"), Some("a"), "a copy does not change");
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"alpha":"b","user_id":"u","zeta":"z"}"#
        );
        let back: Metadata = serde_json::from_str(r#"{"b":"1","a":"2","b":"3"}"#).unwrap();
        assert_eq!(back.iter().collect::<Vec<_>>(), [("a", "2"), ("b", "3")]);
        assert_eq!(back.clone().merged(&m).get("alpha"), Some("b"));
        assert_eq!(m.remove("zeta"), Some("z".into()));
        assert_eq!(m.len(), 2);
        let mut one = Metadata::new().with_user_id("u");
        one.remove("user_id");
        assert!(one.is_empty() && one == Metadata::new());
        let map: BTreeMap<String, String> = m.clone().into();
        assert_eq!(Metadata::from(map), m);
        assert!(serde_json::from_str::<Metadata>("[1]").is_err());
        assert!(serde_json::from_str::<Metadata>(r#"{"a":1}"#).is_err());
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

    #[test]
    fn caused_by_with_keeps_every_entry_in_key_order_wherever_the_extra_keys_sort() {
        let id: Arc<str> = Arc::from("c1");
        let plain = Metadata::new().with_correlation_id("r1");
        let traced = plain.clone().with_user_id("alice");
        let with = |mut m: Metadata, k: &str, v: &str| {
            m.insert(k, v);
            m
        };
        let extras = [
            Metadata::new(),
            Metadata::new().with_model("account@3"),
            Metadata::new()
                .with_model("account@3")
                .with_writer_node("n1"),
            with(Metadata::new(), "zone", "eu"),
            with(Metadata::new(), "cb", "between the ids"),
            with(Metadata::new().with_model("account@3"), "zone", "eu"),
            Metadata::new().with_correlation_id("overridden"),
        ];
        for cause in [&plain, &traced] {
            for extra in &extras {
                let m = Metadata::caused_by_with(&id, cause, extra);
                let keys: Vec<&str> = m.entries().iter().map(|(k, _)| k.as_str()).collect();
                assert!(keys.is_sorted(), "{keys:?}");
                assert_eq!(m.causation_id(), Some("c1"));
                let correlation = extra.correlation_id().unwrap_or("r1");
                assert_eq!(m.correlation_id(), Some(correlation));
                assert_eq!(m.user_id(), cause.user_id());
                for (k, v) in extra.iter() {
                    assert_eq!(m.get(k), Some(v), "{k} of {extra:?}");
                }
                let inherited = usize::from(cause.user_id().is_some());
                let overlap = usize::from(extra.correlation_id().is_some());
                assert_eq!(m.len(), 2 + inherited + extra.len() - overlap);
            }
        }
    }
}

//! [`ActorId`]: the id of an actor (an event stream).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{InvalidId, check_text};

/// The id of an actor (an event stream): validated, cheap to clone.
///
/// Rules: not empty, at most [`ActorId::MAX_LEN`] bytes of UTF-8, no NUL
/// character. Any other unicode is allowed, including `.`, `*`, `>`, spaces and
/// `$`: stores that map ids onto other namespaces (NATS subjects) encode them
/// injectively, so distinct ids never share a history.
///
/// Every actor id has an *actor type*. By default it is the part before the
/// first `-` (`"order-42"` has type `"order"`; an id without `-` is its own
/// type). [`ActorId::with_type`] overrides it.
///
/// ```
/// use aether_core::ActorId;
/// let id = ActorId::new("order-42").unwrap();
/// assert_eq!(id.actor_type(), "order");
/// let odd = ActorId::with_type("invoice", "2024/0001").unwrap();
/// assert_eq!(odd.actor_type(), "invoice");
/// assert!(ActorId::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId {
    id: Arc<str>,
    /// Explicit actor type, only when it differs from the derived one.
    actor_type: Option<Arc<str>>,
}

impl ActorId {
    /// The longest actor id accepted, in bytes of UTF-8.
    pub const MAX_LEN: usize = 512;
    /// The longest actor type accepted, in bytes of UTF-8.
    pub const MAX_TYPE_LEN: usize = 128;

    /// Validates `id` and builds an actor id whose type is derived from it.
    pub fn new(id: impl AsRef<str>) -> Result<Self, InvalidId> {
        let id = id.as_ref();
        check_text("actor id", id, Self::MAX_LEN)?;
        Ok(Self {
            id: Arc::from(id),
            actor_type: None,
        })
    }

    /// Validates both parts and builds an actor id with an explicit actor type.
    pub fn with_type(actor_type: impl AsRef<str>, id: impl AsRef<str>) -> Result<Self, InvalidId> {
        let mut this = Self::new(id)?;
        let actor_type = actor_type.as_ref();
        check_text("actor type", actor_type, Self::MAX_TYPE_LEN)?;
        if actor_type != derived_type(&this.id) {
            this.actor_type = Some(Arc::from(actor_type));
        }
        Ok(this)
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The actor type: the explicit one, or the part of the id before the first `-`.
    pub fn actor_type(&self) -> &str {
        match &self.actor_type {
            Some(t) => t,
            None => derived_type(&self.id),
        }
    }

    /// Whether the actor type was set explicitly rather than derived from the id.
    pub fn has_explicit_type(&self) -> bool {
        self.actor_type.is_some()
    }
}

fn derived_type(id: &str) -> &str {
    match id.split_once('-') {
        Some((head, _)) if !head.is_empty() => head,
        _ => id,
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.actor_type {
            None => write!(f, "ActorId({:?})", self.id),
            Some(t) => write!(f, "ActorId({:?}, type = {:?})", self.id, t),
        }
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl FromStr for ActorId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for ActorId {
    type Error = InvalidId;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for ActorId {
    type Error = InvalidId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl AsRef<str> for ActorId {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

// Wire form: a plain string, or `{"id": .., "type": ..}` when the type is explicit.
impl Serialize for ActorId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.actor_type {
            None => serializer.serialize_str(&self.id),
            Some(t) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("id", &*self.id)?;
                map.serialize_entry("type", &**t)?;
                map.end()
            }
        }
    }
}

struct ActorIdVisitor;

impl<'de> serde::de::Visitor<'de> for ActorIdVisitor {
    type Value = ActorId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an actor id: a string, or a map with \"id\" and \"type\"")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ActorId, E> {
        ActorId::new(v).map_err(E::custom)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ActorId, A::Error> {
        let mut id: Option<std::borrow::Cow<'de, str>> = None;
        let mut actor_type: Option<std::borrow::Cow<'de, str>> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "id" if id.is_none() => id = Some(map.next_value()?),
                "type" if actor_type.is_none() => actor_type = Some(map.next_value()?),
                "id" | "type" => {
                    return Err(serde::de::Error::custom(format!("duplicate field {key:?}")));
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let id = id.ok_or_else(|| serde::de::Error::missing_field("id"))?;
        match actor_type {
            Some(t) => ActorId::with_type(t, id),
            None => ActorId::new(id),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ActorId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ActorIdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_type_is_prefix_before_first_dash() {
        assert_eq!(ActorId::new("order-1-2").unwrap().actor_type(), "order");
        assert_eq!(ActorId::new("plain").unwrap().actor_type(), "plain");
        // A leading dash would give an empty type: the whole id is the type then.
        assert_eq!(ActorId::new("-x").unwrap().actor_type(), "-x");
    }

    #[test]
    fn explicit_type_equal_to_derived_is_normalised() {
        let a = ActorId::new("order-1").unwrap();
        let b = ActorId::with_type("order", "order-1").unwrap();
        assert_eq!(a, b);
        assert!(!b.has_explicit_type());
        let c = ActorId::with_type("invoice", "order-1").unwrap();
        assert_ne!(a, c);
        assert_eq!(c.actor_type(), "invoice");
    }

    #[test]
    fn validation() {
        assert!(ActorId::new("").is_err());
        assert!(ActorId::new("a\0b").is_err());
        assert!(ActorId::new("x".repeat(ActorId::MAX_LEN)).is_ok());
        assert!(ActorId::new("x".repeat(ActorId::MAX_LEN + 1)).is_err());
        assert!(ActorId::new("a.b *> $x ünï-😀").is_ok());
        assert!(ActorId::with_type("", "a").is_err());
    }

    #[test]
    fn serde_round_trip() {
        let a = ActorId::new("order-1").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), r#""order-1""#);
        let c = ActorId::with_type("invoice", "order-1").unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"id":"order-1","type":"invoice"}"#);
        assert_eq!(serde_json::from_str::<ActorId>(&json).unwrap(), c);
        assert!(serde_json::from_str::<ActorId>(r#""""#).is_err());
    }
}

//! `{Name: data}`: serde's externally tagged form, as commands and events
//! are written on the wire and in examples.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;
use std::fmt;

/// A name and its data, written `{"Name": data}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    /// The command name or event type.
    pub name: String,
    /// The body.
    pub data: Json,
}

impl Serialize for Tagged {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.name, &self.data)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Tagged {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tagged;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map with exactly one key, `{Name: data}`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Tagged, A::Error> {
                let Some(name) = access.next_key::<String>()? else {
                    return Err(serde::de::Error::custom(
                        "expected `{Name: data}`, found an empty map",
                    ));
                };
                let data = access.next_value::<Json>()?;
                if access.next_key::<String>()?.is_some() {
                    return Err(serde::de::Error::custom(
                        "expected `{Name: data}` with exactly one key, found more",
                    ));
                }
                Ok(Tagged { name, data })
            }
        }
        deserializer.deserialize_map(V)
    }
}

//! Engine values to and from JSON, and the few operations the evaluator
//! needs on them. JSON integers become `int` (or `uint` above `i64::MAX`),
//! other numbers `double`; objects become maps with string keys.

use cel_core::Value;
use cel_core::{MapKey, ValueMap};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Deserializer, Serialize, Serializer};
use serde_json::Value as Json;
use std::fmt;
use std::sync::Arc;

/// A JSON value as an engine value.
pub(crate) fn from_json(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::String(Arc::from(s.as_str())),
        Json::Array(a) => Value::List(a.iter().map(from_json).collect()),
        Json::Object(o) => Value::Map(Arc::new(ValueMap::from_entries(
            o.iter().map(|(k, v)| (key(k), from_json(v))),
        ))),
    }
}

/// JSON text straight to an engine value (no intermediate `serde_json::Value`).
pub(crate) fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Seed.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// A string map key.
pub(crate) fn key(s: &str) -> MapKey {
    MapKey::String(Arc::from(s))
}

/// A map with string keys.
pub(crate) fn map<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Map(Arc::new(ValueMap::from_entries(
        entries.into_iter().map(|(k, v)| (key(k), v)),
    )))
}

/// A string value.
pub(crate) fn string(s: &str) -> Value {
    Value::String(Arc::from(s))
}

/// A timestamp value.
pub(crate) fn timestamp(t: std::time::SystemTime) -> Value {
    let (seconds, nanos) = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let s = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - d.subsec_nanos())
            }
        }
    };
    Value::Timestamp(cel_core::Timestamp::new(
        seconds,
        i32::try_from(nanos).unwrap_or(0),
    ))
}

/// The value as a bool, if it is one.
pub(crate) fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// The value as a string, if it is one.
pub(crate) fn as_str(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// Whether the value is a map.
pub(crate) fn is_map(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

/// The CEL type name of a value, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Double(_) => "double",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::List(_) => "list",
        Value::Map(_) => "map",
        Value::Timestamp(_) => "timestamp",
        Value::Duration(_) => "duration",
        _ => "value",
    }
}

/// Applies `patch` to `target` with JSON Merge Patch semantics (RFC 7386):
/// a `null` removes the property, a map merges into a map, anything else
/// replaces. `target` must be a map (a non-map target is replaced by `{}`).
/// The patch's entries are computed as they are applied (a fold's
/// expressions, each against the state before the event: no list of them
/// is kept); the first error is returned and nothing is patched.
pub(crate) fn merge_patch<'k, E>(
    target: &Value,
    patch: impl IntoIterator<Item = Result<(&'k MapKey, Value), E>>,
) -> Result<Value, E> {
    let mut map = match target {
        Value::Map(m) => (**m).clone(),
        _ => ValueMap::new(),
    };
    let mut removed = false;
    for entry in patch {
        let (k, v) = entry?;
        match v {
            Value::Null => {
                if map.contains_key(k) {
                    removed = true;
                    map.insert(k.clone(), Value::Null);
                }
            }
            Value::Map(p) => {
                let merged = merge_nested(map.get(k).unwrap_or(&Value::Null), &p);
                map.insert(k.clone(), merged);
            }
            other => map.insert(k.clone(), other),
        }
    }
    if removed {
        map = ValueMap::from_entries(
            map.iter()
                .filter(|(_, v)| !matches!(v, Value::Null))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    Ok(Value::Map(Arc::new(map)))
}

/// A map inside a patch merged into `target` (not generic, so the
/// recursion instantiates [`merge_patch`] once).
fn merge_nested(target: &Value, patch: &ValueMap) -> Value {
    let entries = patch
        .iter()
        .map(|(k, v)| Ok::<_, std::convert::Infallible>((k, v.clone())));
    match merge_patch(target, entries) {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

/// Whether the value nests deeper than `max` (lists and maps; a scalar
/// is 0 deep). Stops descending past `max`.
pub(crate) fn deeper_than(v: &Value, max: usize) -> bool {
    match v {
        Value::List(items) => max == 0 || items.iter().any(|i| deeper_than(i, max - 1)),
        Value::Map(m) => max == 0 || m.values().any(|i| deeper_than(i, max - 1)),
        _ => false,
    }
}

/// The value as JSON.
///
/// # Errors
///
/// A value with no JSON form: bytes, a non-finite double, a map key that
/// is not a string, an error, a type or an optional.
pub(crate) fn to_json(v: &Value) -> Result<Json, String> {
    serde_json::to_value(Ser(v)).map_err(|e| e.to_string())
}

/// The value as compact JSON text, appended to `out`.
pub(crate) fn write_json(v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    serde_json::to_writer(out, &Ser(v)).map_err(|e| e.to_string())
}

/// The length of the value's compact JSON text, without building it.
pub(crate) fn json_len(v: &Value) -> Result<usize, String> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    serde_json::to_writer(&mut c, &Ser(v)).map_err(|e| e.to_string())?;
    Ok(c.0)
}

/// An upper bound of [`json_len`], in one walk without formatting (a
/// string's bytes as if each were escaped, a number at its longest); `None`
/// for a value [`json_len`] may refuse.
pub(crate) fn json_len_bound(v: &Value) -> Option<usize> {
    Some(match v {
        Value::Null => 4,
        Value::Bool(_) => 5,
        // i64::MIN and u64::MAX are 20 characters; ryu writes a finite
        // double in at most 24.
        Value::Int(_) | Value::UInt(_) => 20,
        Value::Double(d) if d.is_finite() => 24,
        Value::String(t) => 2 + 6 * t.len(),
        Value::List(items) => {
            let mut n = 2 + items.len();
            for i in items.iter() {
                n += json_len_bound(i)?;
            }
            n
        }
        Value::Map(m) => {
            let mut n = 2 + m.len();
            for (k, v) in m.iter() {
                let MapKey::String(k) = k else { return None };
                n += 3 + 6 * k.len() + json_len_bound(v)?;
            }
            n
        }
        // RFC 3339 with nanoseconds, and seconds with nanoseconds: under 64.
        Value::Timestamp(_) | Value::Duration(_) => 66,
        _ => return None,
    })
}

/// Serializes an engine value as JSON.
pub(crate) struct Ser<'a>(pub(crate) &'a Value);

impl Serialize for Ser<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::UInt(u) => s.serialize_u64(*u),
            Value::Double(d) if d.is_finite() => s.serialize_f64(*d),
            Value::Double(d) => Err(S::Error::custom(format!("{d} has no JSON form"))),
            Value::String(t) => s.serialize_str(t),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items.iter() {
                    seq.serialize_element(&Ser(i))?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m.iter() {
                    match k {
                        MapKey::String(k) => map.serialize_entry(&**k, &Ser(v))?,
                        other => {
                            return Err(S::Error::custom(format!(
                                "map key {other:?} is not a string: JSON keys are strings"
                            )));
                        }
                    }
                }
                map.end()
            }
            Value::Timestamp(t) => s.serialize_str(&cel_core::time::format_timestamp(t)),
            Value::Duration(d) => s.serialize_str(&cel_core::time::format_duration(d)),
            Value::Error(e) => Err(S::Error::custom(e.message.clone())),
            other => Err(S::Error::custom(format!(
                "a {} value has no JSON form",
                type_name(other)
            ))),
        }
    }
}

/// Deserializes JSON into an engine value.
struct Seed;

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(Seed)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::UInt(u), Value::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Double(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(Arc::from(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(Seed)? {
            items.push(v);
        }
        Ok(Value::List(items.into()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut m = ValueMap::new();
        while let Some(k) = access.next_key::<std::borrow::Cow<'de, str>>()? {
            let v = access.next_value_seed(Seed)?;
            m.insert(key(&k), v);
        }
        Ok(Value::Map(Arc::new(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_testkit::strategies::json_value;
    use proptest::prelude::*;

    proptest! {
        /// The bound the state's size check trusts is never below the
        /// length of the JSON text.
        #[test]
        fn the_length_bound_is_never_below_the_length(j in json_value()) {
            let v = from_json(&j);
            let bound = json_len_bound(&v).expect("a JSON value has a bound");
            prop_assert!(bound >= json_len(&v).unwrap());
        }
    }

    #[test]
    fn the_length_bound_of_the_widest_scalars_and_times() {
        for v in [
            Value::Int(i64::MIN),
            Value::UInt(u64::MAX),
            Value::Double(-2.2250738585072014e-308),
            Value::Double(f64::MAX),
            timestamp(
                std::time::UNIX_EPOCH + std::time::Duration::new(253_402_300_799, 999_999_999),
            ),
            timestamp(std::time::UNIX_EPOCH - std::time::Duration::new(62_135_596_800, 1)),
        ] {
            assert!(
                json_len_bound(&v).unwrap() >= json_len(&v).unwrap(),
                "{v:?}"
            );
        }
        assert_eq!(json_len_bound(&Value::Double(f64::NAN)), None);
    }
}

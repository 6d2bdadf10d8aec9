//! The stored shape of a typed event (the defaults of
//! [`DomainEvent::to_data`](super::DomainEvent::to_data) and
//! [`DomainEvent::from_data`](super::DomainEvent::from_data)), worked on the
//! JSON text: the typed event is encoded once, and decoded once from its
//! stored payload, with no [`Value`](serde_json::Value) on the way.
//!
//! An externally tagged enum variant named as its event type, serialized as
//! `{"<type>":<inner>}`, is stored as `<inner>`; a unit variant, serialized as
//! `"<type>"`, as `null`; anything else as its whole text.

use std::borrow::Cow;
use std::cell::Cell;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::payload::Payload;

/// The stored payload of `event`, stored under `event_type`.
///
/// The variant named `event_type` is written without its tag as the event is
/// serialized ([`strip`]); any other shape is serialized whole and then cut
/// by the same rule on its text (an object whose one key is the type, a
/// string that is the type), as a `Value` was.
pub(crate) fn to_data<E: Serialize + ?Sized>(
    event: &E,
    event_type: &str,
) -> Result<Payload, Error> {
    let encoding = |e| Error::serialization_with(format!("encoding {event_type}"), e);
    let stripped = Cell::new(false);
    let raw = serde_json::value::to_raw_value(&strip::Untagged {
        event,
        event_type,
        stripped: &stripped,
    })
    .map_err(encoding)?;
    if stripped.get() {
        return Ok(Payload::from_raw(raw));
    }
    let text = raw.get();
    let key = escaped(event_type);
    if let Some(rest) = text.strip_prefix('{')
        && let Some(inner) = after_key(rest, &key).and_then(|r| r.strip_prefix(':'))
        && let Some(inner) = inner.strip_suffix('}')
        // Exactly one value, or the object has more keys (`1,"b":2`).
        && let Ok(inner) = serde_json::from_str::<&RawValue>(inner)
    {
        return Ok(Payload::from_raw(inner.to_owned()));
    }
    if after_key(text, &key) == Some("") {
        return Ok(Payload::null());
    }
    Ok(Payload::from_raw(raw))
}

/// What follows `"<key>"` at the start of `text`.
fn after_key<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.strip_prefix('"')?.strip_prefix(key)?.strip_prefix('"')
}

/// Decodes a `T` stored under `event_type` with payload `data`: as the
/// variant `{"<type>":<data>}`; else, when `data` is `null`, as the unit
/// variant `"<type>"`; else as the whole of `data`.
pub(crate) fn from_data<T: DeserializeOwned>(event_type: &str, data: &Payload) -> Result<T, Error> {
    let raw = data.as_str();
    // The variant, read without writing its text (the usual case).
    if let Ok(e) = T::deserialize(tagged::Tagged {
        tag: event_type,
        data: raw,
    }) {
        return Ok(e);
    }
    let key = escaped(event_type);
    let mut text = String::with_capacity(key.len() + raw.len() + 5);
    text.push_str("{\"");
    text.push_str(&key);
    text.push_str("\":");
    text.push_str(raw);
    text.push('}');
    if let Ok(e) = serde_json::from_str::<T>(&text) {
        return Ok(e);
    }
    if data.is_null() {
        text.clear();
        text.push('"');
        text.push_str(&key);
        text.push('"');
        if let Ok(e) = serde_json::from_str::<T>(&text) {
            return Ok(e);
        }
    }
    serde_json::from_str::<T>(raw).map_err(|e| {
        Error::serialization_with(
            format!("decoding stored event of type {event_type:?} (an upcaster may be missing)"),
            e,
        )
    })
}

/// `s` inside a JSON string, escaped as serde_json escapes it (most event
/// types need no escaping and are borrowed).
fn escaped(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return Cow::Borrowed(s);
    }
    match serde_json::to_string(s) {
        Ok(quoted) if quoted.len() >= 2 => Cow::Owned(quoted[1..quoted.len() - 1].to_owned()),
        // Encoding a `str` cannot fail.
        _ => Cow::Borrowed(s),
    }
}

mod strip;
mod tagged;

#[cfg(test)]
mod tests;

//! [`Payload`]: an event's data, kept as its JSON text.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;

/// An event's data: one JSON value, kept as its text.
///
/// The data is encoded once, when the event is made, and decoded only by a
/// reader that asks: [`Payload::decode`] straight to a type,
/// [`Payload::value`] to an untyped [`Value`]. Stores, the bus and the
/// runtime carry the text as it is.
///
/// A payload is always one valid JSON value, on one line: a line break
/// between tokens (the only place valid JSON can hold one) is kept as a
/// space, because stores and the bus put one event per line. In an
/// [`Event`](crate::Event)'s wire format it is written inline, as the JSON
/// value it holds (not as a string).
/// Deserializing one needs a `serde_json` deserializer (from text, bytes, a
/// reader or a [`Value`]); other formats cannot carry raw JSON.
///
/// Two payloads are equal when their texts are, or else when they parse to
/// equal values: key order and spacing do not matter.
///
/// # Examples
///
/// ```
/// use aether_core::{Payload, json};
/// use serde::Deserialize;
///
/// #[derive(Debug, PartialEq, Deserialize)]
/// struct Deposited {
///     amount: u64,
/// }
///
/// let data = Payload::parse(r#"{"amount": 5}"#).unwrap();
/// assert_eq!(data.decode::<Deposited>().unwrap(), Deposited { amount: 5 });
/// assert_eq!(data.value().unwrap()["amount"], 5);
/// assert_eq!(data, json!({"amount": 5}));
/// assert_eq!(Payload::from(json!({"amount": 5})).as_str(), r#"{"amount":5}"#);
/// ```
#[derive(Clone)]
pub struct Payload(Box<RawValue>);

impl Payload {
    /// The JSON `null`.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::Payload;
    ///
    /// assert!(Payload::null().is_null());
    /// assert_eq!(Payload::null().as_str(), "null");
    /// ```
    pub fn null() -> Self {
        Self(RawValue::NULL.to_owned())
    }

    /// Encodes `value` as JSON.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when `value`'s `Serialize` fails (a map
    /// whose keys are not strings or numbers, a custom impl's error).
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::Payload;
    /// use serde::Serialize;
    ///
    /// #[derive(Serialize)]
    /// struct Opened<'a> {
    ///     owner: &'a str,
    /// }
    ///
    /// let data = Payload::encode(&Opened { owner: "ada" }).unwrap();
    /// assert_eq!(data.as_str(), r#"{"owner":"ada"}"#);
    /// ```
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        serde_json::value::to_raw_value(value)
            .map(Self)
            .map_err(|e| Error::serialization_with("encoding event data", e))
    }

    /// Takes `text` as the payload after checking that it is one JSON value
    /// (leading and trailing whitespace is dropped, line breaks become
    /// spaces; the rest is kept as it is).
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when `text` is not one valid JSON value,
    /// saying where it fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::Payload;
    ///
    /// assert_eq!(Payload::parse(" [1, 2] ").unwrap().as_str(), "[1, 2]");
    /// assert_eq!(Payload::parse("[1,\n 2]\n").unwrap().as_str(), "[1,  2]");
    /// let err = Payload::parse("{\"amount\": }").unwrap_err();
    /// assert!(err.to_string().contains("not valid JSON"), "{err}");
    /// ```
    pub fn parse(text: impl Into<String>) -> Result<Self, Error> {
        let invalid = |e| Error::serialization_with("event data is not valid JSON", e);
        let raw = RawValue::from_string(text.into()).map_err(invalid)?;
        one_line(raw).map(Self).map_err(invalid)
    }

    /// Wraps text that is known to be one JSON value on one line (as
    /// serde_json writes it, or a part of such text).
    pub(crate) fn from_raw(raw: Box<RawValue>) -> Self {
        Self(raw)
    }

    /// The JSON text.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::{Payload, json};
    ///
    /// assert_eq!(Payload::from(json!([1, "a"])).as_str(), r#"[1,"a"]"#);
    /// ```
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Decodes the payload into a `T`, straight from the text.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the JSON does not decode as a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::Payload;
    ///
    /// let data = Payload::parse("[1, 2, 3]").unwrap();
    /// assert_eq!(data.decode::<Vec<u8>>().unwrap(), vec![1, 2, 3]);
    /// assert!(data.decode::<String>().is_err());
    /// ```
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.as_str()).map_err(|e| {
            Error::serialization_with(
                format!("decoding event data as {}", std::any::type_name::<T>()),
                e,
            )
        })
    }

    /// Parses the payload into an untyped [`Value`].
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the value is nested more than 128
    /// levels deep (the most a [`Value`] is parsed to).
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::{Payload, json};
    ///
    /// let data = Payload::from(json!({"owner": "ada"}));
    /// assert_eq!(data.value().unwrap()["owner"], "ada");
    /// ```
    pub fn value(&self) -> Result<Value, Error> {
        self.decode()
    }

    /// Whether the payload is the JSON `null`.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_core::{Payload, json};
    ///
    /// assert!(Payload::default().is_null());
    /// assert!(!Payload::from(json!(0)).is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        self.as_str() == "null"
    }
}

impl Default for Payload {
    /// The JSON `null`.
    fn default() -> Self {
        Self::null()
    }
}

impl From<&Value> for Payload {
    fn from(value: &Value) -> Self {
        // Encoding a `Value` cannot fail: its keys are strings and its
        // numbers finite, and the output is an in-memory buffer.
        Self::encode(value).expect("a serde_json::Value always encodes")
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
            || matches!((self.value(), other.value()), (Ok(a), Ok(b)) if a == b)
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.value().is_ok_and(|v| v == *other)
    }
}

impl PartialEq<Payload> for Value {
    fn eq(&self, other: &Payload) -> bool {
        other == self
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        one_line(raw).map(Self).map_err(serde::de::Error::custom)
    }
}

/// `raw` with its line breaks (whitespace between tokens: JSON strings cannot
/// hold a raw one) as spaces.
fn one_line(raw: Box<RawValue>) -> Result<Box<RawValue>, serde_json::Error> {
    if memchr::memchr2(b'\n', b'\r', raw.get().as_bytes()).is_none() {
        return Ok(raw);
    }
    RawValue::from_string(raw.get().replace(['\n', '\r'], " "))
}

#[cfg(test)]
mod tests;

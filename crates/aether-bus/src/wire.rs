//! The cross-node wire format of the bus: how [`crate::NatsEventBus`]
//! encodes events in NATS messages.
//!
//! A message is a tag byte, [`TAG_V2`] (what this version sends) or
//! [`TAG_V1`] (what versions before it sent; still read), followed by one or
//! more frames, one event each. A frame is a little-endian `u32` body length,
//! then the body:
//!
//! | field | encoding |
//! |---|---|
//! | event id | 16 bytes (the UUID) |
//! | version | `u64` |
//! | timestamp | `i128`, nanoseconds since the Unix epoch |
//! | event type | string |
//! | actor id | `u8` 0 (type derived from the id) or 1 (explicit type), the id as a string, then the type as a string if 1 |
//! | metadata | `u32` entry count, then key and value strings per entry, in key order |
//! | data | after [`TAG_V2`]: a string, the JSON text of the event's data (its [`aether_core::Payload`]), the rest of the body; after [`TAG_V1`]: a value (below), the rest of the body |
//!
//! Integers are little-endian; a string is a `u32` byte length and UTF-8
//! bytes.
//!
//! [`TAG_V2`] carries the data as the text the event already holds: encoding
//! copies it, decoding checks that it is one valid JSON value and keeps it,
//! and numbers keep their exact text. [`TAG_V1`] carried it as a tree that
//! had to be walked both ways: a value is a kind byte and its content: `0`
//! null, `1` false, `2` true, `3` a `u64`, `4` a negative `i64`, `5` a finite
//! `f64`, `6` a string, `7` an array (`u32` count, then values), `8` an object
//! (`u32` count, then key string and value per entry, in key order). Nesting
//! deeper than 128 is refused, as by serde_json. A receiver of this version
//! reads both; a receiver of an earlier version reads only [`TAG_V1`] and
//! reports [`TAG_V2`] messages as malformed, so upgrade every receiver of a
//! namespace before its publishers.
//!
//! Binary because the JSON form of the whole event cost the bus about twice
//! as much to encode and decode, on machines where that is the bus's main
//! cost. Decoding checks everything the JSON decoder checks
//! ([`aether_core::Event::validate`], actor id rules, UTF-8, valid JSON data)
//! and reports malformed input as an error, never a panic.
//!
//! A payload that starts with neither tag is read as JSON events, one per
//! line (the [`aether_core::Event`] JSON wire format), so tools can publish
//! onto bus subjects with plain NATS.

use std::collections::BTreeMap;

use aether_core::{ActorId, Event, EventId, Metadata, Payload, Timestamp};
use serde_json::Value;

/// The first byte of a message whose data is a value tree: what earlier
/// versions sent (never `{`, which starts JSON).
pub(crate) const TAG_V1: u8 = 0xA1;

/// The first byte of a message whose data is its JSON text: what this
/// version sends (never `{`).
pub(crate) const TAG_V2: u8 = 0xA2;

/// How a frame carries its event's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataForm {
    /// [`TAG_V1`]: a value tree.
    Tree,
    /// [`TAG_V2`]: the JSON text.
    Text,
}

impl DataForm {
    /// The form a message's tag byte announces, if it is one.
    fn of_tag(tag: u8) -> Option<Self> {
        match tag {
            TAG_V1 => Some(Self::Tree),
            TAG_V2 => Some(Self::Text),
            _ => None,
        }
    }
}

/// Why a frame could not be decoded.
#[derive(Debug)]
pub(crate) struct WireError(pub(crate) String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// How deep values may nest (serde_json's own limit when parsing).
const MAX_DEPTH: usize = 128;

/// Encodes a value tree ([`TAG_V1`]'s data), for tests that the old form
/// still decodes.
#[cfg(test)]
fn put_value(out: &mut Vec<u8>, v: &Value, depth: usize) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError(format!("data nests deeper than {MAX_DEPTH}")));
    }
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.push(1 + u8::from(*b)),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push(3);
                out.extend_from_slice(&u.to_le_bytes());
            } else if let Some(i) = n.as_i64() {
                out.push(4);
                out.extend_from_slice(&i.to_le_bytes());
            } else {
                // Without serde_json's arbitrary precision, a number that is
                // neither is a finite f64.
                out.push(5);
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_le_bytes());
            }
        }
        Value::String(s) => {
            out.push(6);
            put_str(out, s);
        }
        Value::Array(items) => {
            out.push(7);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for item in items {
                put_value(out, item, depth + 1)?;
            }
        }
        Value::Object(map) => {
            out.push(8);
            out.extend_from_slice(&(map.len() as u32).to_le_bytes());
            for (k, item) in map {
                put_str(out, k);
                put_value(out, item, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Appends `event` as a message of one frame (tag [`TAG_V2`] included) to
/// `out`.
pub(crate) fn encode_message(event: &Event, out: &mut Vec<u8>) -> Result<(), WireError> {
    put_message(event, TAG_V2, out, |out| {
        put_str(out, event.data.as_str());
        Ok(())
    })
}

/// Appends `event` as a [`TAG_V1`] message, as earlier versions sent it.
#[cfg(test)]
fn encode_message_v1(event: &Event, out: &mut Vec<u8>) -> Result<(), WireError> {
    let value = event.data.value().map_err(|e| WireError(e.to_string()))?;
    put_message(event, TAG_V1, out, |out| put_value(out, &value, 0))
}

/// Appends `tag` and one frame of `event`, its data written by `put_data`.
fn put_message(
    event: &Event,
    tag: u8,
    out: &mut Vec<u8>,
    put_data: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    out.push(tag);
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(event.id.as_uuid().as_bytes());
    out.extend_from_slice(&event.version.to_le_bytes());
    out.extend_from_slice(&event.timestamp.unix_nanos().to_le_bytes());
    put_str(out, &event.event_type);
    let actor = &event.actor_id;
    if actor.has_explicit_type() {
        out.push(1);
        put_str(out, actor.as_str());
        put_str(out, actor.actor_type());
    } else {
        out.push(0);
        put_str(out, actor.as_str());
    }
    out.extend_from_slice(&(event.metadata.len() as u32).to_le_bytes());
    for (k, v) in event.metadata.iter() {
        put_str(out, k);
        put_str(out, v);
    }
    put_data(out)?;
    let body = u32::try_from(out.len() - len_at - 4)
        .map_err(|_| WireError("event larger than 4 GiB".into()))?;
    out[len_at..len_at + 4].copy_from_slice(&body.to_le_bytes());
    Ok(())
}

/// The frames of a tagged message's body (after the tag): each `Ok(body)`,
/// or one final `Err` if the framing is cut short.
pub(crate) fn frames(mut rest: &[u8]) -> impl Iterator<Item = Result<&[u8], WireError>> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            rest = &[];
            return Some(Err(WireError("truncated frame length".into())));
        };
        let len = u32::from_le_bytes(*len) as usize;
        if len > tail.len() {
            rest = &[];
            return Some(Err(WireError(format!(
                "frame of {len} bytes but only {} left",
                tail.len()
            ))));
        }
        let (body, after) = tail.split_at(len);
        rest = after;
        Some(Ok(body))
    })
}

/// How many events a received payload holds, malformed ones included.
pub(crate) fn count(payload: &[u8]) -> u64 {
    match payload.split_first() {
        Some((&tag, rest)) if DataForm::of_tag(tag).is_some() => frames(rest).count() as u64,
        _ => json_lines(payload).count() as u64,
    }
}

/// The events of a received payload, in order, each decoded and validated or
/// an error: binary frames after a tag, or else JSON events one per line.
pub(crate) fn decode(payload: &[u8]) -> impl Iterator<Item = Result<Event, WireError>> + '_ {
    let (binary, json) = match payload
        .split_first()
        .and_then(|(&tag, rest)| Some((DataForm::of_tag(tag)?, rest)))
    {
        Some((form, rest)) => (Some((form, frames(rest))), None),
        None => (None, Some(json_lines(payload))),
    };
    let binary = binary.into_iter().flat_map(|(form, frames)| {
        frames.map(move |frame| frame.and_then(|b| decode_frame(b, form)))
    });
    let json = json
        .into_iter()
        .flatten()
        .map(|line| Event::from_json_slice(line).map_err(|e| WireError(e.to_string())));
    binary.chain(json)
}

/// The non-empty lines of a JSON payload (what plain NATS publishers send).
fn json_lines(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', payload)
        .chain(std::iter::once(payload.len()))
        .map(move |end| {
            let line = &payload[start..end];
            start = end + 1;
            line
        })
        .filter(|line| !line.is_empty())
}

/// Reads fields from a frame body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N], WireError> {
        let Some((head, tail)) = self.0.split_first_chunk::<N>() else {
            return Err(WireError(format!("frame ends inside the {what}")));
        };
        self.0 = tail;
        Ok(*head)
    }

    fn str(&mut self, what: &str) -> Result<&'a str, WireError> {
        let len = u32::from_le_bytes(self.take::<4>(what)?) as usize;
        if len > self.0.len() {
            return Err(WireError(format!("frame ends inside the {what}")));
        }
        let (bytes, tail) = self.0.split_at(len);
        self.0 = tail;
        std::str::from_utf8(bytes).map_err(|e| WireError(format!("{what} is not UTF-8: {e}")))
    }
}

impl Reader<'_> {
    fn value(&mut self, depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError(format!("data nests deeper than {MAX_DEPTH}")));
        }
        Ok(match self.take::<1>("data")?[0] {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => Value::from(u64::from_le_bytes(self.take::<8>("number")?)),
            4 => Value::from(i64::from_le_bytes(self.take::<8>("number")?)),
            5 => {
                let f = f64::from_le_bytes(self.take::<8>("number")?);
                Value::Number(
                    serde_json::Number::from_f64(f)
                        .ok_or_else(|| WireError(format!("non-finite number {f}")))?,
                )
            }
            6 => Value::String(self.str("string")?.to_owned()),
            7 => {
                let n = u32::from_le_bytes(self.take::<4>("array")?) as usize;
                // Every item takes at least a byte: no allocation beyond that.
                let mut items = Vec::with_capacity(n.min(self.0.len()));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            8 => {
                let n = u32::from_le_bytes(self.take::<4>("object")?);
                let mut map = serde_json::Map::new();
                for _ in 0..n {
                    let k = self.str("object key")?.to_owned();
                    let item = self.value(depth + 1)?;
                    map.insert(k, item);
                }
                Value::Object(map)
            }
            other => return Err(WireError(format!("unknown value kind {other}"))),
        })
    }
}

/// Decodes one frame body, its data in `form`, into a validated event.
pub(crate) fn decode_frame(body: &[u8], form: DataForm) -> Result<Event, WireError> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| WireError(format!("invalid {what}: {e}"));
    let mut r = Reader(body);
    let id = EventId::from_uuid(uuid::Uuid::from_bytes(r.take::<16>("event id")?));
    let version = u64::from_le_bytes(r.take::<8>("version")?);
    let nanos = i128::from_le_bytes(r.take::<16>("timestamp")?);
    let timestamp = Timestamp::from_unix_nanos(nanos).map_err(|e| invalid("timestamp", &e))?;
    let event_type = r.str("event type")?.to_owned();
    let actor_id = match r.take::<1>("actor id")?[0] {
        0 => ActorId::new(r.str("actor id")?),
        1 => {
            let id = r.str("actor id")?;
            ActorId::with_type(r.str("actor type")?, id)
        }
        other => return Err(WireError(format!("unknown actor id form {other}"))),
    }
    .map_err(|e| invalid("actor id", &e))?;
    let entries = u32::from_le_bytes(r.take::<4>("metadata")?);
    let mut metadata = BTreeMap::new();
    for _ in 0..entries {
        let k = r.str("metadata key")?;
        let v = r.str("metadata value")?;
        metadata.insert(k.to_owned(), v.to_owned());
    }
    let data = match form {
        DataForm::Text => Payload::parse(r.str("data")?)
            .map_err(|e| invalid("data", &aether_core::error_chain(&e)))?,
        DataForm::Tree => Payload::from(r.value(0)?),
    };
    if !r.0.is_empty() {
        return Err(WireError(format!("{} bytes after the data", r.0.len())));
    }
    let event = Event::from_parts(
        id,
        actor_id,
        version,
        event_type,
        data,
        Metadata::from(metadata),
        timestamp,
    );
    event.validate().map_err(|e| invalid("event", &e))?;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use aether_core::json;
    use aether_testkit::strategies::json_value;
    use proptest::prelude::*;

    use super::*;

    /// How a test writes a message: this version's form, or the old one.
    type Encoder = fn(&Event, &mut Vec<u8>) -> Result<(), WireError>;
    const ENCODERS: [(&str, Encoder); 2] = [("v2", encode_message), ("v1", encode_message_v1)];

    fn decode_message(bytes: &[u8]) -> Vec<Result<Event, String>> {
        assert!(matches!(bytes[0], TAG_V1 | TAG_V2), "tag {:#x}", bytes[0]);
        decode(bytes).map(|r| r.map_err(|e| e.0)).collect()
    }

    fn encoded(encode: Encoder, e: &Event) -> Vec<u8> {
        let mut out = Vec::new();
        encode(e, &mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_every_field_in_both_forms() {
        let e = Event::new(
            ActorId::with_type("invoice", "order-7").unwrap(),
            42,
            "Placed",
            json!({"n": 1.5, "big": u64::MAX, "s": "a\nb", "list": [1, null, true]}),
        )
        .with_metadata(
            Metadata::default()
                .with_correlation_id("c-1")
                .with_user_id("ü"),
        );
        for (form, encode) in ENCODERS {
            let out = encoded(encode, &e);
            assert_eq!(decode_message(&out), vec![Ok(e.clone())], "{form}");
            assert_eq!(count(&out), 1, "{form}");
        }
    }

    /// This version sends the data as the event's own JSON text, as it is.
    #[test]
    fn v2_carries_the_data_text_as_it_is() {
        let data = Payload::parse(r#"{"b": 1.50, "a": [ 1e2 ]}"#).unwrap();
        let e = Event::new(ActorId::new("a-1").unwrap(), 1, "T", data.clone());
        let out = encoded(encode_message, &e);
        assert_eq!(out[0], TAG_V2);
        let mut tail = (data.as_str().len() as u32).to_le_bytes().to_vec();
        tail.extend_from_slice(data.as_str().as_bytes());
        assert!(out.ends_with(&tail));
        let back = decode_message(&out).remove(0).unwrap();
        assert_eq!(back.data.as_str(), data.as_str());
    }

    #[test]
    fn malformed_frames_are_errors() {
        let e = Event::new(ActorId::new("a-1").unwrap(), 1, "T", json!(null));
        for (form, encode) in ENCODERS {
            let out = encoded(encode, &e);
            // Cut anywhere: an error, never a panic.
            for cut in 2..out.len() {
                let got = decode_message(&out[..cut]);
                assert!(
                    got.iter().any(Result::is_err),
                    "{form}: cut at {cut}: {got:?}"
                );
            }
            // A version of 0 and an invalid actor id are refused as in JSON.
            let mut zero = out.clone();
            zero[1 + 4 + 16..1 + 4 + 24].copy_from_slice(&0u64.to_le_bytes());
            assert!(decode_message(&zero)[0].is_err(), "{form}");
            let mut bad_actor = out.clone();
            let at = bad_actor.windows(3).position(|w| w == b"a-1").unwrap();
            bad_actor[at] = 0; // NUL: not allowed in actor ids
            assert!(decode_message(&bad_actor)[0].is_err(), "{form}");
        }
    }

    /// The data text of a v2 frame must be one valid JSON value, in UTF-8.
    #[test]
    fn v2_data_that_is_not_json_is_an_error() {
        let e = Event::new(ActorId::new("a-1").unwrap(), 1, "T", json!(null));
        let out = encoded(encode_message, &e);
        for bad in [&b"nul!"[..], b"{", b"1 2", b"", b"\"\xff\""] {
            let mut m = out[..out.len() - 4].to_vec();
            m.extend_from_slice(bad);
            let body = u32::try_from(m.len() - 5).unwrap();
            m[1..5].copy_from_slice(&body.to_le_bytes());
            let len_at = m.len() - bad.len() - 4;
            m[len_at..len_at + 4].copy_from_slice(&(bad.len() as u32).to_le_bytes());
            let got = decode_message(&m);
            assert!(
                matches!(&got[..], [Err(err)] if err.contains("data")),
                "{bad:?}: {got:?}"
            );
        }
    }

    /// Fuzz target for the receiver's decoder (bolero: random inputs under
    /// `cargo test`, coverage-guided under `cargo bolero test`).
    #[test]
    fn fuzz_message_decoding() {
        bolero::check!().for_each(|bytes: &[u8]| {
            for form in [DataForm::Tree, DataForm::Text] {
                for frame in frames(bytes) {
                    if let Ok(event) = frame.and_then(|b| decode_frame(b, form)) {
                        let mut again = Vec::new();
                        encode_message(&event, &mut again).expect("re-encodes");
                    }
                }
            }
        });
    }

    #[test]
    fn deep_nesting_is_carried_as_text_and_refused_as_a_tree() {
        let mut v = json!(1);
        for _ in 0..200 {
            v = json!([v]);
        }
        let e = Event::new(ActorId::new("a-1").unwrap(), 1, "T", v);
        assert!(encode_message_v1(&e, &mut Vec::new()).is_err());
        let out = encoded(encode_message, &e);
        assert_eq!(decode_message(&out), vec![Ok(e)]);
        // A hand-made v1 body nesting 100,000 arrays: an error, not a stack
        // overflow.
        let ok = encoded(
            encode_message_v1,
            &Event::new(ActorId::new("a-1").unwrap(), 1, "T", json!(null)),
        );
        let mut body = ok[5..ok.len() - 1].to_vec();
        for _ in 0..100_000 {
            body.push(7);
            body.extend_from_slice(&1u32.to_le_bytes());
        }
        body.push(0);
        assert!(decode_frame(&body, DataForm::Tree).is_err());
    }

    proptest! {
        #[test]
        fn data_values_round_trip_exactly(v in json_value()) {
            let e = Event::new(ActorId::new("a-1").unwrap(), 1, "T", v.clone());
            for (_, encode) in ENCODERS {
                let got = decode_message(&encoded(encode, &e)).remove(0).unwrap();
                prop_assert_eq!(&got, &e);
                prop_assert_eq!(got.data.value().unwrap(), v.clone());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            for form in [DataForm::Tree, DataForm::Text] {
                for frame in frames(&bytes) {
                    let _ = frame.and_then(|b| decode_frame(b, form));
                }
            }
        }

        #[test]
        fn events_round_trip(
            version in 1u64..,
            ty in "[A-Za-z]{1,20}",
            actor in "[a-z]{1,8}-[a-z0-9.]{1,12}",
            meta in proptest::collection::btree_map("[a-z_]{1,10}", ".{0,20}", 0..4),
            n in any::<i64>(),
            s in ".{0,40}",
        ) {
            let e = Event::new(ActorId::new(&actor).unwrap(), version, ty, json!({"n": n, "s": s}))
                .with_metadata(Metadata::from(meta));
            for (_, encode) in ENCODERS {
                prop_assert_eq!(decode_message(&encoded(encode, &e)), vec![Ok(e.clone())]);
            }
        }
    }
}

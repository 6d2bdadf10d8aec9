//! The cross-node wire format of the bus: how [`crate::NatsEventBus`]
//! encodes events in NATS messages.
//!
//! A message is the tag byte [`TAG_V1`] followed by one or more frames, one
//! event each. A frame is a little-endian `u32` body length, then the body:
//!
//! | field | encoding |
//! |---|---|
//! | event id | 16 bytes (the UUID) |
//! | version | `u64` |
//! | timestamp | `i128`, nanoseconds since the Unix epoch |
//! | event type | string |
//! | actor id | `u8` 0 (type derived from the id) or 1 (explicit type), the id as a string, then the type as a string if 1 |
//! | metadata | `u32` entry count, then key and value strings per entry, in key order |
//! | data | a value (below), the rest of the body |
//!
//! Integers are little-endian; a string is a `u32` byte length and UTF-8
//! bytes. A value (the event's `data`, a JSON value) is a kind byte and its
//! content: `0` null, `1` false, `2` true, `3` a `u64`, `4` a negative `i64`,
//! `5` a finite `f64`, `6` a string, `7` an array (`u32` count, then values),
//! `8` an object (`u32` count, then key string and value per entry, in key
//! order). Nesting deeper than 128 is refused, as by serde_json.
//!
//! Binary because the JSON form of the whole event cost the bus about twice
//! as much to encode and decode, on machines where that is the bus's main
//! cost. Numbers keep their exact kind and bits (a `u64`, an `i64` or the
//! `f64` itself, never reformatted). Decoding checks everything the JSON
//! decoder checks ([`aether_core::Event::validate`], actor id rules, UTF-8,
//! finite numbers) and reports malformed input as an error, never a panic.
//!
//! A payload that does not start with the tag is read as JSON events, one per
//! line (the [`aether_core::Event`] JSON wire format), so tools can publish
//! onto bus subjects with plain NATS.

use std::collections::BTreeMap;

use aether_core::{ActorId, Event, EventId, Metadata, Timestamp};
use serde_json::Value;

/// The first byte of a message in this format (never `{`, which starts JSON).
pub(crate) const TAG_V1: u8 = 0xA1;

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

/// Appends `event` as a message of one frame (tag included) to `out`.
pub(crate) fn encode_message(event: &Event, out: &mut Vec<u8>) -> Result<(), WireError> {
    out.push(TAG_V1);
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
    put_value(out, &event.data, 0)?;
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
        Some((&TAG_V1, rest)) => frames(rest).count() as u64,
        _ => json_lines(payload).count() as u64,
    }
}

/// The events of a received payload, in order, each decoded and validated or
/// an error: binary frames after the tag, or else JSON events one per line.
pub(crate) fn decode(payload: &[u8]) -> impl Iterator<Item = Result<Event, WireError>> + '_ {
    let (binary, json) = match payload.split_first() {
        Some((&TAG_V1, rest)) => (Some(frames(rest)), None),
        _ => (None, Some(json_lines(payload))),
    };
    let binary = binary
        .into_iter()
        .flatten()
        .map(|frame| frame.and_then(decode_frame));
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

/// Decodes one frame body into a validated event.
pub(crate) fn decode_frame(body: &[u8]) -> Result<Event, WireError> {
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
    let data = r.value(0)?;
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
    use proptest::prelude::*;

    use super::*;

    fn decode_message(bytes: &[u8]) -> Vec<Result<Event, String>> {
        assert_eq!(bytes[0], TAG_V1);
        decode(bytes).map(|r| r.map_err(|e| e.0)).collect()
    }

    #[test]
    fn round_trips_every_field() {
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
        let mut out = Vec::new();
        encode_message(&e, &mut out).unwrap();
        assert_eq!(decode_message(&out), vec![Ok(e)]);
    }

    #[test]
    fn malformed_frames_are_errors() {
        let e = Event::new(ActorId::new("a-1").unwrap(), 1, "T", json!(null));
        let mut out = Vec::new();
        encode_message(&e, &mut out).unwrap();
        // Cut anywhere: an error, never a panic.
        for cut in 2..out.len() {
            let got = decode_message(&out[..cut]);
            assert!(got.iter().any(Result::is_err), "cut at {cut}: {got:?}");
        }
        // A version of 0 and an invalid actor id are refused as in JSON.
        let mut zero = out.clone();
        zero[1 + 4 + 16..1 + 4 + 24].copy_from_slice(&0u64.to_le_bytes());
        assert!(decode_message(&zero)[0].is_err());
        let mut bad_actor = Vec::new();
        encode_message(&e, &mut bad_actor).unwrap();
        let at = bad_actor.windows(3).position(|w| w == b"a-1").unwrap();
        bad_actor[at] = 0; // NUL: not allowed in actor ids
        assert!(decode_message(&bad_actor)[0].is_err());
    }

    /// Fuzz target for the receiver's decoder (bolero: random inputs under
    /// `cargo test`, coverage-guided under `cargo bolero test`).
    #[test]
    fn fuzz_message_decoding() {
        bolero::check!().for_each(|bytes: &[u8]| {
            for frame in frames(bytes) {
                if let Ok(event) = frame.and_then(decode_frame) {
                    let mut again = Vec::new();
                    encode_message(&event, &mut again).expect("re-encodes");
                }
            }
        });
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut v = json!(1);
        for _ in 0..200 {
            v = json!([v]);
        }
        let e = Event::new(ActorId::new("a-1").unwrap(), 1, "T", v);
        assert!(encode_message(&e, &mut Vec::new()).is_err());
        // A hand-made body nesting 100,000 arrays: an error, not a stack overflow.
        let mut ok = Vec::new();
        encode_message(
            &Event::new(ActorId::new("a-1").unwrap(), 1, "T", json!(null)),
            &mut ok,
        )
        .unwrap();
        let mut body = ok[5..ok.len() - 1].to_vec();
        for _ in 0..100_000 {
            body.push(7);
            body.extend_from_slice(&1u32.to_le_bytes());
        }
        body.push(0);
        assert!(decode_frame(&body).is_err());
    }

    proptest! {
        #[test]
        fn data_values_round_trip_exactly(v in arb_value()) {
            let e = Event::new(ActorId::new("a-1").unwrap(), 1, "T", v);
            let mut out = Vec::new();
            encode_message(&e, &mut out).unwrap();
            prop_assert_eq!(decode_message(&out), vec![Ok(e)]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            for frame in frames(&bytes) {
                let _ = frame.and_then(decode_frame);
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
            let mut out = Vec::new();
            encode_message(&e, &mut out).unwrap();
            prop_assert_eq!(decode_message(&out), vec![Ok(e)]);
        }
    }
}

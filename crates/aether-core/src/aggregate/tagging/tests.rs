//! The text path keeps the stored shape the `Value` path had: these tests
//! carry that path as the reference.

#![allow(non_snake_case)]

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::aggregate::DomainEvent;
use crate::payload::Payload;

/// The stored data before payloads: `DomainEvent::to_data` as it was.
fn value_to_data<E: DomainEvent>(e: &E) -> Value {
    match serde_json::to_value(e).unwrap() {
        Value::Object(mut map) if map.len() == 1 && map.contains_key(e.event_type()) => {
            map.remove(e.event_type()).unwrap_or(Value::Null)
        }
        Value::String(s) if s == e.event_type() => Value::Null,
        other => other,
    }
}

/// `DomainEvent::from_data` as it was.
fn value_from_data<E: DomainEvent>(event_type: &str, data: &Value) -> Option<E> {
    let mut tagged = serde_json::Map::new();
    tagged.insert(event_type.to_owned(), data.clone());
    if let Ok(e) = serde_json::from_value::<E>(Value::Object(tagged)) {
        return Some(e);
    }
    if data.is_null()
        && let Ok(e) = serde_json::from_value::<E>(Value::String(event_type.to_owned()))
    {
        return Some(e);
    }
    serde_json::from_value::<E>(data.clone()).ok()
}

/// Stores `e` both ways and checks that each path reads what the other
/// wrote, and that the new path stores what the old one did.
fn check<E: DomainEvent + PartialEq>(e: &E) -> Result<(), TestCaseError> {
    let data = e.to_data().unwrap();
    let old = value_to_data(e);
    prop_assert_eq!(&data, &old, "stored data of {:?}", e);
    prop_assert_eq!(&E::from_data(e.event_type(), &data).unwrap(), e);
    prop_assert_eq!(
        &E::from_data(e.event_type(), &Payload::from(&old)).unwrap(),
        e
    );
    let old_read = value_from_data::<E>(e.event_type(), &data.value().unwrap());
    prop_assert_eq!(old_read.as_ref(), Some(e));
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Note {
    text: String,
    pinned: bool,
}

/// One variant of every shape serde has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Ev {
    Opened {
        owner: String,
        limit: Option<u64>,
    },
    Moved(i64, String),
    Closed,
    Deposited(u64),
    Noted(Note),
    Tagged(Vec<String>),
    MaybeNote(Option<String>),
    Measured(f64),
    Empty {},
    #[serde(rename = "Said \"hi\"\\\n")]
    Quoted {
        n: u8,
    },
}

impl DomainEvent for Ev {
    fn event_type(&self) -> &'static str {
        match self {
            Ev::Opened { .. } => "Opened",
            Ev::Moved(..) => "Moved",
            Ev::Closed => "Closed",
            Ev::Deposited(_) => "Deposited",
            Ev::Noted(_) => "Noted",
            Ev::Tagged(_) => "Tagged",
            Ev::MaybeNote(_) => "MaybeNote",
            Ev::Measured(_) => "Measured",
            Ev::Empty {} => "Empty",
            Ev::Quoted { .. } => "Said \"hi\"\\\n",
        }
    }
}

/// Not an enum: stored as its whole value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pinged {
    seq: u64,
    from: String,
}

impl DomainEvent for Pinged {
    fn event_type(&self) -> &'static str {
        "Pinged"
    }
}

/// An object with a key named as the type and another key: stored whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Crowded {
    Crowded: u8,
    other: u8,
}

impl DomainEvent for Crowded {
    fn event_type(&self) -> &'static str {
        "Crowded"
    }
}

/// An object whose one key is named as the type: stored as that key's
/// value, as the `Value` path did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Solo {
    Solo: Vec<u8>,
}

impl DomainEvent for Solo {
    fn event_type(&self) -> &'static str {
        "Solo"
    }
}

/// A string that is not the type: stored whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Word(String);

impl DomainEvent for Word {
    fn event_type(&self) -> &'static str {
        "Word"
    }
}

/// An enum in a newtype struct (serialized as the enum): not a variant at
/// the top level, so the text rule strips the tag, as the `Value` path did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wrapped(Ev);

impl DomainEvent for Wrapped {
    fn event_type(&self) -> &str {
        self.0.event_type()
    }
}

/// Variants stored under names that are not theirs: stored whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Misnamed {
    A(u8),
    B { x: bool },
    C,
}

impl DomainEvent for Misnamed {
    fn event_type(&self) -> &'static str {
        match self {
            Misnamed::A(_) => "B",
            Misnamed::B { .. } => "C",
            Misnamed::C => "A",
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,12}", "[\"\\\\{}:,\u{0}-\u{1f}]{0,6}"]
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        (text(), any::<Option<u64>>()).prop_map(|(owner, limit)| Ev::Opened { owner, limit }),
        (any::<i64>(), text()).prop_map(|(a, b)| Ev::Moved(a, b)),
        Just(Ev::Closed),
        any::<u64>().prop_map(Ev::Deposited),
        (text(), any::<bool>()).prop_map(|(text, pinned)| Ev::Noted(Note { text, pinned })),
        proptest::collection::vec(text(), 0..4).prop_map(Ev::Tagged),
        proptest::option::of(text()).prop_map(Ev::MaybeNote),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Ev::Measured),
        Just(Ev::Empty {}),
        any::<u8>().prop_map(|n| Ev::Quoted { n }),
    ]
}

proptest! {
    #[test]
    fn enum_events_round_trip_and_are_stored_as_before(e in ev()) {
        check(&e)?;
        check(&Wrapped(e))?;
    }

    #[test]
    fn other_shapes_round_trip_and_are_stored_as_before(
        seq in any::<u64>(),
        s in text(),
        n in any::<u8>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        check(&Pinged { seq, from: s.clone() })?;
        check(&Crowded { Crowded: n, other: n })?;
        check(&Solo { Solo: bytes })?;
        check(&Word(s))?;
        check(&Misnamed::A(n))?;
        check(&Misnamed::B { x: n % 2 == 0 })?;
        check(&Misnamed::C)?;
    }
}

fn stored<E: DomainEvent>(e: E) -> String {
    e.to_data().unwrap().as_str().to_owned()
}

#[test]
fn the_stored_shapes_are_the_documented_ones() {
    assert_eq!(stored(Ev::Closed), "null");
    assert_eq!(stored(Ev::Deposited(5)), "5");
    assert_eq!(stored(Ev::Moved(-1, "x".into())), r#"[-1,"x"]"#);
    assert_eq!(stored(Ev::Empty {}), "{}");
    assert_eq!(stored(Ev::Quoted { n: 1 }), r#"{"n":1}"#);
    assert_eq!(
        stored(Pinged {
            seq: 1,
            from: "a".into()
        }),
        r#"{"seq":1,"from":"a"}"#
    );
    assert_eq!(
        stored(Crowded {
            Crowded: 1,
            other: 2
        }),
        r#"{"Crowded":1,"other":2}"#
    );
    assert_eq!(stored(Solo { Solo: vec![1] }), "[1]");
    assert_eq!(stored(Word("Word".into())), "null");
    assert_eq!(stored(Wrapped(Ev::Deposited(5))), "5");
    assert_eq!(stored(Wrapped(Ev::Closed)), "null");
    assert_eq!(stored(Misnamed::A(1)), r#"{"A":1}"#);
    assert_eq!(stored(Misnamed::C), r#""C""#);
    assert_eq!(
        Word::from_data("Word", &Payload::null()).unwrap(),
        Word("Word".into())
    );
    assert_eq!(
        Ev::from_data("Opened", &json!({"owner": "ada"}).into()).unwrap(),
        Ev::Opened {
            owner: "ada".into(),
            limit: None
        }
    );
}

#[test]
fn an_undecodable_payload_names_the_stored_type() {
    let err = Ev::from_data("Deposited", &json!("x").into()).unwrap_err();
    assert!(err.to_string().contains("\"Deposited\""), "{err}");
    assert!(err.to_string().contains("upcaster"), "{err}");
    assert!(Ev::from_data("Frozen", &Payload::null()).is_err());
}

/// `from_data` as it was before the tagged deserializer: the variant's
/// text written out, then the unit variant, then the payload whole.
fn text_from_data<T: serde::de::DeserializeOwned>(event_type: &str, data: &Payload) -> Option<T> {
    let key = serde_json::to_string(event_type).unwrap();
    if let Ok(e) = serde_json::from_str::<T>(&format!("{{{key}:{}}}", data.as_str())) {
        return Some(e);
    }
    if data.is_null()
        && let Ok(e) = serde_json::from_str::<T>(&key)
    {
        return Some(e);
    }
    serde_json::from_str::<T>(data.as_str()).ok()
}

/// The tagged deserializer reads what the written-out text read, for
/// payloads of the right shape and of every wrong one.
#[test]
fn reading_the_variant_without_its_text_decodes_as_the_text_did() {
    let payloads = [
        "null",
        "5",
        "-3",
        "1.5",
        "\"C\"",
        "\"x\"",
        "[1,\"a\"]",
        "[1]",
        "{}",
        "{\"owner\":\"o\",\"limit\":null}",
        "{\"owner\":\"o\",\"limit\":3,\"extra\":1}",
        "{\"text\":\"t\",\"pinned\":true}",
        "{\"A\":1}",
        "{\"B\":{\"x\":true}}",
        "{\"x\":false}",
        "{\"seq\":1,\"from\":\"f\"}",
        "{\"Crowded\":1,\"other\":2}",
        "{\"Solo\":[1,2]}",
        "[1,2]",
        "{\"n\":7}",
        "[\"a\",\"b\"]",
    ];
    let types = [
        "Opened",
        "Moved",
        "Closed",
        "Deposited",
        "Noted",
        "Tagged",
        "MaybeNote",
        "Measured",
        "Empty",
        "Said \"hi\"\\\n",
        "A",
        "B",
        "C",
        "Pinged",
        "Crowded",
        "Solo",
        "Word",
        "Other",
    ];
    for t in types {
        for p in payloads {
            let data = Payload::parse(p).unwrap();
            macro_rules! same {
                ($ty:ty) => {
                    assert_eq!(
                        <$ty as DomainEvent>::from_data(t, &data).ok(),
                        text_from_data::<$ty>(t, &data),
                        "{} under {t:?} from {p}",
                        stringify!($ty)
                    );
                };
            }
            same!(Ev);
            same!(Misnamed);
            same!(Pinged);
            same!(Crowded);
            same!(Solo);
            same!(Word);
            same!(Wrapped);
        }
    }
}

use super::*;
use aether_testkit::strategies::json_value;
use proptest::prelude::*;
use serde_json::json;

#[test]
fn null_is_the_default() {
    assert!(Payload::null().is_null());
    assert!(Payload::default().is_null());
    assert_eq!(Payload::default(), Payload::null());
    assert_eq!(Payload::from(Value::Null).as_str(), "null");
    assert!(Payload::parse(" null\n").unwrap().is_null());
    assert!(!Payload::parse("\"null\"").unwrap().is_null());
}

#[test]
fn parse_keeps_one_valid_value_and_names_what_is_wrong() {
    assert_eq!(
        Payload::parse("\t{\"a\": [1, 2]} \n").unwrap().as_str(),
        "{\"a\": [1, 2]}"
    );
    for bad in [
        "",
        " ",
        "{",
        "nul",
        "1 2",
        "{\"a\":1}}",
        "[1,]",
        "{'a':1}",
        "NaN",
        "\"\u{1}\"",
    ] {
        let err = Payload::parse(bad).unwrap_err();
        assert!(matches!(err, Error::Serialization { .. }), "{bad:?}: {err}");
        assert!(err.to_string().contains("not valid JSON"), "{bad:?}: {err}");
        assert!(
            crate::error_chain(&err).contains("line 1"),
            "{bad:?}: no position in {}",
            crate::error_chain(&err)
        );
    }
}

/// Stores and the bus put one event per line: a payload never holds a
/// line break, whether parsed or read inside an event.
#[test]
fn line_breaks_between_tokens_become_spaces() {
    let pretty = "{\r\n  \"a\": [\n    1,\n    \"x\\ny\"\n  ]\n}";
    let p = Payload::parse(pretty).unwrap();
    assert_eq!(p.as_str(), "{    \"a\": [     1,     \"x\\ny\"   ] }");
    assert_eq!(p, json!({"a": [1, "x\ny"]}));
    let event = format!(r#"{{"data":{pretty}}}"#);
    #[derive(Deserialize)]
    struct Holder {
        data: Payload,
    }
    let h: Holder = serde_json::from_str(&event).unwrap();
    assert!(
        !h.data.as_str().contains(['\n', '\r']),
        "{:?}",
        h.data.as_str()
    );
    assert_eq!(h.data, p);
}

#[test]
fn equal_when_the_texts_or_the_values_are() {
    let a = Payload::parse(r#"{"a": 1, "b": [true, null]}"#).unwrap();
    let b = Payload::parse(r#"{"b":[true,null],"a":1}"#).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, json!({"b": [true, null], "a": 1}));
    assert_eq!(json!({"b": [true, null], "a": 1}), a);
    assert_ne!(a, Payload::parse(r#"{"a":2,"b":[true,null]}"#).unwrap());
    assert_ne!(a, json!({"a": 1}));
    // Numbers compare as serde_json does: an integer is not a float.
    assert_ne!(Payload::parse("1").unwrap(), Payload::parse("1.0").unwrap());
    assert_eq!(
        Payload::parse("1.0").unwrap(),
        Payload::parse("1e0").unwrap()
    );
}

#[test]
fn debug_and_display_show_the_json_text() {
    let p = Payload::from(json!({"s": "a\"b", "n": 1}));
    assert_eq!(format!("{p}"), r#"{"n":1,"s":"a\"b"}"#);
    assert_eq!(format!("{p:?}"), r#"{"n":1,"s":"a\"b"}"#);
}

#[test]
fn serializes_inline_and_reads_back_from_text_bytes_and_values() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        data: Payload,
    }
    let h = Holder {
        data: Payload::parse(r#"{"x": [1, "two"]}"#).unwrap(),
    };
    let text = serde_json::to_string(&h).unwrap();
    assert_eq!(text, r#"{"data":{"x": [1, "two"]}}"#);
    assert_eq!(serde_json::from_str::<Holder>(&text).unwrap(), h);
    assert_eq!(
        serde_json::from_slice::<Holder>(text.as_bytes()).unwrap(),
        h
    );
    assert_eq!(
        serde_json::from_reader::<_, Holder>(text.as_bytes()).unwrap(),
        h
    );
    let value = serde_json::to_value(&h).unwrap();
    assert_eq!(value, json!({"data": {"x": [1, "two"]}}));
    assert_eq!(serde_json::from_value::<Holder>(value).unwrap(), h);
}

#[test]
fn decode_goes_straight_to_the_type_and_names_it_on_failure() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Deposited {
        amount: u64,
    }
    let p = Payload::parse(r#"{"amount":5}"#).unwrap();
    assert_eq!(p.decode::<Deposited>().unwrap(), Deposited { amount: 5 });
    let err = Payload::parse(r#"{"amount":"5"}"#)
        .unwrap()
        .decode::<Deposited>()
        .unwrap_err();
    assert!(matches!(err, Error::Serialization { .. }), "{err}");
    assert!(err.to_string().contains("Deposited"), "{err}");
}

/// A payload holds any valid JSON; only reading it as a [`Value`] meets the
/// parser's depth limit, and says so.
#[test]
fn deep_nesting_is_kept_and_reading_it_as_a_value_is_an_error() {
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let p = Payload::parse(deep.as_str()).unwrap();
    assert_eq!(p.as_str(), deep);
    assert!(matches!(p.value(), Err(Error::Serialization { .. })));
}

/// Regression: serde_json's default float parser may land one unit in the
/// last place off, so a float kept as text read back as another number (the
/// `float_roundtrip` feature makes it exact).
#[test]
fn floats_read_back_exactly() {
    for f in [
        7.492151053853555e225,
        1.0442887748778091e-195,
        0.1,
        -2.5e-308,
        f64::MAX,
    ] {
        let p = Payload::encode(&f).unwrap();
        assert_eq!(p.decode::<f64>().unwrap().to_bits(), f.to_bits(), "{p}");
        assert_eq!(p, json!(f));
    }
}

proptest! {
    /// The wire format of data is byte for byte what encoding the `Value`
    /// gave before payloads existed.
    #[test]
    fn encodes_byte_for_byte_as_the_value_did(v in json_value()) {
        let p = Payload::from(&v);
        prop_assert_eq!(serde_json::to_string(&p).unwrap(), serde_json::to_string(&v).unwrap());
        prop_assert_eq!(p.as_str(), serde_json::to_string(&v).unwrap());
        prop_assert_eq!(p.value().unwrap(), v.clone());
        prop_assert_eq!(&p, &v);
        let pretty = Payload::parse(serde_json::to_string_pretty(&v).unwrap()).unwrap();
        prop_assert_eq!(&pretty, &p);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(s in "\\PC{0,64}") {
        if let Ok(p) = Payload::parse(s.as_str()) {
            let trimmed = s.trim_matches([' ', '\t', '\n', '\r']).replace(['\n', '\r'], " ");
            prop_assert_eq!(p.as_str(), trimmed);
        }
    }
}

//! Property-test inputs shared by the crates' tests.

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value up to four levels deep: every scalar kind (the widest
/// integers, finite doubles), printable strings of any script, and strings
/// and keys made of the characters JSON must escape (control characters,
/// quotes, backslashes).
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
///
/// proptest!(|(v in aether_testkit::strategies::json_value())| {
///     let text = serde_json::to_string(&v).unwrap();
///     prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
/// });
/// ```
pub fn json_value() -> impl Strategy<Value = Value> {
    let escaped = "[\u{0}-\u{1f}\"\\\\]{0,4}";
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        escaped.prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(prop_oneof!["\\PC{0,6}", escaped], inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

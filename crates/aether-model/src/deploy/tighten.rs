//! Whether a JSON Schema accepts less than another: a conservative,
//! keyword-by-keyword comparison. A change it cannot show to be looser
//! (a new `pattern`, a changed `$ref`, ...) counts as tightening.

use serde_json::{Map, Value as Json};

/// Annotations: they never change what a schema accepts.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "examples",
    "default",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$schema",
    "$id",
];

/// Lower bounds: a higher (or a new) one accepts less.
const LOWER: &[&str] = &[
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
];

/// Upper bounds: a lower (or a new) one accepts less.
const UPPER: &[&str] = &[
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
];

/// Appends to `out` one line per way `new` may accept less than `old`,
/// each prefixed with `path` (where in the model the schema is).
pub(crate) fn tightenings(old: &Json, new: &Json, path: &str, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    match (as_object(old), as_object(new)) {
        (_, None) if new == &Json::Bool(true) => {}
        (None, _) if old == &Json::Bool(false) => {}
        (Some(o), Some(n)) => objects(o, n, path, out),
        (None, Some(n)) if old == &Json::Bool(true) => {
            if !n.keys().all(|k| ANNOTATIONS.contains(&k.as_str())) {
                out.push(format!("{path}: now constrained (was `true`)"));
            }
        }
        _ => out.push(format!("{path}: changed to {new}")),
    }
}

fn as_object(v: &Json) -> Option<&Map<String, Json>> {
    v.as_object()
}

/// `{}` and `true` accept anything.
fn accepts_anything(v: Option<&Json>) -> bool {
    match v {
        None | Some(Json::Bool(true)) => true,
        Some(Json::Object(o)) => o.keys().all(|k| ANNOTATIONS.contains(&k.as_str())),
        _ => false,
    }
}

fn objects(old: &Map<String, Json>, new: &Map<String, Json>, path: &str, out: &mut Vec<String>) {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let k = key.as_str();
        let (o, n) = (old.get(k), new.get(k));
        if o == n || ANNOTATIONS.contains(&k) {
            continue;
        }
        match k {
            "type" => types(o, n, path, out),
            "required" => required(o, n, path, out),
            "properties" => properties(old, new, path, out),
            "additionalProperties" => {
                additional(o, n, &format!("{path}.additionalProperties"), out)
            }
            "items" | "additionalItems" | "contains" | "propertyNames" => match (o, n) {
                (Some(o), Some(n)) => tightenings(o, n, &format!("{path}.{k}"), out),
                (None, Some(n)) if !accepts_anything(Some(n)) => {
                    out.push(format!("{path}: `{k}` added"))
                }
                _ => {}
            },
            "enum" => enumeration(o, n, path, out),
            _ if LOWER.contains(&k) => bound(k, o, n, path, out, |old, new| new > old),
            _ if UPPER.contains(&k) => bound(k, o, n, path, out, |old, new| new < old),
            // Anything else (pattern, format, const, multipleOf, allOf,
            // anyOf, oneOf, not, $ref, $defs, ...): removing it loosens;
            // adding or changing it may tighten.
            _ => {
                if n.is_some() {
                    out.push(format!(
                        "{path}: `{k}` {} (Aether cannot tell whether it accepts less)",
                        if o.is_some() { "changed" } else { "added" }
                    ));
                }
            }
        }
    }
}

fn type_set(v: Option<&Json>) -> Option<Vec<&str>> {
    match v? {
        Json::String(s) => Some(vec![s.as_str()]),
        Json::Array(a) => Some(a.iter().filter_map(Json::as_str).collect()),
        _ => Some(Vec::new()),
    }
}

fn types(o: Option<&Json>, n: Option<&Json>, path: &str, out: &mut Vec<String>) {
    let Some(new) = type_set(n) else {
        return; // no `type` any more: looser
    };
    let covered = |t: &str| new.contains(&t) || (t == "integer" && new.contains(&"number"));
    match type_set(o) {
        None => out.push(format!("{path}: `type` added ({})", new.join(", "))),
        Some(old) => {
            let lost: Vec<&str> = old.into_iter().filter(|t| !covered(t)).collect();
            if !lost.is_empty() {
                out.push(format!(
                    "{path}: `type` no longer allows {}",
                    lost.join(", ")
                ));
            }
        }
    }
}

fn names(v: Option<&Json>) -> Vec<&str> {
    v.and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default()
}

fn required(o: Option<&Json>, n: Option<&Json>, path: &str, out: &mut Vec<String>) {
    let old = names(o);
    let added: Vec<&str> = names(n).into_iter().filter(|r| !old.contains(r)).collect();
    if !added.is_empty() {
        out.push(format!("{path}: now requires {}", added.join(", ")));
    }
}

fn properties(old: &Map<String, Json>, new: &Map<String, Json>, path: &str, out: &mut Vec<String>) {
    let empty = Map::new();
    let props = |m: &'_ Map<String, Json>| -> Map<String, Json> {
        m.get("properties")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (op, np) = (props(old), props(new));
    for (name, n) in &np {
        let at = format!("{path}.properties.{name}");
        match op.get(name) {
            Some(o) => tightenings(o, n, &at, out),
            // A new property: what old accepted under that name came from
            // its `additionalProperties` (anything, when absent).
            None => match old.get("additionalProperties") {
                Some(Json::Bool(false)) => {}
                o => {
                    if let Some(o) = o.filter(|o| o.is_object()) {
                        tightenings(o, n, &at, out);
                    } else if !accepts_anything(Some(n)) {
                        out.push(format!("{at}: added with constraints"));
                    }
                }
            },
        }
    }
    for (name, o) in &op {
        if np.contains_key(name) {
            continue;
        }
        // A property no longer listed falls to the new `additionalProperties`.
        let at = format!("{path}.properties.{name}");
        match new.get("additionalProperties") {
            Some(Json::Bool(false)) => out.push(format!("{at}: removed (no longer accepted)")),
            Some(n) if n.is_object() => tightenings(o, n, &at, out),
            _ => {}
        }
    }
}

fn additional(o: Option<&Json>, n: Option<&Json>, path: &str, out: &mut Vec<String>) {
    match (o, n) {
        (_, None) | (_, Some(Json::Bool(true))) => {}
        (Some(Json::Bool(false)), _) => {}
        (None | Some(Json::Bool(true)), Some(n)) => {
            if !accepts_anything(Some(n)) {
                out.push(format!("{path}: now restricts unlisted properties"));
            }
        }
        (Some(o), Some(n)) => tightenings(o, n, path, out),
    }
}

fn enumeration(o: Option<&Json>, n: Option<&Json>, path: &str, out: &mut Vec<String>) {
    let Some(new) = n.and_then(Json::as_array) else {
        return;
    };
    match o.and_then(Json::as_array) {
        None => out.push(format!("{path}: `enum` added")),
        Some(old) => {
            let lost: Vec<String> = old
                .iter()
                .filter(|v| !new.contains(v))
                .map(Json::to_string)
                .collect();
            if !lost.is_empty() {
                out.push(format!(
                    "{path}: `enum` no longer allows {}",
                    lost.join(", ")
                ));
            }
        }
    }
}

fn bound(
    k: &str,
    o: Option<&Json>,
    n: Option<&Json>,
    path: &str,
    out: &mut Vec<String>,
    tighter: impl Fn(f64, f64) -> bool,
) {
    let Some(new) = n else {
        return; // removed: looser
    };
    match (o.and_then(Json::as_f64), new.as_f64()) {
        (None, _) => out.push(format!("{path}: `{k}` {new} added")),
        (Some(a), Some(b)) if tighter(a, b) => out.push(format!(
            "{path}: `{k}` {} -> {new}",
            o.unwrap_or(&Json::Null)
        )),
        (Some(_), Some(_)) => {}
        (Some(_), None) => out.push(format!("{path}: `{k}` changed to {new}")),
    }
}

#[cfg(test)]
mod tests {
    use super::tightenings;
    use serde_json::json;

    fn tight(old: serde_json::Value, new: serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        tightenings(&old, &new, "s", &mut out);
        out
    }

    #[test]
    fn looser_and_equal_schemas_are_not_tightening() {
        let base = json!({"type": "object", "required": ["amount"], "additionalProperties": false,
            "properties": {"amount": {"type": "integer", "minimum": 1, "maximum": 100}}});
        assert!(tight(base.clone(), base.clone()).is_empty());
        let looser = json!({"type": "object", "required": [],
            "properties": {"amount": {"type": "number", "minimum": 0, "description": "x"},
                           "note": {"type": "string"}}});
        assert!(tight(base, looser).is_empty());
    }

    #[test]
    fn each_tightening_is_named() {
        let base = json!({"type": "object", "properties": {"amount": {"type": "integer", "maximum": 100}}});
        let cases = [
            json!({"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer", "maximum": 100}}}),
            json!({"type": "object", "properties": {"amount": {"type": "integer", "maximum": 50}}}),
            json!({"type": "object", "properties": {"amount": {"type": "integer", "maximum": 100, "minimum": 1}}}),
            json!({"type": "object", "additionalProperties": false, "properties": {"amount": {"type": "integer", "maximum": 100}}}),
            json!({"type": "object", "properties": {"amount": {"type": "string"}}}),
            json!({"type": "object", "properties": {"amount": {"type": "integer", "maximum": 100, "pattern": "x"}}}),
            json!({"type": "object", "properties": {"amount": {"type": "integer", "maximum": 100}, "note": {"type": "string"}}}),
            json!(false),
        ];
        for new in cases {
            assert!(!tight(base.clone(), new.clone()).is_empty(), "{new}");
        }
        assert_eq!(
            tight(json!({"enum": [1, 2]}), json!({"enum": [1]})),
            ["s: `enum` no longer allows 2"]
        );
    }
}

//! What a path like `state.owner` may name: read from a JSON Schema, from a
//! fixed set of names, or unknown (free-form, not checked).

use super::types::Ty;
use serde_json::Value as Json;

/// The shape of a value, as far as the model declares it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape<'a> {
    /// Described by `node`, a part of the schema `root` (for local `$ref`s).
    Schema { root: &'a Json, node: &'a Json },
    /// A map with exactly these keys (an event's data as its emits write it).
    Keys(&'a [String]),
    /// A map with exactly these keys (the built-in variables).
    Fixed(&'static [&'static str]),
    /// Not declared: paths under it are not checked.
    Unknown,
}

/// The outcome of looking a field up.
pub(crate) enum Field<'a> {
    Found(Shape<'a>),
    /// Absent; the names that exist.
    Absent(Vec<&'a str>),
    /// The value is not a map (its type).
    NotAMap(Ty),
}

impl<'a> Shape<'a> {
    /// The shape of a whole schema.
    pub(crate) fn of(schema: &'a Json) -> Shape<'a> {
        Shape::Schema {
            root: schema,
            node: schema,
        }
    }

    /// Follows local `$ref`s (a few hops at most).
    fn resolved(self) -> Shape<'a> {
        let mut s = self;
        for _ in 0..8 {
            let Shape::Schema { root, node } = s else {
                return s;
            };
            match node.get("$ref").and_then(Json::as_str) {
                Some(r) if r.starts_with('#') => match root.pointer(&r[1..]) {
                    Some(target) => s = Shape::Schema { root, node: target },
                    None => return Shape::Unknown,
                },
                _ => return s,
            }
        }
        Shape::Unknown
    }

    /// The shape of `self.name`.
    pub(crate) fn field(self, name: &str) -> Field<'a> {
        match self.resolved() {
            Shape::Unknown => Field::Found(Shape::Unknown),
            Shape::Keys(keys) => {
                if keys.iter().any(|k| k == name) {
                    Field::Found(Shape::Unknown)
                } else {
                    Field::Absent(keys.iter().map(String::as_str).collect())
                }
            }
            Shape::Fixed(keys) => {
                if keys.contains(&name) {
                    Field::Found(Shape::Unknown)
                } else {
                    Field::Absent(keys.to_vec())
                }
            }
            Shape::Schema { root, node } => {
                let ty = Shape::Schema { root, node }.ty();
                if !matches!(ty, Ty::Map | Ty::Unknown) {
                    return Field::NotAMap(ty);
                }
                if let Some(p) = node.get("properties").and_then(Json::as_object)
                    && let Some(sub) = p.get(name)
                {
                    return Field::Found(Shape::Schema { root, node: sub });
                }
                for combinator in ["allOf", "anyOf", "oneOf"] {
                    if let Some(branches) = node.get(combinator).and_then(Json::as_array) {
                        for b in branches {
                            match (Shape::Schema { root, node: b }).field(name) {
                                Field::Found(s) => return Field::Found(s),
                                Field::Absent(_) | Field::NotAMap(_) => {}
                            }
                        }
                    }
                }
                if node.get("patternProperties").is_some() {
                    return Field::Found(Shape::Unknown);
                }
                match node.get("additionalProperties") {
                    Some(Json::Bool(false)) => {}
                    Some(extra @ Json::Object(_)) => {
                        return Field::Found(Shape::Schema { root, node: extra });
                    }
                    _ => {
                        let declares = node.get("properties").is_some()
                            || ["allOf", "anyOf", "oneOf"]
                                .iter()
                                .any(|c| node.get(c).is_some());
                        if !declares {
                            return Field::Found(Shape::Unknown);
                        }
                    }
                }
                let mut names: Vec<&'a str> = node
                    .get("properties")
                    .and_then(Json::as_object)
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                for combinator in ["allOf", "anyOf", "oneOf"] {
                    if let Some(branches) = node.get(combinator).and_then(Json::as_array) {
                        for b in branches {
                            if let Some(p) = b.get("properties").and_then(Json::as_object) {
                                names.extend(p.keys().map(String::as_str));
                            }
                        }
                    }
                }
                Field::Absent(names)
            }
        }
    }

    /// The shape of an element (of a list) or a key (of a map) when iterated.
    pub(crate) fn element(self) -> Shape<'a> {
        match self.resolved() {
            Shape::Schema { root, node } => match node.get("items") {
                Some(items @ Json::Object(_)) => Shape::Schema { root, node: items },
                _ => Shape::Unknown,
            },
            _ => Shape::Unknown,
        }
    }

    /// The declared type, if the schema says.
    pub(crate) fn ty(self) -> Ty {
        match self.resolved() {
            Shape::Keys(_) | Shape::Fixed(_) => Ty::Map,
            Shape::Unknown => Ty::Unknown,
            Shape::Schema { node, .. } => {
                if let Some(t) = node.get("type").and_then(Json::as_str) {
                    return Ty::of_json_type(t);
                }
                let values: Option<Vec<&Json>> = match (node.get("enum"), node.get("const")) {
                    (Some(Json::Array(vs)), _) => Some(vs.iter().collect()),
                    (_, Some(v)) => Some(vec![v]),
                    _ => None,
                };
                match values {
                    Some(vs) if !vs.is_empty() => {
                        let first = Ty::of_json_value(vs[0]);
                        if vs.iter().all(|v| Ty::of_json_value(v) == first) {
                            first
                        } else {
                            Ty::Unknown
                        }
                    }
                    _ => {
                        if node.get("properties").is_some() {
                            Ty::Map
                        } else if node.get("items").is_some() {
                            Ty::List
                        } else {
                            Ty::Unknown
                        }
                    }
                }
            }
        }
    }

    /// The size bound of a list (`maxItems`) or map (`maxProperties`), when
    /// iterated; `None` when the model does not bound it.
    pub(crate) fn bound(self) -> Option<u64> {
        match self.resolved() {
            Shape::Keys(k) => Some(k.len() as u64),
            Shape::Fixed(k) => Some(k.len() as u64),
            Shape::Unknown => None,
            Shape::Schema { node, .. } => node
                .get("maxItems")
                .or_else(|| node.get("maxProperties"))
                .and_then(Json::as_u64),
        }
    }
}

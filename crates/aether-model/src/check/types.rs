//! The type of an expression, where it can be derived without a full
//! type checker: literals, operators, known functions and schema paths.

use serde_json::Value as Json;

/// A CEL type, or `Unknown` where it cannot be derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    Int,
    UInt,
    Double,
    String,
    Bytes,
    Null,
    List,
    Map,
    Timestamp,
    Duration,
    Unknown,
}

impl Ty {
    pub(crate) fn of_json_type(t: &str) -> Ty {
        match t {
            "boolean" => Ty::Bool,
            "integer" => Ty::Int,
            "number" => Ty::Unknown, // int or double
            "string" => Ty::String,
            "null" => Ty::Null,
            "array" => Ty::List,
            "object" => Ty::Map,
            _ => Ty::Unknown,
        }
    }

    pub(crate) fn of_json_value(v: &Json) -> Ty {
        match v {
            Json::Null => Ty::Null,
            Json::Bool(_) => Ty::Bool,
            Json::Number(n) if n.is_i64() || n.is_u64() => Ty::Int,
            Json::Number(_) => Ty::Double,
            Json::String(_) => Ty::String,
            Json::Array(_) => Ty::List,
            Json::Object(_) => Ty::Map,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::UInt => "uint",
            Ty::Double => "double",
            Ty::String => "string",
            Ty::Bytes => "bytes",
            Ty::Null => "null",
            Ty::List => "list",
            Ty::Map => "map",
            Ty::Timestamp => "timestamp",
            Ty::Duration => "duration",
            Ty::Unknown => "dyn",
        }
    }

    /// The result type of a known function, by name.
    pub(crate) fn of_function(name: &str) -> Ty {
        match name {
            "size" | "int" | "getFullYear" | "getMonth" | "getDate" | "getDayOfMonth"
            | "getDayOfYear" | "getDayOfWeek" | "getHours" | "getMinutes" | "getSeconds"
            | "getMilliseconds" => Ty::Int,
            "startsWith" | "endsWith" | "contains" | "matches" | "bool" => Ty::Bool,
            "string" => Ty::String,
            "uint" => Ty::UInt,
            "double" => Ty::Double,
            "bytes" => Ty::Bytes,
            "timestamp" => Ty::Timestamp,
            "duration" => Ty::Duration,
            _ => Ty::Unknown,
        }
    }
}

/// Functions of Aether's CEL subset (see `docs/models.md`).
pub(crate) const FUNCTIONS: &[&str] = &[
    "size",
    "startsWith",
    "endsWith",
    "contains",
    "matches",
    "string",
    "int",
    "uint",
    "double",
    "bool",
    "bytes",
    "timestamp",
    "duration",
    "type",
    "dyn",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfYear",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// Functions that would read the clock or randomness: never in a model.
pub(crate) const NONDETERMINISTIC: &[&str] = &["now", "random", "rand", "uuid", "time"];

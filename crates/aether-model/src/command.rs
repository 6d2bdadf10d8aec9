//! The command wire shape: serde's externally tagged form,
//! `{"Withdraw": {"amount": 30}}`, as for typed command enums.

use crate::outcome::BadRequest;
use serde_json::Value as Json;

/// Deepest JSON nesting accepted in a command body.
pub const MAX_JSON_DEPTH: usize = 32;

/// Parses a command in its wire form, `{"Name": body}`, into its name and
/// body.
///
/// # Errors
///
/// A [`BadRequest`] when the bytes are not JSON, not an object with
/// exactly one key, or nested deeper than [`MAX_JSON_DEPTH`].
///
/// # Examples
///
/// ```
/// let (name, body) = aether_model::parse_command(br#"{"Withdraw": {"amount": 30}}"#).unwrap();
/// assert_eq!(name, "Withdraw");
/// assert_eq!(body["amount"], 30);
/// assert!(aether_model::parse_command(br#"{"A": {}, "B": {}}"#).is_err());
/// ```
pub fn parse_command(bytes: &[u8]) -> Result<(String, Json), BadRequest> {
    let bad = |message: String| BadRequest {
        message,
        violations: Vec::new(),
    };
    let tagged: crate::Tagged = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("a command is `{{\"Name\": {{...}}}}` JSON: {e}")))?;
    if depth(&tagged.data) > MAX_JSON_DEPTH {
        return Err(bad(format!(
            "the body is nested deeper than {MAX_JSON_DEPTH}"
        )));
    }
    Ok((tagged.name, tagged.data))
}

/// Nesting depth of a JSON value (a scalar is 0).
pub(crate) fn depth(v: &Json) -> usize {
    match v {
        Json::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Json::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

//! Injective encoding of any string into one NATS subject token: how actor
//! types and ids become parts of subjects (the JetStream store's event
//! subjects, the runtime's routing subjects).
//!
//! A token holds only `[A-Za-z0-9_-]`. Bytes in `[A-Za-z0-9-]` are written as
//! they are; every other byte of the UTF-8 (including `_` itself) is written
//! as `_` and two upper-case hex digits. Escaping (never replacing) makes the
//! encoding injective: `a.b`, `a_b` and `a b` become `a_2Eb`, `a_5Fb` and
//! `a_20b`.
//!
//! ```
//! use aether_nats::{decode_token, encode_token};
//! assert_eq!(encode_token("order-42"), "order-42");
//! assert_eq!(encode_token("a.b"), "a_2Eb");
//! assert_eq!(decode_token("a_2Eb").unwrap(), "a.b");
//! assert!(decode_token("a.b").is_err());
//! ```

use aether_core::{Error, Result};

/// Encodes `value` into one NATS subject token (see the module docs).
pub fn encode_token(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    encode_token_into(&mut out, value);
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// [`encode_token`], appended to `out`.
pub fn encode_token_into(out: &mut String, value: &str) {
    // The common case: nothing to escape.
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        out.push_str(value);
        return;
    }
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push('_');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0x0F)] as char);
        }
    }
}

/// Whether `token` is [`encode_token`] of `value`, without allocating (for
/// checks on every delivered message).
///
/// ```
/// use aether_nats::token_is;
/// assert!(token_is("a_2Eb", "a.b"));
/// assert!(!token_is("a_2Eb", "a_b"));
/// assert!(!token_is("a", "ab"));
/// ```
pub fn token_is(token: &str, value: &str) -> bool {
    let t = token.as_bytes();
    let mut i = 0;
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            if t.get(i) != Some(&b) {
                return false;
            }
            i += 1;
        } else {
            let escaped = [b'_', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0F)]];
            if t.get(i..i + 3) != Some(&escaped[..]) {
                return false;
            }
            i += 3;
        }
    }
    i == t.len()
}

/// Decodes a token made by [`encode_token`]. Fails (never panics) on anything
/// [`encode_token`] cannot have produced.
///
/// A token with nothing escaped (the usual id) is its own decoding: it is
/// returned borrowed, without a copy.
pub fn decode_token(token: &str) -> Result<std::borrow::Cow<'_, str>> {
    let bytes = token.as_bytes();
    if bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return Ok(std::borrow::Cow::Borrowed(token));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b);
            i += 1;
        } else if b == b'_' {
            let hex = |j: usize| -> Result<u8> {
                match bytes.get(j) {
                    Some(c @ b'0'..=b'9') => Ok(c - b'0'),
                    Some(c @ b'A'..=b'F') => Ok(c - b'A' + 10),
                    _ => Err(Error::invalid_input(format!(
                        "token {token:?}: bad escape at byte {i}"
                    ))),
                }
            };
            let v = (hex(i + 1)? << 4) | hex(i + 2)?;
            if v.is_ascii_alphanumeric() || v == b'-' {
                return Err(Error::invalid_input(format!(
                    "token {token:?}: byte {v:#04x} must not be escaped"
                )));
            }
            out.push(v);
            i += 3;
        } else {
            return Err(Error::invalid_input(format!(
                "token {token:?}: character {:?} cannot occur",
                b as char
            )));
        }
    }
    String::from_utf8(out)
        .map(std::borrow::Cow::Owned)
        .map_err(|_| Error::invalid_input(format!("token {token:?} is not UTF-8 when decoded")))
}

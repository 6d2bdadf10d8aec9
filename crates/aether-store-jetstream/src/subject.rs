//! Injective encoding of actor ids into NATS subject tokens, and the subjects
//! a store uses.
//!
//! A token holds only `[A-Za-z0-9_-]`. Bytes in `[A-Za-z0-9-]` are written as
//! they are; every other byte of the UTF-8 (including `_` itself) is written
//! as `_` and two upper-case hex digits. Escaping (never replacing) makes the
//! encoding injective: `a.b`, `a_b` and `a b` become `a_2Eb`, `a_5Fb` and
//! `a_20b`.

use aether_core::{ActorId, Error, Result};

/// Encodes `value` into one NATS subject token (see the module docs).
pub fn encode_token(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    encode_token_into(&mut out, value);
    out
}

/// [`encode_token`], appended to `out`.
fn encode_token_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
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

/// Decodes a token made by [`encode_token`]. Fails (never panics) on anything
/// [`encode_token`] cannot have produced.
pub fn decode_token(token: &str) -> Result<String> {
    let bytes = token.as_bytes();
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
        .map_err(|_| Error::invalid_input(format!("token {token:?} is not UTF-8 when decoded")))
}

/// The subjects of one store: `<stream>.events.<type>.<id>` for events and
/// `<stream>.snapshots.<type>.<id>` for snapshots, where `<type>` and `<id>`
/// are [`encode_token`] of the actor type and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Subjects under `prefix` (the effective stream name).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The event subject of `actor`.
    pub fn events(&self, actor: &ActorId) -> String {
        self.subject("events", actor)
    }

    /// The snapshot subject of `actor`.
    pub fn snapshots(&self, actor: &ActorId) -> String {
        self.subject("snapshots", actor)
    }

    fn subject(&self, kind: &str, actor: &ActorId) -> String {
        // One allocation, no formatting machinery: this runs on every append.
        let (ty, id) = (actor.actor_type(), actor.as_str());
        let mut out =
            String::with_capacity(self.prefix.len() + kind.len() + ty.len() + id.len() + 12);
        out.push_str(&self.prefix);
        out.push('.');
        out.push_str(kind);
        out.push('.');
        encode_token_into(&mut out, ty);
        out.push('.');
        encode_token_into(&mut out, id);
        out
    }

    /// The actor whose event subject this is; fails on any other subject.
    pub fn actor_of_event_subject(&self, subject: &str) -> Result<ActorId> {
        let bad = || Error::invalid_input(format!("{subject:?} is not an event subject"));
        let rest = subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix(".events."))
            .ok_or_else(bad)?;
        let (ty, id) = rest.split_once('.').ok_or_else(bad)?;
        if id.contains('.') {
            return Err(bad());
        }
        Ok(ActorId::with_type(decode_token(ty)?, decode_token(id)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_go_collision_is_gone() {
        let s = Subjects::new("S");
        let ids = ["a.b", "a_b", "a b", "a*b", "a>b", "$a", "ünï", "a-b"];
        let subjects: std::collections::HashSet<_> = ids
            .iter()
            .map(|i| s.events(&ActorId::with_type("t", i).unwrap()))
            .collect();
        assert_eq!(subjects.len(), ids.len());
        assert_eq!(encode_token("a.b"), "a_2Eb");
        assert_eq!(encode_token("a_b"), "a_5Fb");
        assert_eq!(
            s.events(&ActorId::new("order-42").unwrap()),
            "S.events.order.order-42"
        );
    }

    #[test]
    fn decode_rejects_garbage() {
        for bad in ["_", "_4", "_zz", "a.b", "_41", "a b", "_FF"] {
            assert!(decode_token(bad).is_err(), "{bad}");
        }
        let s = Subjects::new("S");
        assert!(s.actor_of_event_subject("S.events.a").is_err());
        assert!(s.actor_of_event_subject("X.events.a.b").is_err());
        assert!(s.actor_of_event_subject("S.events.a.b.c").is_err());
    }

    fn actor() -> impl Strategy<Value = ActorId> {
        let text = "[^\\x00]{1,24}";
        (proptest::option::of(text), text).prop_map(|(ty, id)| match ty {
            Some(t) => ActorId::with_type(t, id).unwrap(),
            None => ActorId::new(id).unwrap(),
        })
    }

    proptest! {
        #[test]
        fn tokens_round_trip_and_stay_valid(s in "\\PC{0,40}") {
            let t = encode_token(&s);
            prop_assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            prop_assert_eq!(decode_token(&t).unwrap(), s);
        }

        #[test]
        fn distinct_actors_get_distinct_subjects(a in actor(), b in actor()) {
            let s = Subjects::new("S_ns");
            let (sa, sb) = (s.events(&a), s.events(&b));
            prop_assert_eq!(a == b, sa == sb);
            prop_assert_eq!(s.actor_of_event_subject(&sa).unwrap(), a);
            prop_assert_eq!(s.actor_of_event_subject(&sb).unwrap(), b);
        }
    }
}

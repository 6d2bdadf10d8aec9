//! The subjects a store uses. Actor types and ids become subject tokens by
//! [`encode_token`] (from `aether-nats`, shared with the runtime's routing
//! subjects): injective, so `a.b`, `a_b` and `a b` never share a subject.

use aether_core::{ActorId, Error, Result};
pub use aether_nats::{decode_token, encode_token};
use aether_nats::{encode_token_into, token_is};

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

    /// Whether `subject` is the event subject of `actor`: `subject ==
    /// self.events(actor)` without allocating (checked on every message a
    /// log subscription delivers).
    pub fn is_event_subject_of(&self, subject: &str, actor: &ActorId) -> bool {
        let Some((ty, id)) = subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix(".events."))
            .and_then(|r| r.split_once('.'))
        else {
            return false;
        };
        token_is(ty, actor.actor_type()) && token_is(id, actor.as_str())
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
        let a = ActorId::with_type("a", "b").unwrap();
        assert!(s.is_event_subject_of("S.events.a.b", &a));
        for other in [
            "S.events.a",
            "X.events.a.b",
            "S.events.a.b.c",
            "S.snapshots.a.b",
            "S.events.a.bc",
            "S.events.a_2Eb",
        ] {
            assert!(!s.is_event_subject_of(other, &a), "{other}");
        }
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
            prop_assert_eq!(&s.actor_of_event_subject(&sa).unwrap(), &a);
            prop_assert_eq!(&s.actor_of_event_subject(&sb).unwrap(), &b);
            prop_assert!(s.is_event_subject_of(&sa, &a));
            prop_assert_eq!(s.is_event_subject_of(&sa, &b), a == b);
            prop_assert_eq!(s.is_event_subject_of(&sb, &a), a == b);
        }

        #[test]
        fn token_is_agrees_with_encoding(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            prop_assert!(token_is(&encode_token(&a), &a));
            prop_assert_eq!(token_is(&encode_token(&a), &b), a == b);
            // A prefix or an extension of a token is another token.
            let longer = format!("{}x", encode_token(&a));
            prop_assert!(!token_is(&longer, &a));
        }
    }
}

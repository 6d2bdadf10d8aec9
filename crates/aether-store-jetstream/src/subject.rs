//! The subjects a store uses. Actor types and ids become subject tokens by
//! [`encode_token`] (from `aether-nats`, shared with the runtime's routing
//! subjects): injective, so `a.b`, `a_b` and `a b` never share a subject.

use aether_core::{ActorId, Error, Result};
pub use aether_nats::{decode_token, encode_token};
use aether_nats::{encode_token_into, token_is};

/// The subjects of one store: `<stream>.events.<type>.<id>` for events and
/// `<stream>.snapshots.<type>.<id>` for snapshots, where `<type>` and `<id>`
/// are [`encode_token`] of the actor type and id. A partitioned namespace
/// (layout v2, [`Subjects::sliced`]) puts the actor's slice
/// ([`aether_core::hash::slice_of`], `0` to `1023`) before the type:
/// `<stream>.events.<slice>.<type>.<id>`, so a partition's stream takes the
/// subjects of its slices, and moving slices between streams never renames
/// a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
    sliced: bool,
}

/// The subject filter of one slice's events in a partitioned namespace:
/// `<base>.events.<slice>.*.*` (it does not overlap the unpartitioned
/// layout's `<base>.events.*.*`, so the two can live side by side while a
/// namespace is repartitioned).
pub(crate) fn partition_filter(base: &str, slice: u32) -> String {
    format!("{base}.events.{slice}.*.*")
}

impl Subjects {
    /// Subjects under `prefix` (the effective stream name), layout v1.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            sliced: false,
        }
    }

    /// Subjects under `prefix` with the actor's slice in event subjects
    /// (layout v2).
    pub fn sliced(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            sliced: true,
        }
    }

    /// Whether event subjects carry the slice (layout v2).
    pub fn is_sliced(&self) -> bool {
        self.sliced
    }

    /// The subject prefix (the effective stream name).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The event subject of `actor`.
    pub fn events(&self, actor: &ActorId) -> String {
        let slice = self.sliced.then(|| aether_core::hash::slice_of(actor));
        self.subject("events", slice, actor)
    }

    /// The snapshot subject of `actor` (never sliced: snapshots keep one
    /// stream per namespace).
    pub fn snapshots(&self, actor: &ActorId) -> String {
        self.subject("snapshots", None, actor)
    }

    /// The subject filter of every event of actors of type `actor_type`.
    pub fn events_of_type(&self, actor_type: &str) -> String {
        if self.sliced {
            format!("{}.events.*.{}.*", self.prefix, encode_token(actor_type))
        } else {
            format!("{}.events.{}.>", self.prefix, encode_token(actor_type))
        }
    }

    fn subject(&self, kind: &str, slice: Option<u32>, actor: &ActorId) -> String {
        // One allocation, no formatting machinery: this runs on every append.
        let (ty, id) = (actor.actor_type(), actor.as_str());
        let mut out =
            String::with_capacity(self.prefix.len() + kind.len() + ty.len() + id.len() + 17);
        out.push_str(&self.prefix);
        out.push('.');
        out.push_str(kind);
        out.push('.');
        if let Some(slice) = slice {
            crate::headers::push_decimal(&mut out, u64::from(slice));
            out.push('.');
        }
        encode_token_into(&mut out, ty);
        out.push('.');
        encode_token_into(&mut out, id);
        out
    }

    /// What follows `<prefix>.events.` in an event subject, without the
    /// slice (checked to be the actor's) in layout v2.
    fn type_and_id<'s>(&self, subject: &'s str) -> Option<(&'s str, &'s str)> {
        let rest = subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix(".events."))?;
        let rest = if self.sliced {
            let (slice, rest) = rest.split_once('.')?;
            if slice.is_empty() || !slice.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            rest
        } else {
            rest
        };
        rest.split_once('.')
    }

    /// The actor whose event subject this is; fails on any other subject
    /// (in layout v2 also on a slice that is not the actor's).
    pub fn actor_of_event_subject(&self, subject: &str) -> Result<ActorId> {
        let bad = || Error::invalid_input(format!("{subject:?} is not an event subject"));
        let (ty, id) = self.type_and_id(subject).ok_or_else(bad)?;
        if id.contains('.') {
            return Err(bad());
        }
        let actor = ActorId::with_type(decode_token(ty)?, decode_token(id)?)?;
        if self.sliced && self.events(&actor) != subject {
            return Err(bad());
        }
        Ok(actor)
    }

    /// Whether `subject` is the event subject of `actor`: `subject ==
    /// self.events(actor)` without allocating (checked on every message a
    /// log subscription delivers).
    pub fn is_event_subject_of(&self, subject: &str, actor: &ActorId) -> bool {
        let Some((ty, id)) = self.type_and_id(subject) else {
            return false;
        };
        if !(token_is(ty, actor.actor_type()) && token_is(id, actor.as_str())) {
            return false;
        }
        !self.sliced || {
            // The slice token: between `<prefix>.events.` and the type.
            let start = self.prefix.len() + ".events.".len();
            let end = subject.len() - ty.len() - id.len() - 2;
            subject.get(start..end).and_then(|s| s.parse::<u32>().ok())
                == Some(aether_core::hash::slice_of(actor))
        }
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
    fn sliced_subjects() {
        let s = Subjects::sliced("S");
        let a = ActorId::new("counter-py1").unwrap();
        assert_eq!(s.events(&a), "S.events.114.counter.counter-py1");
        assert_eq!(s.snapshots(&a), "S.snapshots.counter.counter-py1");
        assert_eq!(s.events_of_type("counter"), "S.events.*.counter.*");
        assert_eq!(
            Subjects::new("S").events_of_type("counter"),
            "S.events.counter.>"
        );
        assert_eq!(partition_filter("S", 7), "S.events.7.*.*");
        for bad in [
            "S.events.x.counter.counter-py1",
            "S.events..counter.counter-py1",
            "S.events.114.counter",
        ] {
            assert!(s.actor_of_event_subject(bad).is_err(), "{bad}");
            assert!(!s.is_event_subject_of(bad, &a), "{bad}");
        }
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
        fn sliced_subjects_name_the_actor_and_its_slice(a in actor(), b in actor()) {
            let s = Subjects::sliced("S_ns");
            let (sa, sb) = (s.events(&a), s.events(&b));
            prop_assert_eq!(a == b, sa == sb);
            let slice = aether_core::hash::slice_of(&a);
            prop_assert!(sa.starts_with(&format!("S_ns.events.{slice}.")), "{}", sa);
            prop_assert_eq!(&s.actor_of_event_subject(&sa).unwrap(), &a);
            prop_assert!(s.is_event_subject_of(&sa, &a));
            prop_assert_eq!(s.is_event_subject_of(&sa, &b), a == b);
            // The same type and id under another slice is no actor's subject.
            let other = sa.replacen(&format!(".{slice}."), &format!(".{}.", (slice + 1) % 1024), 1);
            prop_assert!(!s.is_event_subject_of(&other, &a));
            prop_assert!(s.actor_of_event_subject(&other).is_err());
            // Layout v1 subjects are not layout v2 subjects, and back.
            prop_assert!(!s.is_event_subject_of(&Subjects::new("S_ns").events(&a), &a));
            prop_assert!(!Subjects::new("S_ns").is_event_subject_of(&sa, &a));
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

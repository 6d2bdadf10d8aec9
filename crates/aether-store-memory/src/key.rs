//! [`LogKey`]: the map key, hashed on the id's bytes only.
//!
//! `ActorId`'s derived `Hash` also hashes whether it has an explicit actor
//! type, which costs measurably on every append. The map key hashes only the
//! id string; equality still compares id *and* type, so ids that differ only
//! in their type share a hash but never an entry. Lookups borrow an
//! `&ActorId` as `&dyn KeyView`, so the hot path neither clones nor allocates.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use aether_core::ActorId;

/// The key of an actor's entry in a store map.
#[derive(Debug, Clone)]
pub(crate) struct LogKey(pub(crate) ActorId);

/// What a key is compared and hashed by; usable as a borrowed lookup key.
pub(crate) trait KeyView {
    /// The actor id.
    fn actor_id(&self) -> &ActorId;
}

impl KeyView for ActorId {
    #[inline]
    fn actor_id(&self) -> &ActorId {
        self
    }
}

impl KeyView for LogKey {
    #[inline]
    fn actor_id(&self) -> &ActorId {
        &self.0
    }
}

impl Hash for dyn KeyView + '_ {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.actor_id().as_str().as_bytes());
    }
}

impl PartialEq for dyn KeyView + '_ {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.actor_id() == other.actor_id()
    }
}

impl Eq for dyn KeyView + '_ {}

impl Hash for LogKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn KeyView).hash(state);
    }
}

impl PartialEq for LogKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for LogKey {}

impl<'a> Borrow<dyn KeyView + 'a> for LogKey {
    #[inline]
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

/// `actor` as a borrowed lookup key.
#[inline]
pub(crate) fn view(actor: &ActorId) -> &(dyn KeyView + '_) {
    actor
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn typed_and_plain_ids_are_distinct_keys() {
        let plain = ActorId::new("x-1").unwrap();
        let typed = ActorId::with_type("invoice", "x-1").unwrap();
        let mut map: HashMap<LogKey, u8> = HashMap::new();
        map.insert(LogKey(plain.clone()), 1);
        map.insert(LogKey(typed.clone()), 2);
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(view(&plain)), Some(&1));
        assert_eq!(map.get(view(&typed)), Some(&2));
        assert_eq!(map.get(view(&ActorId::new("x-2").unwrap())), None);
    }
}

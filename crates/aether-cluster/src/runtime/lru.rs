//! [`Lru`]: the node's active actors in order of last use, to pick the actor
//! to passivate when the node is over its limit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aether_core::ActorId;

use super::control::Control;

/// An actor of some registered type: the type's index and the id.
pub(crate) type Key = (u32, ActorId);

/// Least recently used first. Admission is always yes: the limit only picks
/// victims (as Akka's passivation strategies do), it never refuses an
/// activation.
#[derive(Debug, Default)]
pub(crate) struct Lru {
    clock: u64,
    stamps: HashMap<Key, (u64, Arc<Control>), foldhash::fast::RandomState>,
    order: BTreeMap<u64, Key>,
}

impl Lru {
    /// Marks `key` used now (adding it if new).
    pub(crate) fn touch(&mut self, key: Key, control: &Arc<Control>) {
        self.clock += 1;
        let now = self.clock;
        if let Some((old, _)) = self.stamps.insert(key.clone(), (now, control.clone())) {
            self.order.remove(&old);
        }
        self.order.insert(now, key);
    }

    /// Forgets `key` (passivated), if it is still the activation `control`.
    pub(crate) fn remove(&mut self, key: &Key, control: &Arc<Control>) {
        if let Some((stamp, c)) = self.stamps.get(key)
            && Arc::ptr_eq(c, control)
        {
            self.order.remove(stamp);
            self.stamps.remove(key);
        }
    }

    /// Takes the least recently used actors out until at most `limit` are
    /// left, and returns their controls (to be told to passivate).
    pub(crate) fn over(&mut self, limit: usize) -> Vec<Arc<Control>> {
        let mut victims = Vec::new();
        while self.stamps.len() > limit {
            let Some((_, key)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, control)) = self.stamps.remove(&key) {
                victims.push(control);
            }
        }
        victims
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.stamps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> Key {
        (0, ActorId::new(format!("a-{i}")).unwrap())
    }

    #[test]
    fn the_least_recently_used_go_first() {
        let mut lru = Lru::default();
        let controls: Vec<Arc<Control>> = (0..4).map(|_| Arc::new(Control::default())).collect();
        for i in 0..4 {
            lru.touch(key(i), &controls[i as usize]);
        }
        lru.touch(key(0), &controls[0]);
        let victims = lru.over(2);
        assert_eq!(victims.len(), 2);
        assert!(Arc::ptr_eq(&victims[0], &controls[1]));
        assert!(Arc::ptr_eq(&victims[1], &controls[2]));
        assert_eq!(lru.len(), 2);
        // A stale removal (another activation of the key) changes nothing.
        lru.remove(&key(0), &controls[3]);
        assert_eq!(lru.len(), 2);
        lru.remove(&key(0), &controls[0]);
        assert_eq!(lru.len(), 1);
    }
}

//! [`Filter`]: which events of a namespace a subscription wants.

use std::collections::HashSet;

use aether_core::Event;

use crate::error::BusError;
use crate::pattern::Pattern;

/// Conditions on events, all of which must hold for a subscription to receive
/// an event: its type is one of `event_types` (when given), and its actor id
/// matches `actor` (when given; see [`Pattern::actor`] for the rules).
///
/// The default filter accepts every event.
///
/// ```
/// use aether_bus::Filter;
/// use aether_core::{ActorId, Event, json};
///
/// let f = Filter::new()
///     .event_types(["Deposited", "Withdrawn"])
///     .actor_pattern("account-*")
///     .unwrap();
/// let e = Event::new(ActorId::new("account-7").unwrap(), 1, "Deposited", json!({}));
/// assert!(f.accepts(&e));
/// let other = Event::new(ActorId::new("order-7").unwrap(), 1, "Deposited", json!({}));
/// assert!(!f.accepts(&other));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Filter {
    event_types: Option<HashSet<Box<str>>>,
    actor: Option<Pattern>,
}

impl Filter {
    /// A filter that accepts every event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept only events whose type is one of `types` (adds to any types
    /// given before).
    pub fn event_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let set = self.event_types.get_or_insert_with(HashSet::new);
        set.extend(types.into_iter().map(|s| Box::from(s.as_ref())));
        self
    }

    /// Accept only events whose actor id matches `pattern` (wildcards over
    /// `-`/`.`-separated ids, see [`Pattern::actor`]).
    pub fn actor_pattern(mut self, pattern: &str) -> Result<Self, BusError> {
        self.actor = Some(Pattern::actor(pattern)?);
        Ok(self)
    }

    /// Whether the filter accepts everything.
    pub fn is_empty(&self) -> bool {
        self.event_types.is_none() && self.actor.is_none()
    }

    /// Whether `event` passes every condition.
    pub fn accepts(&self, event: &Event) -> bool {
        if let Some(types) = &self.event_types
            && !types.contains(event.event_type.as_str())
        {
            return false;
        }
        if let Some(actor) = &self.actor
            && !actor.matches(event.actor_id.as_str())
        {
            return false;
        }
        true
    }

    /// Whether an actor id passes the actor condition (used for `EventStored`).
    pub(crate) fn accepts_actor(&self, actor: &str) -> bool {
        self.actor.as_ref().is_none_or(|p| p.matches(actor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::{ActorId, json};

    fn ev(actor: &str, ty: &str) -> Event {
        Event::new(ActorId::new(actor).unwrap(), 1, ty, json!(null))
    }

    #[test]
    fn empty_filter_accepts_all() {
        assert!(Filter::new().is_empty());
        assert!(Filter::new().accepts(&ev("a", "T")));
    }

    #[test]
    fn all_conditions_must_hold() {
        let f = Filter::new()
            .event_types(["A"])
            .event_types(["B"])
            .actor_pattern("order.>")
            .unwrap();
        assert!(f.accepts(&ev("order-1", "A")));
        assert!(f.accepts(&ev("order.1.x", "B")));
        assert!(!f.accepts(&ev("order-1", "C")));
        assert!(!f.accepts(&ev("order", "A")));
        assert!(!f.accepts(&ev("invoice-1", "A")));
    }

    #[test]
    fn bad_actor_pattern_is_an_error() {
        assert!(Filter::new().actor_pattern("a.>.b").is_err());
        assert!(Filter::new().actor_pattern("").is_err());
    }
}

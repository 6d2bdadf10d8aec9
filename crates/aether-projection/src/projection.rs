//! [`Projection`]: what a read model does with the events it is shown, and
//! [`Filter`]: which events those are.

use std::future::Future;

use aether_bus::Pattern;
use aether_core::{
    ActorId, Error, Event, LogCursor, LogPosition, LogSelection, MalformedEvent, Result,
};
use std::ops::Range;

/// A read model kept up to date from a store's global log.
///
/// The runner ([`crate::ProjectionRunner`]) calls [`Projection::handle`] once
/// per event matching [`Projection::filter`], in log order, one call at a
/// time. Delivery is **at least once** with a checkpoint store (after a crash
/// the events since the last saved checkpoint come again) and **exactly once**
/// when the projection saves the position in the same transaction as its
/// effect and reports it from [`Projection::position`] (see
/// [`crate::Checkpointing::InProjection`] and the `sqlite` module).
///
/// ```
/// use aether_core::{Event, LogPosition, Result};
/// use aether_projection::{Filter, Projection};
///
/// #[derive(Default)]
/// struct OrderCount(u64);
///
/// impl Projection for OrderCount {
///     fn name(&self) -> &str {
///         "order-count"
///     }
///     fn filter(&self) -> Filter {
///         Filter::actor_types(["order"]).event_types(["Placed"])
///     }
///     async fn handle(&mut self, _event: &Event, _position: LogPosition) -> Result<()> {
///         self.0 += 1;
///         Ok(())
///     }
/// }
/// ```
pub trait Projection: Send + 'static {
    /// The projection's name: the key of its checkpoint and of its lease
    /// (one active instance per name). A name by
    /// [`aether_core::validate_name`].
    fn name(&self) -> &str;

    /// Which events it is shown. Default: every event.
    fn filter(&self) -> Filter {
        Filter::all()
    }

    /// Applies one event at `position`. An error is retried by the runner's
    /// retry policy, then stops the projection at this event (it is never
    /// skipped).
    fn handle(
        &mut self,
        event: &Event,
        position: LogPosition,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Where this projection stands, read from its own storage: in each
    /// partition of the log, the position of the last event whose effect it
    /// committed (empty: nothing yet; see [`crate::sqlite::load_position`]).
    /// Called at every start when it runs with
    /// [`crate::Checkpointing::InProjection`]. Default: unsupported.
    fn position(&mut self) -> impl Future<Output = Result<LogCursor>> + Send {
        async {
            Err(Error::unsupported(
                "this projection does not keep its position; run it with a checkpoint store",
            ))
        }
    }

    /// Clears the read model before a rebuild (and, with
    /// [`crate::Checkpointing::InProjection`], its stored position).
    /// Default: nothing to clear.
    fn reset(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// A stored entry of the log that is not a readable event. Default: an
    /// error, which stops the projection at that position; return `Ok` to
    /// pass over it knowingly.
    fn malformed(
        &mut self,
        entry: &MalformedEvent,
        position: LogPosition,
    ) -> impl Future<Output = Result<()>> + Send {
        let error = Error::serialization(format!(
            "malformed event at log position {position}: {}",
            entry.error
        ));
        async move { Err(error) }
    }
}

/// Which events a projection is shown: by actor type (applied by the store,
/// on JetStream as subject filters), by range of log partitions (applied by
/// the store: one runner per range lets several processes share the read
/// side of a partitioned log), by actor-id pattern (the bus's
/// [`Pattern::actor`] syntax: `order-*`, `order->`) and by event type.
/// Conditions combine with *and*; each list combines with *or*.
///
/// ```
/// use aether_core::{ActorId, Event, json};
/// use aether_projection::Filter;
/// let f = Filter::actor_types(["order"]).event_types(["Placed", "Cancelled"]);
/// let placed = Event::new(ActorId::new("order-1").unwrap(), 1, "Placed", json!({}));
/// assert!(f.matches(&placed));
/// let f = Filter::all().actor_pattern("order-eu-*").unwrap();
/// assert!(!f.matches(&placed));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Filter {
    selection: LogSelection,
    patterns: Vec<Pattern>,
    event_types: Vec<String>,
}

impl Filter {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// The events of actors of these types.
    pub fn actor_types<S: Into<String>>(types: impl IntoIterator<Item = S>) -> Self {
        Self {
            selection: LogSelection::actor_types(types),
            ..Self::default()
        }
    }

    /// Only the events of the log partitions in `range` (a runner per range,
    /// each under its own projection name, shares a partitioned log's read
    /// side; see `docs/operations.md`).
    ///
    /// ```
    /// use aether_projection::Filter;
    /// // Two instances over a log of 8 partitions.
    /// let first = Filter::actor_types(["order"]).partitions(0..4);
    /// let second = Filter::actor_types(["order"]).partitions(4..8);
    /// assert_eq!(first.selection().partitions(), Some(0..4));
    /// # let _ = second;
    /// ```
    #[must_use]
    pub fn partitions(mut self, range: Range<u16>) -> Self {
        self.selection = self.selection.in_partitions(range);
        self
    }

    /// Also requires the actor id to match `pattern` (or one of the patterns
    /// added before); an invalid pattern is invalid input.
    pub fn actor_pattern(mut self, pattern: &str) -> Result<Self> {
        let p = Pattern::actor(pattern)
            .map_err(|e| Error::invalid_input(format!("actor pattern {pattern:?}: {e}")))?;
        self.patterns.push(p);
        Ok(self)
    }

    /// Also requires the event type to be one of these.
    pub fn event_types<S: Into<String>>(mut self, types: impl IntoIterator<Item = S>) -> Self {
        self.event_types.extend(types.into_iter().map(Into::into));
        self
    }

    /// The part the store applies.
    pub fn selection(&self) -> &LogSelection {
        &self.selection
    }

    /// Whether an event of `actor` passes the actor conditions.
    pub fn admits_actor(&self, actor: &ActorId) -> bool {
        self.selection.admits(actor)
            && (self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(actor.as_str())))
    }

    /// Whether `event` passes every condition.
    pub fn matches(&self, event: &Event) -> bool {
        self.admits_actor(&event.actor_id)
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::json;

    fn ev(id: &str, ty: &str) -> Event {
        Event::new(ActorId::new(id).unwrap(), 1, ty, json!({}))
    }

    #[test]
    fn conditions_combine() {
        let f = Filter::actor_types(["order", "cart"])
            .actor_pattern("order-eu-*")
            .unwrap()
            .actor_pattern("cart->")
            .unwrap()
            .event_types(["Placed"]);
        assert!(f.matches(&ev("order-eu-1", "Placed")));
        assert!(f.matches(&ev("cart-9-x", "Placed")));
        assert!(!f.matches(&ev("order-us-1", "Placed")));
        assert!(!f.matches(&ev("order-eu-1", "Cancelled")));
        assert!(!f.matches(&ev("user-eu-1", "Placed")));
        assert!(Filter::all().matches(&ev("x-1", "Y")));
        assert!(Filter::all().actor_pattern("").is_err());
    }
}

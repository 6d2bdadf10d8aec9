//! Schema evolution: [`Upcaster`]s rewrite old stored events into the current
//! shape during replay, before they are decoded.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::error::Error;
use crate::event::Event;

/// Rewrites a stored event of an old type or shape into the current one.
///
/// Upcasters run on every replayed event, before typed decoding, and must
/// return events they do not recognise unchanged. The stored history is never
/// modified: old events are upcast again on every load.
///
/// Any `Fn(Event) -> Result<Event, Error>` closure is an upcaster; see also
/// [`UpcasterChain::rename`] and [`UpcasterChain::map_data`].
pub trait Upcaster: Send + Sync {
    /// The current form of `event` (or `event` itself).
    fn upcast(&self, event: Event) -> Result<Event, Error>;
}

impl<F> Upcaster for F
where
    F: Fn(Event) -> Result<Event, Error> + Send + Sync,
{
    fn upcast(&self, event: Event) -> Result<Event, Error> {
        self(event)
    }
}

/// An ordered list of upcasters: each sees the output of the previous one, so
/// a v1 → v2 upcaster followed by a v2 → v3 one takes v1 events to v3.
#[derive(Clone, Default)]
#[must_use]
pub struct UpcasterChain {
    steps: Vec<Arc<dyn Upcaster>>,
}

impl fmt::Debug for UpcasterChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpcasterChain")
            .field("steps", &self.steps.len())
            .finish()
    }
}

impl UpcasterChain {
    /// An empty chain (events pass unchanged).
    pub const fn new() -> Self {
        Self { steps: Vec::new() }
    }

    /// Appends an upcaster.
    pub fn push(&mut self, upcaster: impl Upcaster + 'static) {
        self.steps.push(Arc::new(upcaster));
    }

    /// Returns self with `upcaster` appended.
    pub fn with(mut self, upcaster: impl Upcaster + 'static) -> Self {
        self.push(upcaster);
        self
    }

    /// Returns self with an upcaster that renames event type `from` to `to`.
    pub fn rename(self, from: &'static str, to: &'static str) -> Self {
        self.with(move |mut e: Event| {
            if e.event_type == from {
                e.event_type = to.to_owned();
            }
            Ok(e)
        })
    }

    /// Returns self with an upcaster that rewrites the data of events of type
    /// `event_type` (and optionally renames them to `new_type`). `f` sees the
    /// data parsed into a [`Value`], and its result is encoded back (only
    /// events of `event_type` pay for that). To work on the
    /// [`Payload`](crate::Payload) itself, push a closure instead.
    ///
    /// A payload that does not parse into a [`Value`] (nested deeper than
    /// 128 levels) fails the upcast with [`Error::Serialization`].
    pub fn map_data<F>(self, event_type: &'static str, new_type: Option<&'static str>, f: F) -> Self
    where
        F: Fn(Value) -> Result<Value, Error> + Send + Sync + 'static,
    {
        self.with(move |mut e: Event| {
            if e.event_type == event_type {
                e.data = f(e.data.value()?)?.into();
                if let Some(t) = new_type {
                    e.event_type = t.to_owned();
                }
            }
            Ok(e)
        })
    }

    /// Whether the chain has no upcasters.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs `event` through every upcaster in order.
    pub fn upcast(&self, event: Event) -> Result<Event, Error> {
        if self.steps.is_empty() {
            return Ok(event);
        }
        let mut e = event;
        for step in &self.steps {
            e = step.upcast(e)?;
        }
        Ok(e)
    }

    /// Upcasts a stored event and decodes it into the domain event `E`
    /// (once; the envelope takes the stored event's actor id and metadata).
    ///
    /// # Errors
    ///
    /// An upcaster's error, or [`Error::Serialization`] when the upcast
    /// event does not decode as an `E` of its stored type.
    pub fn decode<E: super::DomainEvent>(
        &self,
        event: Event,
    ) -> Result<super::EventEnvelope<E>, Error> {
        super::EventEnvelope::from_stored(self.upcast(event)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ActorId;
    use serde_json::json;

    #[test]
    fn chain_applies_in_order_and_leaves_others_alone() {
        let chain = UpcasterChain::new()
            .rename("MoneyIn", "DepositedV2")
            .map_data("DepositedV2", Some("Deposited"), |d| {
                Ok(json!({"cents": d["amount"].as_u64().unwrap_or(0) * 100}))
            });
        let a = ActorId::new("acc-1").unwrap();
        let old = Event::new(a.clone(), 1, "MoneyIn", json!({"amount": 3}));
        let up = chain.upcast(old.clone()).unwrap();
        assert_eq!(up.event_type, "Deposited");
        assert_eq!(up.data, json!({"cents": 300}));
        assert_eq!((up.id, up.version), (old.id, old.version));
        let other = Event::new(a, 2, "Closed", json!(null));
        assert_eq!(chain.upcast(other.clone()).unwrap(), other);
    }

    #[test]
    fn upcaster_errors_propagate() {
        let chain = UpcasterChain::new().map_data("X", None, |_| Err(Error::invalid_input("no")));
        let e = Event::new(ActorId::new("a").unwrap(), 1, "X", json!(1));
        assert!(chain.upcast(e).is_err());
    }
}

//! The counter that `actors_cluster`, `process_manager` and `retry_patterns`
//! run: the smallest useful aggregate. Its command adds to its value; adding
//! 0 is refused. Included with `#[path = "shared/counter.rs"] mod counter;`.

// Not every example uses every item.
#![allow(dead_code)]

use aether::prelude::{Aggregate, DomainEvent, Queryable};
use serde::{Deserialize, Serialize};

/// The state: the sum of everything added.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Counter {
    pub(crate) value: u64,
}

/// The command: add this much. (Commands and errors are serializable so
/// that the actor can be called from another node.)
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Add(pub(crate) u64);

/// The one event: `by` was added (stored as type `Added`, data `{"by": n}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum CounterEvent {
    Added { by: u64 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> &'static str {
        "Added"
    }
}

/// The refusal: adding 0 would record an event that changes nothing.
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[error("cannot add zero")]
pub(crate) struct AddZero;

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Command = Add;
    type Event = CounterEvent;
    type Error = AddZero;

    fn handle(&self, &Add(by): &Add) -> Result<Vec<CounterEvent>, AddZero> {
        match by {
            0 => Err(AddZero),
            by => Ok(vec![CounterEvent::Added { by }]),
        }
    }

    fn apply(&mut self, CounterEvent::Added { by }: &CounterEvent) {
        self.value += by;
    }
}

/// The query for the counter's value.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Value;

impl Queryable for Counter {
    type Query = Value;
    type Answer = u64;

    fn query(&self, _: &Value) -> u64 {
        self.value
    }
}

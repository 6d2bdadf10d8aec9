//! [`Queryable`]: read-only questions an aggregate answers from its state.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Aggregate;

/// Read-only questions an [`Aggregate`] answers from its state, without
/// events: pure and synchronous, like [`Aggregate::handle`].
///
/// The actor runtime answers a query from the actor's committed state, in
/// mailbox order with its commands (a query sent after a command sees that
/// command's effect).
///
/// ```
/// use aether_core::aggregate::{Aggregate, Queryable};
/// # use aether_core::aggregate::DomainEvent;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Default, Serialize, Deserialize)]
/// # struct Counter { value: u64 }
/// # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// # enum Added { Added(u64) }
/// # impl DomainEvent for Added { fn event_type(&self) -> &'static str { "Added" } }
/// # impl Aggregate for Counter {
/// #     const TYPE: &'static str = "counter";
/// #     type Command = u64;
/// #     type Event = Added;
/// #     type Error = std::convert::Infallible;
/// #     fn handle(&self, by: &u64) -> Result<Vec<Added>, Self::Error> { Ok(vec![Added::Added(*by)]) }
/// #     fn apply(&mut self, Added::Added(by): &Added) { self.value += by }
/// # }
/// #[derive(Debug, Serialize, Deserialize)]
/// struct Value;
///
/// impl Queryable for Counter {
///     type Query = Value;
///     type Answer = u64;
///     fn query(&self, _: &Value) -> u64 { self.value }
/// }
/// assert_eq!(Counter { value: 7 }.query(&Value), 7);
/// ```
pub trait Queryable: Aggregate {
    /// The questions (serializable, so they can travel to the actor's node).
    type Query: Serialize + DeserializeOwned + Debug + Send + Sync + 'static;

    /// The answers.
    type Answer: Serialize + DeserializeOwned + Debug + Send + 'static;

    /// Answers `query` from the current state. Must not change anything.
    fn query(&self, query: &Self::Query) -> Self::Answer;
}

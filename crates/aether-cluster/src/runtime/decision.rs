//! What a turn decides for each of its commands ([`Decision`]), and the
//! buffers an actor keeps for its turns ([`Scratch`]).

use std::sync::Arc;

use aether_core::Error;
use aether_core::aggregate::Behavior;
use bytes::Bytes;

use super::dedupe::ByHash;
use super::outcome::Decided;

/// The events one command wrote.
pub(crate) struct Written<E> {
    pub(crate) events: Decided<E>,
    /// The same, as encoded for the store, kept for a routed caller's reply.
    pub(crate) encoded: Option<Arc<[Bytes]>>,
}

/// What a turn decided for one command.
pub(crate) enum Decision<A: Behavior> {
    /// Wrote these events (applied to the state, to be committed).
    Events(Written<A::Event>),
    /// Decided on no events, at this version.
    Nothing(u64),
    /// Refused by the aggregate.
    Rejected(A::Error),
    /// A second delivery of the id of the command at this index of the turn,
    /// which wrote events: answered with its outcome.
    Same(usize),
    /// Its events cannot be stored (they do not encode): nothing applied.
    Invalid(Error),
}

/// A turn's working buffers, kept by the actor from one turn to the next
/// while it runs (a busy actor's turn of hundreds of commands made them
/// anew each time, above glibc's fast sizes: measured, a twelfth of its
/// turn).
pub(crate) struct Scratch<A: Behavior> {
    /// One per command of the turn (empty between turns).
    pub(crate) decisions: Vec<Decision<A>>,
    /// The first command of the turn to write, by its id's hash.
    pub(crate) writers: ByHash<usize>,
}

impl<A: Behavior> Default for Scratch<A> {
    fn default() -> Self {
        Self {
            decisions: Vec::new(),
            writers: ByHash::default(),
        }
    }
}

//! One module per command.

pub(crate) mod actor;
pub(crate) mod cluster;
pub(crate) mod events;
pub(crate) mod handoff;
pub(crate) mod model;
pub(crate) mod partitions;
pub(crate) mod projections;
pub(crate) mod runtime;
pub(crate) mod streams;
pub(crate) mod tail;

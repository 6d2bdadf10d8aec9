//! A checked model, ready to run: compiled expressions and schemas.

use crate::expr::{Expr, Value};
use crate::format::{Limits, Model};
use crate::schema::Schema;
use cel_core::MapKey;
use std::collections::HashMap;
use std::sync::Arc;

/// A model that passed [`check`](crate::check): immutable, cheap to share
/// (`Arc<CompiledModel>`), `Send + Sync`. Built once per model version.
#[derive(Debug)]
pub struct CompiledModel {
    pub(crate) source: Model,
    pub(crate) limits: Limits,
    pub(crate) state_schema: Schema,
    pub(crate) initial: Value,
    pub(crate) commands: Vec<Command>,
    pub(crate) command_index: HashMap<Box<str>, usize>,
    pub(crate) events: Vec<Event>,
    pub(crate) event_index: HashMap<Box<str>, usize>,
    pub(crate) queries: HashMap<Box<str>, Expr>,
    /// `model` as an expression sees it: `{name, version}`.
    pub(crate) model_value: Value,
    /// Whether any decide-time expression reads `actor` or `meta`.
    pub(crate) reads_context: bool,
    /// Strict mode: the state is checked against its schema after every command.
    pub(crate) strict: bool,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) name: Arc<str>,
    pub(crate) schema: Schema,
    pub(crate) guards: Vec<Guard>,
    pub(crate) emits: Vec<Emit>,
}

#[derive(Debug)]
pub(crate) struct Guard {
    pub(crate) path: String,
    pub(crate) when: Expr,
    pub(crate) code: Arc<str>,
    pub(crate) message: Option<Expr>,
    pub(crate) details: Option<Expr>,
}

#[derive(Debug)]
pub(crate) struct Emit {
    pub(crate) path: String,
    pub(crate) event: usize,
    pub(crate) when: Option<Expr>,
    pub(crate) data: Option<Expr>,
}

#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) name: Arc<str>,
    pub(crate) path: String,
    pub(crate) schema: Option<Schema>,
    pub(crate) fold: Vec<(MapKey, Expr)>,
    /// `(before, data)`, ascending by `before`.
    pub(crate) upcasts: Vec<(u32, Expr)>,
}

impl CompiledModel {
    /// The actor type's name.
    pub fn name(&self) -> &str {
        &self.source.model
    }

    /// The model's version.
    pub fn version(&self) -> u32 {
        self.source.version
    }

    /// The document this was compiled from.
    pub fn model(&self) -> &Model {
        &self.source
    }

    /// Strict mode: `decide` also checks the next state against the state
    /// schema (a violation is a model fault). Off by default: the schema is
    /// checked on the initial state, on snapshots
    /// ([`CompiledModel::state_from_json`]) and by the examples; turn it on
    /// in tests and while a model is new.
    #[must_use]
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Whether strict mode is on.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The command names, in the model's order.
    pub fn command_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.commands.iter().map(|c| &*c.name)
    }

    /// The event types, in the model's order.
    pub fn event_types(&self) -> impl ExactSizeIterator<Item = &str> {
        self.events.iter().map(|e| &*e.name)
    }

    pub(crate) fn event(&self, event_type: &str) -> Option<&Event> {
        self.event_index.get(event_type).map(|&i| &self.events[i])
    }
}

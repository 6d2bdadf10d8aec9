//! Executable event-storming models for Aether.
//!
//! A model is a declarative document for one actor type: commands with
//! JSON Schemas, ordered guards with rejection codes, emitted events with
//! data mappings, the state's schema, initial value and per-event fold,
//! queries, upcasters and given/when/then examples. Every expression is CEL.
//!
//! [`check`] compiles and checks a [`Model`] into a [`CompiledModel`]; the
//! runtime then calls [`CompiledModel::decide`], [`CompiledModel::evolve`],
//! [`CompiledModel::query`] and [`CompiledModel::upcast`]. See
//! `docs/models.md` for the format, the variables, the rules and the safety
//! table; `ENGINES.md` for the choice of CEL engine.

mod check;
mod command;
mod compiled;
mod decide;
mod error;
mod eval_expression;
mod evolve;
mod examples;
mod expr;
mod format;
mod outcome;
mod query;
mod schema;
mod state;

pub use check::check;
pub use command::{MAX_JSON_DEPTH, parse_command};
pub use compiled::CompiledModel;
pub use decide::{Decision, Emitted, Meta};
pub use error::{ModelError, ModelErrors, Position};
pub use eval_expression::eval_expression;
pub use evolve::fold_all;
pub use examples::ExampleFailure;
pub use format::{
    CommandDef, Emit, EventDef, Example, Guard, Limits, Model, NamedMap, PolicyDef, PolicySend,
    StateDef, Tagged, Then, Upcast,
};
pub use outcome::{
    BadRequest, DecideError, FoldError, MODEL_FAULT, ModelFault, QueryError, Rejection,
};
pub use schema::Violation;
pub use state::State;

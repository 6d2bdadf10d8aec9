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
//!
//! # Examples
//!
//! ```
//! use aether_model::{check, DecideError, Meta, Model};
//!
//! let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml"))?;
//! let model = check(&Model::from_yaml(&yaml)?).map_err(aether_model::ModelErrors)?;
//! model.run_examples().expect("the examples pass");
//!
//! let meta = Meta { actor_id: "account-42", ..Meta::default() };
//! let mut state = model.initial_state();
//! for command in [&br#"{"Open": {"owner": "ann", "overdraft": 100}}"#[..], br#"{"Withdraw": {"amount": 30}}"#] {
//!     let decision = model.decide_wire(&state, command, &meta)?;
//!     for event in &decision.events {
//!         println!("{} {}", event.event_type, event.data); // append these, then:
//!     }
//!     state = decision.state;
//! }
//! assert_eq!(state.to_json()["balance"], -30);
//!
//! // Replaying the stored events gives the same state.
//! let mut replayed = model.initial_state();
//! model.evolve_json(&mut replayed, "Opened", br#"{"owner":"ann","overdraft":100}"#)?;
//! model.evolve_json(&mut replayed, "Withdrawn", br#"{"amount":30}"#)?;
//! assert_eq!(replayed, state);
//!
//! let err = model.decide_wire(&state, br#"{"Withdraw": {"amount": 500}}"#, &meta).unwrap_err();
//! assert!(matches!(&err, DecideError::Rejected(r) if r.code == "insufficient_funds"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod behavior;
mod check;
mod command;
mod compiled;
mod decide;
mod error;
mod eval_expression;
mod evolve;
mod examples;
mod expr;
mod fingerprint;
mod format;
mod outcome;
mod query;
mod schema;
mod state;

pub use behavior::{Deployed, ModelBehavior, ModelCommand, ModelEvent, ModelQuery};
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

//! The model document: serde structs for every section.
//!
//! JSON is the canonical form (what is stored and compared); YAML is for
//! authors ([`Model::from_yaml`](crate::Model::from_yaml)). Unknown fields
//! and duplicate names are errors. Every expression is CEL source text.

mod load;
mod named;
mod tagged;

pub use named::NamedMap;
pub use tagged::Tagged;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One actor type's model: its commands, events, state and fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// The actor type's name (ids are `<model>-…`): ASCII letters, digits, `_` and `-`.
    pub model: String,
    /// The model's version: an integer ≥ 1, previous + 1 at each publish.
    pub version: u32,
    /// Size and count limits enforced on every command.
    #[serde(default)]
    pub limits: Limits,
    /// The state's JSON Schema and initial value.
    pub state: StateDef,
    /// Commands by name, in the author's order.
    pub commands: NamedMap<CommandDef>,
    /// Events by type, in the author's order.
    pub events: NamedMap<EventDef>,
    /// Policies (event → command). Parsed and carried; not run by this crate.
    #[serde(default, skip_serializing_if = "NamedMap::is_empty")]
    pub policies: NamedMap<PolicyDef>,
    /// Queries by name: each a CEL expression over `state`.
    #[serde(default, skip_serializing_if = "NamedMap::is_empty")]
    pub queries: NamedMap<String>,
    /// Given/when/then examples, run by [`CompiledModel::run_examples`](crate::CompiledModel::run_examples).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

/// Limits enforced on every command (a breach is a model fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest state, as compact JSON, in bytes (default 65,536).
    pub state_bytes: u32,
    /// Most events one command may emit (default 8).
    pub events_per_command: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            state_bytes: 65_536,
            events_per_command: 8,
        }
    }
}

/// The `state` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    /// JSON Schema of the state (an object).
    pub schema: Json,
    /// The state before any event; must satisfy `schema`.
    pub initial: Json,
}

/// One command: its schema, guards and emitted events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandDef {
    /// JSON Schema of the command's body (an object).
    pub schema: Json,
    /// Guards, run in order; the first false one rejects the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<Guard>,
    /// Events emitted when every guard passes, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emit: Vec<Emit>,
}

/// A guard: `when` must be true, else the command is rejected with `reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// Boolean CEL expression over `state`, `command`, `actor`, `meta`, `model`.
    pub when: String,
    /// The rejection code (stable, machine-readable).
    pub reject: String,
    /// String CEL expression: the rejection's message (default: the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Map CEL expression: the rejection's details (default: `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// One emitted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emit {
    /// The event type (declared in `events`).
    pub event: String,
    /// Boolean CEL expression: emit only when true (default: always).
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Map CEL expression: the event's data (default: `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// One event type: its schema, fold and upcasters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventDef {
    /// JSON Schema of the event's data; without one, emitted data is checked for size only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Json>,
    /// The fold: state property → CEL expression over `state` and `event`
    /// (JSON Merge Patch: `null` removes the property). Required, `{}` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evolve: Option<NamedMap<String>>,
    /// Upcasters for data written by older model versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upcast: Vec<Upcast>,
}

/// Rewrites the data of events written by models older than `before`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upcast {
    /// Applies to events stamped with a model version `< before` (unstamped events count as 0).
    pub before: u32,
    /// Map CEL expression over `event` (the old data): the new data.
    pub data: String,
}

/// A policy: on an event, send a command (carried, not run here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDef {
    /// The event type that triggers the policy.
    pub on: String,
    /// Boolean CEL expression over `event` and `actor` (default: always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The command to send.
    pub send: PolicySend,
}

/// The command a policy sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySend {
    /// String CEL expression: the target actor's id.
    pub to: String,
    /// The command's name.
    pub command: String,
    /// Map CEL expression: the command's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// A given/when/then example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// A name for reports (default: `examples[i]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Events folded from the initial state, each `{Type: data}`.
    #[serde(default)]
    pub given: Vec<Tagged>,
    /// The command, `{Name: body}`.
    pub when: Tagged,
    /// What must happen.
    pub then: Then,
}

/// The expected outcome of an example: exactly one of `events`,
/// `rejected`, `bad_request` or `fault`; `state` may go with `events`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Then {
    /// The events emitted, in order, each `{Type: data}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Tagged>>,
    /// The rejection code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// The command is refused as a bad request (unknown command, schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_request: Option<bool>,
    /// The command ends in a model fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<bool>,
    /// The state after the events (the properties given must match; others are not compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Json>,
}

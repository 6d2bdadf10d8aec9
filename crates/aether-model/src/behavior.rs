//! [`ModelBehavior`]: a model run by Aether's actor runtime as an actor type,
//! through the runtime's behaviour seam (`aether_core::aggregate::Behavior`)
//! — the same runtime, guarantees and wire as a compiled aggregate.
//!
//! The definition is a [`Deployed`] model (compiled, with its stamp and
//! state fingerprint). Commands are [`ModelCommand`]s (`{"Name": body}` on
//! the wire, as for a typed aggregate's enum), events [`ModelEvent`]s
//! (stored as their type and data, stamped `aether.model = name@version`),
//! rejections [`Rejection`]s (a guard's code, message and details; a model
//! fault with code [`MODEL_FAULT`]), queries [`ModelQuery`]s (a query's
//! name) answered with JSON.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use aether_core::aggregate::{Answers, Behavior, Context, DomainEvent};
use aether_core::{Error, Event, Metadata, Payload};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use crate::compiled::CompiledModel;
use crate::decide::Meta;
use crate::expr::Value;
use crate::outcome::{DecideError, MODEL_FAULT, Rejection};
use crate::state::State;

/// The behaviour of every model-defined actor type: register one with the
/// runtime as `define::<ModelBehavior>(Deployed::new(model), config)`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ModelBehavior;

/// A model as the runtime runs it: compiled, with what every event it
/// decides is stamped with (`aether.model = name@version`) and its state
/// fingerprint (a snapshot is reused, and an active actor keeps its state
/// across a new version, only under an equal one).
#[derive(Debug)]
pub struct Deployed {
    /// Unique in the process: what a command checked by this deployment
    /// is marked with.
    id: u64,
    model: CompiledModel,
    stamp: Metadata,
    fingerprint: String,
    state_version: u32,
}

impl Deployed {
    /// Deploys `model`.
    pub fn new(model: CompiledModel) -> Self {
        let stamp = Metadata::new().with_model(format!("{}@{}", model.name(), model.version()));
        let fingerprint = model.state_fingerprint();
        // The snapshot schema version: the fingerprint's low 32 bits (a
        // snapshot of another fingerprint is ignored, replayed in full).
        let state_version = u64::from_str_radix(&fingerprint, 16).map_or(0, |h| h as u32);
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            model,
            stamp,
            fingerprint,
            state_version,
        }
    }

    /// The compiled model.
    pub fn model(&self) -> &CompiledModel {
        &self.model
    }

    /// The model's state fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// A command to a model actor: the command's name and its JSON body. On the
/// wire (and in serde) `{"Name": body}`, the form a typed aggregate's
/// command enum has.
#[derive(Debug, Clone)]
pub struct ModelCommand {
    /// The command's name (a key of the model's `commands`).
    pub name: String,
    /// The body the command's schema checks.
    pub body: Json,
    /// Set by the runtime's check on the caller's task: which deployment
    /// admitted the command, as which of its commands. Every check sets it
    /// anew; a turn under another deployment checks again.
    checked: Option<Checked>,
}

/// A [`ModelCommand`] admitted by deployment `by` as its command `index`,
/// with its body as the engine's value (converted on the caller's task).
#[derive(Debug, Clone)]
struct Checked {
    by: u64,
    index: usize,
    body: Value,
}

impl PartialEq for ModelCommand {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.body == other.body
    }
}

impl ModelCommand {
    /// Command `name` with `body`.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_model::ModelCommand;
    /// let c = ModelCommand::new("Deposit", serde_json::json!({"amount": 5}));
    /// assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"Deposit":{"amount":5}}"#);
    /// ```
    pub fn new(name: impl Into<String>, body: Json) -> Self {
        Self {
            name: name.into(),
            body,
            checked: None,
        }
    }
}

impl Serialize for ModelCommand {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.name, &self.body)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for ModelCommand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::<String, Json>::deserialize(deserializer)?;
        if map.len() != 1 {
            return Err(serde::de::Error::custom(format!(
                "a command is an object with one key, its name (`{{\"Deposit\": {{..}}}}`); this one has {}",
                map.len()
            )));
        }
        let (name, body) = map.into_iter().next().unwrap_or_default();
        Ok(Self::new(name, body))
    }
}

/// An event a model decided: its type and data, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEvent {
    /// The event type (a key of the model's `events`).
    #[serde(rename = "type")]
    pub event_type: Arc<str>,
    /// The event's data.
    pub data: Payload,
}

impl DomainEvent for ModelEvent {
    fn event_type(&self) -> &str {
        &self.event_type
    }

    fn to_data(&self) -> Result<Payload, Error> {
        Ok(self.data.clone())
    }

    fn from_data(event_type: &str, data: &Payload) -> Result<Self, Error> {
        Ok(Self {
            event_type: event_type.into(),
            data: data.clone(),
        })
    }
}

/// A question to a model actor: the name of one of the model's queries
/// (a JSON string on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelQuery(pub String);

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Rejection {}

impl Rejection {
    /// Why a decision failed, as its caller sees it: the guard's rejection,
    /// or a model fault (code [`MODEL_FAULT`], the expression's path in the
    /// details), or a command that stopped passing its schema under a newer
    /// version (code `aether.bad_request`).
    fn of(error: DecideError, model: &str) -> Self {
        match error {
            DecideError::Rejected(r) => r,
            DecideError::Fault(f) => {
                metrics::counter!("aether_model_faults_total", "type" => model.to_owned())
                    .increment(1);
                tracing::warn!(path = %f.path, message = %f.message, "model fault");
                Rejection {
                    code: MODEL_FAULT.to_owned(),
                    message: f.to_string(),
                    details: serde_json::json!({"path": f.path}),
                }
            }
            DecideError::BadRequest(b) => Rejection {
                code: "aether.bad_request".to_owned(),
                message: b.to_string(),
                details: serde_json::json!({
                    "violations": b.violations.iter().map(|v| serde_json::json!({"pointer": v.pointer, "message": v.message})).collect::<Vec<_>>()
                }),
            },
        }
    }
}

/// The version of model `name` that wrote `event`, from its stamp (0 for an
/// event without one, or stamped by another model).
fn written_by(event: &Event, name: &str) -> u32 {
    event
        .metadata
        .model()
        .and_then(|m| m.rsplit_once('@'))
        .filter(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

impl Behavior for ModelBehavior {
    type Def = Deployed;
    type State = State;
    type Command = ModelCommand;
    type Event = ModelEvent;
    type Error = Rejection;

    const CHECKS_COMMANDS: bool = true;

    fn name(def: &Deployed) -> &str {
        def.model.name()
    }

    fn initial(def: &Deployed) -> State {
        def.model.initial_state()
    }

    fn decide(
        def: &Deployed,
        state: &State,
        command: &ModelCommand,
        context: &Context<'_>,
    ) -> Result<Vec<ModelEvent>, Rejection> {
        Self::decide_next(def, state, command, context).map(|(events, _)| events)
    }

    fn decide_next(
        def: &Deployed,
        state: &State,
        command: &ModelCommand,
        context: &Context<'_>,
    ) -> Result<(Vec<ModelEvent>, Option<State>), Rejection> {
        let model = &def.model;
        let meta = Meta {
            actor_id: context.actor_id.as_str(),
            command_id: Some(context.command_id.as_str()),
            correlation_id: context.metadata.correlation_id(),
            // Read only by a model whose expressions read `meta`.
            time: model.reads_context.then(SystemTime::now),
        };
        let decision = match &command.checked {
            // Admitted by this deployment on the caller's task.
            Some(c) if c.by == def.id => model.decide_admitted(state, c.index, &c.body, &meta),
            _ => model.decide(state, &command.name, &command.body, &meta),
        }
        .map_err(|e| Rejection::of(e, model.name()))?;
        let events = decision
            .events
            .into_iter()
            .map(|e| ModelEvent {
                event_type: e.event_type,
                data: e.data,
            })
            .collect();
        Ok((events, Some(decision.state)))
    }

    fn check_command(def: &Deployed, command: &mut ModelCommand) -> Result<(), Error> {
        command.checked = None;
        let index = def
            .model
            .admit(&command.name, &command.body)
            .map_err(|bad| Error::invalid_input(bad.to_string()))?;
        command.checked = Some(Checked {
            by: def.id,
            index,
            body: crate::expr::value::from_json(&command.body),
        });
        Ok(())
    }

    fn evolve(def: &Deployed, state: &mut State, event: &ModelEvent) -> Result<(), Error> {
        def.model
            .evolve_json(state, &event.event_type, event.data.as_str().as_bytes())
            .map_err(|e| {
                Error::invalid_input(format!(
                    "model {}@{}: {e}",
                    def.model.name(),
                    def.model.version()
                ))
            })
    }

    fn decode_event(def: &Deployed, event: &Event) -> Result<ModelEvent, Error> {
        let model = &def.model;
        let by = written_by(event, model.name());
        if by > model.version() {
            // Never fold a newer version's event with an older model: the
            // node loads the newer one first (the caller retries).
            return Err(Error::unavailable(format!(
                "event {} of {:?} was decided by {}@{by}; this node runs version {} (it loads the newer one shortly: retry)",
                event.version,
                event.actor_id.as_str(),
                model.name(),
                model.version()
            )));
        }
        if !model.needs_upcast(&event.event_type, by) {
            return ModelEvent::from_data(&event.event_type, &event.data);
        }
        let upcast = model
            .upcast(&event.event_type, by, &event.data.value()?)
            .map_err(|e| Error::invalid_input(e.to_string()))?;
        ModelEvent::from_data(&event.event_type, &Payload::from(upcast))
    }

    fn stamp(def: &Deployed) -> Option<&Metadata> {
        Some(&def.stamp)
    }

    fn keeps_state(old: &Deployed, new: &Deployed) -> bool {
        old.fingerprint == new.fingerprint
    }

    fn state_version(def: &Deployed) -> u32 {
        def.state_version
    }

    fn encode_state(_: &Deployed, state: &State) -> Result<Json, Error> {
        Ok(state.to_json())
    }

    fn decode_state(def: &Deployed, value: Json) -> Result<State, Error> {
        def.model
            .state_from_json(&value)
            .map_err(|e| Error::serialization(format!("a snapshot's state: {e}")))
    }
}

impl Answers for ModelBehavior {
    type Query = ModelQuery;
    type Answer = Json;

    fn answer(def: &Deployed, state: &State, query: &ModelQuery) -> Result<Json, Error> {
        def.model
            .query(&query.0, state)
            .map_err(|e| Error::invalid_input(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::{ActorId, CommandId};
    use serde_json::json;

    fn deployed(max: u64) -> Deployed {
        let yaml = include_str!("../models/account.yaml").replace(
            "properties: { amount: { type: integer, minimum: 1, maximum: 1000000000 } } }\n    guards: [",
            &format!("properties: {{ amount: {{ type: integer, minimum: 1, maximum: {max} }} }} }}\n    guards: ["),
        );
        Deployed::new(crate::check(&crate::Model::from_yaml(&yaml).unwrap()).unwrap())
    }

    fn decide(def: &Deployed, state: &State, command: &ModelCommand) -> Result<State, Rejection> {
        let (id, cid, meta) = (
            ActorId::new("account-1").unwrap(),
            CommandId::new("c-1").unwrap(),
            Metadata::new(),
        );
        ModelBehavior::decide_next(def, state, command, &Context::new(&id, &cid, &meta))
            .map(|(_, next)| next.unwrap())
    }

    /// A command checked on the caller's task is not checked again in the
    /// turn of the same deployment, and is checked again under another.
    #[test]
    fn a_command_checked_by_one_deployment_is_checked_again_by_another() {
        let (v1, v2) = (deployed(1_000_000_000), deployed(10));
        let mut open = ModelCommand::new("Open", json!({"owner": "ann"}));
        ModelBehavior::check_command(&v1, &mut open).unwrap();
        let state = decide(&v1, &ModelBehavior::initial(&v1), &open).unwrap();

        let mut big = ModelCommand::new("Deposit", json!({"amount": 50}));
        ModelBehavior::check_command(&v1, &mut big).unwrap();
        assert!(big.checked.as_ref().is_some_and(|c| c.by == v1.id));
        assert!(decide(&v1, &state, &big).is_ok());
        let refused = decide(&v2, &state, &big).unwrap_err();
        assert_eq!(refused.code, "aether.bad_request", "{refused}");

        // A failed check leaves no mark.
        assert!(ModelBehavior::check_command(&v2, &mut big).is_err());
        assert!(big.checked.is_none());
        // Equality is the command's, not the mark's.
        assert_eq!(big, ModelCommand::new("Deposit", json!({"amount": 50})));
    }
}

//! `decide`: a command against a state gives events and the next state,
//! or a bad request, a rejection, or a model fault.

use crate::command::{MAX_JSON_DEPTH, depth};
use crate::compiled::{CompiledModel, Event};
use crate::expr::{Expr, Scope, Value, value};
use crate::outcome::{BadRequest, DecideError, ModelFault, Rejection};
use crate::state::State;
use aether_core::Payload;
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::SystemTime;

/// What a command's expressions see of its context: `actor` and `meta`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta<'a> {
    /// The actor's id (`actor.id`).
    pub actor_id: &'a str,
    /// The command's id (`meta.command_id`; `null` when `None`).
    pub command_id: Option<&'a str>,
    /// The correlation id (`meta.correlation_id`; `null` when `None`).
    pub correlation_id: Option<&'a str>,
    /// The node's receipt time, recorded as the events' timestamp
    /// (`meta.time`, a CEL timestamp; `null` when `None`).
    pub time: Option<SystemTime>,
}

/// One emitted event: its type and its data as compact JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// The event type.
    pub event_type: Arc<str>,
    /// The event's data, compact JSON (an object), as it is stored.
    pub data: Payload,
}

/// The outcome of a successful `decide`: the events to append, in order,
/// and the state after folding them. Adopt the state only once the events
/// are appended.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The events, in order (possibly none).
    pub events: Vec<Emitted>,
    /// The state after the events.
    pub state: State,
}

fn fault(path: &str, message: impl Into<String>) -> DecideError {
    DecideError::Fault(ModelFault {
        path: path.to_owned(),
        message: message.into(),
    })
}

impl CompiledModel {
    /// Checks a command before it is decided: a command of the model, with
    /// a body nested at most [`MAX_JSON_DEPTH`] deep that satisfies the
    /// command's schema. What [`CompiledModel::decide`] checks first; the
    /// runtime checks it before queueing a command, so a bad one is
    /// answered `bad-request` at once.
    ///
    /// # Errors
    ///
    /// The [`BadRequest`]: an unknown command, or every schema violation
    /// with its JSON Pointer.
    ///
    /// # Examples
    ///
    /// ```
    /// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// # let model = aether_model::check(&aether_model::Model::from_yaml(&yaml).unwrap()).unwrap();
    /// use serde_json::json;
    /// assert!(model.check_command("Deposit", &json!({"amount": 5})).is_ok());
    /// let bad = model.check_command("Deposit", &json!({"amount": "five"})).unwrap_err();
    /// assert_eq!(bad.violations[0].pointer, "/amount");
    /// assert!(model.check_command("Teleport", &json!({})).is_err());
    /// ```
    pub fn check_command(&self, command: &str, body: &Json) -> Result<(), BadRequest> {
        self.admit(command, body).map(|_| ())
    }

    /// The index of `command` once its body passed the checks.
    pub(crate) fn admit(&self, command: &str, body: &Json) -> Result<usize, BadRequest> {
        let Some(&ci) = self.command_index.get(command) else {
            return Err(BadRequest {
                message: format!(
                    "unknown command `{command}` for model {}@{}; known: {}",
                    self.name(),
                    self.version(),
                    self.command_names().collect::<Vec<_>>().join(", ")
                ),
                violations: Vec::new(),
            });
        };
        if depth(body) > MAX_JSON_DEPTH {
            return Err(BadRequest {
                message: format!("the body is nested deeper than {MAX_JSON_DEPTH}"),
                violations: Vec::new(),
            });
        }
        let violations = self.commands[ci].schema.violations(body);
        if !violations.is_empty() {
            return Err(BadRequest {
                message: format!("`{command}` does not satisfy commands.{command}.schema"),
                violations,
            });
        }
        Ok(ci)
    }

    /// Decides a command in its wire form, `{"Name": body}` (see
    /// [`parse_command`](crate::parse_command)).
    ///
    /// # Errors
    ///
    /// As [`CompiledModel::decide`]; bytes that are not the tagged form are
    /// a bad request.
    pub fn decide_wire(
        &self,
        state: &State,
        wire: &[u8],
        meta: &Meta<'_>,
    ) -> Result<Decision, DecideError> {
        let (name, body) = crate::parse_command(wire).map_err(DecideError::BadRequest)?;
        self.decide(state, &name, &body, meta)
    }

    /// Decides `command` (its name and JSON body) against `state`: checks
    /// the body against the command's schema, runs the guards in order,
    /// evaluates the emits (all against the state before the command),
    /// checks each payload against its event's schema, folds the events
    /// into the next state and checks its size and schema.
    ///
    /// # Errors
    ///
    /// - [`DecideError::BadRequest`]: unknown command, or the body fails
    ///   the schema (each violation with its JSON Pointer);
    /// - [`DecideError::Rejected`]: the first false guard's code, message
    ///   and details;
    /// - [`DecideError::Fault`]: an expression failed or gave the wrong
    ///   type, a payload failed its schema, more than
    ///   `limits.events_per_command` events, the next state over
    ///   `limits.state_bytes` or failing the state schema; with the path.
    ///
    /// # Examples
    ///
    /// ```
    /// use aether_model::{check, Meta, Model};
    /// use serde_json::json;
    /// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// let model = check(&Model::from_yaml(&yaml).unwrap()).unwrap();
    /// let meta = Meta { actor_id: "account-1", ..Meta::default() };
    /// let opened = model.decide(&model.initial_state(), "Open", &json!({"owner": "ann"}), &meta).unwrap();
    /// assert_eq!(opened.events[0].data.as_str(), r#"{"overdraft":0,"owner":"ann"}"#);
    ///
    /// let err = model.decide(&opened.state, "Withdraw", &json!({"amount": 80}), &meta).unwrap_err();
    /// assert_eq!(err.code(), Some("insufficient_funds"));
    /// ```
    pub fn decide(
        &self,
        state: &State,
        command: &str,
        body: &Json,
        meta: &Meta<'_>,
    ) -> Result<Decision, DecideError> {
        let ci = self.admit(command, body).map_err(DecideError::BadRequest)?;
        self.decide_admitted(state, ci, &value::from_json(body), meta)
    }

    /// [`CompiledModel::decide`] for command `ci` whose body this model
    /// admitted already, as an engine value (the runtime checks and
    /// converts a command on its caller's task, not in the actor's turn).
    pub(crate) fn decide_admitted(
        &self,
        state: &State,
        ci: usize,
        command_value: &Value,
        meta: &Meta<'_>,
    ) -> Result<Decision, DecideError> {
        let cmd = &self.commands[ci];
        let command = &*cmd.name;
        let (actor, meta_value) = if self.reads_context {
            (
                Some(value::map([
                    ("id", value::string(meta.actor_id)),
                    ("type", value::string(self.name())),
                ])),
                Some(value::map([
                    (
                        "command_id",
                        meta.command_id.map_or(Value::Null, value::string),
                    ),
                    (
                        "correlation_id",
                        meta.correlation_id.map_or(Value::Null, value::string),
                    ),
                    ("time", meta.time.map_or(Value::Null, value::timestamp)),
                ])),
            )
        } else {
            (None, None)
        };
        let scope = Scope {
            state: Some(&state.value),
            command: Some(command_value),
            actor: actor.as_ref(),
            meta: meta_value.as_ref(),
            model: Some(&self.model_value),
            event: None,
        };

        for g in &cmd.guards {
            match eval_bool(&g.when, &scope, &g.path, "when")? {
                true => {}
                false => {
                    let message = match &g.message {
                        None => g.code.to_string(),
                        Some(m) => {
                            let v = eval(m, &scope, &g.path, "message")?;
                            match value::as_str(&v) {
                                Some(s) => s.to_owned(),
                                None => {
                                    return Err(fault(
                                        &format!("{}.message", g.path),
                                        format!("must be a string, was a {}", value::type_name(&v)),
                                    ));
                                }
                            }
                        }
                    };
                    let details = match &g.details {
                        None => Json::Object(Default::default()),
                        Some(d) => {
                            let v = eval(d, &scope, &g.path, "details")?;
                            if !value::is_map(&v) {
                                return Err(fault(
                                    &format!("{}.details", g.path),
                                    format!("must be a map, was a {}", value::type_name(&v)),
                                ));
                            }
                            value::to_json(&v)
                                .map_err(|e| fault(&format!("{}.details", g.path), e))?
                        }
                    };
                    return Err(DecideError::Rejected(Rejection {
                        code: g.code.to_string(),
                        message,
                        details,
                    }));
                }
            }
        }

        let mut payloads: Vec<(&Event, Value)> = Vec::with_capacity(cmd.emits.len());
        for e in &cmd.emits {
            if let Some(w) = &e.when
                && !eval_bool(w, &scope, &e.path, "if")?
            {
                continue;
            }
            let data = match &e.data {
                None => value::map([]),
                Some(d) => eval(d, &scope, &e.path, "data")?,
            };
            if !value::is_map(&data) {
                return Err(fault(
                    &format!("{}.data", e.path),
                    format!(
                        "an event's data must be a map, was a {}",
                        value::type_name(&data)
                    ),
                ));
            }
            payloads.push((&self.events[e.event], data));
        }
        if payloads.len() > self.limits.events_per_command as usize {
            return Err(fault(
                &format!("commands.{command}.emit"),
                format!(
                    "{} events, more than limits.events_per_command ({})",
                    payloads.len(),
                    self.limits.events_per_command
                ),
            ));
        }

        let mut events = Vec::with_capacity(payloads.len());
        let mut next = state.value.clone();
        for (event, data) in &payloads {
            let payload = self.payload_json(event, data)?;
            next = self
                .fold(event, &next, data)
                .map_err(|e| fault(&e.path, e.message))?;
            events.push(Emitted {
                event_type: event.name.clone(),
                data: payload,
            });
        }
        if !payloads.is_empty() {
            self.check_size(&next)
                .map_err(|m| fault("limits.state_bytes", m))?;
        }
        if self.strict && !payloads.is_empty() {
            let json = value::to_json(&next).map_err(|m| fault("state", m))?;
            if let Some(v) = self.state_schema.violations(&json).first() {
                return Err(fault(
                    "state.schema",
                    format!("the state after `{command}` would not satisfy state.schema: {v}"),
                ));
            }
        }
        Ok(Decision {
            events,
            state: State { value: next },
        })
    }

    /// The payload as stored JSON, checked against the event's schema, and
    /// for size. Encoded once, straight into the stored form (no second
    /// parse); the fault's path is built only for a fault.
    fn payload_json(&self, event: &Event, data: &Value) -> Result<Payload, DecideError> {
        let path = || format!("{}.schema", event.path);
        let payload = match &event.schema {
            Some(schema) => {
                let json = value::to_json(data).map_err(|m| fault(&path(), m))?;
                if let Some(v) = schema.violations(&json).first() {
                    return Err(fault(
                        &path(),
                        format!("the emitted data does not satisfy it: {v}"),
                    ));
                }
                Payload::encode(&json)
            }
            None => Payload::encode(&value::Ser(data)),
        }
        .map_err(|e| fault(&path(), e.to_string()))?;
        let len = payload.as_str().len();
        if len > self.limits.state_bytes as usize {
            return Err(fault(
                &path(),
                format!(
                    "the emitted data is {len} bytes, over limits.state_bytes ({})",
                    self.limits.state_bytes
                ),
            ));
        }
        Ok(payload)
    }
}

pub(crate) fn eval(
    e: &Expr,
    scope: &Scope<'_>,
    path: &str,
    part: &str,
) -> Result<Value, DecideError> {
    e.eval(scope)
        .map_err(|err| fault(&format!("{path}.{part}"), err.message))
}

fn eval_bool(e: &Expr, scope: &Scope<'_>, path: &str, part: &str) -> Result<bool, DecideError> {
    let v = eval(e, scope, path, part)?;
    value::as_bool(&v).ok_or_else(|| {
        fault(
            &format!("{path}.{part}"),
            format!("must be a bool, was a {}", value::type_name(&v)),
        )
    })
}

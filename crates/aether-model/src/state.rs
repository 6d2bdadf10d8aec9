//! An actor's state between calls, kept as engine values (no JSON round
//! trip per command; cloning is cheap, maps are shared until changed).

use crate::compiled::CompiledModel;
use crate::expr::{Value, value};
use crate::outcome::FoldError;
use serde_json::Value as Json;

/// The state of one actor under a model. Opaque; read it with
/// [`State::to_json`]. Cloning is cheap (reference-counted).
#[derive(Clone)]
pub struct State {
    pub(crate) value: Value,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "State({})", self.to_json_string())
    }
}

impl State {
    /// The state as JSON (an object).
    pub fn to_json(&self) -> Json {
        // A state only ever holds values that came from JSON or passed the
        // JSON checks of a fold, so this does not fail in practice.
        value::to_json(&self.value).unwrap_or(Json::Null)
    }

    /// The state as compact JSON text.
    pub fn to_json_string(&self) -> String {
        let mut out = Vec::new();
        let _ = value::write_json(&self.value, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.to_json() == other.to_json()
    }
}

impl CompiledModel {
    /// The state before any event (`state.initial`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// # let model = aether_model::check(&aether_model::Model::from_yaml(&yaml).unwrap()).unwrap();
    /// let state = model.initial_state();
    /// assert_eq!(state.to_json()["status"], "new");
    /// ```
    pub fn initial_state(&self) -> State {
        State {
            value: self.initial.clone(),
        }
    }

    /// A state from its JSON form (a snapshot), checked against the
    /// state's schema and size limit.
    ///
    /// # Errors
    ///
    /// A [`FoldError`] when the JSON is not an object, fails the schema,
    /// or is over `limits.state_bytes`.
    pub fn state_from_json(&self, json: &Json) -> Result<State, FoldError> {
        let fail = |message: String| FoldError {
            event_type: String::new(),
            path: "state".to_owned(),
            message,
        };
        if !json.is_object() {
            return Err(fail("a state is a JSON object".to_owned()));
        }
        if let Some(v) = self.state_schema.violations(json).first() {
            return Err(fail(format!("does not satisfy state.schema: {v}")));
        }
        let state = State {
            value: value::from_json(json),
        };
        self.check_size(&state.value).map_err(fail)?;
        Ok(state)
    }

    /// Checks `state` against the state's schema (before a snapshot is
    /// written; strict mode does it on every command).
    ///
    /// # Errors
    ///
    /// Every violation, each with its JSON Pointer in the state.
    pub fn validate_state(&self, state: &State) -> Result<(), Vec<crate::Violation>> {
        let v = self.state_schema.violations(&state.to_json());
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    pub(crate) fn check_size(&self, state: &Value) -> Result<(), String> {
        if value::deeper_than(state, crate::MAX_JSON_DEPTH) {
            return Err(format!(
                "the state would nest deeper than {}",
                crate::MAX_JSON_DEPTH
            ));
        }
        // A bound within the limit settles it without formatting the state.
        if value::json_len_bound(state).is_some_and(|b| b <= self.limits.state_bytes as usize) {
            return Ok(());
        }
        let n = value::json_len(state)?;
        if n > self.limits.state_bytes as usize {
            return Err(format!(
                "the state would be {n} bytes, over limits.state_bytes ({})",
                self.limits.state_bytes
            ));
        }
        Ok(())
    }
}

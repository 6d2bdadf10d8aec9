//! Queries: a named expression over the state.

use crate::compiled::CompiledModel;
use crate::expr::{Scope, value};
use crate::outcome::{ModelFault, QueryError};
use crate::state::State;
use serde_json::Value as Json;

impl CompiledModel {
    /// Runs the query `name` against `state` (it sees `state` and `model`).
    ///
    /// # Errors
    ///
    /// [`QueryError::Unknown`] for a name the model lacks;
    /// [`QueryError::Fault`] when its expression fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// # let model = aether_model::check(&aether_model::Model::from_yaml(&yaml).unwrap()).unwrap();
    /// let answer = model.query("Balance", &model.initial_state()).unwrap();
    /// assert_eq!(answer, serde_json::json!({"balance": 0, "status": "new"}));
    /// ```
    pub fn query(&self, name: &str, state: &State) -> Result<Json, QueryError> {
        let e = self
            .queries
            .get(name)
            .ok_or_else(|| QueryError::Unknown(name.to_owned()))?;
        let fault = |message: String| {
            QueryError::Fault(ModelFault {
                path: format!("queries.{name}"),
                message,
            })
        };
        let scope = Scope {
            state: Some(&state.value),
            model: Some(&self.model_value),
            ..Scope::default()
        };
        let v = e.eval(&scope).map_err(|e| fault(e.message))?;
        value::to_json(&v).map_err(fault)
    }
}

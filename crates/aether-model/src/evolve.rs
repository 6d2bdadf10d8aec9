//! `evolve`: folding one event into a state (JSON Merge Patch of the
//! fields the event's fold names), and upcasting old events' data.

use crate::compiled::{CompiledModel, Event};
use crate::expr::{Scope, Value, value};
use crate::outcome::FoldError;
use crate::state::State;
use serde_json::Value as Json;

impl CompiledModel {
    /// Folds one event (its type and data) into `state`.
    ///
    /// # Errors
    ///
    /// A [`FoldError`] when the event type is unknown to the model, a fold
    /// expression fails, or the state goes over `limits.state_bytes`: the
    /// actor's activation must stop; an event is never skipped. `state` is
    /// unchanged on error.
    ///
    /// # Examples
    ///
    /// ```
    /// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// # let model = aether_model::check(&aether_model::Model::from_yaml(&yaml).unwrap()).unwrap();
    /// let mut state = model.initial_state();
    /// model.evolve(&mut state, "Opened", &serde_json::json!({"owner": "ann", "overdraft": 0})).unwrap();
    /// model.evolve_json(&mut state, "Deposited", br#"{"amount": 50}"#).unwrap();
    /// assert_eq!(state.to_json()["balance"], 50);
    /// assert!(model.evolve(&mut state, "Teleported", &serde_json::json!({})).is_err());
    /// ```
    pub fn evolve(
        &self,
        state: &mut State,
        event_type: &str,
        data: &Json,
    ) -> Result<(), FoldError> {
        let event = self.known_event(event_type)?;
        self.evolve_value(state, event, &value::from_json(data))
    }

    /// As [`CompiledModel::evolve`], with the data as JSON text (decoded
    /// straight into the state's representation: the replay path).
    ///
    /// # Errors
    ///
    /// As [`CompiledModel::evolve`]; also data that is not JSON.
    pub fn evolve_json(
        &self,
        state: &mut State,
        event_type: &str,
        data: &[u8],
    ) -> Result<(), FoldError> {
        let event = self.known_event(event_type)?;
        let data = value::from_slice(data).map_err(|e| FoldError {
            event_type: event_type.to_owned(),
            path: event.path.clone(),
            message: format!("the event's data is not JSON: {e}"),
        })?;
        self.evolve_value(state, event, &data)
    }

    fn known_event(&self, event_type: &str) -> Result<&Event, FoldError> {
        self.event(event_type).ok_or_else(|| FoldError {
            event_type: event_type.to_owned(),
            path: "events".to_owned(),
            message: format!(
                "model {}@{} has no event type `{event_type}`",
                self.name(),
                self.version()
            ),
        })
    }

    fn evolve_value(
        &self,
        state: &mut State,
        event: &Event,
        data: &Value,
    ) -> Result<(), FoldError> {
        let next = self.fold(event, &state.value, data)?;
        self.check_size(&next).map_err(|message| FoldError {
            event_type: event.name.to_string(),
            path: "limits.state_bytes".to_owned(),
            message,
        })?;
        state.value = next;
        Ok(())
    }

    /// The state after `event` with `data`: every fold expression sees the
    /// state before the event; the results are merged (RFC 7386).
    pub(crate) fn fold(
        &self,
        event: &Event,
        state: &Value,
        data: &Value,
    ) -> Result<Value, FoldError> {
        if event.fold.is_empty() {
            return Ok(state.clone());
        }
        if !value::is_map(data) {
            return Err(FoldError {
                event_type: event.name.to_string(),
                path: event.path.clone(),
                message: format!(
                    "an event's data must be a map, was a {}",
                    value::type_name(data)
                ),
            });
        }
        let scope = Scope {
            state: Some(state),
            event: Some(data),
            ..Scope::default()
        };
        let patch = event.fold.iter().map(|(key, e)| {
            let v = e.eval(&scope).map_err(|err| FoldError {
                event_type: event.name.to_string(),
                path: format!("{}.evolve.{}", event.path, key_name(key)),
                message: err.message,
            })?;
            Ok((key, v))
        });
        value::merge_patch(state, patch)
    }

    /// Whether an event of `event_type` written by model version
    /// `written_by` needs [`CompiledModel::upcast`] (an upcaster of this
    /// version applies to it).
    pub fn needs_upcast(&self, event_type: &str, written_by: u32) -> bool {
        self.event(event_type)
            .is_some_and(|e| e.upcasts.iter().any(|(b, _)| *b > written_by))
    }

    /// Rewrites the data of an event written by model version
    /// `written_by` (0 for unstamped events) to this version's shape: every
    /// upcaster with `before > written_by`, in ascending order.
    ///
    /// # Errors
    ///
    /// A [`FoldError`] when an upcaster fails or does not give a map.
    ///
    /// # Examples
    ///
    /// ```
    /// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// # let model = aether_model::check(&aether_model::Model::from_yaml(&yaml).unwrap()).unwrap();
    /// use serde_json::json;
    /// assert_eq!(model.upcast("Withdrawn", 1, &json!({"sum": 5})).unwrap(), json!({"amount": 5}));
    /// assert_eq!(model.upcast("Withdrawn", 2, &json!({"amount": 5})).unwrap(), json!({"amount": 5}));
    /// ```
    pub fn upcast(
        &self,
        event_type: &str,
        written_by: u32,
        data: &Json,
    ) -> Result<Json, FoldError> {
        let Some(event) = self.event(event_type) else {
            return Ok(data.clone());
        };
        let steps: Vec<_> = event
            .upcasts
            .iter()
            .filter(|(b, _)| *b > written_by)
            .collect();
        if steps.is_empty() {
            return Ok(data.clone());
        }
        let mut current = value::from_json(data);
        for (before, e) in steps {
            let path = format!("{}.upcast(before {before})", event.path);
            let fail = |message: String| FoldError {
                event_type: event_type.to_owned(),
                path: path.clone(),
                message,
            };
            let scope = Scope {
                event: Some(&current),
                ..Scope::default()
            };
            let next = e.eval(&scope).map_err(|err| fail(err.message))?;
            if !value::is_map(&next) {
                return Err(fail(format!(
                    "must give a map, gave a {}",
                    value::type_name(&next)
                )));
            }
            current = next;
        }
        value::to_json(&current).map_err(|m| FoldError {
            event_type: event_type.to_owned(),
            path: event.path.clone(),
            message: m,
        })
    }
}

fn key_name(key: &cel_core::MapKey) -> String {
    match key {
        cel_core::MapKey::String(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// Folds `events` from `state` (a replay), each `(type, data)`.
///
/// # Errors
///
/// The first event that cannot be folded, with its index.
pub fn fold_all<'a>(
    model: &CompiledModel,
    state: &mut State,
    events: impl IntoIterator<Item = (&'a str, &'a Json)>,
) -> Result<(), (usize, FoldError)> {
    for (i, (t, d)) in events.into_iter().enumerate() {
        model.evolve(state, t, d).map_err(|e| (i, e))?;
    }
    Ok(())
}

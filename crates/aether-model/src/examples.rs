//! The examples runner: every given/when/then of a model, each failure
//! reported with what was expected and what happened.

use crate::compiled::CompiledModel;
use crate::decide::Meta;
use crate::format::{Example, Tagged};
use crate::outcome::DecideError;
use serde_json::Value as Json;
use std::fmt;

/// A failed example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleFailure {
    /// `examples[i]`, with the example's name when it has one.
    pub example: String,
    /// What was expected and what happened.
    pub message: String,
}

impl fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.example, self.message)
    }
}

fn tagged_list(events: &[(String, Json)]) -> String {
    let v: Vec<Json> = events
        .iter()
        .map(|(t, d)| serde_json::json!({ t: d }))
        .collect();
    Json::Array(v).to_string()
}

impl CompiledModel {
    /// Runs every example of the model: folds `given` from the initial
    /// state, decides `when`, compares with `then`.
    ///
    /// # Errors
    ///
    /// One [`ExampleFailure`] per failing example.
    ///
    /// # Examples
    ///
    /// ```
    /// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// let model = aether_model::check(&aether_model::Model::from_yaml(&yaml).unwrap()).unwrap();
    /// assert_eq!(model.run_examples(), Ok(2));
    /// ```
    pub fn run_examples(&self) -> Result<usize, Vec<ExampleFailure>> {
        let failures: Vec<ExampleFailure> = self
            .model()
            .examples
            .iter()
            .enumerate()
            .filter_map(|(i, ex)| {
                let label = match &ex.name {
                    Some(n) => format!("examples[{i}] ({n})"),
                    None => format!("examples[{i}]"),
                };
                self.run_example(ex).err().map(|message| ExampleFailure {
                    example: label,
                    message,
                })
            })
            .collect();
        if failures.is_empty() {
            Ok(self.model().examples.len())
        } else {
            Err(failures)
        }
    }

    /// Runs one example (of this model or another).
    ///
    /// # Errors
    ///
    /// What was expected and what happened, as one line.
    pub fn run_example(&self, ex: &Example) -> Result<(), String> {
        let then = &ex.then;
        let outcomes = usize::from(then.events.is_some())
            + usize::from(then.rejected.is_some())
            + usize::from(then.bad_request == Some(true))
            + usize::from(then.fault == Some(true));
        if outcomes != 1 {
            return Err("`then` must give exactly one of `events`, `rejected`, `bad_request: true`, `fault: true`".into());
        }
        let mut state = self.initial_state();
        for (i, Tagged { name, data }) in ex.given.iter().enumerate() {
            self.evolve(&mut state, name, data)
                .map_err(|e| format!("given[{i}]: {e}"))?;
        }
        let meta = Meta {
            actor_id: "example",
            ..Meta::default()
        };
        let got = self.decide(&state, &ex.when.name, &ex.when.data, &meta);
        let happened = |r: &Result<crate::Decision, DecideError>| match r {
            Ok(d) => {
                let evs: Vec<(String, Json)> = d
                    .events
                    .iter()
                    .map(|e| {
                        (
                            e.event_type.to_string(),
                            e.data.value().unwrap_or(Json::Null),
                        )
                    })
                    .collect();
                format!("events {}", tagged_list(&evs))
            }
            Err(e) => e.to_string(),
        };
        if let Some(expected) = &then.events {
            let Ok(decision) = &got else {
                return Err(format!("expected events, got {}", happened(&got)));
            };
            let want: Vec<(String, Json)> = expected
                .iter()
                .map(|t| (t.name.clone(), t.data.clone()))
                .collect();
            let have: Vec<(String, Json)> = decision
                .events
                .iter()
                .map(|e| {
                    (
                        e.event_type.to_string(),
                        e.data.value().unwrap_or(Json::Null),
                    )
                })
                .collect();
            if want != have {
                return Err(format!(
                    "expected events {}, got {}",
                    tagged_list(&want),
                    tagged_list(&have)
                ));
            }
            if let Err(v) = self.validate_state(&decision.state) {
                return Err(format!(
                    "the state after the events does not satisfy state.schema: {}",
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            if let Some(Json::Object(props)) = &then.state {
                let now = decision.state.to_json();
                for (k, v) in props {
                    if now.get(k) != Some(v) {
                        return Err(format!(
                            "expected state.{k} = {v}, got {}",
                            now.get(k).map_or("nothing".to_owned(), Json::to_string)
                        ));
                    }
                }
            }
            return Ok(());
        }
        if let Some(code) = &then.rejected {
            return match &got {
                Err(DecideError::Rejected(r)) if &r.code == code => Ok(()),
                _ => Err(format!(
                    "expected rejection `{code}`, got {}",
                    happened(&got)
                )),
            };
        }
        if then.bad_request == Some(true) {
            return match &got {
                Err(DecideError::BadRequest(_)) => Ok(()),
                _ => Err(format!("expected a bad request, got {}", happened(&got))),
            };
        }
        match &got {
            Err(DecideError::Fault(_)) => Ok(()),
            _ => Err(format!("expected a model fault, got {}", happened(&got))),
        }
    }
}

//! One standalone expression, evaluated with Aether's engine and subset.

use crate::expr::{self, Scope, value};
use serde_json::{Map, Value as Json};

/// Evaluates one CEL expression with the model variables in `vars`
/// (`state`, `command`, `event`, `actor`, `meta`, `model`; others are
/// ignored), as JSON. For tools and the engine's conformance suite; it
/// does not run the model checker.
///
/// # Errors
///
/// The syntax error (with line:col) or the run-time error, as text; a
/// result with no JSON form (bytes, a non-finite double) is an error too.
///
/// # Examples
///
/// ```
/// let vars = serde_json::json!({"state": {"balance": 50}}).as_object().unwrap().clone();
/// assert_eq!(aether_model::eval_expression("state.balance * 2", &vars).unwrap(), 100);
/// assert!(aether_model::eval_expression("state.balance / 0", &vars).is_err());
/// ```
pub fn eval_expression(source: &str, vars: &Map<String, Json>) -> Result<Json, String> {
    let e = expr::compile(source).map_err(|e| match e.position {
        Some(p) => format!("{p}: {}", e.message),
        None => e.message,
    })?;
    let get = |n: &str| vars.get(n).map(value::from_json);
    let (state, command, event, actor, meta, model) = (
        get("state"),
        get("command"),
        get("event"),
        get("actor"),
        get("meta"),
        get("model"),
    );
    let scope = Scope {
        state: state.as_ref(),
        command: command.as_ref(),
        event: event.as_ref(),
        actor: actor.as_ref(),
        meta: meta.as_ref(),
        model: model.as_ref(),
    };
    let v = e.eval(&scope).map_err(|e| e.message)?;
    value::to_json(&v)
}

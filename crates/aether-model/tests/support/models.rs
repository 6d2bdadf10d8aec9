//! Versions of the bank account model (`models/account.yaml`, version 3)
//! for the deployment tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use aether_model::{CommandDef, EventDef, Example, Model, NamedMap};
use serde_json::json;

/// `models/account.yaml`: version 3.
pub fn v3() -> Model {
    Model::from_yaml(include_str!("../../models/account.yaml")).unwrap()
}

/// `model` as version `version`.
pub fn at(mut model: Model, version: u32) -> Model {
    model.version = version;
    model
}

/// A compatible next version: v3 plus a command `Note` (emits `Noted`,
/// folded as nothing) and a query `Status`. The state fingerprint changes
/// (an event type is added): active actors reload.
pub fn v4() -> Model {
    let mut m = at(v3(), 4);
    m.commands.insert(
        "Note",
        serde_json::from_value::<CommandDef>(json!({
            "schema": {"type": "object", "required": ["text"], "additionalProperties": false,
                       "properties": {"text": {"type": "string", "maxLength": 100}}},
            "guards": [{"when": "state.status == 'open'", "reject": "not_open"}],
            "emit": [{"event": "Noted", "data": "{'text': command.text}"}]
        }))
        .unwrap(),
    );
    m.events.insert(
        "Noted",
        serde_json::from_value::<EventDef>(json!({"evolve": {}})).unwrap(),
    );
    m.queries.insert("Status", "state.status".to_owned());
    m
}

/// `model` without command `name`.
pub fn without_command(mut model: Model, name: &str) -> Model {
    model.commands = model
        .commands
        .iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, c)| (n.to_owned(), c.clone()))
        .collect::<NamedMap<_>>();
    model
}

/// `model` without event type `name` (and without the emits of it).
pub fn without_event(mut model: Model, name: &str) -> Model {
    model.events = model
        .events
        .iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, e)| (n.to_owned(), e.clone()))
        .collect::<NamedMap<_>>();
    model.commands = model
        .commands
        .iter()
        .map(|(n, c)| {
            let mut c = c.clone();
            c.emit.retain(|e| e.event != name);
            (n.to_owned(), c)
        })
        .collect::<NamedMap<_>>();
    model.examples.clear();
    model
}

/// `model` with an example that fails.
pub fn with_failing_example(mut model: Model) -> Model {
    model.examples.push(
        serde_json::from_value::<Example>(json!({
            "name": "wrong on purpose",
            "given": [{"Opened": {"owner": "ann", "overdraft": 0}}],
            "when": {"Deposit": {"amount": 5}},
            "then": {"rejected": "not_open"}
        }))
        .unwrap(),
    );
    model
}

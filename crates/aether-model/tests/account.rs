//! The bank account as a model (`models/account.yaml`) against the same
//! rules as typed Rust (`support/typed_account.rs`): random command
//! sequences give identical events, rejections (codes) and states.

#[path = "support/typed_account.rs"]
mod typed_account;

use aether_model::{CompiledModel, DecideError, Meta, Model, check};
use proptest::prelude::*;
use serde_json::Value as Json;
use typed_account::{Account, Outcome};

fn model() -> CompiledModel {
    let yaml = include_str!("../models/account.yaml");
    check(&Model::from_yaml(yaml).expect("the YAML reads")).expect("the model checks")
}

#[test]
fn the_yaml_and_the_canonical_json_are_the_same_model() {
    let yaml = Model::from_yaml(include_str!("../models/account.yaml")).unwrap();
    if std::env::var_os("AETHER_MODEL_REGENERATE").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.json");
        std::fs::write(path, yaml.to_json_pretty() + "\n").unwrap();
        return;
    }
    let json = Model::from_json(include_str!("../models/account.json")).unwrap();
    assert_eq!(yaml, json);
    assert_eq!(
        yaml.to_json_pretty() + "\n",
        include_str!("../models/account.json"),
        "models/account.json is the canonical form of models/account.yaml (regenerate it)"
    );
}

#[test]
fn the_examples_of_the_account_pass() {
    assert_eq!(model().run_examples(), Ok(2));
}

fn command() -> impl Strategy<Value = String> {
    let amount = prop_oneof![
        -2i64..=2,
        1i64..=500,
        Just(1_000_000_000i64),
        Just(1_000_000_001i64)
    ];
    prop_oneof![
        (
            prop_oneof![Just("ann"), Just(""), Just("bob")],
            proptest::option::of(prop_oneof![Just(-1i64), 0i64..=300, Just(100_001i64)])
        )
            .prop_map(|(owner, overdraft)| match overdraft {
                Some(o) => format!(r#"{{"Open": {{"owner": "{owner}", "overdraft": {o}}}}}"#),
                None => format!(r#"{{"Open": {{"owner": "{owner}"}}}}"#),
            }),
        amount
            .clone()
            .prop_map(|a| format!(r#"{{"Deposit": {{"amount": {a}}}}}"#)),
        amount
            .clone()
            .prop_map(|a| format!(r#"{{"Withdraw": {{"amount": {a}}}}}"#)),
        amount.prop_map(|a| format!(r#"{{"Withdraw": {{"amount": {a}}}}}"#)),
        Just(r#"{"Close": {}}"#.to_owned()),
        Just(r#"{"Close": {"now": true}}"#.to_owned()),
        Just(r#"{"Withdraw": {"amount": "ten"}}"#.to_owned()),
        Just(r#"{"Withdraw": {}}"#.to_owned()),
        Just(r#"{"Transfer": {"amount": 1}}"#.to_owned()),
        Just(r#"[1, 2]"#.to_owned()),
    ]
}

proptest! {
    #[test]
    fn random_command_sequences_agree_with_the_typed_account(
        commands in proptest::collection::vec(command(), 0..40)
    ) {
        let model = model();
        let mut state = model.initial_state();
        let mut typed = Account::default();
        let meta = Meta { actor_id: "account-1", ..Meta::default() };
        for wire in &commands {
            let m = model.decide_wire(&state, wire.as_bytes(), &meta);
            let t = typed.execute(wire.as_bytes());
            match (m, t) {
                (Ok(decision), Ok(events)) => {
                    let got: Vec<(String, Json)> = decision.events.iter()
                        .map(|e| (e.event_type.to_string(), serde_json::from_str(e.data.as_str()).unwrap()))
                        .collect();
                    let want: Vec<(String, Json)> = events.iter()
                        .map(|(t, d)| ((*t).to_owned(), serde_json::from_str(d).unwrap()))
                        .collect();
                    prop_assert_eq!(got, want, "events of {}", wire);
                    state = decision.state;
                }
                (Err(DecideError::Rejected(r)), Err(Outcome::Rejected(code))) => {
                    prop_assert_eq!(r.code.as_str(), code, "rejection of {}", wire);
                }
                (Err(DecideError::BadRequest(_)), Err(Outcome::BadRequest)) => {}
                (Err(DecideError::Fault(_)), Err(Outcome::Fault)) => {}
                (m, t) => prop_assert!(false, "{wire}: model {m:?}, typed {t:?}"),
            }
            prop_assert_eq!(state.to_json(), typed.to_json(), "state after {}", wire);
        }
        // Replaying what was decided gives the same state through evolve.
        let mut replayed = model.initial_state();
        let mut typed_replayed = Account::default();
        for wire in &commands {
            if let Ok(events) = typed_replayed.clone().execute(wire.as_bytes()) {
                for (t, d) in &events {
                    model.evolve_json(&mut replayed, t, d.as_bytes()).unwrap();
                }
                typed_replayed.execute(wire.as_bytes()).unwrap();
            }
        }
        prop_assert_eq!(replayed.to_json(), typed.to_json());
    }
}

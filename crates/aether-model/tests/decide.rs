//! Running a model: each outcome class (events, bad request, rejected,
//! model fault) with what the caller needs to answer; folds that fail
//! instead of skipping; queries; upcasters; the examples runner.

use aether_model::{CompiledModel, DecideError, Meta, Model, State, check};
use serde_json::{Value as Json, json};
use std::time::{Duration, UNIX_EPOCH};

fn account() -> Model {
    Model::from_yaml(include_str!("../models/account.yaml")).unwrap()
}

fn compiled(change: impl FnOnce(&mut Model)) -> CompiledModel {
    let mut m = account();
    change(&mut m);
    check(&m).unwrap()
}

const META: Meta<'static> = Meta {
    actor_id: "account-7",
    command_id: Some("c-1"),
    correlation_id: None,
    time: None,
};

fn open(model: &CompiledModel, overdraft: i64) -> State {
    model
        .decide(
            &model.initial_state(),
            "Open",
            &json!({"owner": "ann", "overdraft": overdraft}),
            &META,
        )
        .unwrap()
        .state
}

#[test]
fn a_command_gives_events_as_json_text_and_the_next_state() {
    let model = compiled(|_| {});
    let state = open(&model, 100);
    let d = model
        .decide_wire(&state, br#"{"Withdraw": {"amount": 30}}"#, &META)
        .unwrap();
    let events: Vec<(&str, &str)> = d
        .events
        .iter()
        .map(|e| (&*e.event_type, e.data.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("Withdrawn", r#"{"amount":30}"#),
            ("Overdrawn", r#"{"balance":-30}"#)
        ]
    );
    assert_eq!(
        d.state.to_json(),
        json!({"status": "open", "owner": "ann", "balance": -30, "overdraft": 100})
    );
    // The state passed in is unchanged.
    assert_eq!(state.to_json()["balance"], 0);
}

#[test]
fn an_unknown_command_is_a_bad_request_naming_the_known_ones() {
    let model = compiled(|_| {});
    let err = model
        .decide(&model.initial_state(), "Transfer", &json!({}), &META)
        .unwrap_err();
    let DecideError::BadRequest(b) = &err else {
        panic!("{err:?}")
    };
    assert!(b.message.contains("unknown command `Transfer`"), "{err}");
    assert!(
        b.message.contains("Open, Deposit, Withdraw, Close"),
        "{err}"
    );
    assert_eq!(err.code(), None);
}

#[test]
fn a_schema_violation_is_a_bad_request_with_json_pointers() {
    let model = compiled(|_| {});
    let state = open(&model, 0);
    let err = model
        .decide(
            &state,
            "Withdraw",
            &json!({"amount": 0, "memo": "x"}),
            &META,
        )
        .unwrap_err();
    let DecideError::BadRequest(b) = &err else {
        panic!("{err:?}")
    };
    let pointers: Vec<&str> = b.violations.iter().map(|v| v.pointer.as_str()).collect();
    assert!(pointers.contains(&"/amount"), "{err}");
    assert!(
        pointers.contains(&""),
        "additionalProperties is reported on the body: {err}"
    );
    assert!(err.is_bad_request());
}

#[test]
fn bytes_that_are_not_the_tagged_form_are_a_bad_request() {
    let model = compiled(|_| {});
    for wire in [&b"not json"[..], b"[]", b"{}", br#"{"A": {}, "B": {}}"#] {
        let err = model
            .decide_wire(&model.initial_state(), wire, &META)
            .unwrap_err();
        assert!(err.is_bad_request(), "{err}");
    }
    let deep = format!("{{\"Open\": {}{}}}", "[".repeat(40), "]".repeat(40));
    let err = model
        .decide_wire(&model.initial_state(), deep.as_bytes(), &META)
        .unwrap_err();
    assert!(err.to_string().contains("deeper than 32"), "{err}");
}

#[test]
fn a_false_guard_rejects_with_its_code_message_and_details() {
    let model = compiled(|_| {});
    let state = open(&model, 0);
    let err = model
        .decide(&state, "Withdraw", &json!({"amount": 80}), &META)
        .unwrap_err();
    let DecideError::Rejected(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code, "insufficient_funds");
    assert_eq!(r.message, "balance 0 is too low for 80");
    assert_eq!(r.details, json!({"balance": 0, "requested": 80}));
    // Guards run in order: the first false one answers.
    let err = model
        .decide(
            &model.initial_state(),
            "Withdraw",
            &json!({"amount": 80}),
            &META,
        )
        .unwrap_err();
    assert_eq!(err.code(), Some("not_open"));
}

#[test]
fn an_overflow_is_a_model_fault_with_the_expression_path() {
    let model = compiled(|_| {});
    let rich = model
        .state_from_json(&json!({"status": "open", "balance": i64::MAX - 10, "overdraft": 0}))
        .unwrap();
    let err = model
        .decide(&rich, "Deposit", &json!({"amount": 100}), &META)
        .unwrap_err();
    let DecideError::Fault(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.path, "events.Deposited.evolve.balance");
    assert_eq!(err.code(), Some("aether.model_fault"));
}

#[test]
fn a_runtime_type_error_in_a_guard_is_a_model_fault() {
    let model = compiled(|m| {
        m.commands.get_mut("Open").unwrap().guards[0].when =
            "has(command.overdraft) ? command.overdraft > 0 : 'yes'".into();
    });
    let err = model
        .decide(
            &model.initial_state(),
            "Open",
            &json!({"owner": "ann"}),
            &META,
        )
        .unwrap_err();
    let DecideError::Fault(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.path, "commands.Open.guards[0].when");
    assert!(f.message.contains("must be a bool, was a string"), "{err}");
}

#[test]
fn an_emitted_payload_failing_its_schema_is_a_model_fault() {
    let model = compiled(|m| {
        m.events.get_mut("Opened").unwrap().schema = Some(json!({
            "type": "object",
            "properties": {"owner": {"type": "string", "maxLength": 2}, "overdraft": {"type": "integer"}}
        }));
    });
    let err = model
        .decide(
            &model.initial_state(),
            "Open",
            &json!({"owner": "ann"}),
            &META,
        )
        .unwrap_err();
    let DecideError::Fault(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.path, "events.Opened.schema");
    assert!(f.message.contains("/owner"), "{err}");
}

#[test]
fn a_state_over_its_limit_is_a_model_fault_and_nothing_is_emitted() {
    let model = compiled(|m| m.limits.state_bytes = 120);
    let owner = "x".repeat(90);
    let err = model
        .decide(
            &model.initial_state(),
            "Open",
            &json!({"owner": owner}),
            &META,
        )
        .unwrap_err();
    let DecideError::Fault(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.path, "limits.state_bytes");
}

#[test]
fn strict_mode_checks_the_next_state_against_the_schema() {
    let make = |strict| {
        compiled(|m| {
            let fold = m.events.get_mut("Opened").unwrap().evolve.as_mut().unwrap();
            fold.insert("overdraft", "event.overdraft - 1".to_owned());
        })
        .with_strict(strict)
    };
    let body = json!({"owner": "ann"});
    let lax = make(false);
    assert!(
        lax.decide(&lax.initial_state(), "Open", &body, &META)
            .is_ok()
    );
    let strict = make(true);
    let err = strict
        .decide(&strict.initial_state(), "Open", &body, &META)
        .unwrap_err();
    let DecideError::Fault(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.path, "state.schema");
    assert!(f.message.contains("/overdraft"), "{err}");
}

#[test]
fn actor_meta_and_model_are_visible_to_decide() {
    let model = compiled(|m| {
        let c = m.commands.get_mut("Open").unwrap();
        c.guards[0].when =
            "state.status == 'new' && actor.id.startsWith('account-') && actor.type == 'account' \
             && meta.command_id == 'c-1' && meta.correlation_id == null \
             && meta.time > timestamp('2020-01-01T00:00:00Z') && model.version == 3"
                .into();
    });
    let meta = Meta {
        time: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        ..META
    };
    model
        .decide(
            &model.initial_state(),
            "Open",
            &json!({"owner": "ann"}),
            &meta,
        )
        .unwrap();
    let early = Meta {
        time: Some(UNIX_EPOCH),
        ..META
    };
    let err = model
        .decide(
            &model.initial_state(),
            "Open",
            &json!({"owner": "ann"}),
            &early,
        )
        .unwrap_err();
    assert_eq!(err.code(), Some("already_open"));
}

#[test]
fn an_event_the_model_cannot_fold_is_an_error_never_skipped() {
    let model = compiled(|_| {});
    let mut state = open(&model, 0);
    let before = state.clone();
    let err = model.evolve(&mut state, "Renamed", &json!({})).unwrap_err();
    assert_eq!(err.event_type, "Renamed");
    assert!(
        err.to_string()
            .contains("model account@3 has no event type `Renamed`"),
        "{err}"
    );
    let err = model
        .evolve(&mut state, "Deposited", &json!({"sum": 5}))
        .unwrap_err();
    assert_eq!(err.path, "events.Deposited.evolve.balance");
    let err = model
        .evolve_json(&mut state, "Deposited", b"{not json")
        .unwrap_err();
    assert!(err.message.contains("not JSON"), "{err}");
    assert_eq!(state, before, "a failed fold leaves the state unchanged");
}

#[test]
fn a_fold_null_removes_a_property_merge_patch() {
    let model = compiled(|m| {
        let fold = m.events.get_mut("Closed").unwrap().evolve.as_mut().unwrap();
        fold.insert("owner", "null".to_owned());
    });
    let mut state = open(&model, 0);
    model.evolve(&mut state, "Closed", &json!({})).unwrap();
    assert_eq!(
        state.to_json(),
        json!({"status": "closed", "balance": 0, "overdraft": 0})
    );
}

#[test]
fn a_snapshot_that_fails_the_schema_is_refused() {
    let model = compiled(|_| {});
    assert!(
        model
            .state_from_json(&json!({"status": "gone", "balance": 0, "overdraft": 0}))
            .is_err()
    );
    assert!(model.state_from_json(&json!([1])).is_err());
    let s = model
        .state_from_json(&json!({"status": "open", "balance": 5, "overdraft": 0}))
        .unwrap();
    assert_eq!(
        model.query("Balance", &s).unwrap(),
        json!({"balance": 5, "status": "open"})
    );
}

#[test]
fn queries_answer_or_say_why_not() {
    let model = compiled(|_| {});
    assert!(matches!(
        model.query("Nope", &model.initial_state()),
        Err(aether_model::QueryError::Unknown(_))
    ));
}

#[test]
fn upcasters_rewrite_old_events_in_order() {
    let model = compiled(|m| {
        m.version = 5;
        let ev = m.events.get_mut("Withdrawn").unwrap();
        ev.upcast.push(aether_model::Upcast {
            before: 4,
            data: "{'amount': event.amount, 'memo': 'v3'}".into(),
        });
    });
    assert_eq!(
        model.upcast("Withdrawn", 0, &json!({"sum": 5})).unwrap(),
        json!({"amount": 5, "memo": "v3"})
    );
    assert_eq!(
        model.upcast("Withdrawn", 3, &json!({"amount": 5})).unwrap(),
        json!({"amount": 5, "memo": "v3"})
    );
    assert_eq!(
        model.upcast("Withdrawn", 4, &json!({"amount": 5})).unwrap(),
        json!({"amount": 5})
    );
    let err = model
        .upcast("Withdrawn", 1, &json!({"total": 5}))
        .unwrap_err();
    assert!(err.path.starts_with("events.Withdrawn.upcast"), "{err}");
}

#[test]
fn the_examples_runner_reports_each_failure_clearly() {
    let mut m = account();
    m.examples[0].then.rejected = Some("not_open".into());
    m.examples[1].then.events.as_mut().unwrap().pop();
    let model = check(&m).unwrap();
    let failures = model.run_examples().unwrap_err();
    let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "examples[0]: expected rejection `not_open`, got rejected (insufficient_funds): balance 50 is too low for 80",
            r#"examples[1]: expected events [{"Withdrawn":{"amount":30}}], got [{"Withdrawn":{"amount":30}},{"Overdrawn":{"balance":-30}}]"#,
        ]
    );
}

#[test]
fn a_compiled_model_is_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<CompiledModel>();
    shared::<State>();
    let _: Json = json!(null);
}

#[test]
fn the_state_fingerprint_changes_with_the_fold_only() {
    let base = compiled(|_| {}).state_fingerprint();
    assert_eq!(base.len(), 16);
    let same = compiled(|m| {
        m.commands.get_mut("Withdraw").unwrap().guards[0].message = Some("'closed'".into());
        m.queries.insert("Status", "state.status".to_owned());
    });
    assert_eq!(same.state_fingerprint(), base);
    let fold = compiled(|m| {
        let f = m.events.get_mut("Closed").unwrap().evolve.as_mut().unwrap();
        f.insert("owner", "null".to_owned());
    });
    assert_ne!(fold.state_fingerprint(), base);
    let schema = compiled(|m| m.state.schema["properties"]["owner"]["maxLength"] = json!(100));
    assert_ne!(schema.state_fingerprint(), base);
}

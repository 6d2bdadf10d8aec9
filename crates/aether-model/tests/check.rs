//! The checker: every kind of problem is refused with its path, its
//! line:col inside an expression, and a suggestion where there is one.

use aether_model::{Emit, EventDef, Guard, Model, ModelError, check};
use serde_json::json;

fn account() -> Model {
    Model::from_yaml(include_str!("../models/account.yaml")).unwrap()
}

/// The account with one change; the errors `check` gives, as text.
fn errors_with(change: impl FnOnce(&mut Model)) -> Vec<String> {
    let mut m = account();
    change(&mut m);
    match check(&m) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ModelError::to_string).collect(),
    }
}

fn assert_error(errors: &[String], expected: &str) {
    assert!(
        errors.iter().any(|e| e.contains(expected)),
        "expected an error containing {expected:?}, got {errors:#?}"
    );
}

fn guard<'m>(m: &'m mut Model, command: &str, i: usize) -> &'m mut Guard {
    &mut m.commands.get_mut(command).unwrap().guards[i]
}

#[test]
fn the_account_checks() {
    check(&account()).unwrap();
}

#[test]
fn a_syntax_error_has_its_path_and_position() {
    let e = errors_with(|m| guard(m, "Open", 0).when = "state.status ==".into());
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("commands.Open.guards[0].when: 1:"),
        "{e:?}"
    );
}

#[test]
fn a_path_missing_from_the_schema_suggests_the_near_name() {
    let e = errors_with(|m| guard(m, "Withdraw", 1).message = Some("string(state.balanse)".into()));
    assert_eq!(
        e,
        [
            "commands.Withdraw.guards[1].message: 1:8: `state` has no field `balanse`; did you mean `balance`?"
        ]
    );
}

#[test]
fn a_path_under_a_scalar_is_refused() {
    let e = errors_with(|m| guard(m, "Deposit", 0).when = "command.amount.value > 0".into());
    assert_error(&e, "`command.amount` is a int, it has no field `value`");
}

#[test]
fn an_unknown_variable_suggests_the_near_name() {
    let e = errors_with(|m| guard(m, "Open", 0).when = "stat.status == 'new'".into());
    assert_error(
        &e,
        "commands.Open.guards[0].when: 1:1: unknown variable `stat`; did you mean `state`?",
    );
}

#[test]
fn a_fold_may_read_only_state_and_event() {
    let e = errors_with(|m| {
        let ev = m.events.get_mut("Deposited").unwrap();
        ev.evolve
            .as_mut()
            .unwrap()
            .insert("balance", "state.balance + command.amount".to_owned());
    });
    assert_error(
        &e,
        "events.Deposited.evolve.balance: 1:17: `command` is not available: determinism: a fold or upcaster reads only state, event",
    );
    let e = errors_with(|m| {
        let ev = m.events.get_mut("Closed").unwrap();
        ev.evolve
            .as_mut()
            .unwrap()
            .insert("status", "string(meta.time)".to_owned());
    });
    assert_error(&e, "`meta` is not available: determinism");
}

#[test]
fn an_unknown_function_suggests_the_near_name() {
    let e = errors_with(|m| guard(m, "Open", 0).when = "sise(state.status) > 0".into());
    assert_error(&e, "unknown function `sise`; did you mean `size`?");
}

#[test]
fn a_clock_or_random_function_is_refused() {
    let e = errors_with(|m| guard(m, "Open", 0).when = "now() > 0".into());
    assert_error(&e, "determinism: `now` would read the clock or randomness");
}

#[test]
fn a_guard_that_is_not_a_bool_is_refused_where_derivable() {
    let e = errors_with(|m| guard(m, "Withdraw", 1).when = "state.balance - command.amount".into());
    assert_error(
        &e,
        "commands.Withdraw.guards[1].when: 1:1: must evaluate to a bool, but this is a int",
    );
    let e = errors_with(|m| guard(m, "Open", 0).when = "state.owner && true".into());
    assert_error(
        &e,
        "`&&` and `||` needs a bool, but `state.owner` is a string",
    );
}

#[test]
fn data_that_is_not_a_map_is_refused_where_derivable() {
    let e = errors_with(|m| {
        m.commands.get_mut("Deposit").unwrap().emit[0].data = Some("[command.amount]".into())
    });
    assert_error(
        &e,
        "commands.Deposit.emit[0].data: 1:1: must evaluate to a map, but this is a list",
    );
}

#[test]
fn a_fold_key_must_be_a_state_property() {
    let e = errors_with(|m| {
        let ev = m.events.get_mut("Deposited").unwrap();
        ev.evolve = Some(
            [(
                "balanse".to_owned(),
                "state.balance + event.amount".to_owned(),
            )]
            .into_iter()
            .collect(),
        );
    });
    assert_error(
        &e,
        "events.Deposited.evolve.balanse: `balanse` is not a property of state.schema; did you mean `balance`?",
    );
}

#[test]
fn event_paths_are_checked_against_what_the_emits_write() {
    let e = errors_with(|m| {
        let ev = m.events.get_mut("Deposited").unwrap();
        ev.evolve = Some(
            [(
                "balance".to_owned(),
                "state.balance + event.amont".to_owned(),
            )]
            .into_iter()
            .collect(),
        );
    });
    assert_error(&e, "`event` has no field `amont`; did you mean `amount`?");
}

#[test]
fn an_emitted_event_must_be_declared() {
    let e =
        errors_with(|m| m.commands.get_mut("Withdraw").unwrap().emit[0].event = "Withdrew".into());
    assert_error(
        &e,
        "commands.Withdraw.emit[0].event: event `Withdrew` is not declared in `events`; did you mean `Withdrawn`?",
    );
}

#[test]
fn every_event_needs_a_fold() {
    let e = errors_with(|m| m.events.get_mut("Overdrawn").unwrap().evolve = None);
    assert_error(&e, "events.Overdrawn.evolve: every event type needs a fold");
}

#[test]
fn a_remote_ref_is_refused() {
    let e = errors_with(|m| {
        m.commands.get_mut("Deposit").unwrap().schema =
            json!({"$ref": "https://example.invalid/amount.json"});
    });
    assert_error(
        &e,
        "commands.Deposit.schema (at /$ref): remote reference `https://example.invalid/amount.json` refused",
    );
    // A local reference is fine.
    let e = errors_with(|m| {
        m.commands.get_mut("Deposit").unwrap().schema = json!({
            "$defs": {"amount": {"type": "integer", "minimum": 1}},
            "type": "object", "required": ["amount"],
            "properties": {"amount": {"$ref": "#/$defs/amount"}}
        });
    });
    assert_eq!(e, Vec::<String>::new());
}

#[test]
fn an_invalid_json_schema_is_refused() {
    let e = errors_with(|m| {
        m.commands.get_mut("Deposit").unwrap().schema = json!({"type": "integr"});
    });
    assert_error(&e, "commands.Deposit.schema");
    assert_error(&e, "not a valid JSON Schema");
}

#[test]
fn the_initial_state_must_satisfy_the_schema() {
    let e = errors_with(|m| {
        m.state.initial = json!({"status": "pending", "balance": 0, "overdraft": 0})
    });
    assert_error(&e, "state.initial: does not satisfy state.schema: /status:");
}

fn with_items(m: &mut Model, items: serde_json::Value) {
    let c = m.commands.get_mut("Deposit").unwrap();
    c.schema["properties"]["items"] = items;
}

#[test]
fn a_macro_over_an_array_without_max_items_is_refused() {
    let e = errors_with(|m| {
        with_items(m, json!({"type": "array", "items": {"type": "integer"}}));
        guard(m, "Deposit", 0).when = "command.items.all(i, i > 0)".into();
    });
    assert_error(
        &e,
        "cost bound: `command.items` is iterated by a macro but its schema declares no `maxItems`",
    );
    let e = errors_with(|m| {
        with_items(
            m,
            json!({"type": "array", "maxItems": 10, "items": {"type": "integer"}}),
        );
        guard(m, "Deposit", 0).when = "command.items.all(i, i > 0)".into();
    });
    assert_eq!(e, Vec::<String>::new());
}

#[test]
fn macros_nested_three_deep_are_refused() {
    let e = errors_with(|m| {
        guard(m, "Deposit", 0).when = "[[[1]]].all(a, a.all(b, b.all(c, c > 0)))".into();
    });
    assert_error(&e, "cost bound: macros nested 3 deep, more than 2");
}

#[test]
fn a_map_or_filter_over_a_map_is_refused() {
    let e = errors_with(|m| guard(m, "Deposit", 0).when = "size({'a': 1}.map(k, k)) > 0".into());
    assert_error(
        &e,
        "determinism: `map`/`filter` over a map iterates in an unspecified order",
    );
}

#[test]
fn a_double_in_a_fold_is_refused() {
    let e = errors_with(|m| {
        let ev = m.events.get_mut("Deposited").unwrap();
        ev.evolve = Some(
            [(
                "balance".to_owned(),
                "int(double(state.balance) * 1.5)".to_owned(),
            )]
            .into_iter()
            .collect(),
        );
    });
    assert_error(&e, "determinism: no doubles in a fold");
}

#[test]
fn an_expression_over_4_kib_or_1000_nodes_is_refused() {
    let long = format!("'{}' == state.status", "x".repeat(4100));
    let e = errors_with(|m| guard(m, "Open", 0).when = long);
    assert_error(
        &e,
        "cost bound: the expression is 4118 bytes, more than 4096",
    );
    let many = vec!["1"; 1200].join("+");
    let e = errors_with(|m| guard(m, "Open", 0).when = format!("{many} > 0"));
    assert_error(&e, "cost bound: nested 1200 deep, more than 64");
    let wide = format!("[{}] == []", vec!["[1, 2, 3, 4, 5]"; 180].join(", "));
    let e = errors_with(|m| guard(m, "Open", 0).when = wide);
    assert_error(&e, "syntax nodes after macro expansion, more than 1000");
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let deep = format!("{}1{}", "(".repeat(40), ")".repeat(40));
    let e = errors_with(|m| guard(m, "Open", 0).when = deep);
    assert_error(&e, "cost bound: nesting deeper than 32");
    let negations = format!("{}true", "!".repeat(500));
    let e = errors_with(|m| guard(m, "Open", 0).when = negations);
    assert_error(&e, "cost bound: nesting deeper than 32");
}

#[test]
fn upcasters_must_ascend_up_to_the_version() {
    let e = errors_with(|m| {
        let ev = m.events.get_mut("Withdrawn").unwrap();
        ev.upcast[0].before = 4;
    });
    assert_error(
        &e,
        "events.Withdrawn.upcast[0].before: `before` must ascend, from 1 up to the model's version (3); found 4",
    );
}

#[test]
fn more_emits_than_the_limit_are_refused() {
    let e = errors_with(|m| m.limits.events_per_command = 1);
    assert_error(
        &e,
        "commands.Withdraw.emit: 2 events, more than limits.events_per_command (1)",
    );
}

#[test]
fn a_policy_on_an_undeclared_event_is_refused() {
    let e =
        errors_with(|m| m.policies.get_mut("FlagLargeWithdrawal").unwrap().on = "Withdrew".into());
    assert_error(
        &e,
        "policies.FlagLargeWithdrawal.on: event `Withdrew` is not declared; did you mean `Withdrawn`?",
    );
}

#[test]
fn unsupported_syntax_is_refused() {
    let e = errors_with(|m| guard(m, "Open", 0).when = "state.?owner.hasValue()".into());
    assert_error(&e, "is not in Aether's CEL subset");
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = errors_with(|m| {
        guard(m, "Open", 0).when = "stat.status == 'new'".into();
        m.commands.get_mut("Deposit").unwrap().emit.push(Emit {
            event: "Nope".into(),
            when: None,
            data: None,
        });
        m.events.insert(
            "Audited",
            EventDef {
                schema: None,
                evolve: None,
                upcast: vec![],
            },
        );
    });
    assert_eq!(e.len(), 3, "{e:#?}");
}

#[test]
fn json_errors_give_the_path_and_line_and_column() {
    let json = account()
        .to_json_pretty()
        .replace("\"reject\": \"not_open\"", "\"rejcet\": \"not_open\"");
    let err = Model::from_json(&json).unwrap_err();
    assert_eq!(err.path, "commands.Deposit.guards[0].rejcet", "{err}");
    assert!(err.message.contains("unknown field `rejcet`"), "{err}");
    assert!(err.position.is_some(), "{err}");
}

#[test]
fn yaml_errors_give_the_path_and_line_and_column() {
    let yaml = include_str!("../models/account.yaml").replace("version: 3", "version: three");
    let err = Model::from_yaml(&yaml).unwrap_err();
    assert_eq!(err.path, "version", "{err}");
    assert_eq!(err.position.unwrap().line, 2, "{err}");

    let yaml = include_str!("../models/account.yaml").replace("  Close:\n", "  Deposit:\n");
    let err = Model::from_yaml(&yaml).unwrap_err();
    assert!(err.to_string().contains("uplicate"), "{err}");

    let yaml = format!(
        "{}\nsnapshots: true\n",
        include_str!("../models/account.yaml")
    );
    let err = Model::from_yaml(&yaml).unwrap_err();
    assert!(err.message.contains("snapshots"), "{err}");
}

#[test]
fn every_macro_checks_on_a_bounded_list() {
    for when in [
        "command.items.all(i, i > 0)",
        "command.items.exists(i, i > 0)",
        "command.items.exists_one(i, i > 0)",
        "size(command.items.map(i, i * 2)) > 0",
        "size(command.items.map(i, i > 0, i * 2)) > 0",
        "size(command.items.filter(i, i > 0)) > 0",
        "command.items.map(i, i * 2).all(j, j > 0)",
    ] {
        let e = errors_with(|m| {
            with_items(
                m,
                json!({"type": "array", "maxItems": 10, "items": {"type": "integer"}}),
            );
            guard(m, "Deposit", 0).when = when.into();
        });
        assert_eq!(e, Vec::<String>::new(), "{when}");
    }
}

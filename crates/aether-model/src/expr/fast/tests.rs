//! The fast path agrees with the engine wherever it gives a value: on the
//! subset suite and on random expressions (bolero).

use super::super::{Scope, Value, compile as compile_expr, value};
use super::{compile, eval};
use serde_json::{Value as Json, json};

fn same(a: &Value, b: &Value) -> bool {
    value::type_name(a) == value::type_name(b) && value::to_json(a).ok() == value::to_json(b).ok()
}

/// Evaluates `source` both ways; panics if the fast path gives a value the
/// engine does not. Returns whether the fast path answered.
fn agree(source: &str, vars: &serde_json::Map<String, Json>) -> bool {
    let Ok(expr) = compile_expr(source) else {
        return false;
    };
    let get = |n: &str| vars.get(n).map(value::from_json);
    let (state, command, event) = (get("state"), get("command"), get("event"));
    let scope = Scope {
        state: state.as_ref(),
        command: command.as_ref(),
        event: event.as_ref(),
        ..Scope::default()
    };
    let Some(fast) = compile(&expr.tree) else {
        return false;
    };
    let Some(v) = eval(&fast, &scope) else {
        return false;
    };
    match expr.eval_engine(&scope) {
        Ok(e) => assert!(same(&v, &e), "`{source}`: fast {v:?}, engine {e:?}"),
        Err(e) => panic!("`{source}`: fast {v:?}, engine error {e:?}"),
    }
    true
}

#[test]
fn the_fast_path_agrees_with_the_engine_on_the_subset_suite() {
    let cases: Vec<Json> =
        serde_json::from_str(include_str!("../../../tests/data/cel_subset.json")).unwrap();
    let mut answered = 0;
    for case in &cases {
        let vars = case
            .get("bindings")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        answered += usize::from(agree(case["expr"].as_str().unwrap(), &vars));
    }
    assert!(
        answered >= 40,
        "the fast path answered only {answered} cases"
    );
}

#[test]
fn the_fast_path_answers_the_accounts_expressions() {
    let vars = json!({
        "state": {"status": "open", "balance": 50, "overdraft": 100, "owner": "ann"},
        "command": {"amount": 30, "owner": "bob"},
        "event": {"amount": 7},
    });
    all_fast(
        &[
            "state.status == 'open'",
            "state.balance - command.amount >= -state.overdraft",
            "'balance ' + string(state.balance) + ' is too low for ' + string(command.amount)",
            "{'balance': state.balance, 'requested': command.amount}",
            "{'owner': command.owner, 'overdraft': has(command.overdraft) ? command.overdraft : 0}",
            "state.balance - command.amount < 0",
            "state.balance + event.amount",
            "{}",
            "'open'",
        ],
        vars.as_object().unwrap(),
    );
}

/// Panics unless the fast path answers each of `sources`, as the engine does.
fn all_fast(sources: &[&str], vars: &serde_json::Map<String, Json>) {
    for source in sources {
        assert!(agree(source, vars), "`{source}` should take the fast path");
    }
}

const ATOMS: &[&str] = &[
    "state.balance",
    "state.status",
    "state.flag",
    "state.name",
    "state.nested.amount",
    "state.nested",
    "state.list",
    "state.missing",
    "command.amount",
    "command.big",
    "command.owner",
    "event.amount",
    "event.status",
    "state",
    "1",
    "-1",
    "0",
    "2",
    "2u",
    "1.5",
    "0.0",
    "'a'",
    "'open'",
    "''",
    "null",
    "true",
    "false",
    "9223372036854775807",
    "-9223372036854775808",
    "[1, 2]",
    "{}",
];
const OPS: &[&str] = &[
    "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
];

/// A random, well-formed expression of the fast subset (and around it).
fn generate(bytes: &mut impl Iterator<Item = u8>, depth: usize) -> String {
    let pick =
        |bytes: &mut dyn Iterator<Item = u8>, n: usize| bytes.next().map_or(0, |b| b as usize % n);
    let choice = if depth >= 4 { 0 } else { pick(bytes, 8) };
    match choice {
        1 | 2 => {
            let l = generate(bytes, depth + 1);
            let op = OPS[pick(bytes, OPS.len())];
            let r = generate(bytes, depth + 1);
            format!("({l} {op} {r})")
        }
        3 => format!(
            "{}({})",
            ["!", "-"][pick(bytes, 2)],
            generate(bytes, depth + 1)
        ),
        4 => format!(
            "({} ? {} : {})",
            generate(bytes, depth + 1),
            generate(bytes, depth + 1),
            generate(bytes, depth + 1)
        ),
        5 => format!(
            "{{'k': {}, 'k2': {}}}",
            generate(bytes, depth + 1),
            generate(bytes, depth + 1)
        ),
        6 => format!(
            "{}({})",
            ["string", "size"][pick(bytes, 2)],
            generate(bytes, depth + 1)
        ),
        7 => format!(
            "has({}.{})",
            ["state", "command", "event"][pick(bytes, 3)],
            ["amount", "balance", "x"][pick(bytes, 3)]
        ),
        _ => ATOMS[pick(bytes, ATOMS.len())].to_owned(),
    }
}

#[test]
fn the_fast_path_agrees_with_the_engine_on_random_expressions() {
    let vars = json!({
        "state": {"status": "open", "balance": 50, "overdraft": 100, "owner": "ann",
                  "flag": true, "name": null, "nested": {"amount": 3}, "list": [1, 2]},
        "command": {"amount": 30, "owner": "bob", "big": 9223372036854775807u64},
        "event": {"amount": -7, "status": "x"},
    });
    let vars = vars.as_object().unwrap().clone();
    let answered = std::sync::atomic::AtomicUsize::new(0);
    bolero::check!()
        .with_test_time(std::time::Duration::from_secs(
            std::env::var("AETHER_FUZZ_SECS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(2),
        ))
        .for_each(|picks: &[u8]| {
            let source = generate(&mut picks.iter().copied(), 0);
            if agree(&source, &vars) {
                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    let answered = answered.into_inner();
    assert!(
        answered > 100,
        "the fast path answered only {answered} random expressions"
    );
    eprintln!("the fast path answered {answered} random expressions, all as the engine");
}

#[test]
fn a_field_of_a_small_and_of_a_large_map_reads_as_the_engine_reads_it() {
    let small = json!({"status": "open", "balance": 5, "owner": "ann"});
    let large: serde_json::Map<String, Json> =
        (0..20).map(|i| (format!("k{i:02}"), json!(i))).collect();
    let vars = json!({"state": small, "event": large});
    let vars = vars.as_object().unwrap();
    all_fast(
        &[
            "state.status",
            "state.balance + 1",
            "has(state.owner)",
            "has(state.missing)",
            "event.k00",
            "event.k13 * 2",
            "has(event.k19)",
            "has(event.k20)",
        ],
        vars,
    );
    assert!(
        !agree("state.missing", vars),
        "a missing key is the engine's to report"
    );
    assert!(
        !agree("event.k20", vars),
        "a missing key is the engine's to report"
    );
}

//! Fuzz targets: compiling, checking and running models never panics, on
//! any expression, any command bytes, any event data, any document.
//!
//! `cargo test -p aether-model --test fuzz` runs each target on random
//! inputs for `AETHER_FUZZ_SECS` seconds (default 1; bolero's test engine;
//! part of the normal test run). The same targets run coverage-guided with
//! `cargo bolero test -p aether-model --test fuzz <target>` (needs
//! `cargo install cargo-bolero` and a nightly toolchain).

use aether_model::{CompiledModel, Meta, Model, check, eval_expression};
use bolero::check;
use serde_json::json;
use std::sync::OnceLock;
use std::time::Duration;

fn budget() -> Duration {
    let secs = std::env::var("AETHER_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    Duration::from_secs(secs)
}

const YAML: &str = include_str!("../models/account.yaml");

fn account() -> &'static CompiledModel {
    static M: OnceLock<CompiledModel> = OnceLock::new();
    M.get_or_init(|| {
        check(&Model::from_yaml(YAML).unwrap())
            .unwrap()
            .with_strict(true)
    })
}

/// Pieces of CEL (and of broken CEL) that random bytes pick and join.
const TOKENS: &[&str] = &[
    "state",
    "command",
    "event",
    "meta",
    "actor",
    "model",
    ".",
    "balance",
    "amount",
    "owner",
    "status",
    "overdraft",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    ">=",
    "&&",
    "||",
    "!",
    "?",
    ":",
    ",",
    "'a'",
    "\"b\"",
    "'",
    "\"",
    "\\",
    "1",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615u",
    "1.5",
    "1e308",
    "null",
    "true",
    "false",
    "has(",
    "size(",
    "int(",
    "uint(",
    "double(",
    "string(",
    "bytes(",
    "timestamp('2026-01-01T00:00:00Z')",
    "duration('1h')",
    "timestamp(",
    "duration(",
    ".all(x,",
    ".exists(x,",
    ".exists_one(x,",
    ".map(x,",
    ".filter(x,",
    "x",
    "y",
    "in",
    "[1, 2]",
    "{'k': 1}",
    ".matches('a.*')",
    ".startsWith('a')",
    ".size()",
    "r'\\d'",
    "'''",
    "\n",
    " ",
    ".?",
    "[?",
    "cel.bind(v, 1, v)",
    "dyn(",
    "type(",
    "b'x'",
    "0x7f",
    ".getHours()",
    "'\\u00e9'",
    "?:",
    "now()",
    "@x",
];

fn soup(picks: &[u8]) -> String {
    picks
        .iter()
        .map(|b| TOKENS[*b as usize % TOKENS.len()])
        .collect::<Vec<_>>()
        .join("")
}

/// Any expression compiles or not, and evaluates or not, without panicking.
#[test]
fn any_expression_compiles_and_evaluates_without_panicking() {
    let vars = json!({
        "state": {"status": "open", "balance": 50, "overdraft": 100, "owner": "ann", "items": [1, 2, 3]},
        "command": {"amount": 30, "items": [{"qty": 1}]},
        "event": {"amount": 7},
        "actor": {"id": "account-1", "type": "account"},
        "meta": {"command_id": "c-1", "time": "2026-01-01T00:00:00Z"},
        "model": {"name": "account", "version": 3},
    });
    let vars = vars.as_object().unwrap().clone();
    check!().with_test_time(budget()).for_each(|picks: &[u8]| {
        let _ = eval_expression(&soup(picks), &vars);
        if let Ok(text) = std::str::from_utf8(picks) {
            let _ = eval_expression(text, &vars);
        }
    });
}

/// Any expression put in a model (as a guard, an emit's data, a fold, a
/// query) is checked without panicking; if the model checks, its examples
/// and a few commands run without panicking.
#[test]
fn any_expression_in_a_model_checks_and_runs_without_panicking() {
    let base = Model::from_yaml(YAML).unwrap();
    check!().with_test_time(budget()).for_each(|picks: &[u8]| {
        let Some((&slot, rest)) = picks.split_first() else {
            return;
        };
        let e = soup(rest);
        let mut m = base.clone();
        match slot % 5 {
            0 => m.commands.get_mut("Withdraw").unwrap().guards[1].when = e,
            1 => m.commands.get_mut("Withdraw").unwrap().emit[1].data = Some(e),
            2 => m.commands.get_mut("Open").unwrap().guards[0].message = Some(e),
            3 => {
                let mut fold = m
                    .events
                    .get_mut("Deposited")
                    .unwrap()
                    .evolve
                    .clone()
                    .unwrap_or_default();
                fold.insert("balance", e);
                m.events.get_mut("Deposited").unwrap().evolve = Some(fold);
            }
            _ => m.queries.insert("Q", e),
        }
        if let Ok(compiled) = check(&m) {
            let compiled = compiled.with_strict(true);
            let _ = compiled.run_examples();
            run_commands(&compiled);
            let _ = compiled.query("Q", &compiled.initial_state());
        }
    });
}

fn run_commands(model: &CompiledModel) {
    let meta = Meta {
        actor_id: "account-1",
        ..Meta::default()
    };
    let mut state = model.initial_state();
    for wire in [
        &br#"{"Open": {"owner": "ann", "overdraft": 100}}"#[..],
        br#"{"Deposit": {"amount": 50}}"#,
        br#"{"Withdraw": {"amount": 120}}"#,
        br#"{"Withdraw": {"amount": 1000000000}}"#,
        br#"{"Close": {}}"#,
    ] {
        if let Ok(d) = model.decide_wire(&state, wire, &meta) {
            for e in &d.events {
                let mut s = state.clone();
                let _ = model.evolve_json(&mut s, &e.event_type, e.data.as_str().as_bytes());
            }
            state = d.state;
        }
    }
}

/// Any command bytes give events, a rejection, a bad request or a fault.
#[test]
fn any_command_bytes_decide_without_panicking() {
    let model = std::panic::AssertUnwindSafe(account());
    let meta = Meta {
        actor_id: "account-1",
        ..Meta::default()
    };
    let open = model
        .decide_wire(
            &model.initial_state(),
            br#"{"Open": {"owner": "ann"}}"#,
            &meta,
        )
        .unwrap()
        .state;
    let open = std::panic::AssertUnwindSafe(open);
    check!().with_test_time(budget()).for_each(|bytes: &[u8]| {
        let _ = model.decide_wire(&model.initial_state(), bytes, &meta);
        let _ = model.decide_wire(&open, bytes, &meta);
        if let Some((&k, rest)) = bytes.split_first() {
            let name = ["Open", "Deposit", "Withdraw", "Close"][k as usize % 4];
            let body = format!("{{\"{name}\": {}}}", String::from_utf8_lossy(rest));
            let _ = model.decide_wire(&open, body.as_bytes(), &meta);
        }
    });
}

/// Any event data folds or gives an error; upcasting too.
#[test]
fn any_event_data_folds_or_fails_without_panicking() {
    let model = std::panic::AssertUnwindSafe(account());
    check!().with_test_time(budget()).for_each(|bytes: &[u8]| {
        let Some((&k, data)) = bytes.split_first() else {
            return;
        };
        let t = [
            "Opened",
            "Deposited",
            "Withdrawn",
            "Overdrawn",
            "Closed",
            "Nope",
        ][k as usize % 6];
        let mut state = model.initial_state();
        let _ = model.evolve_json(&mut state, t, data);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
            let _ = model.evolve(&mut state, t, &v);
            let _ = model.upcast(t, u32::from(k % 4), &v);
        }
    });
}

/// Any document reads as a model or gives an error; any model checks or
/// gives errors.
#[test]
fn any_document_loads_and_checks_without_panicking() {
    check!().with_test_time(budget()).for_each(|bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        for m in [Model::from_yaml(&text), Model::from_json(&text)]
            .into_iter()
            .flatten()
        {
            let _ = check(&m);
        }
        // Cut the account's YAML at a random place.
        if let Some((&a, _)) = bytes.split_first() {
            let cut = (a as usize * YAML.len() / 256).min(YAML.len());
            if YAML.is_char_boundary(cut)
                && let Ok(m) = Model::from_yaml(&YAML[..cut])
            {
                let _ = check(&m);
            }
        }
    });
}

//! The model `Account` (models/account.yaml) against the typed `Account`
//! (tests/support/typed_account.rs), same run, same rules:
//!
//! - T1: decide + fold per command, from command JSON bytes to stored-event
//!   JSON text (targets: ≤ 5 µs per command and ≤ 10× typed);
//! - T2: replay fold of 10,000 events decoded from JSON (target ≤ 1 µs per
//!   event).
//!
//! `cargo bench -p aether-model --bench model -- [iterations]` (default
//! 20,000 commands; 10,000 events for T2). Prints ns per operation
//! (median of 5 rounds) and the model/typed ratios. With
//! `MODEL_BENCH_EVICT_KIB=<n>` it also times single deposits with cold
//! caches (`n` KiB written over before each call, outside the timed part):
//! the model's schema check alone, its whole decision, and the typed
//! account's.

#[path = "../tests/support/typed_account.rs"]
mod typed_account;

use aether_model::{CompiledModel, Meta, Model, check};
use std::hint::black_box;
use std::time::Instant;
use typed_account::{Account, Event};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// ns per operation: 5 rounds of `n` operations, the median.
fn measure(n: usize, mut round: impl FnMut(usize)) -> f64 {
    round(n / 10 + 1); // warm up
    let rounds = (0..5)
        .map(|_| {
            let t = Instant::now();
            round(n);
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    median(rounds)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let yaml = include_str!("../models/account.yaml");
    let t = Instant::now();
    let model: CompiledModel = check(&Model::from_yaml(yaml).unwrap()).unwrap();
    let compile = t.elapsed();
    println!("model compile (YAML → checked, T5 ≤ 10 ms): {compile:?}");

    let meta = Meta {
        actor_id: "account-1",
        command_id: Some("c-1"),
        ..Meta::default()
    };
    let open = br#"{"Open": {"owner": "ann", "overdraft": 100}}"#;
    let deposit = br#"{"Deposit": {"amount": 50}}"#;
    let withdraw = br#"{"Withdraw": {"amount": 30}}"#;
    let overdraw = br#"{"Withdraw": {"amount": 80}}"#;

    // T1, one event per command: Deposit 50, Withdraw 30, ... (balance grows).
    let cycle: [&[u8]; 2] = [deposit, withdraw];
    let model_t1 = measure(n, |k| {
        let mut state = model
            .decide_wire(&model.initial_state(), open, &meta)
            .unwrap()
            .state;
        for i in 0..k {
            let d = model.decide_wire(&state, cycle[i % 2], &meta).unwrap();
            black_box(&d.events);
            state = d.state;
        }
    });
    let typed_t1 = measure(n, |k| {
        let mut account = Account::default();
        account.execute(open).unwrap();
        for i in 0..k {
            black_box(account.execute(cycle[i % 2]).unwrap());
        }
    });
    // T1b, Withdraw 80 from 50 with overdraft: two events (Withdrawn, Overdrawn).
    let model_t1b = measure(n, |k| {
        let state = model
            .decide_wire(&model.initial_state(), open, &meta)
            .unwrap()
            .state;
        let state = model.decide_wire(&state, deposit, &meta).unwrap().state;
        for _ in 0..k {
            black_box(model.decide_wire(&state, overdraw, &meta).unwrap());
        }
    });
    let typed_t1b = measure(n, |k| {
        let mut account = Account::default();
        account.execute(open).unwrap();
        account.execute(deposit).unwrap();
        for _ in 0..k {
            let mut a = account.clone();
            black_box(a.execute(overdraw).unwrap());
        }
    });
    // T1c, a rejection (insufficient funds): guards and message only.
    let reject = br#"{"Withdraw": {"amount": 1000}}"#;
    let model_t1c = measure(n, |k| {
        let state = model
            .decide_wire(&model.initial_state(), open, &meta)
            .unwrap()
            .state;
        for _ in 0..k {
            black_box(model.decide_wire(&state, reject, &meta).unwrap_err());
        }
    });

    // T2: 10,000 events as stored JSON.
    let mut events: Vec<(&str, Vec<u8>)> =
        vec![("Opened", br#"{"owner":"ann","overdraft":100}"#.to_vec())];
    for i in 0..9_999 {
        events.push(if i % 2 == 0 {
            ("Deposited", br#"{"amount":50}"#.to_vec())
        } else {
            ("Withdrawn", br#"{"amount":30}"#.to_vec())
        });
    }
    let m = events.len();
    let model_t2 = measure(m, |k| {
        let mut state = model.initial_state();
        for (t, d) in events.iter().cycle().take(k) {
            if *t == "Opened" && k > m {
                continue;
            }
            model.evolve_json(&mut state, t, d).unwrap();
        }
        black_box(state);
    });
    let typed_t2 = measure(m, |k| {
        let mut account = Account::default();
        for (t, d) in events.iter().cycle().take(k) {
            account.apply(&Event::from_parts(t, d).unwrap());
        }
        black_box(account);
    });

    println!(
        "{:<58} {:>10} {:>10} {:>7}",
        "scenario", "model ns", "typed ns", "ratio"
    );
    let row = |name: &str, model: f64, typed: Option<f64>| match typed {
        Some(t) => println!("{name:<58} {model:>10.0} {t:>10.0} {:>6.1}×", model / t),
        None => println!("{name:<58} {model:>10.0} {:>10} {:>7}", "-", "-"),
    };
    row(
        "T1 decide+fold, Deposit/Withdraw (1 event), per command",
        model_t1,
        Some(typed_t1),
    );
    row(
        "T1 decide+fold, Withdraw into overdraft (2 events)",
        model_t1b,
        Some(typed_t1b),
    );
    row(
        "T1 rejection (insufficient_funds, message)",
        model_t1c,
        None,
    );
    row(
        "T2 replay fold from JSON, per event",
        model_t2,
        Some(typed_t2),
    );
    let evict_kib: usize = std::env::var("MODEL_BENCH_EVICT_KIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if evict_kib > 0 {
        cold(&model, &meta, open, deposit, evict_kib);
    }
    println!(
        "targets: T1 ≤ 5000 ns and ≤ 10× typed: {}; T2 ≤ 1000 ns/event: {}",
        if model_t1 <= 5000.0 && model_t1 / typed_t1 <= 10.0 {
            "met"
        } else {
            "NOT met"
        },
        if model_t2 <= 1000.0 { "met" } else { "NOT met" },
    );
}

/// One deposit at a time with cold caches: `kib` KiB written over before
/// each call (outside the timed part), p50 of 3,000 calls of each.
fn cold(model: &CompiledModel, meta: &Meta<'_>, open: &[u8], deposit: &[u8], kib: usize) {
    const CALLS: usize = 3_000;
    let mut evict = vec![0u8; kib << 10];
    let mut timed = |i: usize, f: &mut dyn FnMut()| {
        for (j, b) in evict.iter_mut().enumerate().step_by(64) {
            *b = b.wrapping_add((i + j) as u8);
        }
        black_box(&evict);
        let t = Instant::now();
        f();
        t.elapsed().as_nanos() as f64
    };
    let body = serde_json::json!({"amount": 50});
    let state = model
        .decide_wire(&model.initial_state(), open, meta)
        .unwrap()
        .state;
    let mut account = Account::default();
    account.execute(open).unwrap();
    let (mut check, mut decide, mut typed) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..CALLS {
        check.push(timed(i, &mut || {
            black_box(model.check_command("Deposit", &body)).unwrap();
        }));
        decide.push(timed(i, &mut || {
            black_box(model.decide_wire(&state, deposit, meta)).unwrap();
        }));
        typed.push(timed(i, &mut || {
            black_box(account.clone().execute(deposit)).unwrap();
        }));
    }
    let (c, d, t) = (median(check), median(decide), median(typed));
    println!(
        "cold caches ({kib} KiB written over before each call), p50: model schema check {c:.0} ns, model decide (parse, check, decide, fold) {d:.0} ns, typed execute {t:.0} ns: {:.1}×",
        d / t
    );
}

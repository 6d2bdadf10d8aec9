//! Scenario 5, memory after 10,000 actors × 4 events: each side in a fresh
//! child process of this binary (`--mode rss <side> <actors> <events>`),
//! which prints its RSS after its system started (the baseline) and after
//! the actors took their events.

use std::sync::Arc;
use std::time::Duration;

use aether_store_memory::InMemoryEventStore;

use crate::ledger::raw::RawLedger;
use crate::memory::{
    aether_deposit, aether_id, aether_system, coerce_deposit, coerce_memory, coerce_spawn,
    coerce_system,
};
use crate::probe::rss_bytes;
use crate::report::{AETHER, COERCE, Table};
use crate::{Bench, callers, rotated, slice};

const RAW: &str = "raw";
const EVENTS: usize = 4;
const CALLERS: usize = 256;

/// The child: `args` = side, actors, events per actor.
pub async fn child(args: &[String]) {
    let side = args.get(1).map(String::as_str).unwrap_or("");
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let events: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(EVENTS);
    let settle = || tokio::time::sleep(Duration::from_millis(200));
    match side {
        "aether" => {
            let system = aether_system(InMemoryEventStore::new()).await;
            settle().await;
            let base = rss_bytes();
            callers(CALLERS, |k| {
                let system = system.clone();
                async move {
                    for i in slice(k, CALLERS, n) {
                        let r = system
                            .get::<crate::ledger::aether::Ledger>(aether_id(&format!("m{i}")))
                            .expect("registered");
                        for _ in 0..events {
                            aether_deposit(&r).await;
                        }
                    }
                }
            })
            .await;
            settle().await;
            assert_eq!(system.active_actors(), n);
            println!("rss {base} {}", rss_bytes());
        }
        "coerce" => {
            let csys = coerce_system(&coerce_memory());
            settle().await;
            let base = rss_bytes();
            let refs = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n)));
            callers(CALLERS, |k| {
                let (csys, refs) = (csys.clone(), refs.clone());
                async move {
                    for i in slice(k, CALLERS, n) {
                        let r = coerce_spawn(&csys, format!("ledger-m{i}")).await;
                        for _ in 0..events {
                            coerce_deposit(&r).await;
                        }
                        refs.lock().expect("not poisoned").push(r);
                    }
                }
            })
            .await;
            settle().await;
            println!("rss {base} {}", rss_bytes());
        }
        "raw" => {
            settle().await;
            let base = rss_bytes();
            let refs = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n)));
            callers(CALLERS, |k| {
                let refs = refs.clone();
                async move {
                    for _ in slice(k, CALLERS, n) {
                        let l = RawLedger::spawn();
                        for _ in 0..events {
                            l.deposit(1).await;
                        }
                        refs.lock().expect("not poisoned").push(l);
                    }
                }
            })
            .await;
            settle().await;
            println!("rss {base} {}", rss_bytes());
        }
        other => {
            eprintln!("--mode rss: unknown side {other:?} (aether, coerce or raw)");
            std::process::exit(2);
        }
    }
}

/// Runs one child and parses its figures: (baseline, after), in bytes.
async fn run_child(side: &str, n: usize) -> (u64, u64) {
    let exe = std::env::current_exe().expect("this binary's path");
    let out = tokio::process::Command::new(exe)
        .args(["--mode", "rss", side, &n.to_string(), &EVENTS.to_string()])
        .output()
        .await
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rss "))
        .unwrap_or_else(|| {
            panic!(
                "the {side} child printed no figures ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let mut it = line
        .split_whitespace()
        .map(|v| v.parse::<u64>().expect("a number"));
    (it.next().expect("baseline"), it.next().expect("after"))
}

pub async fn scenario(b: &mut Bench) {
    let n = b.sizes.actors;
    let mut t = Table::new(
        format!(
            "5. memory after {n} actors × {EVENTS} events, memory store, each side in a fresh child process"
        ),
        &["RSS MiB", "bytes/actor"],
    );
    t.note("bytes/actor: RSS over the baseline per actor; baseline: the child's RSS after its system started; raw: a task of scenario 1 per actor, holding its 4 encoded events");
    for round in 0..b.rounds {
        for side in rotated(&[AETHER, COERCE, RAW], round) {
            let (base, after) = run_child(&side.to_lowercase(), n).await;
            t.add(side, "RSS MiB", after as f64 / (1024.0 * 1024.0));
            t.add(
                side,
                "bytes/actor",
                after.saturating_sub(base) as f64 / n as f64,
            );
            t.add(side, "baseline MiB", base as f64 / (1024.0 * 1024.0));
        }
    }
    t.print();
    b.memory_rows.push(t.summary(
        &format!("memory after {n} actors × {EVENTS} events (RSS)"),
        "RSS MiB",
        &[RAW],
    ));
    b.memory_rows.push(t.summary(
        "  the same, bytes per actor over the process's baseline",
        "bytes/actor",
        &[RAW],
    ));
}

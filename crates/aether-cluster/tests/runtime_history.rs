//! The runtime's promises checked by the test kit's history checker over a
//! recorded history and the log, on a real nats-server with faults: lost
//! acks, failed appends, idle passivation racing the traffic, and a server
//! kill and restart in the middle. Callers retry with the same command id
//! until they get a final answer, as users are told to.
//!
//! Checked (`aether_testkit::history::check`): every `Ok` is in the log
//! exactly once and ends at the answered version; no command id applied
//! twice; versions gapless; real-time order; a command answered "not
//! applied" has no events. And, at the end: every command got `Ok`.

mod runtime_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aether_cluster::runtime::{ActorConfig, ActorSystem, AskError, Passivation, RuntimeConfig};
use aether_core::{CommandId, EventStore};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::fixtures::{Counter, Value};
use aether_testkit::history::{History, Outcome, check};
use aether_testkit::{FaultyStore, NatsServer};
use runtime_support::*;

const ACTORS: usize = 6;
const CALLERS_PER_ACTOR: usize = 3;
const COMMANDS_PER_CALLER: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_run_checks_clean_against_the_log() {
    let server = NatsServer::start().await;
    let config = JetStreamConfig {
        stream_name: "RTH".into(),
        namespace: "rth".into(),
        ..JetStreamConfig::default()
    };
    let events = JetStreamEventStore::connect(server.url().as_str(), config)
        .await
        .unwrap();
    let snaps = events.open_snapshot_store().await.unwrap();
    let store = FaultyStore::new(events.clone());
    let sys = ActorSystem::builder()
        .events(store.clone())
        .snapshots(snaps)
        .register::<Counter>(ActorConfig {
            passivation: Passivation {
                idle: Duration::from_millis(15),
                snapshot_after: 3,
            },
            ..ActorConfig::default()
        })
        .config(RuntimeConfig::default())
        .start()
        .await
        .unwrap();
    let ids: Vec<_> = (0..ACTORS).map(|_| fresh::<Counter>()).collect();
    let history = Arc::new(History::new());

    let mut callers = Vec::new();
    for (a, id) in ids.iter().enumerate() {
        for k in 0..CALLERS_PER_ACTOR {
            let c = actor::<Counter>(&sys, id);
            let history = history.clone();
            callers.push(tokio::spawn(async move {
                for n in 0..COMMANDS_PER_CALLER {
                    let cmd = format!("a{a}-c{k}-n{n}");
                    let command_id = CommandId::new(cmd.as_str()).unwrap();
                    // Retry with the same id until a final answer.
                    for attempt in 0.. {
                        assert!(attempt < 200, "{cmd}: no final answer after 200 tries");
                        let t = history.issue(&cmd, c.id());
                        let r = c
                            .ask(1)
                            .command_id(command_id.clone())
                            .deadline(Duration::from_secs(2))
                            .await;
                        let outcome = match &r {
                            Ok(o) => Outcome::Ok { version: o.version },
                            Err(AskError::Rejected(_)) => Outcome::Rejected,
                            Err(e) if e.may_have_applied() => Outcome::Unknown,
                            Err(_) => Outcome::NotApplied,
                        };
                        history.answer(t, outcome, None);
                        match r {
                            Ok(_) => {
                                // Paced, so the faults below land mid-run.
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                break;
                            }
                            Err(e) if e.is_rejected() => panic!("{cmd}: rejected: {e}"),
                            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                        }
                    }
                }
            }));
        }
    }

    // Faults while the callers run.
    for round in 0..12 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        match round % 3 {
            0 => {
                store.lose_next_acks(2);
            }
            1 => {
                store.fail_next_appends(2);
            }
            _ => {}
        }
        if round == 3 {
            server.kill();
            tokio::time::sleep(Duration::from_millis(300)).await;
            server.restart().await;
        }
    }
    store.heal();
    for c in callers {
        c.await.unwrap();
    }

    let mut logs = HashMap::new();
    for id in &ids {
        logs.insert(id.clone(), events.read(id, 1).await.unwrap());
    }
    let report = check(&history.ops(), &logs);
    eprintln!("{report}");
    assert!(report.is_clean(), "{report}");
    assert!(store.appends() > 0);
    let total = ACTORS * CALLERS_PER_ACTOR * COMMANDS_PER_CALLER;
    assert_eq!(report.ok, total, "every command ends Ok: {report}");
    assert_eq!(report.events, total, "one event per command: {report}");
    assert!(report.sends > total, "the faults caused retries: {report}");
    for id in &ids {
        let value = actor::<Counter>(&sys, id).query(Value).await.unwrap();
        assert_eq!(value, (CALLERS_PER_ACTOR * COMMANDS_PER_CALLER) as u64);
    }
    sys.shutdown().await.unwrap();
}

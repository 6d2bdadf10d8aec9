//! What the runtime answers over the in-memory store, with faults injected
//! (`FaultyStore`): exactly-once effects per command id (in one turn, across
//! passivation and a restart), deadlines, overload, lost acks, failed appends
//! and loads. Every ask ends in `Ok`, `Rejected`, a command handed back, or
//! `Timeout` with its id.

mod runtime_support;

use std::time::{Duration, Instant};

use aether_cluster::runtime::{
    ActorConfig, AskError, Passivation, RuntimeConfig, RuntimeErrorKind,
};
use aether_core::aggregate::CommandEnvelope;
use aether_core::{CommandId, EventStore, SnapshotStore};
use aether_store_memory::InMemorySnapshotStore;
use aether_testkit::eventually;
use aether_testkit::fixtures::{Counter, Value};
use runtime_support::*;

fn cid(s: &str) -> CommandId {
    CommandId::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_command_id_returns_the_recorded_outcome_across_passivation_and_restart() {
    let s = store();
    let snaps = InMemorySnapshotStore::new();
    let config = ActorConfig {
        passivation: Passivation {
            idle: Duration::from_millis(30),
            snapshot_after: 1,
        },
        ..ActorConfig::default()
    };
    let sys =
        system::<Counter, _>(&s, Some(&snaps), RuntimeConfig::default(), config.clone()).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    let first = c.ask(7).command_id(cid("pay-1")).await.unwrap();
    c.ask(1).await.unwrap();
    // Same id, same actor: not decided again.
    let again = c.ask(7).command_id(cid("pay-1")).await.unwrap();
    assert!(again.deduplicated);
    assert_eq!(
        (again.version, again.events.clone()),
        (first.version, first.events.clone())
    );
    // After passivation (the window lives in the snapshot envelope).
    eventually("passivated", Duration::from_secs(5), async || {
        !c.is_active()
    })
    .await;
    assert!(snaps.latest_snapshot(&id).await.unwrap().is_some());
    assert!(
        c.ask(7)
            .command_id(cid("pay-1"))
            .await
            .unwrap()
            .deduplicated
    );
    // After a restart on the same stores, and without snapshots (rebuilt from
    // the events' causation ids).
    sys.shutdown().await.unwrap();
    for snapshots in [Some(&snaps), None] {
        let sys2 =
            system::<Counter, _>(&s, snapshots, RuntimeConfig::default(), config.clone()).await;
        let c2 = actor::<Counter>(&sys2, &id);
        let replay = c2.ask(7).command_id(cid("pay-1")).await.unwrap();
        assert!(replay.deduplicated);
        assert_eq!(replay.events, first.events);
        assert_eq!(c2.query(Value).await.unwrap(), 8, "applied once");
        sys2.shutdown().await.unwrap();
    }
    assert_eq!(s.inner().read(&id, 1).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_id_twice_in_one_turn_is_applied_once() {
    let (s, _sys, _id, c) = counter().await;
    c.ask(1).await.unwrap();
    let stall = s.stall_appends().unwrap();
    let blocker = tokio::spawn({
        let c = c.clone();
        async move { c.ask(1).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let twice: Vec<_> = (0..2)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.ask(5).command_id(cid("dup")).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(stall);
    blocker.await.unwrap().unwrap();
    let mut outcomes = Vec::new();
    for t in twice {
        outcomes.push(t.await.unwrap().unwrap());
    }
    assert_eq!(outcomes[0].version, outcomes[1].version);
    assert_eq!(outcomes.iter().filter(|o| o.deduplicated).count(), 1);
    assert_eq!(c.query(Value).await.unwrap(), 7);
}

#[tokio::test]
async fn rejected_commands_are_not_remembered() {
    let (_s, _sys, _, c) = counter().await;
    assert!(
        c.ask(0)
            .command_id(cid("z"))
            .await
            .unwrap_err()
            .is_rejected()
    );
    // The same id with a valid command is decided (the first attempt had no effect).
    assert_eq!(c.ask(3).command_id(cid("z")).await.unwrap().version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ask_waits_past_its_deadline() {
    let s = store();
    let _hung = s.stall_appends().unwrap();
    let sys =
        system::<Counter, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let c = actor::<Counter>(&sys, &fresh::<Counter>());
    let asks: Vec<_> = (0..20)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let r = c.ask(1).deadline(Duration::from_millis(100)).await;
                (r, started.elapsed())
            })
        })
        .collect();
    for a in asks {
        let (r, took) = a.await.unwrap();
        match r {
            Err(AskError::Timeout { command_id }) => assert_eq!(command_id.as_str().len(), 36),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(took < Duration::from_millis(200), "took {took:?}");
    }
    // A query waits no longer either. (The turns above were cut short when
    // their callers gave up, so it may be answered from the log: the
    // stalled appends never landed.)
    let started = Instant::now();
    match c.query(Value).deadline(Duration::from_millis(50)).await {
        Ok(v) => assert_eq!(v, 0, "nothing was applied"),
        Err(e) => assert_eq!(e.kind(), RuntimeErrorKind::Timeout),
    }
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_hands_commands_back_and_loses_none() {
    let s = store();
    s.delay_appends(Duration::from_millis(1));
    let config = ActorConfig {
        mailbox: 16,
        ..ActorConfig::default()
    };
    let sys = system::<Counter, _>(&s, None, RuntimeConfig::default(), config).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    let asks: Vec<_> = (1..=1000u64)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                (
                    i,
                    c.ask(CommandEnvelope::new(1u64).with_command_id(cid(&format!("c{i}"))))
                        .await,
                )
            })
        })
        .collect();
    let (mut ok, mut overloaded) = (Vec::new(), 0);
    for a in asks {
        let (i, r) = a.await.unwrap();
        match r {
            Ok(o) => ok.push(o.command_id),
            Err(AskError::Overloaded { command, .. }) => {
                assert_eq!(
                    command.command_id.as_str(),
                    format!("c{i}"),
                    "its own command back"
                );
                overloaded += 1;
            }
            Err(other) => panic!("ask {i}: {other:?}"),
        }
    }
    assert_eq!(ok.len() + overloaded, 1000);
    assert!(overloaded > 0, "the mailbox of 16 did fill up");
    let stored = s.inner().read(&id, 1).await.unwrap();
    assert_eq!(stored.len(), ok.len(), "every Ok stored, nothing else");
    for cmd in &ok {
        assert_eq!(
            stored
                .iter()
                .filter(|e| e.metadata.causation_id() == Some(cmd.as_str()))
                .count(),
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ack_is_a_timeout_and_the_retry_finds_the_command_applied() {
    let (s, _sys, id, c) = counter().await;
    c.ask(1).await.unwrap();
    s.lose_next_acks(1);
    let err = c.ask(5).command_id(cid("lost")).await.unwrap_err();
    assert!(err.may_have_applied(), "{err}");
    assert_eq!(err.command_id().map(CommandId::as_str), Some("lost"));
    let retry = c.ask(5).command_id(cid("lost")).await.unwrap();
    assert!(retry.deduplicated, "found in the log, not applied twice");
    assert_eq!(c.query(Value).await.unwrap(), 6);
    assert_eq!(s.inner().read(&id, 1).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_appends_and_loads_hand_the_command_back() {
    let (s, sys, _id, c) = counter().await;
    c.ask(1).await.unwrap();
    // A store that refuses (stores nothing, not transient).
    s.break_appends();
    match c.ask(5).await {
        Err(AskError::Unavailable { command, cause }) => {
            assert_eq!(command.command, 5);
            assert!(!cause.is_transient(), "{cause}");
        }
        other => panic!("{other:?}"),
    }
    s.heal();
    assert_eq!(c.ask(2).await.unwrap().version, 2, "reloaded, nothing lost");
    // A load that fails: the queued commands come back, the next one loads again.
    let other = actor::<Counter>(&sys, &fresh::<Counter>());
    s.fail_next_reads(1);
    match other.ask(9).await {
        Err(AskError::Unavailable { command, .. }) => assert_eq!(command.command, 9),
        r => panic!("{r:?}"),
    }
    assert_eq!(other.ask(9).await.unwrap().version, 1);
    assert_eq!(c.query(Value).await.unwrap(), 3);
}

/// A caller that found the actor at rest runs its turn itself; if it gives
/// up mid-turn (its deadline, or its task cancelled) the turn is cut short:
/// its outcome is unknown to it, the commands queued behind it are run by a
/// task, and the actor reloads from the log before its next turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_cut_short_mid_turn_leaves_the_actor_to_the_next_and_loses_nothing() {
    let s = store();
    let sys =
        system::<Counter, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    c.ask(1).await.unwrap();
    let stall = s.stall_appends().unwrap();
    // The first caller runs the turn itself and is stuck in its append.
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.ask(10).command_id(cid("cut")).await }
    });
    // Others queue behind it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let queued: Vec<_> = (0..5)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.ask(100).command_id(cid(&format!("q{i}"))).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    drop(stall);
    for q in queued {
        q.await
            .unwrap()
            .expect("run by the task the cut-short runner left them to");
    }
    // The cut-short command never reached the store (the stall held it):
    // a retry with its id decides it once.
    let retried = c.ask(10).command_id(cid("cut")).await.unwrap();
    assert!(!retried.deduplicated);
    assert_eq!(c.query(Value).await.unwrap(), 1 + 500 + 10);
    assert_eq!(s.read(&id, 1).await.unwrap().len(), 7);
    sys.shutdown().await.unwrap();
}

//! The runtime on one node over the in-memory store: ask, tell and query;
//! FIFO per actor; group commit (one append for many commands, a rejected
//! command among accepted ones); conflicts from an outside writer; bad
//! input.

mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use aether_cluster::runtime::{
    ActorConfig, AskError, GroupCommit, RuntimeConfig, RuntimeErrorKind,
};
use aether_core::{ActorId, Event, EventStore, json};
use aether_testkit::eventually;
use aether_testkit::fixtures::{
    Account, AccountError, AccountEvent, Balance, Counter, CounterEvent, Value, deposit, open,
    withdraw,
};
use runtime_support::*;

#[tokio::test]
async fn ask_tell_and_query_go_through_the_mailbox_in_order() {
    let s = store();
    let sys =
        system::<Account, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let id = fresh::<Account>();
    let ada = actor::<Account>(&sys, &id);
    let opened = ada.ask(open("Ada")).await.unwrap();
    assert_eq!((opened.version, opened.events.len()), (1, 1));
    assert!(!opened.deduplicated);
    assert_eq!(
        opened.events[0].event,
        AccountEvent::Opened {
            owner: "Ada".into()
        }
    );
    // Tells and a query right behind them: the query sees their effects.
    for _ in 0..5 {
        ada.tell(deposit(10)).await.unwrap();
    }
    assert_eq!(ada.query(Balance).await.unwrap(), 50);
    let rejected = ada.ask(withdraw(51)).await.unwrap_err();
    assert!(matches!(
        rejected,
        AskError::Rejected(AccountError::InsufficientFunds {
            balance: 50,
            requested: 51
        })
    ));
    assert!(!rejected.may_have_applied());
    let w = ada.ask(withdraw(20)).await.unwrap();
    assert_eq!(w.version, 7);
    assert_eq!(ada.query(Balance).await.unwrap(), 30);
    assert_eq!(s.inner().read(&id, 1).await.unwrap().len(), 7);
    sys.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_turns_and_each_gets_its_own_outcome() {
    let s = store();
    // A slow store makes commands queue up behind each turn.
    s.delay_appends(Duration::from_millis(2));
    let sys =
        system::<Counter, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    let tasks: Vec<_> = (1..=200u64)
        .map(|by| {
            let c = c.clone();
            tokio::spawn(async move { (by, c.ask(by).await.unwrap()) })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        let (by, outcome) = t.await.unwrap();
        assert_eq!(outcome.events.len(), 1);
        assert_eq!(outcome.events[0].event, CounterEvent::Added { by });
        assert_eq!(outcome.events[0].version, outcome.version);
        versions.push(outcome.version);
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=200).collect::<Vec<_>>(),
        "one version each, no gaps"
    );
    assert_eq!(c.query(Value).await.unwrap(), (1..=200).sum::<u64>());
    assert!(
        s.appends() < 100,
        "200 commands took {} appends: turns did not group them",
        s.appends()
    );
    let stored = s.inner().read(&id, 1).await.unwrap();
    assert_eq!(stored.len(), 200);
    sys.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_command_among_accepted_ones_spoils_nothing() {
    let s = store();
    let stall = s.stall_appends().unwrap();
    let sys =
        system::<Account, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let id = fresh::<Account>();
    let a = actor::<Account>(&sys, &id);
    let opening = tokio::spawn({
        let a = a.clone();
        async move { a.ask(open("Ada")).await }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    // These queue behind the stalled first turn and are decided together
    // (sent one after another: spawned tasks may start in any order).
    let mut asks = Vec::new();
    for cmd in [
        deposit(10),
        withdraw(100),
        deposit(5),
        withdraw(0),
        deposit(1),
    ] {
        let a = a.clone();
        asks.push(tokio::spawn(async move { a.ask(cmd).await }));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(stall);
    opening.await.unwrap().unwrap();
    let results: Vec<_> = futures_join(asks).await;
    assert!(results[0].is_ok() && results[2].is_ok() && results[4].is_ok());
    assert!(matches!(
        results[1],
        Err(AskError::Rejected(AccountError::InsufficientFunds { .. }))
    ));
    assert!(matches!(
        results[3],
        Err(AskError::Rejected(AccountError::ZeroAmount))
    ));
    assert_eq!(
        s.appends(),
        2,
        "the open, then the four others' turn in one append"
    );
    assert_eq!(a.query(Balance).await.unwrap(), 16);
    let versions: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|o| o.version))
        .collect();
    assert_eq!(versions, [2, 3, 4], "in mailbox order");
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn group_commit_limits_split_turns() {
    let s = store();
    let stall = s.stall_appends().unwrap();
    let config = ActorConfig {
        group_commit: GroupCommit {
            max_commands: 3,
            ..GroupCommit::default()
        },
        ..ActorConfig::default()
    };
    let sys = system::<Counter, _>(&s, None, RuntimeConfig::default(), config).await;
    let c = actor::<Counter>(&sys, &fresh::<Counter>());
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.ask(1).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    for by in 2..=8 {
        c.tell(by).await.unwrap();
    }
    drop(stall);
    first.await.unwrap().unwrap();
    assert_eq!(c.query(Value).await.unwrap(), 36);
    // 1, then 2-4, 5-7, 8.
    assert_eq!(s.appends(), 4);
}

#[tokio::test]
async fn a_conflict_from_an_outside_writer_is_caught_up_never_blindly_retried() {
    let (s, _sys, id, c) = counter().await;
    c.ask(1).await.unwrap();
    // Another writer adds 100 right before each of our next two appends.
    s.interleave_writes(2, |actor: &ActorId, v| {
        Event::new(actor.clone(), v, "Added", json!({"by": 100}))
    });
    let done = c.ask(5).await.unwrap();
    assert_eq!(
        done.version, 4,
        "after the outside event at version 2 and 3"
    );
    assert_eq!(c.query(Value).await.unwrap(), 206);
    let stored = s.inner().read(&id, 1).await.unwrap();
    let ours: Vec<_> = stored
        .iter()
        .filter(|e| e.metadata.causation_id() == Some(done.command_id.as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "decided again on fresh state, stored once");
    assert_eq!(stored.len(), 4);
}

#[tokio::test]
async fn conflicts_that_keep_coming_fail_with_the_command_back() {
    let s = store();
    let config = ActorConfig {
        conflict_retries: 2,
        ..ActorConfig::default()
    };
    let sys = system::<Counter, _>(&s, None, RuntimeConfig::default(), config).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    c.ask(1).await.unwrap();
    s.interleave_writes(2, |actor: &ActorId, v| {
        Event::new(actor.clone(), v, "Added", json!({"by": 100}))
    });
    let err = c.ask(5).await.unwrap_err();
    assert!(!err.may_have_applied(), "{err}");
    assert_eq!(err.into_command().map(|cmd| cmd.command), Some(5));
    assert_eq!(
        c.query(Value).await.unwrap(),
        201,
        "it sees the outside events"
    );
}

#[tokio::test]
async fn ids_of_another_type_and_unregistered_types_are_refused() {
    let s = store();
    let sys =
        system::<Account, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let err = sys
        .get::<Account>(ActorId::new("ada").unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), RuntimeErrorKind::InvalidInput);
    assert!(err.to_string().contains("\"account\""), "{err}");
    assert!(
        sys.get::<Account>(ActorId::with_type("account", "ada").unwrap())
            .is_ok()
    );
    let err = sys.get::<Counter>(fresh::<Counter>()).unwrap_err();
    assert_eq!(err.kind(), RuntimeErrorKind::NotRegistered);
    // By key: an empty key names no actor.
    assert_eq!(
        sys.actor::<Account>("ada").unwrap().id().as_str(),
        "account-ada"
    );
    let err = sys.actor::<Account>("").unwrap_err();
    assert_eq!(err.kind(), RuntimeErrorKind::InvalidInput);
    assert!(err.to_string().contains("empty key"), "{err}");
}

#[tokio::test]
async fn a_system_needs_a_store_a_type_and_valid_settings() {
    use aether_cluster::runtime::ActorSystem;
    let err = ActorSystem::builder()
        .register::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RuntimeErrorKind::InvalidConfig);
    // No type yet: they can be defined while it runs.
    let empty = ActorSystem::builder()
        .events(store())
        .start()
        .await
        .unwrap();
    let err = empty.get::<Counter>(fresh::<Counter>()).unwrap_err();
    assert_eq!(err.kind(), RuntimeErrorKind::NotRegistered);
    empty.shutdown().await.unwrap();
    let err = ActorSystem::builder()
        .events(store())
        .register::<Counter>(ActorConfig::default())
        .register::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RuntimeErrorKind::NotRegistered);
    let err = ActorSystem::builder()
        .events(store())
        .register::<Counter>(ActorConfig {
            mailbox: 0,
            ..ActorConfig::default()
        })
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RuntimeErrorKind::InvalidConfig);
}

#[tokio::test]
async fn handles_are_cheap_send_sync_and_do_no_io() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<aether_cluster::runtime::ActorRef<Account>>();
    check::<aether_cluster::runtime::ActorSystem>();
    let s = store();
    let sys =
        system::<Account, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let refs: Vec<_> = (0..1000)
        .map(|_| actor::<Account>(&sys, &fresh::<Account>()))
        .collect();
    assert_eq!((s.reads(), s.appends(), sys.active_actors()), (0, 0, 0));
    let _ = Arc::new(refs);
}

#[tokio::test]
async fn timers_tell_later_and_can_be_cancelled() {
    let (_s, _sys, _, c) = counter().await;
    let fired = c.tell_after(Duration::from_millis(20), 5);
    let cancelled = c.tell_after(Duration::from_millis(20), 100);
    cancelled.cancel();
    eventually("the timer fired", Duration::from_secs(5), async || {
        fired.is_finished()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(c.query(Value).await.unwrap(), 5);
    assert!(cancelled.is_finished());
}

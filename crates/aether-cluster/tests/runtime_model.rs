//! A property of the runtime: whatever the interleaving of concurrent asks on
//! a few actors (with group commit of 1 to 7 commands a turn, and idle
//! passivation of 1 to 20 ms racing the traffic), every actor's history
//! equals executing its accepted commands one by one, in the order of their
//! versions (each stored exactly once), and its final state is the same.

mod runtime_support;

use std::time::Duration;

use aether_cluster::runtime::{ActorConfig, AskError, GroupCommit, Passivation, RuntimeConfig};
use aether_core::aggregate::{CommandEnvelope, Repository};
use aether_core::{ActorId, EventStore};
use aether_store_memory::InMemoryEventStore;
use aether_testkit::fixtures::{Account, AccountCommand, deposit, open, withdraw};
use proptest::prelude::*;
use runtime_support::*;

#[derive(Debug, Clone)]
struct Op {
    actor: usize,
    command: AccountCommand,
    pause_us: u64,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..3usize,
        prop_oneof![
            Just(open("ada")),
            (0..20u64).prop_map(deposit),
            (0..30u64).prop_map(withdraw),
        ],
        0..300u64,
    )
        .prop_map(|(actor, command, pause_us)| Op {
            actor,
            command,
            pause_us,
        })
}

async fn run_case(ops: Vec<Op>, max_commands: usize, idle_ms: u64) {
    let s = store();
    let config = ActorConfig {
        group_commit: GroupCommit {
            max_commands,
            ..GroupCommit::default()
        },
        passivation: Passivation {
            idle: Duration::from_millis(idle_ms),
            snapshot_after: 0,
        },
        ..ActorConfig::default()
    };
    let sys = system::<Account, _>(&s, None, RuntimeConfig::default(), config).await;
    let ids: Vec<ActorId> = (0..3).map(|_| fresh::<Account>()).collect();
    let tasks: Vec<_> = ops
        .into_iter()
        .map(|op| {
            let a = actor::<Account>(&sys, &ids[op.actor]);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(op.pause_us)).await;
                let env = CommandEnvelope::new(op.command.clone());
                let r = a.ask(env.clone()).await;
                (op.actor, env, r)
            })
        })
        .collect();
    // Per actor: accepted commands with the version they ended at.
    let mut accepted: Vec<Vec<(u64, CommandEnvelope<AccountCommand>)>> = vec![Vec::new(); 3];
    for t in tasks {
        let (i, env, r) = t.await.unwrap();
        match r {
            Ok(o) if !o.events.is_empty() => accepted[i].push((o.version, env)),
            Ok(_) | Err(AskError::Rejected(_)) => {}
            Err(e) => panic!("no faults were injected, yet: {e}"),
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let mut cmds = accepted[i].clone();
        cmds.sort_by_key(|(v, _)| *v);
        // Executing them one by one on a fresh store gives the same history.
        let reference = InMemoryEventStore::new();
        let repo = Repository::<Account, _>::new(reference.clone());
        for (v, env) in &cmds {
            let done = repo.execute(id, env.clone()).await.unwrap_or_else(|e| {
                panic!("actor {i}: an accepted command fails one by one: {e:?}")
            });
            assert_eq!(done.version, *v, "actor {i}: same version");
        }
        let got = s.inner().read(id, 1).await.unwrap();
        let want = reference.read(id, 1).await.unwrap();
        let shape = |evs: &[aether_core::Event]| -> Vec<(u64, String, String, Option<String>)> {
            evs.iter()
                .map(|e| {
                    (
                        e.version,
                        e.event_type.clone(),
                        e.data.to_string(),
                        e.metadata.causation_id().map(str::to_owned),
                    )
                })
                .collect()
        };
        assert_eq!(shape(&got), shape(&want), "actor {i}: histories differ");
        let state = repo.load(id).await.unwrap().state;
        let live = actor::<Account>(&sys, id)
            .query(aether_testkit::fixtures::Balance)
            .await
            .unwrap();
        assert_eq!(live, state.balance, "actor {i}: final states differ");
    }
    sys.shutdown().await.unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_equals_the_accepted_commands_one_by_one(
        ops in proptest::collection::vec(op(), 1..60),
        max_commands in 1..8usize,
        idle_ms in 1..20u64,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_case(ops, max_commands, idle_ms));
    }
}

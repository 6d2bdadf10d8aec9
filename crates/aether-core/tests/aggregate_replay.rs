//! Property tests: replay is deterministic, and snapshot + tail equals a full
//! replay.

use aether_core::aggregate::{
    Aggregate, AggregateTest, CommandEnvelope, EventEnvelope, Repository, SnapshotPolicy,
};
use aether_core::{ActorId, EventStore};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::fixtures::*;
use proptest::prelude::*;

fn command() -> impl Strategy<Value = AccountCommand> {
    prop_oneof![
        "[a-z]{1,8}".prop_map(|owner| AccountCommand::Open { owner }),
        (0u64..1_000).prop_map(|amount| AccountCommand::Deposit { amount }),
        (0u64..1_500).prop_map(|amount| AccountCommand::Withdraw { amount }),
    ]
}

/// A random *valid* history: the events accepted commands caused, in order.
fn history(commands: &[AccountCommand]) -> Vec<AccountEvent> {
    let mut state = Account::default();
    let mut events = Vec::new();
    for c in commands {
        if let Ok(new) = state.handle(c) {
            for e in new {
                state.apply(&e);
                events.push(e);
            }
        }
    }
    events
}

fn replay(events: &[AccountEvent]) -> Account {
    let mut state = Account::default();
    for e in events {
        state.apply(e);
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Applying the same valid history twice gives the same state, also when
    /// the events went through the store encoding in between.
    #[test]
    fn replay_is_deterministic(commands in prop::collection::vec(command(), 0..80)) {
        let events = history(&commands);
        let first = replay(&events);
        let second = replay(&events);
        prop_assert_eq!(&first, &second);

        let cmd = CommandEnvelope::new(());
        let actor = ActorId::new("account-p").unwrap();
        let decoded: Vec<AccountEvent> = cmd
            .envelopes(&actor, 0, events.clone())
            .iter()
            .map(|e| EventEnvelope::from_event(&e.to_event().unwrap()).unwrap().event)
            .collect();
        prop_assert_eq!(&decoded, &events);
        prop_assert_eq!(replay(&decoded), first.clone());
        // The harness agrees with a plain replay.
        let harness = AggregateTest::<Account>::given(events);
        prop_assert_eq!(harness.state(), &first);
    }

    /// Typed events with any metadata map to stored events and back without
    /// loss, also through the JSON wire format.
    #[test]
    fn typed_events_round_trip_through_stored_events(
        commands in prop::collection::vec(command(), 0..30),
        meta in prop::collection::btree_map("[a-z_]{1,12}", ".{0,16}", 0..6),
        correlation in proptest::option::of("[a-z0-9-]{1,20}"),
        start in 0u64..1_000_000,
    ) {
        let mut metadata = aether_core::Metadata::from(meta);
        if let Some(c) = correlation {
            metadata.set_correlation_id(c);
        }
        let cmd = CommandEnvelope::new(()).with_metadata(metadata.clone());
        let actor = ActorId::new("account-rt").unwrap();
        for env in cmd.envelopes(&actor, start, history(&commands)) {
            let stored = env.to_event().unwrap();
            let wire = aether_core::Event::from_json_slice(&stored.to_json_bytes().unwrap()).unwrap();
            prop_assert_eq!(&wire, &stored);
            let back = EventEnvelope::<AccountEvent>::from_event(&wire).unwrap();
            prop_assert_eq!(&back, &env);
            prop_assert_eq!(back.to_event().unwrap(), stored);
            prop_assert_eq!(
                back.metadata.correlation_id(),
                Some(metadata.correlation_id().unwrap_or(cmd.command_id.as_str()))
            );
            prop_assert_eq!(back.metadata.causation_id(), Some(cmd.command_id.as_str()));
        }
    }

    /// Executing a random command sequence through a repository that snapshots
    /// every `every` events, then loading (snapshot + tail), gives the same
    /// state and version as a full replay of the stored events.
    #[test]
    fn snapshot_plus_tail_equals_full_replay(
        commands in prop::collection::vec(command(), 1..60),
        every in 1u64..12,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let store = InMemoryEventStore::new();
            let snaps = InMemorySnapshotStore::new();
            let repo = Repository::<Account, _>::new(store.clone())
                .with_snapshots(snaps.clone())
                .with_snapshot_policy(SnapshotPolicy::EveryNEvents(every));
            let id = ActorId::new("account-prop").unwrap();
            for c in commands {
                let _ = repo.execute(&id, c).await;
            }
            let with_snapshot = repo.load(&id).await.unwrap();
            let full = Repository::<Account, _>::new(store.clone()).load(&id).await.unwrap();
            prop_assert_eq!(&with_snapshot.state, &full.state);
            prop_assert_eq!(with_snapshot.version, full.version);
            prop_assert_eq!(full.replayed, full.version);
            prop_assert_eq!(
                with_snapshot.snapshot_version + with_snapshot.replayed,
                with_snapshot.version
            );
            if full.version >= every {
                prop_assert!(with_snapshot.snapshot_version > 0);
                prop_assert!(with_snapshot.replayed < every);
            }
            let stored = store.read(&id, 1).await.unwrap();
            let typed: Vec<AccountEvent> = stored
                .iter()
                .map(|e| EventEnvelope::from_event(e).unwrap().event)
                .collect();
            prop_assert_eq!(replay(&typed), full.state);
            Ok(())
        })?;
    }
}

//! A model run by the actor runtime on one node (in-memory store): asks,
//! rejections, bad requests, queries, the `aether.model` stamp, exactly
//! once per command id, passivation with snapshots, and new versions
//! adopted while actors are active (in place when the state fingerprint is
//! unchanged, else by reloading).

use std::sync::Arc;
use std::time::Duration;

use aether_cluster::runtime::{
    ActorConfig, ActorRef, ActorSystem, AskError, Defined, Passivation, RuntimeErrorKind,
};
use aether_core::{ActorId, CommandId, Error, Event, EventStore, Metadata};
use aether_model::{Deployed, Model, ModelBehavior, ModelCommand, ModelQuery, check};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use serde_json::json;

fn account_doc() -> Model {
    let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml"))
        .unwrap();
    Model::from_yaml(&yaml).unwrap()
}

fn deployed(doc: &Model) -> Deployed {
    Deployed::new(check(doc).unwrap())
}

fn cmd(name: &str, body: serde_json::Value) -> ModelCommand {
    ModelCommand::new(name, body)
}

async fn system(events: InMemoryEventStore, snapshots: InMemorySnapshotStore) -> ActorSystem {
    ActorSystem::builder()
        .events(events)
        .snapshots(snapshots)
        .define::<ModelBehavior>(
            deployed(&account_doc()),
            ActorConfig {
                passivation: Passivation {
                    snapshot_after: 1,
                    ..Passivation::default()
                },
                ..ActorConfig::default()
            },
        )
        .start()
        .await
        .unwrap()
}

fn account(system: &ActorSystem, key: &str) -> ActorRef<ModelBehavior> {
    system.actor_of::<ModelBehavior>("account", key).unwrap()
}

#[tokio::test]
async fn a_model_actor_decides_rejects_answers_and_stamps_its_events() {
    let events = InMemoryEventStore::new();
    let sys = system(events.clone(), InMemorySnapshotStore::new()).await;
    let ann = account(&sys, "ann");
    let opened = ann
        .ask(cmd("Open", json!({"owner": "ann", "overdraft": 100})))
        .await
        .unwrap();
    assert_eq!(opened.version, 1);
    assert_eq!(&*opened.events[0].event.event_type, "Opened");
    let w = ann
        .ask(cmd("Withdraw", json!({"amount": 30})))
        .await
        .unwrap();
    let types: Vec<&str> = w.events.iter().map(|e| &*e.event.event_type).collect();
    assert_eq!(types, ["Withdrawn", "Overdrawn"]);
    assert_eq!(w.version, 3);

    // A guard: rejected with the model's code and details; nothing written.
    let err = ann
        .ask(cmd("Withdraw", json!({"amount": 500})))
        .await
        .unwrap_err();
    let AskError::Rejected(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code, "insufficient_funds");
    assert_eq!(r.details, json!({"balance": -30, "requested": 500}));
    assert!(!err.may_have_applied());

    // A body that fails the command's schema: a bad request, handed back,
    // with the JSON pointer of what is wrong.
    let err = ann
        .ask(cmd("Deposit", json!({"amount": "lots"})))
        .await
        .unwrap_err();
    let AskError::Unavailable { command, cause } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(cause, Error::InvalidInput { .. }), "{cause}");
    assert!(cause.to_string().contains("/amount"), "{cause}");
    assert_eq!(command.command.name, "Deposit");
    let err = ann.ask(cmd("Teleport", json!({}))).await.unwrap_err();
    let AskError::Unavailable { cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(cause.to_string().contains("unknown command"), "{cause}");

    assert_eq!(
        ann.query(ModelQuery("Balance".into())).await.unwrap(),
        json!({"balance": -30, "status": "open"})
    );
    let unknown = ann.query(ModelQuery("Nope".into())).await.unwrap_err();
    assert_eq!(unknown.kind(), RuntimeErrorKind::BadRequest);

    let stored = events.read(ann.id(), 1).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .all(|e| e.metadata.model() == Some("account@3"))
    );
    sys.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_retried_command_id_is_applied_once_and_survives_passivation() {
    let (events, snapshots) = (InMemoryEventStore::new(), InMemorySnapshotStore::new());
    let sys = system(events.clone(), snapshots.clone()).await;
    let bob = account(&sys, "bob");
    bob.ask(cmd("Open", json!({"owner": "bob"}))).await.unwrap();
    let id = CommandId::new("deposit-1").unwrap();
    let first = bob
        .ask(cmd("Deposit", json!({"amount": 7})))
        .command_id(id.clone())
        .await
        .unwrap();
    let again = bob
        .ask(cmd("Deposit", json!({"amount": 7})))
        .command_id(id.clone())
        .await
        .unwrap();
    assert!(again.deduplicated && again.version == first.version);

    // Passivated with a snapshot, then loaded from it: the same state, and
    // the retry is still recognised.
    bob.passivate();
    aether_testkit::eventually("bob passivated", Duration::from_secs(5), async || {
        !bob.is_active()
    })
    .await;
    let snap = aether_core::SnapshotStore::latest_snapshot(&snapshots, bob.id())
        .await
        .unwrap()
        .expect("a snapshot on passivation");
    assert_eq!(snap.version, 2);
    let third = bob
        .ask(cmd("Deposit", json!({"amount": 7})))
        .command_id(id)
        .await
        .unwrap();
    assert!(third.deduplicated);
    assert_eq!(
        bob.query(ModelQuery("Balance".into())).await.unwrap(),
        json!({"balance": 7, "status": "open"})
    );
    assert_eq!(events.read(bob.id(), 1).await.unwrap().len(), 2);
    sys.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_new_version_is_adopted_in_place_or_by_reload_between_turns() {
    let events = InMemoryEventStore::new();
    let sys = system(events.clone(), InMemorySnapshotStore::new()).await;
    let cy = account(&sys, "cy");
    cy.ask(cmd("Open", json!({"owner": "cy"}))).await.unwrap();
    cy.ask(cmd("Deposit", json!({"amount": 10}))).await.unwrap();

    // v4: a tighter deposit limit (same state fingerprint): adopted in place.
    let mut v4 = account_doc();
    v4.version = 4;
    v4.commands.get_mut("Deposit").unwrap().schema["properties"]["amount"]["maximum"] = json!(100);
    let v4 = deployed(&v4);
    let v3_fingerprint = deployed(&account_doc()).fingerprint().to_owned();
    assert_eq!(v4.fingerprint(), v3_fingerprint);
    assert_eq!(
        sys.define::<ModelBehavior>(v4, ActorConfig::default())
            .unwrap(),
        Defined::Redefined
    );
    let err = cy
        .ask(cmd("Deposit", json!({"amount": 500})))
        .await
        .unwrap_err();
    let AskError::Unavailable { cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(cause.to_string().contains("/amount"), "{cause}");
    cy.ask(cmd("Deposit", json!({"amount": 5}))).await.unwrap();

    // v5: deposits count double (a changed fold): the actor reloads, and
    // the log is folded again under v5 (the v3/v4 events included).
    let mut v5 = account_doc();
    v5.version = 5;
    let deposited = v5.events.get_mut("Deposited").unwrap();
    deposited
        .evolve
        .as_mut()
        .unwrap()
        .insert("balance", "state.balance + 2 * event.amount".to_owned());
    sys.define::<ModelBehavior>(deployed(&v5), ActorConfig::default())
        .unwrap();
    assert_eq!(
        cy.query(ModelQuery("Balance".into())).await.unwrap(),
        json!({"balance": 30, "status": "open"})
    );
    cy.ask(cmd("Deposit", json!({"amount": 1}))).await.unwrap();
    let stamps: Vec<String> = events
        .read(cy.id(), 1)
        .await
        .unwrap()
        .iter()
        .map(|e| e.metadata.model().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(stamps, ["account@3", "account@3", "account@4", "account@5"]);
    sys.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_event_of_a_newer_version_is_never_folded_by_an_older_one() {
    let events = InMemoryEventStore::new();
    let id = ActorId::new("account-dee").unwrap();
    let newer = Event::new(
        id.clone(),
        1,
        "Opened",
        json!({"owner": "dee", "overdraft": 0}),
    )
    .with_metadata(Metadata::new().with_model("account@9"));
    events.append(newer).await.unwrap();
    let sys = system(events, InMemorySnapshotStore::new()).await;
    let dee = sys.get::<ModelBehavior>(id).unwrap();
    let err = dee
        .ask(cmd("Deposit", json!({"amount": 1})))
        .await
        .unwrap_err();
    let AskError::Unavailable { cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(cause.to_string().contains("account@9"), "{cause}");
    assert!(!err.may_have_applied());
    sys.shutdown().await.unwrap();
}

#[tokio::test]
async fn types_can_be_added_while_the_system_runs() {
    let sys = ActorSystem::builder()
        .events(InMemoryEventStore::new())
        .start()
        .await
        .unwrap();
    assert!(sys.actor_of::<ModelBehavior>("account", "eve").is_err());
    let added = sys
        .define::<ModelBehavior>(deployed(&account_doc()), ActorConfig::default())
        .unwrap();
    assert_eq!(added, Defined::Added);
    let eve = account(&sys, "eve");
    eve.ask(cmd("Open", json!({"owner": "eve"}))).await.unwrap();
    assert_eq!(sys.types(), [Arc::<str>::from("account")]);
    sys.shutdown().await.unwrap();
}

//! The model registry on a real nats-server: every publish rule (check,
//! examples, version = previous + 1, history still foldable, breaking
//! changes only with leave, the fingerprint reported), nothing written on a
//! refusal, idempotent republish, an interrupted publish completed or
//! forced, exactly one winner of concurrent publishers, list/show/diff,
//! and the replay check against real JetStream histories.

#[path = "support/models.rs"]
mod models;

use std::sync::Arc;

use aether_core::{ActorId, Event, EventStore, Metadata, json};
use aether_model::deploy::{
    ModelRegistry, PublishError, PublishOptions, RegistryConfig, RegistryErrorKind, actors_of_type,
    replay_check, version_key,
};
use aether_model::{Deployed, check};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use models::*;

async fn registry(server: &NatsServer) -> ModelRegistry {
    ModelRegistry::open(server.connect().await, RegistryConfig::default())
        .await
        .unwrap()
}

fn opts() -> PublishOptions {
    PublishOptions::default()
}

fn breaking() -> PublishOptions {
    PublishOptions {
        breaking: true,
        ..PublishOptions::default()
    }
}

/// The pointer's version, and the versions stored.
async fn stored(r: &ModelRegistry, name: &str) -> (Option<u32>, Vec<u32>) {
    let pointer = r.pointer(name).await.unwrap().map(|(p, _)| p.version);
    let mut versions = Vec::new();
    for v in 1..=10 {
        if r.fetch(name, v).await.is_ok() {
            versions.push(v);
        }
    }
    (pointer, versions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_publish_takes_any_version_and_list_show_and_republish_agree() {
    let server = NatsServer::start().await;
    let r = registry(&server).await;
    assert!(r.list().await.unwrap().is_empty());

    let published = r.publish(&v3(), opts()).await.unwrap();
    assert_eq!((published.name.as_str(), published.version), ("account", 3));
    assert!(!published.unchanged && published.diff.is_none());
    assert_eq!(published.sha256.len(), 64);
    assert_eq!(
        published.fingerprint,
        check(&v3()).unwrap().state_fingerprint()
    );

    let listed = r.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "account");
    assert_eq!(listed[0].pointer.version, 3);
    assert_eq!(listed[0].pointer.sha256, published.sha256);
    let mut emitted = listed[0].pointer.emitted.clone();
    emitted.sort();
    assert_eq!(
        emitted,
        ["Closed", "Deposited", "Opened", "Overdrawn", "Withdrawn"]
    );

    let shown = r.show("account", None).await.unwrap();
    assert_eq!(shown.model, v3());
    assert!(shown.current);
    assert_eq!(shown.sha256, published.sha256);

    // The very same document again: nothing written.
    let again = r.publish(&v3(), opts()).await.unwrap();
    assert!(again.unchanged);
    assert_eq!(again.revision, published.revision);

    // Not there: clear errors.
    let missing = r.show("loan", None).await.unwrap_err();
    assert_eq!(missing.kind(), RegistryErrorKind::NotFound);
    let missing = r.show("account", Some(9)).await.unwrap_err();
    assert_eq!(missing.kind(), RegistryErrorKind::NotFound, "{missing}");
    let bad = r.show("no.dots", None).await.unwrap_err();
    assert_eq!(bad.kind(), RegistryErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_publishes_write_nothing() {
    let server = NatsServer::start().await;
    let r = registry(&server).await;
    r.publish(&v3(), opts()).await.unwrap();
    let before = stored(&r, "account").await;

    // Does not check: every problem, with its path.
    let mut broken = v4();
    broken.commands.get_mut("Withdraw").unwrap().guards[1].when =
        "state.balance - command.amout >= -state.overdraft".to_owned();
    let err = r.publish(&broken, opts()).await.unwrap_err();
    let PublishError::Invalid(errors) = &err else {
        panic!("{err}")
    };
    assert_eq!(errors[0].path, "commands.Withdraw.guards[1].when", "{err}");
    assert!(err.to_string().contains("did you mean `amount`"), "{err}");

    // An example fails.
    let err = r
        .publish(&with_failing_example(v4()), opts())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PublishError::Examples(f) if f.len() == 1),
        "{err}"
    );
    assert!(err.to_string().contains("wrong on purpose"), "{err}");

    // Not previous + 1: skipping a version, or reusing the current one.
    for v in [5, 3, 2] {
        let err = r.publish(&at(v4(), v), opts()).await.unwrap_err();
        assert!(
            matches!(
                &err,
                PublishError::Version { given, current: 3, expected: 4, .. } if *given == v
            ),
            "{err}"
        );
    }

    // An event type v3 could emit loses its fold: never, not even forced
    // and breaking.
    let err = r
        .publish(
            &without_event(v4(), "Overdrawn"),
            PublishOptions {
                breaking: true,
                force: true,
                replay: None,
            },
        )
        .await
        .unwrap_err();
    let PublishError::Unfoldable { event_types, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(event_types, &["Overdrawn"]);
    assert!(err.to_string().contains("cannot be forced"), "{err}");

    // Breaking without leave: a command removed, a schema tightened.
    let err = r
        .publish(&without_command(v4(), "Close"), opts())
        .await
        .unwrap_err();
    let PublishError::Breaking { changes, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(changes, &["command `Close` removed"]);
    let mut tightened = v4();
    tightened.commands.get_mut("Deposit").unwrap().schema["properties"]["amount"]["maximum"] =
        json!(1000);
    let err = r.publish(&tightened, opts()).await.unwrap_err();
    let PublishError::Breaking { changes, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        changes,
        &["tightened: commands.Deposit.schema.properties.amount: `maximum` 1000000000 -> 1000"]
    );

    // A check of the same rules writes nothing either.
    assert!(r.check_publish(&v4(), &opts()).await.is_ok());
    assert!(r.check_publish(&tightened, &opts()).await.is_err());

    assert_eq!(stored(&r, "account").await, before, "nothing was written");
    assert_eq!(before, (Some(3), vec![3]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaking_changes_publish_with_leave_and_a_changed_fingerprint_is_reported() {
    let server = NatsServer::start().await;
    let r = registry(&server).await;
    r.publish(&v3(), opts()).await.unwrap();

    // v4: adds a command, an event type and a query; the fingerprint
    // changes because of the event type.
    let p4 = r.publish(&v4(), opts()).await.unwrap();
    let diff = p4.diff.as_ref().unwrap();
    assert_eq!(diff.commands.added, ["Note"]);
    assert_eq!(diff.events.added, ["Noted"]);
    assert_eq!(diff.queries.added, ["Status"]);
    assert!(diff.fingerprint.changed());
    assert_eq!(diff.fingerprint.reasons, ["events.Noted added"]);
    assert!(
        p4.warnings
            .iter()
            .any(|w| w.contains("state fingerprint") && w.contains("events.Noted added")),
        "{:?}",
        p4.warnings
    );

    // v5: only a guard's message changes: same fingerprint, no warning.
    let mut v5 = at(v4(), 5);
    v5.commands.get_mut("Deposit").unwrap().guards[0].message =
        Some("'closed or new: ' + state.status".to_owned());
    let p5 = r.publish(&v5, opts()).await.unwrap();
    let diff = p5.diff.unwrap();
    assert_eq!(diff.commands.changed, ["Deposit"]);
    assert!(!diff.fingerprint.changed());
    assert!(p5.warnings.is_empty(), "{:?}", p5.warnings);

    // v6 removes `Note` (its event type stays folded): breaking, allowed
    // with leave, reported.
    let v6 = without_command(at(v5.clone(), 6), "Note");
    assert!(matches!(
        r.publish(&v6, opts()).await.unwrap_err(),
        PublishError::Breaking { .. }
    ));
    let p6 = r.publish(&v6, breaking()).await.unwrap();
    assert!(
        p6.warnings
            .iter()
            .any(|w| w == "breaking: command `Note` removed"),
        "{:?}",
        p6.warnings
    );
    // The pointer still lists `Noted` as emitted by an earlier version:
    // v7 cannot drop its fold.
    let err = r
        .publish(&without_event(at(v6, 7), "Noted"), breaking())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PublishError::Unfoldable { event_types, .. } if event_types == &["Noted"]),
        "{err}"
    );

    // The diff between any two stored versions.
    let d = r.diff("account", 3, 6).await.unwrap();
    assert!(d.commands.added.is_empty() && d.commands.changed == ["Deposit"]);
    assert_eq!(d.events.added, ["Noted"]);
    assert_eq!(d.queries.added, ["Status"]);
    assert!(d.breaking().is_empty());
    let back = r.diff("account", 6, 3).await.unwrap();
    assert_eq!(back.events.removed, ["Noted"]);
    assert_eq!(
        back.breaking(),
        ["event type `Noted` removed"],
        "the other way round"
    );
    assert_eq!(
        r.diff("account", 3, 8).await.unwrap_err().kind(),
        RegistryErrorKind::NotFound
    );
    assert_eq!(stored(&r, "account").await, (Some(6), vec![3, 4, 5, 6]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_publishers_of_one_version_exactly_one_wins() {
    let server = NatsServer::start().await;
    let r = registry(&server).await;
    r.publish(&v3(), opts()).await.unwrap();
    // Two publishers on their own connections, each with its own
    // document of the same version, released together; five rounds.
    let a = Arc::new(registry(&server).await);
    let b = Arc::new(registry(&server).await);
    for version in 4..=8 {
        let doc_a = at(v4(), version);
        let mut doc_b = at(v4(), version);
        doc_b.queries.insert("Owner", "state.owner".to_owned());
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let run = |r: Arc<ModelRegistry>, doc: aether_model::Model| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                r.publish(&doc, opts()).await
            })
        };
        let (ra, rb) = (run(a.clone(), doc_a.clone()), run(b.clone(), doc_b.clone()));
        let (ra, rb) = (ra.await.unwrap(), rb.await.unwrap());
        let (winner, loser) = match (&ra, &rb) {
            (Ok(_), Err(e)) => (&doc_a, e),
            (Err(e), Ok(_)) => (&doc_b, e),
            _ => panic!("v{version}: exactly one must win: {ra:?} / {rb:?}"),
        };
        assert!(loser.is_version_taken(), "v{version}: {loser}");
        assert!(loser.to_string().starts_with("version taken: "), "{loser}");
        let shown = r.show("account", None).await.unwrap();
        assert_eq!(shown.model.version, version);
        assert_eq!(
            &shown.model, winner,
            "the pointer names the winner's document"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_publish_is_completed_by_the_same_document_and_replaced_only_by_force() {
    let server = NatsServer::start().await;
    let r = registry(&server).await;
    r.publish(&v3(), opts()).await.unwrap();
    // As if a publisher of v4 stopped after writing the version key.
    let js = async_nats::jetstream::new(server.connect().await);
    let kv = js.get_key_value("aether-models").await.unwrap();
    kv.create(version_key("account", 4), v4().to_json().into())
        .await
        .unwrap();
    assert_eq!(r.pointer("account").await.unwrap().unwrap().0.version, 3);

    // The same document: the publish completes.
    let done = r.publish(&v4(), opts()).await.unwrap();
    assert!(!done.unchanged);
    assert_eq!(r.pointer("account").await.unwrap().unwrap().0.version, 4);

    // Another interrupted publish, of v5; a different v5 is refused...
    let mut left = at(v4(), 5);
    left.queries.insert("Owner", "state.owner".to_owned());
    kv.create(version_key("account", 5), left.to_json().into())
        .await
        .unwrap();
    let mine = at(v4(), 5);
    let err = r.publish(&mine, opts()).await.unwrap_err();
    assert!(err.is_version_taken(), "{err}");
    assert!(err.to_string().contains("with `force`"), "{err}");
    // ...unless forced.
    let forced = r
        .publish(
            &mine,
            PublishOptions {
                force: true,
                ..PublishOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(forced.version, 5);
    assert_eq!(r.show("account", None).await.unwrap().model, mine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_check_folds_real_histories_and_refuses_a_model_that_cannot_fold_one() {
    let server = NatsServer::start().await;
    let r = registry(&server).await;
    r.publish(&v3(), opts()).await.unwrap();
    let store = JetStreamEventStore::connect(
        &server.url(),
        JetStreamConfig {
            stream_name: "REPLAY".into(),
            ..JetStreamConfig::default()
        },
    )
    .await
    .unwrap();
    let stamp = || Metadata::new().with_model("account@3");
    for (i, key) in ["ann", "bob", "cy"].iter().enumerate() {
        let id = ActorId::new(format!("account-{key}")).unwrap();
        store
            .append(
                Event::new(
                    id.clone(),
                    1,
                    "Opened",
                    json!({"owner": key, "overdraft": 0}),
                )
                .with_metadata(stamp()),
            )
            .await
            .unwrap();
        store
            .append(
                Event::new(id.clone(), 2, "Deposited", json!({"amount": 10 + i}))
                    .with_metadata(stamp()),
            )
            .await
            .unwrap();
    }
    // Another type's actor is not listed.
    store
        .append(Event::new(
            ActorId::new("loan-1").unwrap(),
            1,
            "Granted",
            json!({}),
        ))
        .await
        .unwrap();
    let mut actors = actors_of_type(&store, "account", 100).await.unwrap();
    actors.sort();
    let names: Vec<&str> = actors.iter().map(ActorId::as_str).collect();
    assert_eq!(names, ["account-ann", "account-bob", "account-cy"]);
    assert_eq!(actors_of_type(&store, "account", 2).await.unwrap().len(), 2);

    // v4 folds them all.
    let v4_deployed = Deployed::new(check(&v4()).unwrap());
    let ok = replay_check(&v4_deployed, &store, &actors).await.unwrap();
    assert_eq!((ok.actors, ok.events, ok.failure.clone()), (3, 6, None));

    // A v4 whose fold of `Deposited` faults on real data (amount 11
    // overflows): the first failing actor and event version.
    let mut bad = v4();
    bad.events.get_mut("Deposited").unwrap().evolve = Some(
        [(
            "balance".to_owned(),
            "state.balance + event.amount * (event.amount == 11 ? 9223372036854775807 : 1)"
                .to_owned(),
        )]
        .into_iter()
        .collect(),
    );
    let report = replay_check(&Deployed::new(check(&bad).unwrap()), &store, &actors)
        .await
        .unwrap();
    let failure = report.failure.clone().expect("bob's history fails");
    assert_eq!(
        (failure.actor.as_str(), failure.version),
        ("account-bob", 2)
    );
    assert_eq!(failure.event_type, "Deposited");

    let err = r
        .publish(
            &bad,
            PublishOptions {
                replay: Some(report.clone()),
                ..PublishOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PublishError::ReplayDiverged(f) if f == &failure),
        "{err}"
    );
    assert!(err.to_string().contains("account-bob"), "{err}");
    assert_eq!(r.pointer("account").await.unwrap().unwrap().0.version, 3);
    let forced = r
        .publish(
            &bad,
            PublishOptions {
                replay: Some(report),
                force: true,
                ..PublishOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(forced.warnings.iter().any(|w| w.contains("forced past")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_does_not_exist_is_not_found_and_a_corrupt_pointer_is_named() {
    let server = NatsServer::start().await;
    let err = ModelRegistry::open_existing(server.connect().await, RegistryConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RegistryErrorKind::NotFound, "{err}");
    let bad = RegistryConfig {
        bucket: "no spaces".into(),
        ..RegistryConfig::default()
    };
    let err = ModelRegistry::open(server.connect().await, bad)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RegistryErrorKind::InvalidInput);

    let r = registry(&server).await;
    let js = async_nats::jetstream::new(server.connect().await);
    let kv = js.get_key_value("aether-models").await.unwrap();
    kv.put("account", "not a pointer".into()).await.unwrap();
    let err = r.show("account", None).await.unwrap_err();
    assert_eq!(err.kind(), RegistryErrorKind::Corrupt, "{err}");
    let err = r.publish(&v3(), opts()).await.unwrap_err();
    assert!(
        matches!(&err, PublishError::Registry(e) if e.kind() == RegistryErrorKind::Corrupt),
        "{err}"
    );
}

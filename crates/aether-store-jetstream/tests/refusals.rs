//! Permission refusals belong to the connection that got them (issue #22):
//! two tenants in one process, in two NATS accounts, each with a stream of
//! the same name; the server refusing one tenant a subject under that name
//! ends that tenant's operation at once and leaves the other's alone.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use aether_core::{ActorId, EventStore};
use aether_nats::{Auth, ConnectConfig};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::{NatsServer, TcpProxy};
use support::ev;

/// Two accounts, each with JetStream; user `a` may not publish under
/// `AETHER_shared.events.>` (appends to its own stream are refused).
const ACCOUNTS: &str = r#"accounts {
  A: { jetstream: enabled, users: [ { user: a, password: a-pw, permissions: { publish: { deny: ["AETHER_shared.events.>"] } } } ] }
  B: { jetstream: enabled, users: [ { user: b, password: b-pw } ] }
}
"#;

/// The store of namespace `shared` (stream `AETHER_shared`) as `user`.
fn config(user: &str) -> JetStreamConfig {
    JetStreamConfig {
        namespace: "shared".into(),
        connect: ConnectConfig {
            auth: Auth::UserPassword {
                user: user.into(),
                password: format!("{user}-pw"),
            },
            ..ConnectConfig::default()
        },
        request_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

/// Polls `f` once.
async fn poll_once<F: Future + ?Sized>(mut f: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(move |cx| Poll::Ready(f.as_mut().poll(cx))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_refusal_does_not_end_another_tenants_operation_on_a_stream_of_the_same_name() {
    let server = NatsServer::with_config(ACCOUNTS)
        .probe_credentials("b", "b-pw")
        .start()
        .await;
    // B's link goes through a proxy, so its request can be held in flight.
    let proxy = TcpProxy::start(server.port()).await;
    let a = JetStreamEventStore::connect(server.url().as_str(), config("a"))
        .await
        .expect("tenant a opens its store");
    let b = JetStreamEventStore::connect(proxy.url().as_str(), config("b"))
        .await
        .expect("tenant b opens its store");
    assert_eq!(a.stream_name(), "AETHER_shared");
    assert_eq!(b.stream_name(), a.stream_name());
    let actor = ActorId::new("account-1").unwrap();
    b.append(ev(&actor, 1)).await.unwrap();

    // B asks for its actor's version; its link holds the request.
    proxy.hold();
    let mut b_latest = std::pin::pin!(b.latest_version(&actor));
    assert!(poll_once(b_latest.as_mut()).await.is_pending());

    // Meanwhile the server refuses A an append under `AETHER_shared`: A's
    // operation ends with the refusal (not its 5 s timeout).
    let refused = a.append(ev(&actor, 1)).await.unwrap_err();
    assert!(refused.is_permission_denied(), "{refused}");
    let aether_core::Error::PermissionDenied { subject, .. } = &refused else {
        unreachable!()
    };
    assert!(
        subject
            .as_deref()
            .is_some_and(|s| s.starts_with("AETHER_shared.events.")),
        "{subject:?}"
    );

    // B's operation is untouched: still waiting for its answer...
    let after = poll_once(b_latest.as_mut()).await;
    assert!(
        after.is_pending(),
        "B's operation was ended by A's refusal: {after:?}"
    );
    // ...which it gets once its link lets it through.
    proxy.heal();
    let version = tokio::time::timeout(Duration::from_secs(10), b_latest)
        .await
        .expect("B's operation completes")
        .expect("normally");
    assert_eq!(version, 1);
}

/// A client built with async-nats directly has no refusal record: a refused
/// operation ends by its request timeout, as unavailable. Once a record is
/// installed on its options and attached to it, the same operation ends
/// with the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_built_by_hand_reports_refusals_once_a_record_is_attached() {
    let server = NatsServer::with_config(ACCOUNTS)
        .probe_credentials("b", "b-pw")
        .start()
        .await;
    let options = || async_nats::ConnectOptions::with_user_and_password("a".into(), "a-pw".into());
    let config = JetStreamConfig {
        request_timeout: Duration::from_millis(500),
        ..config("a")
    };
    let actor = ActorId::new("account-1").unwrap();

    let plain = options().connect(server.url()).await.unwrap();
    assert!(aether_nats::Refusals::of(&plain).is_none());
    let store = JetStreamEventStore::open(plain, config.clone())
        .await
        .unwrap();
    let timed_out = store.append(ev(&actor, 1)).await.unwrap_err();
    assert!(!timed_out.is_permission_denied(), "{timed_out}");
    assert!(timed_out.is_transient(), "{timed_out}");

    let refusals = aether_nats::Refusals::new();
    let reporting = refusals
        .install(options())
        .connect(server.url())
        .await
        .unwrap();
    refusals.attach(&reporting);
    assert!(aether_nats::Refusals::of(&reporting.clone()).is_some());
    let store = JetStreamEventStore::open(reporting, config).await.unwrap();
    let refused = store.append(ev(&actor, 1)).await.unwrap_err();
    assert!(refused.is_permission_denied(), "{refused}");
    assert_eq!(refusals.count(), 1);
}

//! Secure deployments against real nats-servers configured by the test kit:
//! TLS (certificates generated here), users and passwords, tokens, NKeys,
//! client certificates, per-namespace subject permissions and two accounts.
//! Every component connects and works over TLS with credentials (the store
//! conformance suite runs over such a connection); refused credentials, TLS
//! mismatches and permission violations reach the caller at once as errors
//! of their own kind.

use std::time::{Duration, Instant};

use aether::bus::{NatsBusConfig, NatsEventBus};
use aether::cluster::{ClusterConfig, ClusterNode};
use aether::jetstream::{JetStreamConfig, JetStreamEventStore};
use aether::nats::{Auth, ConnectConfig, ConnectErrorKind, TlsConfig};
use aether::prelude::*;
use aether_testkit::{NatsServer, Pki, eventually};

/// A user with every permission, for the test kit's readiness probe.
const ADMIN: (&str, &str) = ("admin", "admin-pw");

fn users_block(extra: &str) -> String {
    format!(
        "authorization {{\n  users = [\n    {{ user: {}, password: {} }}\n    {{ user: app, password: app-pw }}\n{extra}  ]\n}}\n",
        ADMIN.0, ADMIN.1
    )
}

fn app(tls: Option<TlsConfig>) -> ConnectConfig {
    ConnectConfig {
        auth: Auth::UserPassword {
            user: "app".into(),
            password: "app-pw".into(),
        },
        tls,
        timeout: Duration::from_secs(3),
        ..ConnectConfig::default()
    }
}

fn trusting(pki: &Pki) -> Option<TlsConfig> {
    Some(TlsConfig {
        ca: Some(pki.ca.clone()),
        ..TlsConfig::default()
    })
}

async fn tls_server(pki: &Pki, verify_clients: bool, extra_users: &str) -> NatsServer {
    let builder = NatsServer::with_config(format!(
        "{}{}",
        pki.server_tls_block(verify_clients),
        users_block(extra_users)
    ));
    if verify_clients {
        // The readiness probe has no client certificate: no JetStream, so
        // only the server's "ready" line is waited for.
        return builder.jetstream(false).start().await;
    }
    builder
        .probe_credentials(ADMIN.0, ADMIN.1)
        .probe_tls(&pki.ca)
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_component_works_over_tls_with_credentials() {
    every_component().await;
}

async fn every_component() {
    let pki = Pki::generate();
    let server = tls_server(&pki, false, "").await;
    let url = server.url();
    let connect = app(trusting(&pki));

    // The store, and the whole store conformance suite over this connection.
    let store = JetStreamEventStore::connect(
        &url,
        JetStreamConfig {
            namespace: "secure".into(),
            connect: connect.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("the store connects over TLS with a password");
    Box::pin(aether_testkit::conformance::run_event_store_suite(&store)).await;
    let snapshots = store.open_snapshot_store().await.unwrap();
    Box::pin(aether_testkit::conformance::run_snapshot_store_suite(
        &snapshots,
    ))
    .await;

    // The bus: an event crosses from one bus to another.
    let bus_config = || NatsBusConfig {
        connect: connect.clone(),
        ..Default::default()
    };
    let a = NatsEventBus::connect(&url, bus_config()).await.unwrap();
    let b = NatsEventBus::connect(&url, bus_config()).await.unwrap();
    let mut sub = b.subscribe("orders").await.unwrap();
    let actor = ActorId::new("order-1").unwrap();
    a.publish("orders", Event::new(actor.clone(), 1, "Placed", json!({})))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(got.into_event().is_some());

    // A cluster node joins and sees itself.
    let node = ClusterNode::connect(
        &url,
        ClusterConfig {
            cluster_name: "secure".into(),
            connect: connect.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("a cluster node connects over TLS with a password");
    eventually(
        "the node to see itself",
        Duration::from_secs(10),
        async || !node.members().is_empty(),
    )
    .await;
    node.shutdown().await.unwrap();

    // Projections' KV buckets on the store's connection.
    aether::projection::KvCheckpoints::open(store.client().clone(), Default::default())
        .await
        .expect("checkpoints over TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_and_tls_mismatches_fail_at_once_with_their_own_kind() {
    let pki = Pki::generate();
    let server = tls_server(&pki, false, "").await;
    let url = server.url();
    let dial = |config: ConnectConfig| {
        let url = url.clone();
        async move {
            let started = Instant::now();
            let err = aether::nats::connect(&url, &config, "t").await.unwrap_err();
            assert!(
                started.elapsed() < config.timeout + Duration::from_secs(1),
                "within the connect timeout"
            );
            err
        }
    };
    let wrong_password = ConnectConfig {
        auth: Auth::UserPassword {
            user: "app".into(),
            password: "nope".into(),
        },
        ..app(trusting(&pki))
    };
    assert_eq!(
        dial(wrong_password).await.kind(),
        ConnectErrorKind::Unauthorized
    );
    let unknown_user = ConnectConfig {
        auth: Auth::UserPassword {
            user: "mallory".into(),
            password: "x".into(),
        },
        ..app(trusting(&pki))
    };
    assert_eq!(
        dial(unknown_user).await.kind(),
        ConnectErrorKind::Unauthorized
    );
    // Nothing at all: the server wants a user.
    let anonymous = ConnectConfig {
        auth: Auth::None,
        ..app(trusting(&pki))
    };
    assert_eq!(dial(anonymous).await.kind(), ConnectErrorKind::Unauthorized);
    // A CA that did not sign the server's certificate.
    let untrusted = app(Some(TlsConfig {
        ca: Some(pki.other_ca.clone()),
        ..TlsConfig::default()
    }));
    assert_eq!(dial(untrusted).await.kind(), ConnectErrorKind::Tls);
    // No TLS settings against a server that requires TLS: the client
    // upgrades with the public roots, which do not know the test CA.
    assert_eq!(dial(app(None)).await.kind(), ConnectErrorKind::Tls);
    // The same through a component: the core error says what happened.
    let err = JetStreamEventStore::connect(
        &url,
        JetStreamConfig {
            connect: ConnectConfig {
                auth: Auth::UserPassword {
                    user: "app".into(),
                    password: "nope".into(),
                },
                ..app(trusting(&pki))
            },
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
    assert!(!err.is_transient(), "not retried as transient");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_tokens_and_nkeys_authenticate() {
    // A server that verifies client certificates.
    let pki = Pki::generate();
    let server = tls_server(&pki, true, "").await;
    let with_cert = app(Some(TlsConfig {
        ca: Some(pki.ca.clone()),
        cert: Some(pki.client_cert.clone()),
        key: Some(pki.client_key.clone()),
        first: false,
    }));
    let client = aether::nats::connect(&server.url(), &with_cert, "t")
        .await
        .expect("a client certificate signed by the CA is accepted");
    client.flush().await.unwrap();
    let without = app(trusting(&pki));
    let err = aether::nats::connect(&server.url(), &without, "t")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ConnectErrorKind::Tls | ConnectErrorKind::Unauthorized
        ),
        "{err:?}"
    );

    // A token.
    let server = NatsServer::with_config("authorization { token: s3cret-token }")
        .jetstream(false)
        .start()
        .await;
    let token = |t: &str| ConnectConfig {
        auth: Auth::Token(t.into()),
        ..ConnectConfig::default()
    };
    aether::nats::connect(&server.url(), &token("s3cret-token"), "t")
        .await
        .expect("the right token");
    let err = aether::nats::connect(&server.url(), &token("wrong"), "t")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ConnectErrorKind::Unauthorized);

    // An NKey.
    let key = nkeys::KeyPair::new_user();
    let other = nkeys::KeyPair::new_user();
    let server = NatsServer::with_config(format!(
        "authorization {{ users = [ {{ nkey: {} }} ] }}",
        key.public_key()
    ))
    .jetstream(false)
    .start()
    .await;
    let nkey = |k: &nkeys::KeyPair| ConnectConfig {
        auth: Auth::NKey(k.seed().unwrap()),
        ..ConnectConfig::default()
    };
    aether::nats::connect(&server.url(), &nkey(&key), "t")
        .await
        .expect("the known NKey");
    let err = aether::nats::connect(&server.url(), &nkey(&other), "t")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ConnectErrorKind::Unauthorized);
    let bad_seed = ConnectConfig {
        auth: Auth::NKey("SUnot-a-seed".into()),
        ..ConnectConfig::default()
    };
    assert_eq!(
        aether::nats::connect(&server.url(), &bad_seed, "t")
            .await
            .unwrap_err()
            .kind(),
        ConnectErrorKind::InvalidConfig
    );
}

/// The permissions of a tenant that owns namespace `ns` of the JetStream
/// store (stream `AETHER_<ns>` and its snapshots) and of the bus (prefix
/// `aether.<ns>.bus`), with replies under `_INBOX_<ns>`: the recipe of
/// `docs/security.md`.
fn tenant_permissions(ns: &str) -> String {
    let stream = format!("AETHER_{ns}");
    let mut publish = Vec::new();
    for s in [stream.clone(), format!("{stream}_SNAP")] {
        publish.extend([
            format!("$JS.API.*.*.{s}"),
            format!("$JS.API.*.*.{s}.>"),
            format!("$JS.API.STREAM.MSG.GET.{s}"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{s}.>"),
        ]);
    }
    publish.extend([format!("{stream}.>"), format!("aether.{ns}.bus.>")]);
    let subscribe = [format!("_INBOX_{ns}.>"), format!("aether.{ns}.bus.>")];
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "permissions: {{ publish: {{ allow: [{}] }}, subscribe: {{ allow: [{}] }} }}",
        list(&publish),
        list(&subscribe)
    )
}

fn tenant(ns: &str) -> ConnectConfig {
    ConnectConfig {
        auth: Auth::UserPassword {
            user: format!("tenant-{ns}"),
            password: format!("{ns}-pw"),
        },
        inbox_prefix: Some(format!("_INBOX_{ns}")),
        timeout: Duration::from_secs(3),
        ..ConnectConfig::default()
    }
}

fn store_config(ns: &str, connect: ConnectConfig) -> JetStreamConfig {
    JetStreamConfig {
        namespace: ns.into(),
        connect,
        request_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_is_refused_by_the_server_outside_its_namespace() {
    tenant_isolation().await;
}

async fn tenant_isolation() {
    let users = format!(
        "    {{ user: tenant-a, password: a-pw, {} }}\n    {{ user: tenant-b, password: b-pw, {} }}\n",
        tenant_permissions("a"),
        tenant_permissions("b")
    );
    let server = NatsServer::with_config(users_block(&users))
        .probe_credentials(ADMIN.0, ADMIN.1)
        .start()
        .await;
    let url = server.url();

    // Each tenant works in its own namespace with exactly the documented
    // permissions: the store conformance suite passes for tenant a.
    let a = JetStreamEventStore::connect(&url, store_config("a", tenant("a")))
        .await
        .expect("tenant a opens its namespace");
    Box::pin(aether_testkit::conformance::run_event_store_suite(&a)).await;
    let snapshots = a.open_snapshot_store().await.expect("its snapshots");
    Box::pin(aether_testkit::conformance::run_snapshot_store_suite(
        &snapshots,
    ))
    .await;
    let b = JetStreamEventStore::connect(&url, store_config("b", tenant("b")))
        .await
        .expect("tenant b opens its namespace");
    let secret = ActorId::new("account-1").unwrap();
    b.append(Event::new(
        secret.clone(),
        1,
        "Opened",
        json!({"owner": "b"}),
    ))
    .await
    .unwrap();

    // Tenant a opening namespace b: refused by the server, reported at once.
    let started = Instant::now();
    let err = JetStreamEventStore::connect(&url, store_config("b", tenant("a")))
        .await
        .unwrap_err();
    eprintln!("refused after {:?}", started.elapsed());
    assert!(err.is_permission_denied(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "at once, not after the 5 s request timeout: {:?}",
        started.elapsed()
    );
    let aether::Error::PermissionDenied { subject, .. } = &err else {
        unreachable!()
    };
    assert!(
        subject.as_deref().is_some_and(|s| s.contains("AETHER_b")),
        "{subject:?}"
    );

    // Around the store: a raw append to b's subject and a raw read of b's
    // stream by tenant a are refused by the server too.
    let raw = aether::nats::connect(&url, &tenant("a"), "raw")
        .await
        .unwrap();
    let js = aether::async_nats::jetstream::new(raw.clone());
    let refusals = aether::nats::Refusals::of(&raw).expect("connect attaches a refusal record");
    // One refusable around the publish and its ack: the refusal may arrive
    // while either is pending.
    let subject = b.subject_for(&secret);
    let forged = refusals
        .refusable(&["AETHER_b"], async {
            js.publish(subject, "forged".into()).await?.await
        })
        .await;
    let refusal = match forged {
        Err(refusal) => refusal,
        Ok(r) => panic!("a forged append was not refused: {r:?}"),
    };
    assert_eq!(refusal.operation.to_lowercase(), "publish");
    let read = refusals
        .refusable(&["AETHER_b"], js.get_stream("AETHER_b"))
        .await;
    assert!(read.is_err(), "reading b's stream is refused");

    // B's data is untouched.
    let history = b.read(&secret, 1).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].event_type, "Opened");

    // The bus: tenant a receives its namespace, and is refused b's.
    let bus = |ns: &str, connect: ConnectConfig| NatsBusConfig {
        subject_prefix: format!("aether.{ns}.bus"),
        connect,
        ..Default::default()
    };
    let bus_a = NatsEventBus::connect(&url, bus("a", tenant("a")))
        .await
        .unwrap();
    let mut mine = bus_a.subscribe("orders").await.unwrap();
    let err = match NatsEventBus::connect(&url, bus("b", tenant("a"))).await {
        Err(e) => e,
        Ok(bus_b_as_a) => bus_b_as_a.subscribe("orders").await.unwrap_err(),
    };
    assert_eq!(
        err.kind(),
        aether::bus::BusErrorKind::PermissionDenied,
        "{err}"
    );
    let bus_b = NatsEventBus::connect(&url, bus("b", tenant("b")))
        .await
        .unwrap();
    bus_b
        .publish("orders", Event::new(secret.clone(), 2, "ForB", json!({})))
        .await
        .unwrap();
    let publisher_a = NatsEventBus::connect(&url, bus("a", tenant("a")))
        .await
        .unwrap();
    publisher_a
        .publish("orders", Event::new(secret, 1, "ForA", json!({})))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), mine.recv())
        .await
        .unwrap()
        .unwrap()
        .into_event()
        .unwrap();
    assert_eq!(got.event.event_type, "ForA", "only its own namespace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_never_see_each_other() {
    let server = NatsServer::with_config(
        "accounts {\n  A: { jetstream: enabled, users: [ { user: a, password: a-pw } ] }\n  B: { jetstream: enabled, users: [ { user: b, password: b-pw } ] }\n}\n",
    )
    .probe_credentials("a", "a-pw")
    .start()
    .await;
    let as_user = |user: &str| ConnectConfig {
        auth: Auth::UserPassword {
            user: user.into(),
            password: format!("{user}-pw"),
        },
        ..ConnectConfig::default()
    };
    // The same namespace in both accounts: two separate streams.
    let a = JetStreamEventStore::connect(&server.url(), store_config("shared", as_user("a")))
        .await
        .unwrap();
    let b = JetStreamEventStore::connect(&server.url(), store_config("shared", as_user("b")))
        .await
        .unwrap();
    let actor = ActorId::new("account-1").unwrap();
    a.append(Event::new(actor.clone(), 1, "InA", json!({})))
        .await
        .unwrap();
    assert_eq!(
        b.latest_version(&actor).await.unwrap(),
        0,
        "B sees nothing of A"
    );
    b.append(Event::new(actor.clone(), 1, "InB", json!({})))
        .await
        .unwrap();
    assert_eq!(a.read(&actor, 1).await.unwrap()[0].event_type, "InA");
    assert_eq!(b.read(&actor, 1).await.unwrap()[0].event_type, "InB");
}

/// Decentralised auth as `nsc` sets it up: an operator, an account and user
/// JWTs signed here with NKeys, the server in operator mode with a memory
/// resolver. A valid `.creds` file connects; a revoked user and a user of an
/// account the server does not know are refused at once; an expired one is
/// refused before dialing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creds_files_connect_and_revoked_or_foreign_ones_are_refused() {
    use base64::Engine;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = |signer: &nkeys::KeyPair, claims: aether::core::Value| {
        let header = b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let body = b64(claims.to_string().as_bytes());
        let signed = format!("{header}.{body}");
        let sig = signer.sign(signed.as_bytes()).unwrap();
        format!("{signed}.{}", b64(&sig))
    };
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let stranger = nkeys::KeyPair::new_account();
    let (good, revoked, foreign, expired) = (
        nkeys::KeyPair::new_user(),
        nkeys::KeyPair::new_user(),
        nkeys::KeyPair::new_user(),
        nkeys::KeyPair::new_user(),
    );
    let claims = |iss: &nkeys::KeyPair, sub: &str, name: &str, nats: aether::core::Value| {
        json!({
            "jti": format!("{name}{now}").to_uppercase(),
            "iat": now - 10,
            "iss": iss.public_key(),
            "name": name,
            "sub": sub,
            "nats": nats,
        })
    };
    let operator_jwt = jwt(
        &operator,
        claims(
            &operator,
            &operator.public_key(),
            "op",
            json!({"type": "operator", "version": 2}),
        ),
    );
    let limits = json!({"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                        "wildcards": true, "conn": -1, "leaf": -1});
    let mut revocations = aether::core::serde_json::Map::new();
    revocations.insert(revoked.public_key(), json!(now));
    let account_jwt = jwt(
        &operator,
        claims(
            &operator,
            &account.public_key(),
            "acct",
            json!({"limits": limits, "revocations": revocations, "type": "account", "version": 2}),
        ),
    );
    let user_jwt = |user: &nkeys::KeyPair, by: &nkeys::KeyPair, exp: Option<u64>| {
        let mut c = claims(
            by,
            &user.public_key(),
            "user",
            json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2}),
        );
        if let Some(exp) = exp {
            c["exp"] = json!(exp);
        }
        jwt(by, c)
    };
    let dir = tempfile::tempdir().unwrap();
    let creds = |name: &str, jwt: String, user: &nkeys::KeyPair| {
        let path = dir.path().join(format!("{name}.creds"));
        std::fs::write(
            &path,
            format!(
                "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
                 -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
                user.seed().unwrap()
            ),
        )
        .unwrap();
        ConnectConfig {
            auth: Auth::CredsFile(path),
            timeout: Duration::from_secs(3),
            ..ConnectConfig::default()
        }
    };
    let server = NatsServer::with_config(format!(
        "operator: {operator_jwt}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {account_jwt}\n}}\n",
        account.public_key()
    ))
    .jetstream(false)
    .start()
    .await;
    let url = server.url();
    let client = aether::nats::connect(
        &url,
        &creds("good", user_jwt(&good, &account, None), &good),
        "t",
    )
    .await
    .expect("a valid creds file connects");
    client.flush().await.unwrap();
    for (name, config) in [
        (
            "revoked",
            creds("revoked", user_jwt(&revoked, &account, None), &revoked),
        ),
        (
            "foreign",
            creds("foreign", user_jwt(&foreign, &stranger, None), &foreign),
        ),
    ] {
        let started = Instant::now();
        let err = aether::nats::connect(&url, &config, "t").await.unwrap_err();
        assert_eq!(err.kind(), ConnectErrorKind::Unauthorized, "{name}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name}: at once"
        );
    }
    let config = creds(
        "expired",
        user_jwt(&expired, &account, Some(now - 60)),
        &expired,
    );
    let err = aether::nats::connect(&url, &config, "t").await.unwrap_err();
    assert_eq!(err.kind(), ConnectErrorKind::CredentialsExpired, "{err}");
}

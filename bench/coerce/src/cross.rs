//! Scenario 7, the cross-node ask: Aether's remote system → a cluster
//! member, through nats-server; coerce's node → node over its TCP
//! transport; raw NATS request–reply between the same two connections
//! Aether uses.

use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorSystem, RemoteConfig};
use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo};
use aether_core::{Event, NodeId, json};
use aether_store_memory::InMemoryEventStore;
use aether_testkit::NatsServer;
use bytes::Bytes;
use coerce::actor::system::ActorSystem as CoerceSystem;
use coerce::actor::{ActorRef as CoerceRef, IntoActor, IntoActorId};
use coerce::remote::net::server::RemoteServer;
use coerce::remote::system::RemoteActorSystem;
use futures::StreamExt;

use crate::ledger::{aether as al, coerce as cl};
use crate::memory::{aether_deposit, aether_id, coerce_memory};
use crate::probe::{latencies, measure, quantile};
use crate::report::{AETHER, COERCE, Table};
use crate::{Bench, rotated};

const RAW: &str = "raw NATS req-reply";
const CLUSTER: &str = "cbx";

async fn nats(url: &str, name: &str) -> async_nats::Client {
    aether_nats::connect(url, &Default::default(), name)
        .await
        .expect("connects to nats-server")
}

fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port");
    format!("127.0.0.1:{port}")
}

/// A coerce remote node listening on `listen`, joined to `seed`. Its builder
/// is not `Send`, so it is built on this worker, blocking it meanwhile.
fn coerce_node(id: u64, listen: &str, seed: Option<&str>) -> (RemoteActorSystem, RemoteServer) {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(build_coerce_node(id, listen, seed)))
}

async fn build_coerce_node(
    id: u64,
    listen: &str,
    seed: Option<&str>,
) -> (RemoteActorSystem, RemoteServer) {
    let sys = CoerceSystem::new().to_persistent(coerce_memory());
    let remote = RemoteActorSystem::builder()
        .with_actor_system(sys)
        .with_id(id)
        .with_tag(format!("node-{id}"))
        .with_handlers(|h| h.with_handler::<cl::Ledger, cl::Deposit>(cl::DEPOSIT_HANDLER))
        .build()
        .await;
    let mut worker = remote.clone().cluster_worker().listen_addr(listen);
    if let Some(seed) = seed {
        worker = worker.with_seed_addr(seed);
    }
    let server = worker.start().await;
    (remote, server)
}

async fn coerce_remote_deposit(r: &CoerceRef<cl::Ledger>) {
    r.send(cl::Deposit { amount: 1 })
        .await
        .expect("coerce's remote send")
        .expect("coerce's deposit");
}

pub async fn cross_node(b: &mut Bench, server: &NatsServer) {
    let n = b.sizes.cross_asks;
    let url = server.url();
    let mut t = Table::new(
        format!("7. cross-node ask, memory store ({n} sequential asks per side per round)"),
        &["p50 µs", "p99 µs"],
    );
    t.note("Aether: a `remote` system calling a cluster member through nats-server; coerce: RemoteActorRef from node 1 to node 2 over TCP (two RemoteActorSystems in this process); raw: request–reply from the remote's connection to a subscriber on the member's connection that answers an event's JSON at once");

    // Aether: one member serving every shard, one remote caller.
    let member_client = nats(&url, "bench-member").await;
    let mut config = ClusterConfig {
        cluster_name: CLUSTER.into(),
        node: NodeInfo::new(NodeId::new("b").expect("a node id")),
        ..ClusterConfig::default()
    };
    config.rebalance_debounce = Duration::from_millis(100);
    let node = ClusterNode::start(member_client.clone(), config)
        .await
        .expect("the member's node starts");
    let member = ActorSystem::cluster(node)
        .events(InMemoryEventStore::new())
        .register::<al::Ledger>(al::config())
        .start()
        .await
        .expect("the member starts");
    let start = Instant::now();
    while member.served_shards().len() < 1024 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "shards not served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caller_client = nats(&url, "bench-remote").await;
    let caller = ActorSystem::remote(
        caller_client.clone(),
        RemoteConfig {
            cluster_name: CLUSTER.into(),
            ..RemoteConfig::default()
        },
    )
    .register::<al::Ledger>(al::config())
    .start()
    .await
    .expect("the remote starts");
    let a = caller
        .get::<al::Ledger>(aether_id("x"))
        .expect("registered");
    let start = Instant::now();
    while let Err(e) = a.ask(al::Deposit { amount: 1 }).await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the remote never reached the member: {e}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Raw request–reply between the same two connections.
    let subject = "cbraw.rr";
    let mut sub = member_client.subscribe(subject).await.expect("subscribes");
    let reply = Bytes::from(
        Event::new(aether_id("x"), 1, "Deposited", json!({"amount": 1}))
            .to_json_bytes()
            .expect("encodes"),
    );
    let responder_client = member_client.clone();
    let responder = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(to) = msg.reply {
                let _ = responder_client.publish(to, reply.clone()).await;
            }
        }
    });
    member_client.flush().await.expect("flushes");
    let request = Bytes::from(serde_json::to_vec(&al::Deposit { amount: 1 }).expect("encodes"));

    // coerce: node 2 runs the actor, node 1 calls it.
    let (addr1, addr2) = (free_addr(), free_addr());
    let (node2, server2) = coerce_node(2, &addr2, None);
    let (node1, server1) = coerce_node(1, &addr1, Some(&addr2));
    cl::Ledger::default()
        .into_actor(Some("ledger-x"), node2.actor_system())
        .await
        .expect("coerce's actor starts on node 2");
    let start = Instant::now();
    let c = loop {
        if let Some(r) = node1
            .actor_ref::<cl::Ledger>("ledger-x".into_actor_id())
            .await
            && r.is_remote()
        {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "node 1 never located the actor on node 2"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Warm-up, then rounds.
    for _ in 0..n / 10 + 1 {
        aether_deposit(&a).await;
        coerce_remote_deposit(&c).await;
        caller_client
            .request(subject, request.clone())
            .await
            .expect("raw request");
    }
    for round in 0..b.rounds {
        for side in rotated(&[AETHER, COERCE, RAW], round) {
            let (p, mut lat) = match side {
                AETHER => {
                    let a = &a;
                    measure(n as u64, &[], latencies(n, || aether_deposit(a))).await
                }
                COERCE => {
                    let c = &c;
                    measure(n as u64, &[], latencies(n, || coerce_remote_deposit(c))).await
                }
                _ => {
                    let (client, request) = (&caller_client, &request);
                    measure(
                        n as u64,
                        &[],
                        latencies(n, || async move {
                            client
                                .request(subject, request.clone())
                                .await
                                .expect("raw request");
                        }),
                    )
                    .await
                }
            };
            t.add(side, "p50 µs", quantile(&mut lat, 0.5));
            t.add(side, "p99 µs", quantile(&mut lat, 0.99));
            t.profile(side, &p);
        }
    }
    t.print();
    b.memory_rows.push(t.summary(
        "cross-node ask p50 (Aether through nats-server; coerce node to node over TCP)",
        "p50 µs",
        &[RAW],
    ));
    b.memory_rows
        .push(t.summary("cross-node ask p99", "p99 µs", &[RAW]));

    responder.abort();
    caller.shutdown().await.expect("the remote stops");
    member.shutdown().await.expect("the member stops");
    server1.stop();
    server2.stop();
    node1.actor_system().shutdown().await;
    node2.actor_system().shutdown().await;
}

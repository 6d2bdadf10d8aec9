//! Balancing a namespace's partition leaders on a real 3-node cluster: after
//! `balance_leaders`, every server leads ⌊K/3⌋ or ⌈K/3⌉ partitions (max − min
//! ≤ 1), whether it runs right after the namespace is created (the servers
//! picked the leaders at random, some replicas still catching up), from every
//! leader on one server, or after a server restarted and leads nothing.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use aether_store_jetstream::{JetStreamEventStore, PartitionInfo};
use aether_testkit::{NatsCluster, Wait};
use support::config_k;

/// The test cluster's servers.
const SERVERS: [&str; 3] = ["n1", "n2", "n3"];

/// Leaders per server, every server listed (0 when it leads nothing).
fn per_server(infos: &[PartitionInfo]) -> BTreeMap<String, usize> {
    let mut count: BTreeMap<String, usize> = SERVERS.iter().map(|s| (s.to_string(), 0)).collect();
    for p in infos {
        let leader = p
            .leader
            .clone()
            .unwrap_or_else(|| panic!("{} has no leader: {infos:?}", p.stream));
        *count.entry(leader).or_insert(0) += 1;
    }
    count
}

/// Asserts max − min ≤ 1 leaders per server over every partition of `store`.
async fn assert_balanced(store: &JetStreamEventStore, what: &str) {
    let infos = store.partition_infos().await.unwrap();
    let count = per_server(&infos);
    let max = count.values().copied().max().unwrap();
    let min = count.values().copied().min().unwrap();
    assert!(
        max - min <= 1,
        "{what}: leaders per server {count:?} (max − min = {})",
        max - min
    );
}

/// A fresh R3 namespace of `k` partitions on `cluster`, connected through
/// every server's URL.
async fn namespace(cluster: &NatsCluster, k: u32) -> JetStreamEventStore {
    support::connect(&cluster.client_url().joined(), config_k(3, k)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balancing_right_after_creation_leaves_every_server_within_one_leader() {
    let cluster = NatsCluster::start().await;
    // Several fresh namespaces per K: the first leaders are the servers'
    // random picks, different each time.
    for round in 0..3 {
        for k in [4u32, 8] {
            let store = namespace(&cluster, k).await;
            store.balance_leaders().await.unwrap();
            assert_balanced(&store, &format!("round {round}, K = {k}")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balancing_from_every_leader_on_one_server_spreads_them() {
    let cluster = NatsCluster::start().await;
    for k in [4u32, 8] {
        let store = namespace(&cluster, k).await;
        // Asked again while it does not hold: a stepdown naming a replica
        // the leader has not heard from yet hands over to another one.
        Wait::new("every leader on n1", Duration::from_secs(60))
            .every(Duration::from_millis(500))
            .until(async || {
                let infos = store.partition_infos().await.map_err(|e| e.to_string())?;
                let elsewhere: Vec<_> = infos
                    .iter()
                    .filter(|p| p.leader.is_some() && p.leader.as_deref() != Some("n1"))
                    .collect();
                for p in &elsewhere {
                    let _ = store.step_down(p.index, Some("n1")).await;
                }
                if infos.iter().all(|p| p.leader.as_deref() == Some("n1")) {
                    Ok(())
                } else {
                    Err(format!("{infos:?}"))
                }
            })
            .await;
        store.balance_leaders().await.unwrap();
        assert_balanced(&store, &format!("K = {k}")).await;
        // Balanced already: nothing more to do.
        let again = store.balance_leaders().await.unwrap();
        assert!(again.is_empty(), "K = {k}: {again:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_gets_its_share_back() {
    let cluster = NatsCluster::start().await;
    let store = namespace(&cluster, 8).await;
    store.balance_leaders().await.unwrap();
    // n3 goes away: the others take its leaderships; back, it leads nothing.
    cluster.stop(2).await;
    Wait::new("n3's leaderships taken over", Duration::from_secs(60))
        .every(Duration::from_millis(250))
        .until(async || {
            let infos = store.partition_infos().await.map_err(|e| e.to_string())?;
            if infos
                .iter()
                .all(|p| p.leader.as_deref().is_some_and(|l| l != "n3"))
            {
                Ok(())
            } else {
                Err(format!("{infos:?}"))
            }
        })
        .await;
    cluster.restart(2).await;
    store.balance_leaders().await.unwrap();
    assert_balanced(&store, "after n3 returned").await;
}

/// A replicated namespace is usable the moment `connect` created it: every
/// partition has a leader, and a write to any of them goes through (reads
/// answered before a new stream's group elected its leader said the stream
/// was missing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_replicated_namespace_has_a_leader_and_takes_writes_in_every_partition() {
    use aether_core::{ActorId, Event, EventStore, json};
    let cluster = NatsCluster::start().await;
    for round in 0..3 {
        for k in [4u32, 8] {
            let store = namespace(&cluster, k).await;
            for p in store.partition_infos().await.unwrap() {
                assert!(p.leader.is_some(), "round {round}, K = {k}: {p:?}");
            }
            for i in 0..(4 * k) {
                let a = ActorId::new(format!("acct-{i}")).unwrap();
                store
                    .append(Event::new(a, 1, "Opened", json!({})))
                    .await
                    .unwrap_or_else(|e| panic!("round {round}, K = {k}, actor {i}: {e}"));
            }
        }
    }
}

//! Membership over a real nats-server: joins, graceful leaves, crashes
//! (suspicion then expiry), shard reassignment, epochs.

mod support;

use std::time::{Duration, Instant};

use aether_cluster::{LeaveReason, MembershipEvent, ShardMap, Term};
use aether_core::NodeId;
use aether_testkit::NatsServer;
use aether_testkit::eventually;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_member_is_suspected_then_removed_and_its_shards_reassigned() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("crash"));
    let a = start_node(&server.url(), &cfg, "a").await;
    eventually("a leads", Duration::from_secs(5), async || a.leadership()).await;
    let b = start_node(&server.url(), &cfg, "b").await;
    let c = start_node(&server.url(), &cfg, "c").await;
    let epoch = converged(&[&a, &b, &c], &["a", "b", "c"], Duration::from_secs(10)).await;
    let victim_shards = a
        .shard_map()
        .unwrap()
        .assignment
        .primary_shards_of(&node_id("c"));
    assert!(!victim_shards.is_empty());
    let mut events = a.subscribe();

    let killed_at = Instant::now();
    c.abort();
    let mut suspected_after = None;
    let left_after = within(Duration::from_secs(10), "c leaves", async {
        loop {
            match events.recv().await.unwrap() {
                MembershipEvent::Suspected(n) if n.as_str() == "c" => {
                    suspected_after = Some(killed_at.elapsed());
                }
                MembershipEvent::Left { node, reason } if node.as_str() == "c" => {
                    assert_eq!(reason, LeaveReason::Expired);
                    return killed_at.elapsed();
                }
                _ => {}
            }
        }
    })
    .await;
    let suspected_after = suspected_after.expect("suspected before it left");
    let detection = cfg.membership.suspect_after();
    eprintln!(
        "suspected after {suspected_after:?} (detection time {detection:?}), left after {left_after:?}"
    );
    // Suspicion: within the detection time, plus one heartbeat period of slack
    // for the check tick and scheduling; and long before the lease runs out.
    assert!(suspected_after <= detection + cfg.membership.heartbeat_interval * 2);
    assert!(suspected_after < cfg.membership.lease);
    assert!(suspected_after < left_after);

    let next = converged(&[&a, &b], &["a", "b"], Duration::from_secs(10)).await;
    assert_eq!(next, epoch + 1, "the epoch grows once for one change");
    let map = a.shard_map().unwrap();
    for s in &victim_shards {
        assert_ne!(map.primary(*s).unwrap().as_str(), "c");
    }
    assert_eq!(a.owned_shards().len() + b.owned_shards().len(), 1024);
    // And stays there: no further map without a further change.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(a.shard_map().unwrap().epoch, next);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_leave_is_seen_at_once_and_joins_rebalance() {
    init_tracing();
    let server = NatsServer::start().await;
    let mut cfg = fast_config(&unique_cluster("leave"));
    // The join in one map (rounds: `election::a_join_moves_in_rounds_and_a_leave_at_once`).
    cfg.rebalance_max_moves = 1024;
    let a = start_node(&server.url(), &cfg, "a").await;
    let b = start_node(&server.url(), &cfg, "b").await;
    let e1 = converged(&[&a, &b], &["a", "b"], Duration::from_secs(10)).await;
    let mut events = a.subscribe();
    let c = start_node(&server.url(), &cfg, "c").await;
    let joined = within(Duration::from_secs(5), "c joins", async {
        loop {
            if let MembershipEvent::Joined(m) = events.recv().await.unwrap()
                && m.info.id.as_str() == "c"
            {
                return m;
            }
        }
    })
    .await;
    assert_eq!(
        joined.info.address,
        format!("aether.cluster.{}.node.c", cfg.cluster_name)
    );
    let e2 = converged(&[&a, &b, &c], &["a", "b", "c"], Duration::from_secs(10)).await;
    assert_eq!(e2, e1 + 1);
    // c took about a third, all from the others.
    let load = c.owned_shards().len();
    assert!((250..=430).contains(&load), "c owns {load}");

    let start = Instant::now();
    c.shutdown().await.unwrap();
    within(Duration::from_secs(2), "graceful leave", async {
        loop {
            match events.recv().await.unwrap() {
                MembershipEvent::Left { node, reason } if node.as_str() == "c" => {
                    assert_eq!(reason, LeaveReason::Graceful);
                    return;
                }
                MembershipEvent::Suspected(n) if n.as_str() == "c" => {
                    panic!("a graceful leave is not a suspicion")
                }
                _ => {}
            }
        }
    })
    .await;
    // Seen at once: a `Graceful` leave (not an expiry), well before the lease
    // could have run out.
    assert!(
        start.elapsed() < cfg.membership.lease,
        "took {:?}",
        start.elapsed()
    );
    let e3 = converged(&[&a, &b], &["a", "b"], Duration::from_secs(5)).await;
    assert_eq!(e3, e2 + 1);
    assert!(!a.members().contains(&node_id("c")));
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_with_an_older_epoch_or_term_are_rejected() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("epoch"));
    let a = start_node(&server.url(), &cfg, "a").await;
    let b = start_node(&server.url(), &cfg, "b").await;
    let epoch = converged(&[&a, &b], &["a", "b"], Duration::from_secs(10)).await;
    let current = a.shard_map().unwrap();

    // A stale writer puts an older map straight into the bucket.
    let js = async_nats::jetstream::new(server.connect().await);
    let kv = js
        .get_key_value(format!("{}_shards", cfg.cluster_name))
        .await
        .unwrap();
    let mut stale = ShardMap::clone(&current);
    stale.epoch = epoch - 1;
    kv.put(aether_cluster::SHARD_MAP_KEY, stale.encode().unwrap())
        .await
        .unwrap();
    // And one with a newer epoch but an older term (a deposed leader).
    let mut deposed = ShardMap::clone(&current);
    deposed.epoch = epoch + 5;
    deposed.term = Term(current.term.get() - 1);
    kv.put(aether_cluster::SHARD_MAP_KEY, deposed.encode().unwrap())
        .await
        .unwrap();
    eventually("both rejected", Duration::from_secs(5), async || {
        a.rejected_maps() >= 2 && b.rejected_maps() >= 2
    })
    .await;
    assert_eq!(a.shard_map().unwrap().epoch, epoch);
    assert_eq!(b.shard_map().unwrap().epoch, epoch);

    // The leader still publishes after the foreign writes: the next epoch is
    // above every epoch seen.
    let c = start_node(&server.url(), &cfg, "c").await;
    let next = converged(&[&a, &b, &c], &["a", "b", "c"], Duration::from_secs(10)).await;
    assert_eq!(next, epoch + 6);
    for n in [&a, &b, &c] {
        n.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_nats_stops_claiming_before_anyone_takes_over() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("partition"));
    let proxy = aether_testkit::TcpProxy::start(server.port()).await;
    let a = start_node(&proxy.url(), &cfg, "a").await;
    eventually("a leads", Duration::from_secs(5), async || a.leadership()).await;
    let b = start_node(&server.url(), &cfg, "b").await;
    let c = start_node(&server.url(), &cfg, "c").await;
    converged(&[&a, &b, &c], &["a", "b", "c"], Duration::from_secs(10)).await;
    assert!(!a.owned_shards().is_empty());
    let mut a_leadership = a.watch_leadership();
    // The instant b or c becomes leader, as seen by their own election task.
    let (became_tx, mut became_rx) = tokio::sync::mpsc::unbounded_channel();
    for n in [&b, &c] {
        let mut rx = n.watch_leadership();
        let tx = became_tx.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                if rx.borrow_and_update().is_some() {
                    let _ = tx.send(Instant::now());
                    return;
                }
            }
        });
    }
    let mut b_map = b.watch_shard_map();
    let mut c_map = c.watch_shard_map();

    proxy.cut();
    let cut_at = Instant::now();

    // The last moments a may act as leader and as owner, on its own clock.
    let a_leader_until = a_leadership.borrow_and_update().map(|l| l.valid_until);
    let a_owner_until = a.lease().valid_until.unwrap();

    // Someone else leads; record when that happened.
    let (new_leader, _) = eventually("takeover", Duration::from_secs(8), async || {
        leaders(&[&b, &c]).into_iter().next()
    })
    .await;
    let took_over_at = became_rx.recv().await.unwrap();
    // a's shards are given away; record when the first survivor saw it.
    let without_a = |m: &ShardMap| !m.members.contains(&NodeId::new("a").unwrap());
    let reassigned = within(Duration::from_secs(8), "new map without a", async {
        tokio::select! {
            m = b_map.wait_for(without_a) => m.unwrap(),
            m = c_map.wait_for(without_a) => m.unwrap(),
        }
    })
    .await;
    let reassigned_at = Instant::now();
    eprintln!(
        "cut at 0; a leader until {:?}, owner until {:?}; {new_leader} led by {:?}; map epoch {} at {:?}",
        a_leader_until.map(|t| t.saturating_duration_since(cut_at)),
        a_owner_until.saturating_duration_since(cut_at),
        took_over_at - cut_at,
        reassigned.epoch,
        reassigned_at - cut_at,
    );
    // a could not renew after the cut, so its last valid_until is final.
    let last_leader_until = a
        .watch_leadership()
        .borrow()
        .map(|l| l.valid_until)
        .or(a_leader_until);
    if let Some(until) = last_leader_until {
        assert!(
            until <= took_over_at,
            "a could still lead when {new_leader} took over"
        );
    }
    assert!(a.lease().valid_until.is_none_or(|t| t <= reassigned_at));
    // And a itself says so.
    assert!(!a.is_leader());
    assert!(a.owned_shards().is_empty());
    assert!(
        a.shard_map()
            .unwrap()
            .members
            .contains(&NodeId::new("a").unwrap()),
        "a never saw the new map"
    );
    a.abort();
    b.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

/// Regression: the membership watcher published heartbeats without a time
/// limit. While NATS is unreachable the client stops taking commands once its
/// queue is full, so the watcher hung in `publish` and no longer saw the
/// shutdown signal: `shutdown` ran into its deadline and aborted the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_time_while_nats_is_down() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("down"));
    // A small client queue fills after a few heartbeats once NATS is gone.
    let client = async_nats::ConnectOptions::new()
        .client_capacity(4)
        .connect(server.url())
        .await
        .unwrap();
    let node = aether_cluster::ClusterNode::start(
        client,
        aether_cluster::ClusterConfig {
            node: aether_cluster::NodeInfo::new(node_id("a")),
            ..cfg.clone()
        },
    )
    .await
    .unwrap();
    eventually("a leads", Duration::from_secs(5), async || {
        node.leadership()
    })
    .await;
    server.kill();
    // Long enough for several heartbeats and renewals to queue up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    within(Duration::from_secs(10), "shutdown", node.shutdown())
        .await
        .expect("every task stops by itself within the shutdown deadline");
}

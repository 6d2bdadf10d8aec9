use super::*;
use crate::config::StrategyConfig;

fn n(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

#[test]
fn shard_of_actor_is_stable_and_pinned() {
    let a = ActorId::new("order-42").unwrap();
    assert_eq!(shard_for_actor(&a, 1024), shard_for_actor(&a, 1024));
    // Pinned: changing the hash re-shards every actor of every cluster.
    assert_eq!(shard_for_actor(&a, 1024), ShardId(PINNED_ORDER_42_SHARD));
    let typed = ActorId::with_type("invoice", "order-42").unwrap();
    assert_ne!(
        shard_for_actor(&typed, 1 << 16),
        shard_for_actor(&a, 1 << 16)
    );
    assert_eq!(shard_for_actor(&a, 0), ShardId(0));
}

const PINNED_ORDER_42_SHARD: u32 = 328;

#[test]
fn place_and_assign() {
    let m = ShardManager::new(ShardConfig {
        shard_count: 16,
        replication_factor: 2,
        ..Default::default()
    })
    .unwrap();
    let actor = ActorId::new("a-1").unwrap();
    assert_eq!(m.place(&actor), None);
    m.rebalance(&[n("a"), n("b"), n("c")]);
    let shard = m.shard_for(&actor);
    let replicas = m.place_replicas(&actor);
    assert_eq!(replicas.len(), 2);
    assert_eq!(m.place(&actor).as_ref(), replicas.first());
    m.assign_shard(shard, vec![n("c"), n("a")]).unwrap();
    assert_eq!(m.nodes_for_shard(shard), vec![n("c"), n("a")]);
    assert!(m.assign_shard(shard, vec![n("c"), n("c")]).is_err());
    assert!(m.assign_shard(ShardId(16), vec![n("c")]).is_err());
    assert!(m.apply(ShardAssignment::unassigned(3)).is_err());
}

#[test]
fn bounded_load_from_config() {
    let m = ShardManager::new(ShardConfig {
        strategy: StrategyConfig::BoundedLoad { epsilon: 0.1 },
        ..Default::default()
    })
    .unwrap();
    assert_eq!(m.strategy().name(), "bounded-load");
    let members: Vec<NodeId> = (0..10).map(|i| n(&format!("n{i}"))).collect();
    m.rebalance(&members);
    let load = m.assignment().primary_load();
    assert!(load.values().all(|&l| l <= 113), "{load:?}");
}

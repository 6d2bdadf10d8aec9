//! `aether cluster members|leader|shards|map` and `aether claims`.

use std::collections::BTreeMap;

use aether_cluster::{ClusterInspector, ShardId};
use serde_json::json;

use crate::args::{ClaimsArgs, ClusterArgs, ClusterWhat, Global};
use crate::error::CliError;
use crate::output::{self, Output};

pub(crate) async fn inspector(g: &Global, cluster: &str) -> Result<ClusterInspector, CliError> {
    let client = crate::conn::client(g).await?;
    Ok(ClusterInspector::open(client, cluster).await?)
}

pub(crate) async fn run(g: &Global, out: &Output, a: ClusterArgs) -> Result<(), CliError> {
    let cluster = inspector(g, &a.cluster).await?;
    match a.what {
        ClusterWhat::Members => {
            let members = cluster.members().await?;
            if out.json {
                let list: Vec<_> = members
                    .iter()
                    .map(|m| {
                        json!({
                            "node": m.info.id.as_str(),
                            "address": m.info.address,
                            "metadata": m.info.metadata,
                            "revision": m.revision,
                            "renewed_ago_ms": m.renewed_ago.as_millis() as u64,
                            "lease_ms": m.lease.as_millis() as u64,
                        })
                    })
                    .collect();
                out.json(&json!(list), false);
            } else {
                let rows: Vec<Vec<String>> = members
                    .iter()
                    .map(|m| {
                        vec![
                            m.info.id.to_string(),
                            m.info.address.clone(),
                            m.revision.to_string(),
                            output::ago(m.renewed_ago),
                            output::ago(m.lease.saturating_sub(m.renewed_ago)),
                        ]
                    })
                    .collect();
                out.table(
                    &["NODE", "ADDRESS", "REVISION", "RENEWED", "LEASE LEFT"],
                    &rows,
                );
            }
        }
        ClusterWhat::Leader => {
            let leader = cluster.leader().await?;
            if out.json {
                out.json(
                    &json!(
                        leader
                            .as_ref()
                            .map(|l| json!({"node": l.node.as_str(), "term": l.term.0}))
                    ),
                    false,
                );
            } else {
                match leader {
                    Some(l) => out.table(
                        &["LEADER", "TERM"],
                        &[vec![l.node.to_string(), l.term.0.to_string()]],
                    ),
                    None => out.line("no leader"),
                }
            }
        }
        ClusterWhat::Shards | ClusterWhat::Map => {
            let Some(map) = cluster.shard_map().await? else {
                return Err(CliError::not_found(format!(
                    "cluster {:?} has no shard map yet",
                    cluster.name()
                )));
            };
            let count = map.assignment.shard_count();
            if matches!(a.what, ClusterWhat::Shards) {
                let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
                for s in 0..count {
                    for (i, n) in map.assignment.replicas(ShardId(s)).iter().enumerate() {
                        let e = per.entry(n.to_string()).or_default();
                        if i == 0 {
                            e.0 += 1;
                        } else {
                            e.1 += 1;
                        }
                    }
                }
                if out.json {
                    let list: Vec<_> = per
                        .iter()
                        .map(|(n, (p, r))| json!({"node": n, "primaries": p, "replicas": r}))
                        .collect();
                    out.json(
                        &json!({"epoch": map.epoch, "shards": count, "nodes": list}),
                        false,
                    );
                } else {
                    out.line(&format!("epoch {}, {count} shards", map.epoch));
                    let rows: Vec<Vec<String>> = per
                        .iter()
                        .map(|(n, (p, r))| vec![n.clone(), p.to_string(), r.to_string()])
                        .collect();
                    out.table(&["NODE", "PRIMARIES", "REPLICAS"], &rows);
                }
            } else if out.json {
                let shards: Vec<_> = (0..count)
                    .map(|s| {
                        json!(
                            map.assignment
                                .replicas(ShardId(s))
                                .iter()
                                .map(|n| n.as_str())
                                .collect::<Vec<_>>()
                        )
                    })
                    .collect();
                out.json(
                    &json!({
                        "epoch": map.epoch,
                        "term": map.term.0,
                        "leader": map.leader.as_str(),
                        "strategy": map.strategy,
                        "replication_factor": map.replication_factor,
                        "members": map.members.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
                        "shards": shards,
                    }),
                    false,
                );
            } else {
                out.line(&format!(
                    "epoch {}  term {}  leader {}  strategy {}  replicas {}",
                    map.epoch, map.term.0, map.leader, map.strategy, map.replication_factor
                ));
                let rows: Vec<Vec<String>> = (0..count)
                    .map(|s| {
                        let r = map.assignment.replicas(ShardId(s));
                        vec![
                            s.to_string(),
                            r.first().map_or("-".into(), |n| n.to_string()),
                            r.iter()
                                .skip(1)
                                .map(|n| n.to_string())
                                .collect::<Vec<_>>()
                                .join(","),
                        ]
                    })
                    .collect();
                out.table(&["SHARD", "PRIMARY", "REPLICAS"], &rows);
            }
        }
    }
    Ok(())
}

pub(crate) async fn claims(g: &Global, out: &Output, a: ClaimsArgs) -> Result<(), CliError> {
    let cluster = inspector(g, &a.cluster).await?;
    let claims = cluster.claims().await?;
    if out.json {
        let list: Vec<_> = claims
            .iter()
            .map(|c| {
                json!({
                    "shard": c.shard.0,
                    "holder": c.holder.as_str(),
                    "phase": c.phase,
                    "to": c.to.as_ref().map(|n| n.as_str()),
                    "epoch": c.epoch,
                    "revision": c.revision,
                })
            })
            .collect();
        out.json(&json!(list), false);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = claims
        .iter()
        .map(|c| {
            vec![
                c.shard.0.to_string(),
                c.holder.to_string(),
                c.phase.clone(),
                c.to.as_ref().map_or("-".into(), |n| n.to_string()),
                c.epoch.to_string(),
                c.revision.to_string(),
            ]
        })
        .collect();
    out.table(
        &["SHARD", "HOLDER", "PHASE", "TO", "EPOCH", "REVISION"],
        &rows,
    );
    Ok(())
}

//! `aether handoff <shard> --to <node>` (and `--unpin`): pins a shard to a
//! node in the cluster's shard map; the leader publishes a map with it, and
//! the runtime moves the shard (release, drain, claim) as on a rebalance.

use std::time::{Duration, Instant};

use aether_cluster::ShardId;
use aether_core::NodeId;
use serde_json::json;

use crate::args::{Global, HandoffArgs};
use crate::error::{CliError, UNREACHABLE};
use crate::output::Output;

pub(crate) async fn run(g: &Global, out: &Output, a: HandoffArgs) -> Result<(), CliError> {
    let cluster = super::cluster::inspector(g, &a.cluster).await?;
    let shard = ShardId(a.shard);
    if a.unpin {
        cluster.unpin_shard(shard).await?;
        if out.json {
            out.json(&json!({"shard": a.shard, "pinned": null}), false);
        } else {
            out.line(&format!(
                "shard {} unpinned: the leader places it again",
                a.shard
            ));
        }
        return Ok(());
    }
    let Some(to) = a.to.as_deref() else {
        return Err(CliError::usage("give --to <node> (or --unpin)"));
    };
    let to = NodeId::new(to)
        .map_err(|e| CliError::usage(format!("{to:?} is not a node id: {}", e.message())))?;
    let Some(map) = cluster.shard_map().await? else {
        return Err(CliError::not_found(format!(
            "cluster {:?} has no shard map yet",
            a.cluster
        )));
    };
    if a.shard >= map.assignment.shard_count() {
        return Err(CliError::usage(format!(
            "shard {} does not exist (the cluster has {} shards)",
            a.shard,
            map.assignment.shard_count()
        )));
    }
    if !cluster.members().await?.iter().any(|m| m.info.id == to) {
        return Err(CliError::not_found(format!(
            "{to} is not a member of cluster {:?}",
            a.cluster
        )));
    }
    cluster.pin_shard(shard, &to).await?;
    // Wait until the map names the node and the node serves the shard.
    let timeout = Duration::from_secs_f64(a.wait.max(0.0));
    let deadline = Instant::now() + timeout;
    loop {
        let mapped = cluster
            .shard_map()
            .await?
            .is_some_and(|m| m.assignment.primary(shard) == Some(&to));
        let serving = cluster
            .claims()
            .await?
            .iter()
            .any(|c| c.shard == shard && c.holder == to && c.phase == "serving");
        if mapped && serving {
            break;
        }
        if Instant::now() >= deadline {
            return Err(CliError::new(
                UNREACHABLE,
                format!(
                    "shard {} is pinned to {to}, but {to} does not serve it after {timeout:?} (map names it: {mapped})",
                    a.shard
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if out.json {
        out.json(
            &json!({"shard": a.shard, "pinned": to.as_str(), "serving": true}),
            false,
        );
    } else {
        out.line(&format!(
            "shard {} is served by {to} (pinned; `--unpin` releases it)",
            a.shard
        ));
    }
    Ok(())
}

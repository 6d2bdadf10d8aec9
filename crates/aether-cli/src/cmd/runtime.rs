//! `aether actors --node N` and `aether passivate <actor>`: requests to a
//! node's admin subject (`aether_cluster::runtime::admin_subject`).

use std::time::Duration;

use aether_cluster::runtime::admin_subject;
use aether_core::NodeId;
use serde_json::{Value, json};

use crate::args::{ActorsArgs, Global, PassivateArgs};
use crate::error::{CliError, FAILED, NOT_FOUND, UNREACHABLE};
use crate::output::Output;

/// One admin request to `node` of `cluster`.
async fn ask(g: &Global, cluster: &str, node: &NodeId, request: Value) -> Result<Value, CliError> {
    let client = crate::conn::client(g).await?;
    let subject = admin_subject(cluster, node);
    let timeout = Duration::try_from_secs_f64(g.timeout).unwrap_or(Duration::from_secs(5));
    let reply = tokio::time::timeout(timeout, client.request(subject, request.to_string().into()))
        .await
        .map_err(|_| {
            CliError::new(
                UNREACHABLE,
                format!("node {node} did not answer within {timeout:?}"),
            )
        })?
        .map_err(|e| {
            if e.kind() == async_nats::RequestErrorKind::NoResponders {
                CliError::new(
                    NOT_FOUND,
                    format!("no node {node} runs the runtime in cluster {cluster:?}"),
                )
            } else {
                crate::error::nats("asking the node", e)
            }
        })?;
    let answer: Value = serde_json::from_slice(&reply.payload).map_err(|e| {
        CliError::new(
            FAILED,
            format!("node {node} answered something else than JSON: {e}"),
        )
    })?;
    if let Some(e) = answer.get("error").and_then(Value::as_str) {
        return Err(CliError::new(FAILED, format!("node {node}: {e}")));
    }
    Ok(answer)
}

fn node_id(text: &str) -> Result<NodeId, CliError> {
    NodeId::new(text)
        .map_err(|e| CliError::usage(format!("{text:?} is not a node id: {}", e.message())))
}

pub(crate) async fn actors(g: &Global, out: &Output, a: ActorsArgs) -> Result<(), CliError> {
    let node = node_id(&a.node)?;
    let answer = ask(g, &a.cluster, &node, json!({"op": "actors"})).await?;
    if out.json {
        out.json(&answer, false);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = answer["actors"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .map(|id| vec![id.as_str().unwrap_or("?").to_string()])
                .collect()
        })
        .unwrap_or_default();
    out.table(&["ACTOR"], &rows);
    out.line(&format!("{} active on {node}", rows.len()));
    Ok(())
}

pub(crate) async fn passivate(g: &Global, out: &Output, a: PassivateArgs) -> Result<(), CliError> {
    let actor = super::events::actor_id(&a.actor)?;
    // The node serving the actor's shard, by the map and the claims.
    let cluster = super::cluster::inspector(g, &a.cluster).await?;
    let Some(map) = cluster.shard_map().await? else {
        return Err(CliError::not_found(format!(
            "cluster {:?} has no shard map yet",
            a.cluster
        )));
    };
    let shard = aether_cluster::shard_for_actor(&actor, map.assignment.shard_count());
    let claims = cluster.claims().await?;
    let Some(claim) = claims
        .iter()
        .find(|c| c.shard == shard && c.phase == "serving")
    else {
        return Err(CliError::not_found(format!(
            "no node serves shard {} (of actor {:?}) now",
            shard.0,
            actor.as_str()
        )));
    };
    let answer = ask(
        g,
        &a.cluster,
        &claim.holder,
        json!({"op": "passivate", "actor": actor.as_str()}),
    )
    .await?;
    let passivated = answer["passivated"].as_bool().unwrap_or(false);
    if out.json {
        out.json(&json!({"actor": actor.as_str(), "shard": shard.0, "node": claim.holder.as_str(), "passivated": passivated}), false);
    } else if passivated {
        out.line(&format!(
            "{} on {} (shard {}): passivating",
            actor.as_str(),
            claim.holder,
            shard.0
        ));
    } else {
        out.line(&format!(
            "{} is not active on {} (shard {})",
            actor.as_str(),
            claim.holder,
            shard.0
        ));
    }
    Ok(())
}

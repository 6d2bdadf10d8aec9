//! `aether projections`: each projection's checkpoint, lag and active
//! instance, from the projection buckets (`aether-projection`'s
//! `KvCheckpoints` and `ProjectionLeases`).

use futures::StreamExt;
use serde_json::json;

use crate::args::{Global, ProjectionsArgs};
use crate::error::{CliError, nats};
use crate::output::Output;

pub(crate) async fn run(g: &Global, out: &Output, a: ProjectionsArgs) -> Result<(), CliError> {
    let client = crate::conn::client(g).await?;
    let js = async_nats::jetstream::new(client.clone());
    let checkpoints = js
        .get_key_value(a.checkpoints.as_str())
        .await
        .map_err(|e| {
            CliError::not_found(format!(
                "no projection checkpoints bucket {}: {e}",
                a.checkpoints
            ))
        })?;
    let leases = js.get_key_value(a.leases.as_str()).await.ok();
    let head = match crate::conn::store(g, client).await {
        Ok(store) => aether_core::EventLog::head(&store)
            .await?
            .map(|p| p.sequence),
        Err(_) => None,
    };
    let mut names = Vec::new();
    if let Ok(mut keys) = checkpoints.keys().await {
        while let Some(k) = keys.next().await {
            names.push(k.map_err(|e| nats("listing checkpoints", e))?);
        }
    }
    names.sort();
    let mut rows = Vec::new();
    let mut list = Vec::new();
    for name in names {
        let position = checkpoints
            .get(name.as_str())
            .await
            .map_err(|e| nats("reading a checkpoint", e))?
            .and_then(|v| String::from_utf8(v.to_vec()).ok())
            .and_then(|t| t.parse::<aether_core::LogPosition>().ok());
        let active = match &leases {
            Some(l) => l
                .entry(name.as_str())
                .await
                .ok()
                .flatten()
                .filter(|e| e.operation == async_nats::jetstream::kv::Operation::Put)
                .map(|e| String::from_utf8_lossy(&e.value).into_owned()),
            None => None,
        };
        let lag = match (head, position) {
            (Some(h), Some(p)) => Some(h.saturating_sub(p.sequence)),
            _ => None,
        };
        list.push(json!({
            "projection": name,
            "position": position.map(|p| p.to_string()),
            "lag": lag,
            "active": active,
        }));
        rows.push(vec![
            name.clone(),
            position.map_or("-".into(), |p| p.to_string()),
            lag.map_or("-".into(), |l| l.to_string()),
            active.unwrap_or_else(|| "-".into()),
        ]);
    }
    if out.json {
        out.json(&json!(list), false);
    } else {
        out.table(
            &["PROJECTION", "POSITION", "LAG (ENTRIES)", "ACTIVE"],
            &rows,
        );
    }
    Ok(())
}

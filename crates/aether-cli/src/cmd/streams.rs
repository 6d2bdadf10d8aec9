//! `aether streams`.

use futures::StreamExt;
use serde_json::json;

use crate::args::Global;
use crate::error::{CliError, nats};
use crate::output::{self, Output};

pub(crate) async fn run(g: &Global, out: &Output) -> Result<(), CliError> {
    let client = crate::conn::client(g).await?;
    let js = async_nats::jetstream::new(client);
    let mut streams = js.streams();
    let mut found = Vec::new();
    while let Some(info) = streams.next().await {
        let info = info.map_err(|e| nats("listing streams", e))?;
        let kind = match info.config.description.as_deref() {
            Some(d) if d.starts_with("Aether events") => "events",
            Some(d) if d.starts_with("Aether snapshots") => "snapshots",
            _ => continue,
        };
        found.push((kind, info));
    }
    found.sort_by(|a, b| a.1.config.name.cmp(&b.1.config.name));
    if out.json {
        let list: Vec<_> = found
            .iter()
            .map(|(kind, i)| {
                json!({
                    "name": i.config.name,
                    "kind": kind,
                    "subjects": i.config.subjects,
                    "messages": i.state.messages,
                    "bytes": i.state.bytes,
                    "replicas": i.config.num_replicas,
                    "first": (i.state.messages > 0).then(|| output::time(i.state.first_timestamp)),
                    "last": (i.state.messages > 0).then(|| output::time(i.state.last_timestamp)),
                })
            })
            .collect();
        out.json(&json!(list), false);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|(kind, i)| {
            let when = |t| {
                if i.state.messages > 0 {
                    output::time(t)
                } else {
                    "-".into()
                }
            };
            vec![
                i.config.name.clone(),
                kind.to_string(),
                i.state.messages.to_string(),
                output::bytes(i.state.bytes),
                i.config.num_replicas.to_string(),
                when(i.state.first_timestamp),
                when(i.state.last_timestamp),
            ]
        })
        .collect();
    out.table(
        &[
            "STREAM", "KIND", "MESSAGES", "BYTES", "REPLICAS", "OLDEST", "NEWEST",
        ],
        &rows,
    );
    Ok(())
}

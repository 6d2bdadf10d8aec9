//! `aether actor <actor>`.

use aether_core::EventStore;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use serde_json::json;

use crate::args::{ActorArgs, Global};
use crate::error::{CliError, nats};
use crate::output::{self, Output};

pub(crate) async fn run(g: &Global, out: &Output, a: ActorArgs) -> Result<(), CliError> {
    let actor = super::events::actor_id(&a.actor)?;
    let client = crate::conn::client(g).await?;
    let store = crate::conn::store(g, client.clone()).await?;
    let latest = super::events::latest_or_not_found(&store, &actor).await?;
    let subject = store.subject_for(&actor);
    // The snapshot, read raw: its version header and size.
    let js = async_nats::jetstream::new(client);
    let snap_stream = format!("{}_SNAP", store.stream_name());
    let snap_subject = subject.replacen(".events.", ".snapshots.", 1);
    let snapshot = match js.get_stream(&snap_stream).await {
        Ok(stream) => match stream.get_last_raw_message_by_subject(&snap_subject).await {
            Ok(m) => Some((
                m.headers
                    .get("Aether-Snapshot-Version")
                    .map(|v| v.as_str().to_string()),
                m.payload.len(),
            )),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => None,
            Err(e) => return Err(nats("reading the snapshot", e)),
        },
        // No snapshot stream: nothing was ever snapshotted in this namespace.
        Err(e) if aether_nats::is_stream_not_found(&e) => None,
        Err(e) => return Err(nats("reading the snapshot stream", e)),
    };
    let from = latest.saturating_sub(a.last.max(1) - 1).max(1);
    let recent = store.read(&actor, from).await?;
    let writers: Vec<_> = recent
        .iter()
        .map(|e| {
            json!({
                "version": e.version,
                "type": e.event_type,
                "time": e.timestamp.to_string(),
                "node": e.metadata.get("aether.node"),
                "claim": e.metadata.get("aether.claim"),
            })
        })
        .collect();
    if out.json {
        out.json(
            &json!({
                "actor": actor.as_str(),
                "type": actor.actor_type(),
                "stream": store.stream_name(),
                "subject": subject,
                "latest_version": latest,
                "snapshot": snapshot.as_ref().map(|(v, size)| json!({"version": v, "bytes": size})),
                "last_events": writers,
            }),
            false,
        );
        return Ok(());
    }
    out.line(&format!("actor           {}", actor.as_str()));
    out.line(&format!("type            {}", actor.actor_type()));
    out.line(&format!("stream          {}", store.stream_name()));
    out.line(&format!("subject         {subject}"));
    out.line(&format!("latest version  {latest}"));
    match &snapshot {
        Some((v, size)) => out.line(&format!(
            "snapshot        version {}, {}",
            v.as_deref().unwrap_or("?"),
            output::bytes(*size as u64)
        )),
        None => out.line("snapshot        none"),
    }
    out.line("");
    let rows: Vec<Vec<String>> = recent
        .iter()
        .map(|e| {
            let meta = |k: &str| e.metadata.get(k).map_or("-".to_string(), |v| v.to_string());
            vec![
                e.version.to_string(),
                e.timestamp.to_string(),
                e.event_type.clone(),
                meta("aether.node"),
                meta("aether.claim"),
            ]
        })
        .collect();
    out.table(&["VERSION", "TIME", "TYPE", "WRITER NODE", "CLAIM"], &rows);
    Ok(())
}

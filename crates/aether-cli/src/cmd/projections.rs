//! `aether projections`: each projection's checkpoint, lag and active
//! instance, from the projection buckets (`aether-projection`'s
//! `KvCheckpoints` and `ProjectionLeases`).

use futures::StreamExt;
use serde_json::json;

use crate::args::{Global, ProjectionsArgs, RebuildArgs};
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
        Ok(store) => Some(aether_core::EventLog::head(&store).await?),
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
            .and_then(|t| t.parse::<aether_core::LogCursor>().ok());
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
        let lag = match (&head, &position) {
            (Some(h), Some(p)) => Some(lag(h, p)),
            _ => None,
        };
        list.push(json!({
            "projection": name,
            "position": position.as_ref().map(|p| p.to_string()),
            "lag": lag,
            "active": active,
        }));
        rows.push(vec![
            name.clone(),
            position.as_ref().map_or("-".into(), |p| p.to_string()),
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

/// `aether rebuild <projection>`: asks the active instance (a runner started
/// `with_control`) to rebuild, then draws its progress until it is live
/// again. Ctrl-C stops watching; the rebuild goes on in the runner.
pub(crate) async fn rebuild(g: &Global, out: &Output, a: RebuildArgs) -> Result<(), CliError> {
    use std::io::IsTerminal;
    aether_core::validate_name("projection name", &a.projection)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let mut interrupt = crate::interrupt::Interrupt::install()?;
    let client = crate::conn::client(g).await?;
    let mut status = client
        .subscribe(aether_projection::control::status_subject(&a.projection))
        .await
        .map_err(|e| nats("subscribing to the projection's status", e))?;
    let timeout = std::time::Duration::try_from_secs_f64(g.timeout)
        .unwrap_or(std::time::Duration::from_secs(5));
    let request = client.request(
        aether_projection::control::control_subject(&a.projection),
        json!({"op": "rebuild"}).to_string().into(),
    );
    match tokio::time::timeout(timeout, request).await {
        Err(_) => {
            return Err(CliError::new(
                crate::error::UNREACHABLE,
                format!(
                    "the active instance of {} did not answer within {timeout:?}",
                    a.projection
                ),
            ));
        }
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
            return Err(CliError::not_found(format!(
                "no active instance of projection {:?} listens for control (run it with `with_control`)",
                a.projection
            )));
        }
        Ok(Err(e)) => return Err(nats("asking for the rebuild", e)),
        Ok(Ok(_)) => {}
    }
    let terminal = !out.json && std::io::stdout().is_terminal();
    let started = std::time::Instant::now();
    let mut began = false;
    loop {
        let msg = tokio::select! {
            m = status.next() => m,
            () = interrupt.recv() => {
                if terminal {
                    out.line("");
                }
                out.line("stopped watching; the rebuild goes on in the runner");
                return Ok(());
            }
        };
        let Some(msg) = msg else {
            return Err(CliError::new(
                crate::error::FAILED,
                "the status subscription ended",
            ));
        };
        let Ok(s) = serde_json::from_slice::<serde_json::Value>(&msg.payload) else {
            continue;
        };
        let state = s["state"].as_str().unwrap_or("");
        if state == "failed" {
            return Err(CliError::new(
                crate::error::FAILED,
                format!(
                    "the rebuild stopped at a failing event: {}",
                    s["error"].as_str().unwrap_or("?")
                ),
            ));
        }
        // Statuses from before the rebuild began still say "live".
        began |= state != "live" || started.elapsed() > std::time::Duration::from_secs(2);
        let (done, total) = (
            s["done"].as_u64().unwrap_or(0),
            s["total"].as_u64().unwrap_or(0),
        );
        if out.json {
            out.json(&s, true);
        } else {
            let rate = s["rate"].as_f64().unwrap_or(0.0);
            let progress =
                aether_projection::Progress::new(done, total, rate, started.elapsed()).bar(30);
            if terminal {
                out.partial(&format!("\r{progress}"));
            } else {
                out.line(&progress);
            }
        }
        if began && state == "live" && done >= total {
            if terminal {
                out.line("");
            }
            if !out.json {
                out.line(&format!("{} rebuilt: {done} entries", a.projection));
            }
            return Ok(());
        }
    }
}

/// Entries of the log after `cursor`: in each partition, the head's
/// sequence minus the cursor's (every entry of a partition counts, also
/// those of actors the projection does not select).
fn lag(head: &aether_core::LogCursor, cursor: &aether_core::LogCursor) -> u64 {
    head.positions()
        .iter()
        .map(|h| {
            let done = cursor
                .get(h.partition)
                .filter(|c| c.epoch == h.epoch)
                .map_or(0, |c| c.sequence);
            h.sequence.saturating_sub(done)
        })
        .sum()
}

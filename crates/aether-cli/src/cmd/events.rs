//! `aether events <actor> [--from N] [--follow] [--raw]`.

use aether_core::{ActorId, Event, EventLog, EventStore, LogSelection, MalformedEvent};
use serde_json::json;

use crate::args::{EventsArgs, Global};
use crate::error::CliError;
use crate::output::Output;

pub(crate) fn actor_id(text: &str) -> Result<ActorId, CliError> {
    ActorId::new(text)
        .map_err(|e| CliError::usage(format!("{text:?} is not an actor id: {}", e.message())))
}

/// The actor's latest version; not found when it has no events.
pub(crate) async fn latest_or_not_found(
    store: &aether_store_jetstream::JetStreamEventStore,
    actor: &ActorId,
) -> Result<u64, CliError> {
    match store.latest_version(actor).await? {
        0 => Err(CliError::not_found(format!(
            "actor {:?} has no events in stream {}",
            actor.as_str(),
            store.stream_name()
        ))),
        latest => Ok(latest),
    }
}

pub(crate) async fn run(g: &Global, out: &Output, a: EventsArgs) -> Result<(), CliError> {
    let actor = actor_id(&a.actor)?;
    let mut interrupt = if a.follow {
        Some(crate::interrupt::Interrupt::install()?)
    } else {
        None
    };
    let client = crate::conn::client(g).await?;
    let store = crate::conn::store(g, client).await?;
    // The head before the read: events after it are new, so following from
    // it misses none and repeats none (versions already shown are skipped).
    let head = if a.follow {
        store.head().await?
    } else {
        Default::default()
    };
    let replay = store.read_with_errors(&actor, a.from.max(1)).await?;
    if replay.events.is_empty() && replay.malformed.is_empty() && !a.follow {
        latest_or_not_found(&store, &actor).await?;
    }
    let mut last = a.from.saturating_sub(1);
    if out.json && !a.follow {
        let doc = json!({
            "actor": actor.as_str(),
            "events": replay.events.iter().map(event_json).collect::<Vec<_>>(),
            "malformed": replay.malformed.iter().map(|m| malformed_json(m, a.raw)).collect::<Vec<_>>(),
        });
        out.json(&doc, false);
        return Ok(());
    }
    if out.json {
        for e in &replay.events {
            print_event(out, e);
        }
    } else {
        // The history as one aligned table; followed events as lines.
        let rows: Vec<Vec<String>> = replay.events.iter().map(row).collect();
        out.table(&["VERSION", "TIME", "TYPE", "METADATA", "DATA"], &rows);
    }
    if let Some(e) = replay.events.last() {
        last = e.version;
    }
    for m in &replay.malformed {
        print_malformed(out, m, a.raw);
    }
    let Some(interrupt) = interrupt.as_mut() else {
        return Ok(());
    };
    // Only the actor's partition holds its events.
    let partition = store.partition_of(&actor);
    let selection =
        LogSelection::actor_types([actor.actor_type()]).in_partitions(partition..partition + 1);
    let mut sub = store.subscribe(selection, head).await?;
    loop {
        let entry = tokio::select! {
            e = sub.next() => e?,
            () = interrupt.recv() => return Ok(()),
        };
        match entry.event {
            Ok(e) if e.actor_id == actor && e.version > last => {
                last = e.version;
                print_event(out, &e);
            }
            Ok(_) => {}
            Err(m) => print_malformed(out, &m, a.raw),
        }
    }
}

fn event_json(e: &Event) -> serde_json::Value {
    serde_json::to_value(e).unwrap_or_default()
}

fn malformed_json(m: &MalformedEvent, raw: bool) -> serde_json::Value {
    let mut v = json!({ "position": m.position, "error": m.error, "bytes": m.raw.len() });
    if raw {
        v["raw"] = json!(String::from_utf8_lossy(&m.raw));
    }
    v
}

fn print_event(out: &Output, e: &Event) {
    if out.json {
        out.json(&event_json(e), true);
        return;
    }
    out.line(&row(e).join("  "));
}

fn row(e: &Event) -> Vec<String> {
    vec![
        e.version.to_string(),
        e.timestamp.to_string(),
        e.event_type.clone(),
        serde_json::to_string(&e.metadata).unwrap_or_default(),
        e.data.to_string(),
    ]
}

fn print_malformed(out: &Output, m: &MalformedEvent, raw: bool) {
    if out.json {
        out.json(&malformed_json(m, raw), true);
        return;
    }
    let mut line = format!(
        "MALFORMED at stream sequence {} ({} bytes): {}",
        m.position,
        m.raw.len(),
        m.error
    );
    if raw {
        line.push_str(&format!("\n  raw: {:?}", String::from_utf8_lossy(&m.raw)));
    }
    out.line(&line);
}

//! `aether partitions`: the namespace's log partitions (one stream each),
//! their leaders, sizes and write rates; balancing leaders; moving one.

use std::time::Duration;

use aether_store_jetstream::{JetStreamEventStore, PartitionInfo};
use serde_json::json;

use crate::args::{Global, MoveArgs, PartitionsArgs, PartitionsWhat};
use crate::error::CliError;
use crate::output::{self, Output};

pub(crate) async fn run(g: &Global, out: &Output, a: PartitionsArgs) -> Result<(), CliError> {
    let client = crate::conn::client(g).await?;
    if let Some(PartitionsWhat::Repartition(r)) = &a.what {
        return repartition(g, client, out, r.to).await;
    }
    let store = crate::conn::store(g, client).await?;
    match a.what.unwrap_or(PartitionsWhat::List) {
        PartitionsWhat::List => list(&store, out, a.sample).await,
        PartitionsWhat::Balance => balance(&store, out).await,
        PartitionsWhat::Move(m) => move_one(&store, out, m).await,
        PartitionsWhat::Repartition(_) => Ok(()),
    }
}

async fn repartition(
    g: &Global,
    client: async_nats::Client,
    out: &Output,
    to: u32,
) -> Result<(), CliError> {
    let config = crate::conn::store_config(g);
    let report = aether_store_jetstream::repartition(client, config, to).await?;
    if out.json {
        out.json(
            &json!({
                "source": report.source,
                "streams": report.streams,
                "epoch": report.epoch,
                "copied": report.copied,
                "copied_after_seal": report.copied_after_seal,
                "write_pause_ms": report.write_pause.as_secs_f64() * 1e3,
            }),
            false,
        );
    } else {
        println!(
            "{} is now {} partitions ({}): {} messages copied, {} after the seal; writes waited {:.0} ms",
            report.source,
            report.streams.len(),
            report.streams.join(", "),
            report.copied,
            report.copied_after_seal,
            report.write_pause.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

async fn list(store: &JetStreamEventStore, out: &Output, sample: f64) -> Result<(), CliError> {
    let first = store.partition_infos().await?;
    let wait = Duration::try_from_secs_f64(sample).unwrap_or_default();
    let rates: Vec<Option<f64>> = if wait.is_zero() {
        vec![None; first.len()]
    } else {
        tokio::time::sleep(wait).await;
        let second = store.partition_infos().await?;
        first
            .iter()
            .zip(&second)
            .map(|(a, b)| {
                Some(b.last_sequence.saturating_sub(a.last_sequence) as f64 / wait.as_secs_f64())
            })
            .collect()
    };
    if out.json {
        let list: Vec<_> = first
            .iter()
            .zip(&rates)
            .map(|(p, rate)| {
                json!({
                    "partition": p.index,
                    "stream": p.stream,
                    "leader": p.leader,
                    "servers": p.servers,
                    "lagging": p.lagging,
                    "messages": p.messages,
                    "bytes": p.bytes,
                    "appends_per_s": rate,
                    "tags": p.tags,
                })
            })
            .collect();
        out.json(&json!(list), false);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = first
        .iter()
        .zip(&rates)
        .map(|(p, rate)| {
            vec![
                p.index.to_string(),
                p.stream.clone(),
                p.leader.clone().unwrap_or_else(|| "-".into()),
                servers(p),
                p.messages.to_string(),
                output::bytes(p.bytes),
                rate.map_or("-".into(), |r| format!("{r:.0}")),
                if p.tags.is_empty() {
                    "-".into()
                } else {
                    p.tags.join(",")
                },
            ]
        })
        .collect();
    out.table(
        &[
            "PARTITION",
            "STREAM",
            "LEADER",
            "SERVERS",
            "MESSAGES",
            "BYTES",
            "APPENDS/S",
            "TAGS",
        ],
        &rows,
    );
    Ok(())
}

/// The servers, a lagging one marked with `*`.
fn servers(p: &PartitionInfo) -> String {
    if p.servers.is_empty() {
        return "-".into();
    }
    p.servers
        .iter()
        .map(|s| {
            if p.lagging.contains(s) {
                format!("{s}*")
            } else {
                s.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn balance(store: &JetStreamEventStore, out: &Output) -> Result<(), CliError> {
    let moves = store.balance_leaders().await?;
    if out.json {
        let list: Vec<_> = moves
            .iter()
            .map(|m| json!({"partition": m.partition, "stream": m.stream, "from": m.from, "to": m.to, "done": m.done}))
            .collect();
        out.json(&json!(list), false);
        return Ok(());
    }
    if moves.is_empty() {
        println!("leaders are balanced: nothing to move");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = moves
        .iter()
        .map(|m| {
            vec![
                m.partition.to_string(),
                m.stream.clone(),
                m.from.clone(),
                m.to.clone(),
                if m.done { "done" } else { "elsewhere" }.into(),
            ]
        })
        .collect();
    out.table(&["PARTITION", "STREAM", "FROM", "TO", "STATE"], &rows);
    // `balance_leaders` returns only once the leaders are even: a move
    // whose election picked another server was moved again in a later
    // round.
    println!("leaders are balanced");
    Ok(())
}

async fn move_one(store: &JetStreamEventStore, out: &Output, m: MoveArgs) -> Result<(), CliError> {
    let before = store.partition_infos().await?;
    let Some(from) = before.get(usize::from(m.partition)) else {
        return Err(CliError::usage(format!(
            "partition {}: the namespace has {}",
            m.partition,
            before.len()
        )));
    };
    let from_servers = from.servers.clone();
    store.move_partition(m.partition, m.tags.clone()).await?;
    let wait = Duration::try_from_secs_f64(m.wait).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + wait;
    let mut now = store.partition_infos().await?[usize::from(m.partition)].clone();
    // Done when the stream is back to its number of servers, not the old
    // ones, all caught up; or, when the tags name the servers it is on
    // already, when nothing changed for a few seconds.
    let done = |p: &PartitionInfo, since: Duration| {
        p.leader.is_some()
            && p.lagging.is_empty()
            && p.servers.len() == from_servers.len()
            && (p.servers != from_servers || since >= Duration::from_secs(5))
    };
    let started = tokio::time::Instant::now();
    while !wait.is_zero() && !done(&now, started.elapsed()) {
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::failed(format!(
                "partition {} is still moving after {:.0} s: servers {} (a * is catching up)",
                m.partition,
                m.wait,
                servers(&now)
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        now = store.partition_infos().await?[usize::from(m.partition)].clone();
    }
    if out.json {
        out.json(
            &json!({"partition": m.partition, "stream": now.stream, "from": from_servers, "to": now.servers, "leader": now.leader, "tags": m.tags}),
            false,
        );
    } else {
        println!(
            "partition {} ({}): {} -> {} (leader {})",
            m.partition,
            now.stream,
            from_servers.join(","),
            servers(&now),
            now.leader.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

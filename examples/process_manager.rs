//! A process manager: a projection over the JetStream event log that sends
//! commands to actors, each taking effect **once** although the projection
//! is fed at least once.
//!
//! Needs a server: `nats-server -js`, then
//! `cargo run --example process_manager` (`NATS_URL` names another server).
//!
//! Orders (`order-<n>`, written by another service straight to the event
//! store) are `Placed` with a region and a number of units. The [`Stock`]
//! process manager reacts to each by asking the region's stock counter (an
//! actor, `counter-<region>`) to add the units. Its position is checkpointed
//! in NATS KV after handling, so after a crash it sees again the events
//! since its last checkpoint and sends their commands again. Each command's
//! id is derived from the event that caused it
//! ([`CommandId::reacting_to`]), so a repeat finds its recorded outcome in
//! the actor's dedupe window and adds nothing. The run below shows the
//! worst case: it **rebuilds** the process manager (every event delivered
//! again, every command sent again) and the counters do not move.
//! `tests/process_manager_kill.rs` `SIGKILL`s a process running [`work`]
//! while orders arrive and checks the same.
//!
//! The guarantee holds within the dedupe window (`ActorConfig::dedupe_window`,
//! the last 256 commands per actor by default, refilled from the events'
//! causation ids when an actor is activated again): a checkpoint interval
//! well below it keeps every repeat inside it.

#[path = "shared/counter.rs"]
mod counter;
#[path = "shared/nats.rs"]
mod nats;

use std::time::Duration;

use aether::jetstream::{JetStreamConfig, JetStreamEventStore};
use aether::prelude::*;
use aether::projection::{KvCheckpointConfig, KvCheckpoints, RunnerConfig, RunningProjection};
use aether::runtime::AskError;
use counter::{Add, Counter, Value};
use nats::BoxError;
use serde::{Deserialize, Serialize};

/// The regions; each has a stock counter `counter-<region>`.
pub const REGIONS: [&str; 3] = ["north", "south", "west"];

/// The process manager's name (its checkpoint key, and its commands' prefix).
pub const NAME: &str = "stock";

/// The data of an order's `Placed` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    /// One of [`REGIONS`].
    pub region: String,
    /// How many units the order takes.
    pub units: u64,
}

/// Reacts to `Placed` orders by adding their units to the region's counter.
#[derive(Debug)]
pub struct Stock {
    system: ActorSystem,
}

impl Stock {
    /// A process manager sending its commands through `system`.
    pub fn new(system: ActorSystem) -> Self {
        Self { system }
    }
}

/// The stock counter of `region`.
pub fn counter(region: &str) -> Result<ActorId, Error> {
    Ok(ActorId::new(format!("counter-{region}"))?)
}

impl Projection for Stock {
    fn name(&self) -> &str {
        NAME
    }

    fn filter(&self) -> Filter {
        Filter::actor_types(["order"]).event_types(["Placed"])
    }

    async fn handle(&mut self, event: &Event, _at: LogPosition) -> aether::Result<()> {
        // The event's data is its JSON text: decoded here, straight to the
        // type this handler reads.
        let Placed { region, units } = event.data.decode().map_err(|e| {
            Error::invalid_input(format!(
                "order event {} is not a Placed order with a region and units: {e}",
                event.id
            ))
        })?;
        let target = self
            .system
            .get::<Counter>(counter(&region)?)
            .map_err(|e| Error::unavailable(e.to_string()))?;
        let id = CommandId::reacting_to(NAME, &event.id, 0)?;
        match target.ask(Add(units)).command_id(id).await {
            Ok(_) => Ok(()),
            // A rejection is the counter's answer (adding 0): nothing to redo.
            Err(AskError::Rejected(_)) => Ok(()),
            // Not applied, or not known: the runner retries with the same id,
            // which cannot apply it twice.
            Err(e) => Err(Error::unavailable(format!(
                "asking {} for order {}: {e}",
                target.id(),
                event.actor_id
            ))),
        }
    }
}

/// The event store of namespace `ns` on `url`.
pub async fn store(url: &str, ns: &str) -> Result<JetStreamEventStore, BoxError> {
    JetStreamEventStore::connect(
        url,
        JetStreamConfig {
            stream_name: format!("EX_PM_{}", ns.to_uppercase()),
            ..JetStreamConfig::default()
        },
    )
    .await
    .map_err(nats::explain(url))
}

/// Appends orders `from..from + n` (order `k` in region `r = k % 3`, with
/// `r + 1 + k % 2` units) and returns the units they add per region.
pub async fn place_orders(
    store: &JetStreamEventStore,
    from: u64,
    n: u64,
) -> Result<[u64; 3], BoxError> {
    let mut units = [0u64; 3];
    let mut batch = Vec::new();
    for k in from..from + n {
        let region = (k % 3) as usize;
        let u = region as u64 + 1 + k % 2;
        units[region] += u;
        let order = ActorId::new(format!("order-{k}"))?;
        let placed = Event::new(
            order.clone(),
            1,
            "Placed",
            Payload::encode(&Placed {
                region: REGIONS[region].to_owned(),
                units: u,
            })?,
        );
        batch.push((order, ExpectedVersion::Exact(0), vec![placed]));
    }
    for r in store.append_many(batch).await {
        r?;
    }
    Ok(units)
}

/// Starts the actors and the process manager of namespace `ns` (checkpoint
/// every 25 events, so that a crash repeats a few).
pub async fn start(
    url: &str,
    ns: &str,
    rebuild: bool,
) -> Result<(ActorSystem, RunningProjection<Stock>), BoxError> {
    let events = store(url, ns).await?;
    let system = ActorSystem::builder()
        .events(events.clone())
        .register::<Counter>(ActorConfig::default())
        .start()
        .await?;
    let checkpoints = KvCheckpoints::open(
        events.client().clone(),
        KvCheckpointConfig {
            bucket: format!("EX_PM_{}_checkpoints", ns.to_uppercase()),
            ..KvCheckpointConfig::default()
        },
    )
    .await?;
    let runner = ProjectionRunner::new(events, Stock::new(system.clone()), checkpoints)
        .with_config(RunnerConfig {
            checkpoint_every: 25,
            checkpoint_interval: Duration::from_millis(200),
            ..RunnerConfig::default()
        });
    let running = if rebuild {
        runner.rebuild()
    } else {
        runner.start()
    };
    Ok((system, running))
}

/// The body of the process `tests/process_manager_kill.rs` kills: runs the
/// process manager until it fails.
pub async fn work(url: &str, ns: &str) -> Result<(), BoxError> {
    let (_system, mut running) = start(url, ns, false).await?;
    let s = running.wait_for(|s| s.is_failed()).await;
    Err(format!("the process manager stopped: {:?}", s.state).into())
}

/// Each region counter's value, read through `system`.
pub async fn stock(system: &ActorSystem) -> Result<[u64; 3], BoxError> {
    let mut out = [0; 3];
    for (i, region) in REGIONS.iter().enumerate() {
        out[i] = system
            .get::<Counter>(counter(region)?)?
            .query(Value)
            .await?;
    }
    Ok(out)
}

/// Runs the process manager (rebuilt from the start if `rebuild`) until it
/// has handled `orders` orders; returns how many it handled and the stock.
async fn pass(
    url: &str,
    ns: &str,
    rebuild: bool,
    orders: u64,
) -> Result<(u64, [u64; 3]), BoxError> {
    let (system, mut running) = start(url, ns, rebuild).await?;
    running
        .wait_for(|s| s.handled >= orders || s.is_failed())
        .await;
    let (_, status) = running.stop().await?;
    let stock = stock(&system).await?;
    system.shutdown().await?;
    Ok((status.handled, stock))
}

/// Runs the example against the server at `url`.
pub async fn run(url: &str) -> Result<(), BoxError> {
    let ns = format!("pm{}", nats::run_suffix());
    let events = store(url, &ns).await?;
    let expected = place_orders(&events, 0, 300).await?;
    println!("300 orders placed; units per region {REGIONS:?}: {expected:?}");

    let (handled, once) = pass(url, &ns, false, 300).await?;
    println!("the process manager handled {handled} orders: stock {once:?}");
    // The worst case of at-least-once delivery: every event again.
    let (handled, rebuilt) = pass(url, &ns, true, 300).await?;
    println!(
        "rebuilt: {handled} orders delivered again, every command sent again: stock {rebuilt:?}"
    );
    if once != expected || rebuilt != expected {
        return Err(
            format!("stock {once:?} then {rebuilt:?}, expected {expected:?} both times").into(),
        );
    }
    println!("each order took effect once");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nats::main(|url| async move { run(&url).await }).await
}

//! `aether tail [pattern] [--bus-namespace NS]`.

use aether_bus::{Filter, NatsBusConfig, NatsEventBus, SubscribeOptions};
use serde_json::json;

use crate::args::{Global, TailArgs};
use crate::error::CliError;
use crate::output::Output;

pub(crate) async fn run(g: &Global, out: &Output, a: TailArgs) -> Result<(), CliError> {
    let mut interrupt = crate::interrupt::Interrupt::install()?;
    let client = crate::conn::client(g).await?;
    let bus = NatsEventBus::open(
        client,
        NatsBusConfig {
            subject_prefix: a.prefix.clone(),
            ..Default::default()
        },
    )
    .await?;
    let filter = Filter::new().actor_pattern(&a.pattern)?;
    let mut sub = bus
        .subscribe_with(&a.bus_namespace, filter, SubscribeOptions::default())
        .await?;
    if !out.json {
        out.table(&["NAMESPACE", "ACTOR", "VERSION", "TYPE", "DATA"], &[]);
    }
    let mut seen = 0u64;
    while a.count.is_none_or(|c| seen < c) {
        let item = tokio::select! {
            i = sub.recv() => i,
            () = interrupt.recv() => break,
        };
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                return Err(CliError::new(
                    crate::error::FAILED,
                    format!("the subscription ended: {e}"),
                ));
            }
        };
        match item {
            aether_bus::BusItem::Event(env) => {
                seen += 1;
                let e = &env.event;
                if out.json {
                    out.json(
                        &json!({"namespace": env.namespace.to_string(), "event": serde_json::to_value(&**e).unwrap_or_default()}),
                        true,
                    );
                } else {
                    out.line(&format!(
                        "{}  {}  {}  {}  {}",
                        env.namespace, e.actor_id, e.version, e.event_type, e.data
                    ));
                }
            }
            aether_bus::BusItem::Lagged(n) => {
                if out.json {
                    out.json(&json!({"lagged": n}), true);
                } else {
                    out.line(&format!("(missed {n} events: the subscriber fell behind)"));
                }
            }
        }
    }
    let _ = bus.shutdown().await;
    Ok(())
}

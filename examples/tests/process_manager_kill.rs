//! The `process_manager` example under `SIGKILL`: a separate OS process runs
//! the process manager and the stock counters (`process_manager::work`) and
//! is killed while it works through the orders, and again while new orders
//! arrive; each restart sees again the events since the last checkpoint and
//! sends their commands again. At the end every order has taken effect
//! exactly once: each counter holds one event per order of its region
//! (recorded history, causation ids all distinct, each naming an order
//! event) and the expected sum.

use std::collections::{BTreeSet, HashMap};
use std::process::{Child, Command};
use std::time::Duration;

use aether::prelude::*;
use aether_examples::process_manager::{NAME, Placed, REGIONS, counter, place_orders, store, work};
use aether_testkit::{NatsServer, Wait};

const CHILD_ENV: &str = "AETHER_PROCESS_MANAGER_WORKER";

/// Not a test: the body of the worker process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_manager_worker() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (url, ns) = spec.split_once('|').unwrap();
        work(url, ns).await.unwrap();
    }
}

fn spawn(url: &str, ns: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "process_manager_worker", "--nocapture"])
        .env(CHILD_ENV, format!("{url}|{ns}"))
        .spawn()
        .expect("spawn the worker")
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The counters' stored events (what the commands did), by region.
async fn applied(store: &impl EventStore) -> Vec<Vec<Event>> {
    let mut out = Vec::new();
    for region in REGIONS {
        out.push(store.read(&counter(region).unwrap(), 1).await.unwrap());
    }
    out
}

/// Waits until at least `at_least` orders took effect (checked every 20 ms, for up to 90 s).
async fn wait_applied(store: &impl EventStore, what: &str, at_least: usize) {
    Wait::new(what, Duration::from_secs(90))
        .every(Duration::from_millis(20))
        .until(async || {
            let n: usize = applied(store).await.iter().map(Vec::len).sum();
            if n >= at_least {
                Ok(())
            } else {
                Err(format!("{n} of {at_least} applied"))
            }
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_work_and_mid_live_each_order_takes_effect_once() {
    let server = NatsServer::start().await;
    let url = server.url();
    let ns = "kill";
    let store = store(&url, ns).await.unwrap();
    let mut expected = place_orders(&store, 0, 600).await.unwrap();

    // While working through the stored orders, twice.
    let child = spawn(&url, ns);
    wait_applied(&store, "first progress", 100).await;
    kill(child);
    let child = spawn(&url, ns);
    wait_applied(&store, "resumed", 300).await;
    kill(child);
    let child = spawn(&url, ns);
    wait_applied(&store, "caught up", 600).await;

    // While new orders arrive.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut added = [0u64; 3];
            for round in 0..4u64 {
                let more = place_orders(&store, 600 + round * 50, 50).await.unwrap();
                for (sum, m) in added.iter_mut().zip(more) {
                    *sum += m;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            added
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    kill(child);
    for (sum, m) in expected.iter_mut().zip(writer.await.unwrap()) {
        *sum += m;
    }
    let child = spawn(&url, ns);
    wait_applied(&store, "caught up after the live kill", 800).await;
    // Anything sent twice would land within the checkpoint interval.
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill(child);

    // The orders, by event id.
    let mut orders: HashMap<String, (String, u64)> = HashMap::new();
    for k in 0..800u64 {
        let order = ActorId::new(format!("order-{k}")).unwrap();
        let placed = store.read(&order, 1).await.unwrap();
        assert_eq!(placed.len(), 1, "{order}");
        let p = &placed[0];
        let Placed { region, units } = p.data.decode().unwrap();
        orders.insert(p.id.to_string(), (region, units));
    }
    let applied = applied(&store).await;
    let total: usize = applied.iter().map(Vec::len).sum();
    assert_eq!(total, 800, "one counter event per order, none repeated");
    let mut causes = BTreeSet::new();
    for (i, events) in applied.iter().enumerate() {
        let mut sum = 0;
        for e in events {
            let cause = e.metadata.causation_id().expect("a causation id");
            assert!(causes.insert(cause.to_string()), "applied twice: {cause}");
            let event_id = cause
                .strip_prefix(&format!("{NAME}/"))
                .and_then(|rest| rest.strip_suffix("/0"))
                .unwrap_or_else(|| panic!("{cause} is not a reaction id"));
            let (region, units) = &orders[event_id];
            assert_eq!(region, REGIONS[i], "{cause} reached the wrong counter");
            assert_eq!(
                e.data.value().unwrap()["by"].as_u64(),
                Some(*units),
                "{e:?}"
            );
            sum += units;
        }
        assert_eq!(sum, expected[i], "region {}", REGIONS[i]);
    }
    assert_eq!(causes.len(), 800, "each order took effect once");
}

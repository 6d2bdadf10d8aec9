//! The `projection_sqlite` example's read model under `SIGKILL`: a separate
//! OS process runs the projection (`projection_sqlite::work`) and is killed
//! mid-catch-up and mid-live, then restarted; with the position committed in
//! the read model's own SQLite transaction, the final read model equals the
//! expected sums and a fresh rebuild: every event applied exactly once.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use aether::projection::{Checkpointing, ProjectionRunner};
use aether::{EventLog, LogCursor};
use aether_examples::projection_sqlite::{Balances, store, work, write_accounts};
use aether_testkit::{NatsServer, Wait};

const CHILD_ENV: &str = "AETHER_PROJECTION_WORKER";

/// Not a test: the body of the worker process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_worker() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut parts = spec.splitn(3, '|');
        let (url, ns, db) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        work(url, ns, Path::new(db)).await.unwrap();
    }
}

fn spawn(url: &str, ns: &str, db: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "projection_worker", "--nocapture"])
        .env(CHILD_ENV, format!("{url}|{ns}|{}", db.display()))
        .spawn()
        .expect("spawn the worker")
}

/// The position the read model has committed (read by another connection).
fn committed(db: &Path) -> Option<LogCursor> {
    Balances::open(db, "balances").ok()?.committed().ok()
}

/// Waits until the committed position satisfies `f` (checked every 20 ms, for up to 90 s).
async fn wait_until(db: &Path, what: &str, f: impl Fn(Option<LogCursor>) -> bool) {
    Wait::new(what, Duration::from_secs(90))
        .every(Duration::from_millis(20))
        .until(async || {
            let at = committed(db);
            if f(at.clone()) { Ok(()) } else { Err(at) }
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_catch_up_and_mid_live_every_event_is_applied_once() {
    let server = NatsServer::start().await;
    let url = server.url();
    let ns = "kill";
    let store = store(&url, ns).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("balances.db");
    let mut expected = write_accounts(&store, 60, 150, 0).await.unwrap();
    let head = store.head().await.unwrap();
    assert_eq!(head.get(0).unwrap().sequence, 60 * 151);

    // Mid-catch-up, twice.
    let mut child = spawn(&url, ns, &db);
    wait_until(&db, "first progress", |p| {
        p.and_then(|p| p.get(0))
            .is_some_and(|p| p.sequence >= 1_500)
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = committed(&db).unwrap().get(0).unwrap();
    let mut child = spawn(&url, ns, &db);
    wait_until(&db, "resumed", |p| {
        p.and_then(|p| p.get(0))
            .is_some_and(|p| p.sequence >= at_kill.sequence + 1_500)
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = spawn(&url, ns, &db);
    wait_until(&db, "caught up", |p| p.is_some_and(|p| p.reached(&head))).await;

    // Mid-live: appends go on while the worker is killed and restarted.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut added = std::collections::BTreeMap::new();
            for round in 0..4u64 {
                let more = write_accounts(&store, 60, 10, 151 + round * 10)
                    .await
                    .unwrap();
                for (owner, cents) in more {
                    *added.entry(owner).or_insert(0) += cents;
                }
            }
            added
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    for (owner, cents) in writer.await.unwrap() {
        *expected.entry(owner).or_insert(0) += cents;
    }
    let head = store.head().await.unwrap();
    let mut child = spawn(&url, ns, &db);
    wait_until(&db, "caught up after the live kill", |p| {
        p.is_some_and(|p| p.reached(&head))
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    let got = Balances::open(&db, "balances").unwrap().balances().unwrap();
    assert_eq!(got, expected, "the read model has every event exactly once");
    // And a fresh rebuild agrees.
    let rebuilt = Balances::open(&dir.path().join("rebuilt.db"), "balances").unwrap();
    let mut running =
        ProjectionRunner::new(store.clone(), rebuilt, Checkpointing::InProjection).rebuild();
    running
        .wait_for(|s| s.cursor.reached(&head) || s.is_failed())
        .await;
    let (rebuilt, _) = running.stop().await.unwrap();
    assert_eq!(rebuilt.balances().unwrap(), got, "equal to a fresh rebuild");
}

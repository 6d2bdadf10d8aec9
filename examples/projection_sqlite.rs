//! A read model in SQLite, kept **exactly once** by a projection over the
//! JetStream event log: balances by owner, from bank accounts' events.
//!
//! Needs a server: `nats-server -js`, then
//! `cargo run --example projection_sqlite` (`NATS_URL` names another server).
//!
//! The accounts (`account-<n>`, each opened by one of a few owners) are
//! written to by the event store as usual. The [`Balances`] projection turns
//! every `Opened`, `Deposited` and `Withdrew` event into rows of two tables,
//! and writes its log position **in the same SQLite transaction**
//! ([`aether::projection::sqlite`]). The run below catches up with a progress
//! bar, is stopped half-way (as a crash would stop it), resumes from the
//! position SQLite committed, follows live deposits, and finally checks the
//! read model against a fresh rebuild: equal, so nothing was applied twice or
//! lost. `tests/projection_kill.rs` does the same with `SIGKILL`s of a
//! separate process running [`work`].

#[path = "shared/nats.rs"]
mod nats;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aether::jetstream::{JetStreamConfig, JetStreamEventStore};
use aether::prelude::*;
use aether::projection::{Checkpointing, Filter, Projection, ProjectionRunner, State, sqlite};
use aether::{LogCursor, LogPosition, Result as AetherResult};
use nats::BoxError;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;

/// Owners of the accounts.
pub const OWNERS: [&str; 3] = ["ada", "grace", "linus"];

/// The read model: `accounts(account, owner)` and `balances(owner, cents)`,
/// with the projection's position in the same database.
#[derive(Debug)]
pub struct Balances {
    name: String,
    db: Connection,
}

impl Balances {
    /// Opens (creating) the read model in the SQLite file at `path`.
    pub fn open(path: &Path, name: &str) -> Result<Self, BoxError> {
        let db = Connection::open(path)?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY, owner TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS balances (owner TEXT PRIMARY KEY, cents INTEGER NOT NULL);",
        )?;
        sqlite::create_table(&db)?;
        Ok(Self {
            name: name.into(),
            db,
        })
    }

    /// Balance per owner.
    pub fn balances(&self) -> Result<BTreeMap<String, i64>, BoxError> {
        let mut stmt = self.db.prepare("SELECT owner, cents FROM balances")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The committed position: one per partition of the log.
    pub fn committed(&self) -> AetherResult<LogCursor> {
        sqlite::load_position(&self.db, &self.name)
    }
}

/// The data of an `Opened` event.
#[derive(Deserialize)]
struct Opened {
    owner: String,
}

/// The data of a `Deposited` or `Withdrew` event.
#[derive(Deserialize)]
struct Moved {
    cents: i64,
}

fn db_error(e: rusqlite::Error) -> Error {
    Error::storage_with("the read model's database", e)
}

impl Projection for Balances {
    fn name(&self) -> &str {
        &self.name
    }

    fn filter(&self) -> Filter {
        Filter::actor_types(["account"])
    }

    async fn handle(&mut self, event: &Event, position: LogPosition) -> AetherResult<()> {
        // The effect and the position commit together, or neither does.
        let tx = self.db.transaction().map_err(db_error)?;
        let account = event.actor_id.as_str();
        // Each event's data is decoded straight to the type of its event type.
        match event.event_type.as_str() {
            "Opened" => {
                let Opened { owner } = event.data.decode()?;
                tx.execute(
                    "INSERT OR IGNORE INTO accounts (account, owner) VALUES (?1, ?2)",
                    params![account, owner],
                )
                .map_err(db_error)?;
            }
            "Deposited" | "Withdrew" => {
                let Moved { cents } = event.data.decode()?;
                let delta = if event.event_type == "Deposited" {
                    cents
                } else {
                    -cents
                };
                let owner: Option<String> = tx
                    .query_row(
                        "SELECT owner FROM accounts WHERE account = ?1",
                        params![account],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_error)?;
                let owner = owner.ok_or_else(|| {
                    Error::invalid_input(format!("{account} has money before it was opened"))
                })?;
                tx.execute(
                    "INSERT INTO balances (owner, cents) VALUES (?1, ?2)
                     ON CONFLICT(owner) DO UPDATE SET cents = cents + excluded.cents",
                    params![owner, delta],
                )
                .map_err(db_error)?;
            }
            _ => {}
        }
        sqlite::save_position(&tx, &self.name, position)?;
        tx.commit().map_err(db_error)
    }

    async fn position(&mut self) -> AetherResult<LogCursor> {
        self.committed()
    }

    async fn reset(&mut self) -> AetherResult<()> {
        self.db
            .execute_batch("DELETE FROM accounts; DELETE FROM balances;")
            .map_err(db_error)?;
        sqlite::delete_position(&self.db, &self.name)
    }
}

/// The event store of the example, in its own namespace.
pub async fn store(url: &str, namespace: &str) -> Result<JetStreamEventStore, BoxError> {
    let config = JetStreamConfig {
        namespace: namespace.into(),
        ..Default::default()
    };
    JetStreamEventStore::connect(url, config)
        .await
        .map_err(nats::explain(url))
}

/// Gives accounts `account-0..accounts` `deposits` more events each after
/// version `after` (`0`: opens them first), every tenth a withdrawal:
/// returns what they add to each owner's balance.
pub async fn write_accounts(
    store: &JetStreamEventStore,
    accounts: usize,
    deposits: u64,
    after: u64,
) -> Result<BTreeMap<String, i64>, BoxError> {
    let mut expected = BTreeMap::new();
    let mut work = Vec::new();
    for n in 0..accounts {
        let owner = OWNERS[n % OWNERS.len()];
        let id = ActorId::new(format!("account-{n}"))?;
        let mut events = Vec::new();
        let start = if after == 0 {
            events.push(Event::new(
                id.clone(),
                1,
                "Opened",
                json!({ "owner": owner }),
            ));
            2
        } else {
            after + 1
        };
        for (i, v) in (start..start + deposits).enumerate() {
            let (kind, cents) = if i % 10 == 9 {
                ("Withdrew", 30)
            } else {
                ("Deposited", 100)
            };
            *expected.entry(owner.to_string()).or_insert(0) +=
                if kind == "Deposited" { cents } else { -cents };
            events.push(Event::new(id.clone(), v, kind, json!({ "cents": cents })));
        }
        // One event per append, as commands would produce them.
        for e in events {
            let expected_version = ExpectedVersion::Exact(e.version - 1);
            work.push((id.clone(), expected_version, vec![e]));
        }
    }
    for r in store.append_many(work).await {
        r?;
    }
    Ok(expected)
}

/// Runs the projection on `db` until the process is killed (the body of the
/// worker process in `tests/projection_kill.rs`).
pub async fn work(url: &str, namespace: &str, db: &Path) -> Result<(), BoxError> {
    let store = store(url, namespace).await?;
    let balances = Balances::open(db, "balances")?;
    let mut running = ProjectionRunner::new(store, balances, Checkpointing::InProjection).start();
    let s = running.wait_for(|s| s.is_failed()).await;
    Err(format!("the projection stopped: {:?}", s.state).into())
}

/// The whole example against the server at `url`.
pub async fn run(url: &str) -> Result<(), BoxError> {
    let namespace = format!("examples-proj-{}", nats::run_suffix());
    let store = store(url, &namespace).await?;
    let dir = std::env::temp_dir().join(format!("aether-projection-{}", nats::run_suffix()));
    std::fs::create_dir_all(&dir)?;
    let db_path = dir.join("balances.db");

    let mut expected = write_accounts(&store, 30, 100, 0).await?;
    println!("wrote 30 accounts of 101 events: {expected:?}");

    // 1. Catch up with a progress bar; stop half-way, as a crash would.
    let balances = Balances::open(&db_path, "balances")?;
    let running =
        ProjectionRunner::new(store.clone(), balances, Checkpointing::InProjection).start();
    let mut status = running.watch();
    loop {
        let s = status.borrow_and_update().clone();
        eprint!("\r{}", s.progress().bar(30));
        if s.read >= 1_500 || s.is_failed() {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), status.changed()).await;
    }
    let (balances, s) = running.stop().await?;
    eprintln!();
    println!(
        "stopped at {:?}; SQLite committed {:?}",
        s.position,
        balances.committed()?
    );
    drop(balances);

    // 2. Restart: it resumes after the committed position, then follows live.
    let balances = Balances::open(&db_path, "balances")?;
    let resumed_at = balances.committed()?;
    let mut running =
        ProjectionRunner::new(store.clone(), balances, Checkpointing::InProjection).start();
    running.wait_for(|s| s.is_live() || s.is_failed()).await;
    println!("resumed after {resumed_at:?}, caught up");
    let more = write_accounts(&store, 30, 10, 101).await?;
    for (owner, cents) in more {
        *expected.entry(owner).or_insert(0) += cents;
    }
    let head = aether::EventLog::head(&store).await?;
    let s = running
        .wait_for(|s| s.cursor.reached(&head) || s.is_failed())
        .await;
    if let State::Failed { position, error } = s.state {
        return Err(format!("projection failed at {position}: {error}").into());
    }
    let (balances, _) = running.stop().await?;
    let got = balances.balances()?;
    println!("balances by owner: {got:?}");

    // 3. A fresh rebuild gives the same read model.
    let rebuilt = Balances::open(&dir.join("rebuilt.db"), "balances")?;
    let mut running =
        ProjectionRunner::new(store.clone(), rebuilt, Checkpointing::InProjection).rebuild();
    running
        .wait_for(|s| s.cursor.reached(&head) || s.is_failed())
        .await;
    let (rebuilt, _) = running.stop().await?;
    let fresh = rebuilt.balances()?;
    if got != expected || fresh != expected {
        return Err(format!("read model {got:?}, rebuild {fresh:?}, expected {expected:?}").into());
    }
    println!("equal to a fresh rebuild and to the expected sums: every event applied once");
    let _ = std::fs::remove_dir_all(&dir);
    // This run's namespace is its own: leave nothing behind on the server.
    let js = aether::async_nats::jetstream::new(store.client().clone());
    let _ = js.delete_stream(store.stream_name()).await;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nats::main(|url| async move { run(&url).await }).await
}

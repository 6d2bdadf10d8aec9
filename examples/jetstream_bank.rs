//! A bank account on NATS JetStream, written to by two "nodes" at once.
//!
//! Needs a server: `nats-server -js`, then `cargo run --example jetstream_bank`
//! (`NATS_URL` names another server; the default is `nats://127.0.0.1:4222`).
//!
//! The account (below) is `quickstart`'s without its opening: deposits, and
//! withdrawals up to the balance. Two [`JetStreamEventStore`]s on separate connections each run a
//! [`Repository`] (with [`JetStreamSnapshotStore`] snapshots every 3 events)
//! over the same account. Both deposit concurrently: the server's per-actor
//! optimistic concurrency check turns every race into a version conflict, the
//! repository catches up and retries, and no deposit is lost or doubled. Then
//! both try to withdraw most of the balance at once: exactly one succeeds, the
//! other is re-decided on the new state and rejected by the account itself.

#[path = "shared/nats.rs"]
mod nats;

use std::time::Duration;

use aether::jetstream::{JetStreamConfig, JetStreamEventStore, JetStreamSnapshotStore};
use aether::prelude::*;
use nats::BoxError;
use serde::{Deserialize, Serialize};

/// The account's state: what its events add up to.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Account {
    balance: u64,
}

/// What the account is asked to do.
#[derive(Debug)]
enum AccountCommand {
    Deposit { amount: u64 },
    Withdraw { amount: u64 },
}

/// What happened to the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum AccountEvent {
    Deposited { amount: u64 },
    Withdrawn { amount: u64 },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Deposited { .. } => "Deposited",
            Self::Withdrawn { .. } => "Withdrawn",
        }
    }
}

/// Why the account refuses a withdrawal.
#[derive(Debug, thiserror::Error)]
#[error("insufficient funds: balance {balance}, requested {requested}")]
struct InsufficientFunds {
    balance: u64,
    requested: u64,
}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = InsufficientFunds;

    fn handle(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, InsufficientFunds> {
        match *command {
            AccountCommand::Deposit { amount } => Ok(vec![AccountEvent::Deposited { amount }]),
            AccountCommand::Withdraw { amount } if amount > self.balance => {
                Err(InsufficientFunds {
                    balance: self.balance,
                    requested: amount,
                })
            }
            AccountCommand::Withdraw { amount } => Ok(vec![AccountEvent::Withdrawn { amount }]),
        }
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Deposited { amount } => self.balance += amount,
            AccountEvent::Withdrawn { amount } => self.balance -= amount,
        }
    }
}

type Accounts = Repository<Account, JetStreamEventStore, JetStreamSnapshotStore>;

const TASKS_PER_NODE: u64 = 3;
const DEPOSITS_PER_TASK: u64 = 5;

/// One node: its own connection, store, snapshot store and repository.
async fn node(url: &str) -> Result<Accounts, BoxError> {
    let config = JetStreamConfig {
        namespace: "examples".into(),
        ..Default::default()
    };
    let store = JetStreamEventStore::connect(url, config)
        .await
        .map_err(nats::explain(url))?;
    let snapshots = store.open_snapshot_store().await?;
    let retry = RetryPolicy::exponential(30, Duration::from_millis(1), Duration::from_millis(40));
    Ok(Repository::new(store)
        .with_snapshots(snapshots)
        .with_snapshot_policy(SnapshotPolicy::EveryNEvents(3))
        .with_retry_policy(retry))
}

/// Runs concurrent deposits of 10 on `accounts`; returns (commits, attempts).
async fn deposits(accounts: &Accounts, id: &ActorId) -> Result<(u64, u64), BoxError> {
    let tasks: Vec<_> = (0..TASKS_PER_NODE)
        .map(|_| {
            let (accounts, id) = (accounts.clone(), id.clone());
            tokio::spawn(async move {
                let mut attempts = 0;
                for _ in 0..DEPOSITS_PER_TASK {
                    let done = accounts
                        .execute(&id, AccountCommand::Deposit { amount: 10 })
                        .await?;
                    attempts += u64::from(done.attempts);
                }
                Ok::<_, BoxError>(attempts)
            })
        })
        .collect();
    let mut attempts = 0;
    for t in tasks {
        attempts += t.await??;
    }
    Ok((TASKS_PER_NODE * DEPOSITS_PER_TASK, attempts))
}

/// Runs the example against the server at `url`.
pub async fn run(url: &str) -> Result<(), BoxError> {
    let (a, b) = (node(url).await?, node(url).await?);
    let id = ActorId::new(format!("account-{}", nats::run_suffix()))?;
    println!(
        "two nodes on {url}, stream {}, account {id}",
        a.store().stream_name()
    );

    let (on_a, on_b) = tokio::join!(deposits(&a, &id), deposits(&b, &id));
    for (name, (commits, attempts)) in [("A", on_a?), ("B", on_b?)] {
        println!(
            "node {name}: {commits} deposits of 10 committed in {attempts} attempts \
             ({} version conflicts retried)",
            attempts - commits
        );
    }
    let deposited = 2 * TASKS_PER_NODE * DEPOSITS_PER_TASK * 10;
    let loaded = b.load(&id).await?;
    println!(
        "balance {} at version {} (expected {deposited})",
        loaded.state.balance, loaded.version
    );
    if loaded.state.balance != deposited {
        return Err("a deposit was lost or doubled".into());
    }

    // Both nodes withdraw 3/4 of the balance at once: only one can.
    let amount = deposited * 3 / 4;
    let withdraw = AccountCommand::Withdraw { amount };
    let (ra, rb) = tokio::join!(
        a.execute(&id, AccountCommand::Withdraw { amount }),
        b.execute(&id, withdraw)
    );
    let mut won = 0;
    for (name, result) in [("A", ra), ("B", rb)] {
        match result {
            Ok(done) => {
                won += 1;
                println!(
                    "node {name}: withdrew {amount} after {} attempt(s), balance {}",
                    done.attempts, done.state.balance
                );
            }
            Err(ExecuteError::Rejected(e)) => {
                println!("node {name}: withdraw {amount} rejected: {e}");
            }
            Err(e) => return Err(e.into()),
        }
    }
    if won != 1 {
        return Err(format!("{won} of the two withdrawals succeeded, not one").into());
    }

    let events = a.store().read(&id, 1).await?;
    let loaded = a.load(&id).await?;
    println!(
        "{} events stored; reloaded on node A: balance {} at version {} \
         (snapshot at version {}, {} event(s) replayed)",
        events.len(),
        loaded.state.balance,
        loaded.version,
        loaded.snapshot_version,
        loaded.replayed
    );
    if loaded.state.balance != deposited - amount || events.len() as u64 != loaded.version {
        return Err("the reloaded account does not match what was committed".into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nats::main(|url| async move { run(&url).await }).await
}

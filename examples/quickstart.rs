//! Quickstart: a bank account aggregate on the in-memory store.
//!
//! Runs without a server: `cargo run --example quickstart`.
//!
//! It defines the account (commands, events, a domain error), opens it,
//! deposits, tries to withdraw too much (rejected by the aggregate), withdraws,
//! and reloads it from a snapshot plus the events after it.

use aether::core::aggregate::{
    Aggregate, CommandEnvelope, DomainEvent, ExecuteError, Repository, SnapshotPolicy,
};
use aether::memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether::prelude::*;
use serde::{Deserialize, Serialize};

/// The account's state: what `apply` builds from its events.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Account {
    owner: Option<String>,
    balance: u64,
}

/// What users ask the account to do.
#[derive(Debug)]
enum AccountCommand {
    Open { owner: String },
    Deposit { amount: u64 },
    Withdraw { amount: u64 },
}

/// What happened to the account (stored as events named after the variants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum AccountEvent {
    Opened { owner: String },
    Deposited { amount: u64 },
    Withdrawn { amount: u64 },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "Opened",
            Self::Deposited { .. } => "Deposited",
            Self::Withdrawn { .. } => "Withdrawn",
        }
    }
}

/// Why the account refuses a command.
#[derive(Debug, thiserror::Error)]
enum AccountError {
    #[error("the account is already open")]
    AlreadyOpen,
    #[error("the account is not open")]
    NotOpen,
    #[error("insufficient funds: balance {balance}, requested {requested}")]
    InsufficientFunds { balance: u64, requested: u64 },
}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;

    // Decide: never changes the state.
    fn handle(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, AccountError> {
        match command {
            AccountCommand::Open { owner } if self.owner.is_none() => {
                Ok(vec![AccountEvent::Opened {
                    owner: owner.clone(),
                }])
            }
            AccountCommand::Open { .. } => Err(AccountError::AlreadyOpen),
            _ if self.owner.is_none() => Err(AccountError::NotOpen),
            AccountCommand::Deposit { amount } => {
                Ok(vec![AccountEvent::Deposited { amount: *amount }])
            }
            AccountCommand::Withdraw { amount } if *amount > self.balance => {
                Err(AccountError::InsufficientFunds {
                    balance: self.balance,
                    requested: *amount,
                })
            }
            AccountCommand::Withdraw { amount } => {
                Ok(vec![AccountEvent::Withdrawn { amount: *amount }])
            }
        }
    }

    // Evolve: folds one event into the state.
    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { owner } => self.owner = Some(owner.clone()),
            AccountEvent::Deposited { amount } => self.balance += amount,
            AccountEvent::Withdrawn { amount } => self.balance -= amount,
        }
    }

    fn snapshot_policy() -> SnapshotPolicy {
        SnapshotPolicy::EveryNEvents(3)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = InMemoryEventStore::new();
    let snapshots = InMemorySnapshotStore::new();
    let accounts = Repository::<Account, _>::new(store.clone()).with_snapshots(snapshots);
    let id = ActorId::new("account-ada")?;

    // Commands carry metadata; every event they cause inherits it.
    let open = CommandEnvelope::new(AccountCommand::Open {
        owner: "Ada".into(),
    })
    .with_correlation_id("signup-1")
    .with_user_id("ada");
    let done = accounts.execute(&id, open).await?;
    println!(
        "opened {} for {:?} (version {})",
        id, done.state.owner, done.version
    );

    let done = accounts
        .execute(&id, AccountCommand::Deposit { amount: 100 })
        .await?;
    println!(
        "deposited 100: balance {} (version {})",
        done.state.balance, done.version
    );

    match accounts
        .execute(&id, AccountCommand::Withdraw { amount: 150 })
        .await
    {
        Err(ExecuteError::Rejected(reason)) => println!("withdraw 150 rejected: {reason}"),
        other => return Err(format!("expected a rejection, got {other:?}").into()),
    }

    let done = accounts
        .execute(&id, AccountCommand::Withdraw { amount: 30 })
        .await?;
    println!(
        "withdrew 30: balance {} (version {})",
        done.state.balance, done.version
    );

    // The snapshot policy (every 3 events) took a snapshot at version 3.
    let salary = CommandEnvelope::new(AccountCommand::Deposit { amount: 5 })
        .with_correlation_id("payroll-7");
    let done = accounts.execute(&id, salary).await?;
    println!(
        "deposited 5: balance {} (version {})",
        done.state.balance, done.version
    );

    println!("stored events:");
    for e in store.read(&id, 1).await? {
        println!(
            "  v{} {:<10} {}  correlation={} causation={}",
            e.version,
            e.event_type,
            e.data,
            e.metadata.correlation_id().unwrap_or("-"),
            e.metadata.causation_id().unwrap_or("-"),
        );
    }

    let loaded = accounts.load(&id).await?;
    println!(
        "reloaded: balance {} at version {} (snapshot at version {}, {} event(s) replayed)",
        loaded.state.balance, loaded.version, loaded.snapshot_version, loaded.replayed
    );
    Ok(())
}

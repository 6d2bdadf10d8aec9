//! Quickstart: a bank account as a virtual actor, on the in-memory store.
//!
//! Runs without a server: `cargo run --example quickstart`.
//!
//! First the account itself, an [`Aggregate`]: its state, the commands it
//! takes, the events it records, the error it refuses with, `handle` (decide:
//! a command becomes events or a refusal) and `apply` (evolve: an event
//! changes the state); neither does I/O. Then an actor system runs it: it
//! activates the account on its first command, runs commands in turns,
//! answers a query from memory, returns the recorded outcome for a retried
//! command id, passivates the idle account (with a snapshot) and brings it
//! back.

use std::time::Duration;

use aether::memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether::prelude::*;
use aether::runtime::{ActorConfig, Passivation};
use serde::{Deserialize, Serialize};

/// The account's state: what its events add up to.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Account {
    owner: Option<String>,
    balance: u64,
}

/// What the account is asked to do.
#[derive(Debug)]
enum AccountCommand {
    Open { owner: String },
    Deposit { amount: u64 },
    Withdraw { amount: u64 },
}

/// What happened to the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum AccountEvent {
    Opened { owner: String },
    Deposited { amount: u64 },
    Withdrawn { amount: u64 },
}

impl DomainEvent for AccountEvent {
    /// The name an event is stored under (its data is the variant's fields).
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
    /// Actors of this type are named `account-<key>`.
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;

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

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { owner } => self.owner = Some(owner.clone()),
            AccountEvent::Deposited { amount } => self.balance += amount,
            AccountEvent::Withdrawn { amount } => self.balance -= amount,
        }
    }
}

/// A question the account answers from its state, without events.
#[derive(Debug, Serialize, Deserialize)]
struct Balance;

impl Queryable for Account {
    type Query = Balance;
    type Answer = u64;

    fn query(&self, _: &Balance) -> u64 {
        self.balance
    }
}

/// Runs the example.
pub async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let store = InMemoryEventStore::new();
    let system = ActorSystem::builder()
        .events(store.clone())
        .snapshots(InMemorySnapshotStore::new())
        .register::<Account>(ActorConfig {
            passivation: Passivation {
                idle: Duration::from_millis(100),
                snapshot_after: 1,
            },
            ..ActorConfig::default()
        })
        .start()
        .await?;

    // A handle by id: no I/O until the first command.
    let ada = system.actor::<Account>("ada")?;
    let opened = ada
        .ask(AccountCommand::Open {
            owner: "Ada".into(),
        })
        .correlation_id("signup-1")
        .await?;
    println!("opened {} (version {})", ada.id(), opened.version);

    let done = ada.ask(AccountCommand::Deposit { amount: 100 }).await?;
    println!("deposited 100 (version {})", done.version);

    match ada.ask(AccountCommand::Withdraw { amount: 150 }).await {
        Err(AskError::Rejected(reason)) => println!("withdraw 150 rejected: {reason}"),
        other => return Err(format!("expected a rejection, got {other:?}").into()),
    }

    // A payment with an id: if the outcome were lost (a timeout), retrying
    // with the same id is safe, and returns what happened the first time.
    let payment = CommandId::new("payment-7")?;
    let first = ada
        .ask(AccountCommand::Withdraw { amount: 30 })
        .command_id(payment.clone())
        .await?;
    let retry = ada
        .ask(AccountCommand::Withdraw { amount: 30 })
        .command_id(payment)
        .await?;
    println!(
        "withdrew 30 (version {}); the retry with the same id: version {}, deduplicated: {}",
        first.version, retry.version, retry.deduplicated
    );

    // Fire and forget; a query right behind it sees its effect.
    ada.tell(AccountCommand::Deposit { amount: 5 }).await?;
    println!("balance: {}", ada.query(Balance).await?);

    // Idle for a while: the account passivates (with a snapshot) and comes
    // back on the next message.
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("active after idling: {}", ada.is_active());
    println!("balance after reactivation: {}", ada.query(Balance).await?);

    println!("stored events:");
    for e in store.read(ada.id(), 1).await? {
        println!(
            "  v{} {:<10} {}  causation={}",
            e.version,
            e.event_type,
            e.data,
            e.metadata.causation_id().unwrap_or("-"),
        );
    }
    system.shutdown().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    run().await
}

//! Quickstart: a bank account as a virtual actor, on the in-memory store.
//!
//! Runs without a server: `cargo run --example quickstart`.
//!
//! It uses the bank account every Aether test uses
//! (`crates/aether-testkit/src/fixtures/account.rs`: commands, events, a
//! domain error, the decide/evolve logic). An actor system activates the
//! account on its first command, runs commands in turns, answers a query from
//! memory, returns the recorded outcome for a retried command id, passivates
//! the idle account (with a snapshot) and brings it back.

use std::time::Duration;

use aether::memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether::prelude::*;
use aether::runtime::{ActorConfig, Passivation};
use aether_testkit::fixtures::{Account, AccountCommand, Balance};

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
    let ada = system.get::<Account>(ActorId::new("account-ada")?)?;
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

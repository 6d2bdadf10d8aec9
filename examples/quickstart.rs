//! Quickstart: a bank account aggregate on the in-memory store.
//!
//! Runs without a server: `cargo run --example quickstart`.
//!
//! It uses the bank account every Aether test uses
//! (`crates/aether-testkit/src/fixtures/account.rs`: commands, events, a
//! domain error, the decide/evolve logic), opens it, deposits, tries to
//! withdraw too much (rejected by the aggregate), withdraws, and reloads it
//! from a snapshot plus the events after it.

use aether::memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether::prelude::*;
use aether_testkit::fixtures::{Account, AccountCommand};

/// Runs the example.
pub async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let store = InMemoryEventStore::new();
    let snapshots = InMemorySnapshotStore::new();
    let accounts = Repository::<Account, _>::new(store.clone())
        .with_snapshots(snapshots)
        .with_snapshot_policy(SnapshotPolicy::EveryNEvents(3));
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    run().await
}

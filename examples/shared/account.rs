//! The bank account aggregate shared by the examples (`quickstart`,
//! `jetstream_bank`): commands, events, a domain error, and the decide/evolve
//! logic. Included with `#[path = "shared/account.rs"] mod account;`.

use aether::core::aggregate::{Aggregate, DomainEvent, SnapshotPolicy};
use serde::{Deserialize, Serialize};

/// The account's state: what `apply` builds from its events.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Account {
    pub(crate) owner: Option<String>,
    pub(crate) balance: u64,
}

/// What users ask the account to do.
#[derive(Debug)]
pub(crate) enum AccountCommand {
    Open { owner: String },
    Deposit { amount: u64 },
    Withdraw { amount: u64 },
}

/// What happened to the account (stored as events named after the variants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum AccountEvent {
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
pub(crate) enum AccountError {
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

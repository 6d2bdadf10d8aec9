//! The bank account of `models/account.yaml` written as typed Rust: the
//! same commands, validation, guards, events and fold. The reference for
//! the differential test and the bench.

#![allow(dead_code, unreachable_pub)]

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A command, in serde's externally tagged wire form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Command {
    Open {
        owner: String,
        #[serde(default)]
        overdraft: Option<i64>,
    },
    Deposit {
        amount: i64,
    },
    Withdraw {
        amount: i64,
    },
    Close {},
}

/// An event, externally tagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Opened { owner: String, overdraft: i64 },
    Deposited { amount: i64 },
    Withdrawn { amount: i64 },
    Overdrawn { balance: i64 },
    Closed {},
}

impl Event {
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Opened { .. } => "Opened",
            Event::Deposited { .. } => "Deposited",
            Event::Withdrawn { .. } => "Withdrawn",
            Event::Overdrawn { .. } => "Overdrawn",
            Event::Closed {} => "Closed",
        }
    }

    /// The event's data as JSON text (the inner object).
    pub fn data_json(&self) -> String {
        match self {
            Event::Opened { owner, overdraft } => {
                serde_json::json!({"overdraft": overdraft, "owner": owner}).to_string()
            }
            Event::Deposited { amount } | Event::Withdrawn { amount } => {
                serde_json::json!({ "amount": amount }).to_string()
            }
            Event::Overdrawn { balance } => serde_json::json!({ "balance": balance }).to_string(),
            Event::Closed {} => "{}".to_owned(),
        }
    }

    /// An event from its type and data JSON.
    pub fn from_parts(event_type: &str, data: &[u8]) -> Option<Event> {
        #[derive(Deserialize)]
        struct Amount {
            amount: i64,
        }
        Some(match event_type {
            "Opened" => {
                #[derive(Deserialize)]
                struct O {
                    owner: String,
                    overdraft: i64,
                }
                let o: O = serde_json::from_slice(data).ok()?;
                Event::Opened {
                    owner: o.owner,
                    overdraft: o.overdraft,
                }
            }
            "Deposited" => Event::Deposited {
                amount: serde_json::from_slice::<Amount>(data).ok()?.amount,
            },
            "Withdrawn" => Event::Withdrawn {
                amount: serde_json::from_slice::<Amount>(data).ok()?.amount,
            },
            "Overdrawn" => {
                #[derive(Deserialize)]
                struct B {
                    balance: i64,
                }
                Event::Overdrawn {
                    balance: serde_json::from_slice::<B>(data).ok()?.balance,
                }
            }
            "Closed" => Event::Closed {},
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    Open,
    Closed,
}

/// The typed account's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub status: Status,
    pub owner: Option<String>,
    pub balance: i64,
    pub overdraft: i64,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            status: Status::New,
            owner: None,
            balance: 0,
            overdraft: 0,
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Events(Vec<Event>),
    Rejected(&'static str),
    BadRequest,
    Fault,
}

impl Account {
    fn status_name(&self) -> &'static str {
        match self.status {
            Status::New => "new",
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }

    pub fn to_json(&self) -> Json {
        let mut o = serde_json::json!({
            "status": self.status_name(),
            "balance": self.balance,
            "overdraft": self.overdraft,
        });
        if let Some(owner) = &self.owner {
            o["owner"] = Json::from(owner.clone());
        }
        o
    }

    /// Parses and validates a command as the model's schemas would.
    pub fn parse(wire: &[u8]) -> Option<Command> {
        let c: Command = serde_json::from_slice(wire).ok()?;
        let amount_ok = |a: i64| (1..=1_000_000_000).contains(&a);
        let ok = match &c {
            Command::Open { owner, overdraft } => {
                let chars = owner.chars().count();
                (1..=200).contains(&chars) && overdraft.is_none_or(|o| (0..=100_000).contains(&o))
            }
            Command::Deposit { amount } | Command::Withdraw { amount } => amount_ok(*amount),
            Command::Close {} => true,
        };
        ok.then_some(c)
    }

    pub fn handle(&self, c: &Command) -> Outcome {
        let open = self.status == Status::Open;
        match c {
            Command::Open { owner, overdraft } => {
                if self.status != Status::New {
                    return Outcome::Rejected("already_open");
                }
                Outcome::Events(vec![Event::Opened {
                    owner: owner.clone(),
                    overdraft: overdraft.unwrap_or(0),
                }])
            }
            Command::Deposit { amount } => {
                if !open {
                    return Outcome::Rejected("not_open");
                }
                if self.balance.checked_add(*amount).is_none() {
                    return Outcome::Fault;
                }
                Outcome::Events(vec![Event::Deposited { amount: *amount }])
            }
            Command::Withdraw { amount } => {
                if !open {
                    return Outcome::Rejected("not_open");
                }
                let Some(after) = self.balance.checked_sub(*amount) else {
                    return Outcome::Fault;
                };
                if after < -self.overdraft {
                    return Outcome::Rejected("insufficient_funds");
                }
                let mut events = vec![Event::Withdrawn { amount: *amount }];
                if after < 0 {
                    events.push(Event::Overdrawn { balance: after });
                }
                Outcome::Events(events)
            }
            Command::Close {} => {
                if !open {
                    return Outcome::Rejected("not_open");
                }
                if self.balance != 0 {
                    return Outcome::Rejected("balance_not_zero");
                }
                Outcome::Events(vec![Event::Closed {}])
            }
        }
    }

    pub fn apply(&mut self, e: &Event) {
        match e {
            Event::Opened { owner, overdraft } => {
                self.status = Status::Open;
                self.owner = Some(owner.clone());
                self.overdraft = *overdraft;
            }
            Event::Deposited { amount } => self.balance += amount,
            Event::Withdrawn { amount } => self.balance -= amount,
            Event::Overdrawn { .. } => {}
            Event::Closed {} => self.status = Status::Closed,
        }
    }

    /// From command bytes: parse, decide, fold; the events as
    /// `(type, data JSON)`.
    pub fn execute(&mut self, wire: &[u8]) -> Result<Vec<(&'static str, String)>, Outcome> {
        let Some(c) = Account::parse(wire) else {
            return Err(Outcome::BadRequest);
        };
        match self.handle(&c) {
            Outcome::Events(events) => {
                let out = events
                    .iter()
                    .map(|e| (e.event_type(), e.data_json()))
                    .collect();
                for e in &events {
                    self.apply(e);
                }
                Ok(out)
            }
            other => Err(other),
        }
    }
}

//! What can go wrong when a model runs, in the three classes the wire
//! distinguishes: bad request, rejected, model fault; and fold errors.

use crate::schema::Violation;
use serde_json::Value as Json;
use std::fmt;

/// The rejection code of every model fault.
pub const MODEL_FAULT: &str = "aether.model_fault";

/// Why a command produced no events.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DecideError {
    /// The caller's fault: an unknown command, a body that is not the
    /// externally tagged JSON form, or a body failing the command's schema.
    /// Answer `bad-request`; nothing was run.
    BadRequest(BadRequest),
    /// A guard said no: answer `rejected` with the model's code, message
    /// and details. Nothing is written.
    Rejected(Rejection),
    /// The model's fault (an expression failed at run time, an emitted
    /// payload failed its schema, too many events, the state over its
    /// limit): answer `rejected` with code [`MODEL_FAULT`] and count it.
    /// Nothing is written.
    Fault(ModelFault),
}

impl DecideError {
    /// Whether the request was bad.
    pub fn is_bad_request(&self) -> bool {
        matches!(self, DecideError::BadRequest(_))
    }
    /// Whether a guard rejected the command.
    pub fn is_rejected(&self) -> bool {
        matches!(self, DecideError::Rejected(_))
    }
    /// Whether the model faulted.
    pub fn is_fault(&self) -> bool {
        matches!(self, DecideError::Fault(_))
    }
    /// The rejection code: the guard's, or [`MODEL_FAULT`]; `None` for a bad request.
    pub fn code(&self) -> Option<&str> {
        match self {
            DecideError::Rejected(r) => Some(&r.code),
            DecideError::Fault(_) => Some(MODEL_FAULT),
            DecideError::BadRequest(_) => None,
        }
    }
}

impl fmt::Display for DecideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecideError::BadRequest(b) => write!(f, "bad request: {b}"),
            DecideError::Rejected(r) => write!(f, "rejected ({}): {}", r.code, r.message),
            DecideError::Fault(m) => write!(f, "rejected ({MODEL_FAULT}): {m}"),
        }
    }
}

impl std::error::Error for DecideError {}

/// A bad request: what is wrong, and each schema violation with the JSON
/// Pointer of the failing part of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// One line for people.
    pub message: String,
    /// The schema violations (empty for an unknown command or bad JSON).
    pub violations: Vec<Violation>,
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for v in &self.violations {
            write!(f, "; {v}")?;
        }
        Ok(())
    }
}

/// A guard's rejection (and, run by the actor runtime, a model fault:
/// code [`MODEL_FAULT`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    /// The guard's `reject` code.
    pub code: String,
    /// The guard's message (the code when it has none).
    pub message: String,
    /// The guard's details (`{}` when it has none).
    pub details: Json,
}

/// A model fault: which expression or check, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFault {
    /// The model path at fault, e.g. `commands.Withdraw.guards[1].when`.
    pub path: String,
    /// What happened.
    pub message: String,
}

impl ModelFault {
    /// Always [`MODEL_FAULT`].
    pub fn code(&self) -> &'static str {
        MODEL_FAULT
    }
}

impl fmt::Display for ModelFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// An event the model cannot fold (or upcast). Activation must stop with
/// this error: an event is never skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldError {
    /// The event's type.
    pub event_type: String,
    /// The model path at fault, e.g. `events.Deposited.evolve.balance`.
    pub path: String,
    /// What happened.
    pub message: String,
}

impl fmt::Display for FoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.event_type.is_empty() {
            write!(f, "{}: {}", self.path, self.message)
        } else {
            write!(
                f,
                "cannot fold event `{}`: {}: {}",
                self.event_type, self.path, self.message
            )
        }
    }
}

impl std::error::Error for FoldError {}

/// Why a query produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// No query of that name.
    Unknown(String),
    /// The query's expression failed.
    Fault(ModelFault),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Unknown(n) => write!(f, "no query named `{n}`"),
            QueryError::Fault(m) => write!(f, "{MODEL_FAULT}: {m}"),
        }
    }
}

impl std::error::Error for QueryError {}

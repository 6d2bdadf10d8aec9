//! The wire format of routed calls: a NATS request to the actor's subject
//! (see `subject.rs`), headers for what the runtime needs, the command,
//! query or answer as JSON in the body. `docs/wire.md` documents it for
//! callers in other languages.

use std::time::Duration;

use async_nats::HeaderMap;
use serde::{Deserialize, Serialize};

/// Request: the command id (a retry reuses it; without one, the serving
/// node makes one up and a retry is not recognised).
pub(crate) const CMD_ID: &str = "Aether-Cmd-Id";
/// Request: `cmd` (an ask), `tell` (queue it, answer once queued) or `query`.
pub(crate) const KIND: &str = "Aether-Kind";
/// Request: how long the caller waits, in milliseconds from sending (the
/// serving node drops the call unrun past it).
pub(crate) const TIMEOUT: &str = "Aether-Timeout";
/// Request: the correlation id the events carry.
pub(crate) const CORR: &str = "Aether-Corr";
/// Request: more event metadata, a JSON object of strings.
pub(crate) const META: &str = "Aether-Meta";
/// Request and reply: the shard-map epoch of the sender.
pub(crate) const EPOCH: &str = "Aether-Epoch";
/// Request: the W3C trace context of the call; the events carry it as the
/// metadata key of the same name.
pub(crate) const TRACEPARENT: &str = aether_core::Metadata::KEY_TRACEPARENT;
/// Reply: what happened (see [`Status`]).
pub(crate) const STATUS: &str = "Aether-Status";
/// Reply to `not-owner`: the node the serving node's map names, if any.
pub(crate) const OWNER: &str = "Aether-Owner";
/// Reply to `overloaded`: when to retry, in milliseconds.
pub(crate) const RETRY_AFTER: &str = "Aether-Retry-After";

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Command,
    Tell,
    Query,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Command => "cmd",
            Self::Tell => "tell",
            Self::Query => "query",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "cmd" => Some(Self::Command),
            "tell" => Some(Self::Tell),
            "query" => Some(Self::Query),
            _ => None,
        }
    }
}

/// What a reply says happened. Every status but `ok`, `rejected` and
/// `timeout` means "not applied".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Done: the outcome (or the answer) is the body.
    Ok,
    /// Refused by the aggregate; nothing written. Body: [`Rejection`].
    Rejected,
    /// This node does not serve the shard: retry (the owner changes).
    NotOwner,
    /// The actor's mailbox is full: retry after `Aether-Retry-After`.
    Overloaded,
    /// The node is shutting down: retry (another node takes over).
    ShuttingDown,
    /// The actor cannot run it now (its history could not be loaded, the
    /// store refused): not applied. Body: [`Problem`].
    Unavailable,
    /// No outcome before the deadline: it may have been applied; retry with
    /// the same command id.
    Timeout,
    /// Malformed request, or a type the node does not run. Body: [`Problem`].
    BadRequest,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::NotOwner => "not-owner",
            Self::Overloaded => "overloaded",
            Self::ShuttingDown => "shutting-down",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::BadRequest => "bad-request",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Self::Ok,
            "rejected" => Self::Rejected,
            "not-owner" => Self::NotOwner,
            "overloaded" => Self::Overloaded,
            "shutting-down" => Self::ShuttingDown,
            "unavailable" => Self::Unavailable,
            "timeout" => Self::Timeout,
            "bad-request" => Self::BadRequest,
            _ => return None,
        })
    }
}

/// The body of an `ok` reply to a command: the outcome, with its events as
/// they are stored (the JSON of `aether_core::Event`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub(crate) version: u64,
    #[serde(default)]
    pub(crate) deduplicated: bool,
    #[serde(default)]
    pub(crate) events: Vec<aether_core::Event>,
}

/// The body of a `rejected` reply: the domain error, and its text.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Rejection<E> {
    pub(crate) message: String,
    pub(crate) error: E,
}

/// The body of the other error replies.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Problem {
    pub(crate) message: String,
}

/// One header's value as text, if present.
pub(crate) fn header<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers?.get(name).map(|v| v.as_str())
}

/// A millisecond count header.
pub(crate) fn millis(headers: Option<&HeaderMap>, name: &str) -> Option<Duration> {
    header(headers, name)?
        .parse::<u64>()
        .ok()
        .map(Duration::from_millis)
}

/// Reply headers for `status`.
pub(crate) fn reply_headers(status: Status, epoch: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(STATUS, status.as_str());
    if epoch > 0 {
        h.insert(EPOCH, epoch.to_string());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_round_trip_and_unknown_words_are_none() {
        for k in [Kind::Command, Kind::Tell, Kind::Query] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        for s in [
            Status::Ok,
            Status::Rejected,
            Status::NotOwner,
            Status::Overloaded,
            Status::ShuttingDown,
            Status::Unavailable,
            Status::Timeout,
            Status::BadRequest,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Kind::parse("CMD"), None);
        assert_eq!(Status::parse(""), None);
    }
}

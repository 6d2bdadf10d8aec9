//! [`Transport`]: the seam through which routed calls travel to the node
//! serving an actor: one attempt is a [`Request`] (what it asks, for how
//! long, the encoded body) answered by a [`Reply`] (a [`Status`] and a
//! body). What the requests and statuses mean lives in the local runtime
//! (`call.rs`, `serve.rs`, `status.rs`); the NATS side (`cluster/`) maps them
//! onto subjects and headers.

use std::fmt;
use std::time::Duration;

use aether_core::{ActorId, BoxFuture, CommandId, Metadata};
use bytes::Bytes;
use tokio::time::Instant;

use super::status::Status;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An ask: run the command, answer with its outcome.
    Command,
    /// A tell: queue the command, answer once queued.
    Tell,
    /// A query: answer from the committed state.
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

/// One attempt of a routed call, as the calling side sends it.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) kind: Kind,
    /// The command's id (`None` for a query).
    pub(crate) command_id: Option<&'a CommandId>,
    /// The command's metadata (`None` for a query).
    pub(crate) metadata: Option<&'a Metadata>,
    /// How long the caller waits for this attempt: the serving node skips a
    /// call that only reaches the actor after it.
    pub(crate) timeout: Duration,
    /// The command or the query, encoded once for every attempt.
    pub(crate) body: Bytes,
    /// Whether the attempt may go to the node the caller's shard map names
    /// (batched with other calls to it); `false` once an attempt found
    /// nobody serving the actor there.
    pub(crate) by_map: bool,
}

/// A request as the serving side received it.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) kind: Kind,
    /// The command's id (`None`: the serving node makes one up, and a retry
    /// is not recognised).
    pub(crate) command_id: Option<CommandId>,
    /// How long the caller waits (`None`: the type's default deadline).
    pub(crate) timeout: Option<Duration>,
    /// The command's metadata (correlation and trace ids included).
    pub(crate) metadata: Metadata,
    pub(crate) body: Bytes,
}

/// The serving side's answer to one request.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: Status,
    /// The outcome, the answer, the domain error or a problem, per status.
    pub(crate) body: Bytes,
    /// With `overloaded`: when to try again.
    pub(crate) retry_after: Option<Duration>,
}

impl Reply {
    pub(crate) fn new(status: Status, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            body: body.into(),
            retry_after: None,
        }
    }

    /// A reply whose body is a problem: `{"message": ..}`.
    pub(crate) fn problem(status: Status, message: &str) -> Self {
        let body = serde_json::to_vec(&serde_json::json!({ "message": message }));
        Self::new(status, body.unwrap_or_default())
    }

    /// A problem body's message, or a placeholder.
    pub(crate) fn problem_message(&self) -> String {
        #[derive(serde::Deserialize)]
        struct Problem {
            message: String,
        }
        serde_json::from_slice::<Problem>(&self.body)
            .map(|p| p.message)
            .unwrap_or_else(|_| "(no message)".into())
    }
}

/// How one attempt went.
#[derive(Debug)]
pub(crate) enum Sent {
    Reply(Reply),
    /// Nobody serves the actor now: not delivered.
    NoResponders,
    /// No reply in time: the request may have reached the actor.
    Lost,
    /// The deadline came before the attempt could be sent (not delivered).
    Late,
}

/// How routed calls reach the node serving an actor.
pub(crate) trait Transport: Send + Sync + fmt::Debug {
    /// Sends one attempt of a call to `actor` and waits for its reply, at
    /// most `request.timeout` and never past `deadline`.
    fn send<'a>(
        &'a self,
        actor: &'a ActorId,
        request: Request<'a>,
        deadline: Instant,
    ) -> BoxFuture<'a, Sent>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_problems_read_back() {
        for k in [Kind::Command, Kind::Tell, Kind::Query] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("CMD"), None);
        let r = Reply::problem(Status::Unavailable, "store \"down\"");
        assert_eq!(r.problem_message(), "store \"down\"");
        assert_eq!(
            Reply::new(Status::Ok, Bytes::new()).problem_message(),
            "(no message)"
        );
    }
}

//! The calling side of routed calls: for an actor of a shard this node
//! serves, the in-process path; otherwise a NATS request to the actor's
//! subject, answered by whoever serves its shard. Retries within the call's
//! deadline, always with the same command id: after "no responders" or
//! `not-owner` (nobody serves the shard now: a handoff or a failover is
//! under way) and after a lost reply, with a growing pause.

use std::sync::Arc;
use std::time::Duration;

use aether_core::aggregate::{Aggregate, CommandEnvelope, EventEnvelope, Jitter, Queryable};
use aether_core::{ActorId, Error};
use async_nats::{HeaderMap, Message, RequestErrorKind};
use bytes::Bytes;
use tokio::time::Instant;

use super::config::RoutingConfig;
use super::fence::Fence;
use super::gate::{Gates, Pass};
use super::subject::Subjects;
use super::wire::{self, Kind, Status};
use crate::ShardId;
use crate::runtime::error::{AskError, RuntimeError, RuntimeErrorKind};
use crate::runtime::host::Host;
use crate::runtime::local;
use crate::runtime::outcome::CommandOutcome;

/// What a node needs to route calls (shared by every actor type).
#[derive(Debug)]
pub(crate) struct Routing {
    pub(crate) client: async_nats::Client,
    pub(crate) subjects: Subjects,
    pub(crate) config: RoutingConfig,
    /// `None` on a system that serves nothing.
    pub(crate) fence: Option<Arc<Fence>>,
    /// One prober per shard found unserved.
    pub(crate) gates: Gates,
}

/// How one request went.
enum Attempt {
    Reply(Status, Message),
    /// Nobody serves the shard now.
    NoResponders,
    /// No reply in time: the request may have reached the actor.
    Lost,
}

impl Routing {
    /// Whether this node serves `id`'s shard now (then calls take the
    /// in-process path).
    fn serves(&self, shard: ShardId) -> bool {
        self.fence
            .as_ref()
            .is_some_and(|f| f.check_shard(shard).is_some())
    }

    fn epoch(&self) -> u64 {
        self.fence.as_ref().map_or(0, |f| f.epoch())
    }

    /// One request to `shard`, through its gate: waits while another
    /// caller probes a shard found unserved, and reports what it found.
    async fn gated(
        &self,
        shard: u32,
        subject: &str,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
        deadline: Instant,
    ) -> Option<Attempt> {
        let pass = self.gates.pass(shard, deadline).await;
        if pass == Pass::Late {
            return None;
        }
        let timeout = timeout.min(deadline.saturating_duration_since(Instant::now()));
        let attempt = self.attempt(subject, headers, body, timeout).await;
        match &attempt {
            Attempt::NoResponders => self.gates.unserved(shard, self.config.max_backoff),
            Attempt::Reply(..) => self.gates.served(shard),
            Attempt::Lost if pass == Pass::Probe => self.gates.abandon(shard),
            Attempt::Lost => {}
        }
        Some(attempt)
    }

    async fn attempt(
        &self,
        subject: &str,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Attempt {
        let request = async_nats::Request::new()
            .headers(headers)
            .payload(body)
            .timeout(Some(timeout));
        match self.client.send_request(subject.to_owned(), request).await {
            Ok(m) => {
                let status = wire::header(m.headers.as_ref(), wire::STATUS).and_then(Status::parse);
                match status {
                    Some(s) => Attempt::Reply(s, m),
                    // Not one of ours (another responder on the subject):
                    // as good as no reply.
                    None => Attempt::Lost,
                }
            }
            Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                metrics::counter!("aether_runtime_no_responders_total").increment(1);
                Attempt::NoResponders
            }
            Err(e) => {
                tracing::debug!(error = %e, "routed attempt got no reply");
                Attempt::Lost
            }
        }
    }

    /// The request headers of a call.
    fn headers(
        &self,
        kind: Kind,
        command_id: Option<&str>,
        metadata: Option<&aether_core::Metadata>,
        wait: Duration,
    ) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(wire::KIND, kind.as_str());
        if let Some(id) = command_id {
            h.insert(wire::CMD_ID, id);
        }
        h.insert(wire::TIMEOUT, wait.as_millis().to_string());
        if let Some(m) = metadata {
            if let Some(c) = m.correlation_id() {
                h.insert(wire::CORR, c);
            }
            if let Some(t) = m.get(wire::TRACEPARENT) {
                h.insert(wire::TRACEPARENT, t);
            }
            let rest: std::collections::BTreeMap<&str, &str> = m
                .iter()
                .filter(|(k, _)| {
                    *k != aether_core::Metadata::KEY_CORRELATION_ID && *k != wire::TRACEPARENT
                })
                .collect();
            if !rest.is_empty()
                && let Ok(json) = serde_json::to_string(&rest)
            {
                h.insert(wire::META, json.as_str());
            }
        }
        let epoch = self.epoch();
        if epoch > 0 {
            h.insert(wire::EPOCH, epoch.to_string());
        }
        h
    }
}

/// Pauses between attempts: 1 ms, doubling up to `max`, each with up to
/// half of it again as jitter, never past the deadline.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Self {
        Self {
            next: Duration::from_millis(1),
            max,
        }
    }

    /// Sleeps; `false` if the deadline leaves no time for another attempt.
    async fn pause(&mut self, deadline: Instant) -> bool {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let wake = Instant::now() + base + Jitter::Full.apply(base / 2);
        if wake >= deadline {
            tokio::time::sleep_until(deadline).await;
            return false;
        }
        tokio::time::sleep_until(wake).await;
        true
    }

    async fn pause_for(&mut self, wait: Duration, deadline: Instant) -> bool {
        let wake = Instant::now() + wait;
        if wake >= deadline {
            return false;
        }
        tokio::time::sleep_until(wake).await;
        true
    }
}

/// A problem body's message, or a placeholder.
fn problem(m: &Message) -> String {
    serde_json::from_slice::<wire::Problem>(&m.payload)
        .map(|p| p.message)
        .unwrap_or_else(|_| "(no message)".into())
}

fn retry_after(m: &Message) -> Duration {
    wire::millis(m.headers.as_ref(), wire::RETRY_AFTER).unwrap_or(local::RETRY_AFTER)
}

/// Decodes the body of an `ok` reply to an ask.
fn decode_outcome<A: Aggregate>(
    m: &Message,
    command_id: aether_core::CommandId,
) -> Result<CommandOutcome<A::Event>, Error> {
    let o: wire::Outcome = serde_json::from_slice(&m.payload)
        .map_err(|e| Error::serialization_with("decoding a routed outcome", e))?;
    let mut events = Vec::with_capacity(o.events.len());
    for e in o.events {
        events.push(EventEnvelope::from_event(&e)?);
    }
    Ok(CommandOutcome {
        command_id,
        version: o.version,
        events,
        deduplicated: o.deduplicated,
    })
}

/// Runs a command (`Kind::Command`: an ask, `Kind::Tell`: answered once
/// queued) on whoever serves `id`'s shard, until `deadline`.
pub(crate) async fn command<A: Aggregate>(
    routing: &Routing,
    host: &Arc<Host<A>>,
    id: &ActorId,
    mut envelope: CommandEnvelope<A::Command>,
    deadline: Instant,
    kind: Kind,
) -> Result<Option<CommandOutcome<A::Event>>, AskError<A>> {
    let reply = kind == Kind::Command;
    let (shard, subject) = routing.subjects.actor(id);
    let mut backoff = Backoff::new(routing.config.max_backoff);
    let mut body: Option<Bytes> = None;
    // Whether an attempt may have reached the actor: then running out of
    // time means "unknown", not "not applied".
    let mut maybe = false;
    let mut attempts = 0u32;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        attempts += 1;
        if attempts > 1 {
            metrics::counter!("aether_runtime_ask_retries_total", "type" => A::TYPE).increment(1);
        }
        if routing.serves(shard) {
            match local::ask(host, id, envelope, deadline, reply).await {
                Err(AskError::NotOwner { command }) => {
                    envelope = *command;
                    if !backoff.pause(deadline).await {
                        break;
                    }
                    continue;
                }
                other => return other,
            }
        }
        let bytes = match &body {
            Some(b) => b.clone(),
            None => {
                let Some(codec) = &host.codec else {
                    return Err(AskError::Unavailable {
                        command: Box::new(envelope),
                        cause: Error::unsupported(format!(
                            "actor type {:?} is not registered for routing",
                            A::TYPE
                        )),
                    });
                };
                match codec.command(&envelope.command) {
                    Ok(b) => body.insert(b).clone(),
                    Err(cause) => {
                        return Err(AskError::Unavailable {
                            command: Box::new(envelope),
                            cause,
                        });
                    }
                }
            }
        };
        // The node is told how long this attempt is waited for, so that it
        // skips the call if it only reaches it after the caller moved on.
        let timeout = (deadline - now).min(routing.config.attempt_timeout);
        let headers = routing.headers(
            kind,
            Some(envelope.command_id.as_str()),
            Some(&envelope.metadata),
            timeout,
        );
        let attempt = routing
            .gated(shard.0, &subject, headers, bytes, timeout, deadline)
            .await;
        let Some(attempt) = attempt else { break };
        match attempt {
            // The gate paces the next try.
            Attempt::NoResponders => {}
            Attempt::Lost => {
                // The node may be busy: do not pile another copy on at once.
                maybe = true;
                if !backoff.pause(deadline).await {
                    break;
                }
            }
            Attempt::Reply(status, m) => match status {
                Status::Ok if !reply => return Ok(None),
                Status::Ok => {
                    return decode_outcome::<A>(&m, envelope.command_id.clone())
                        .map(Some)
                        .map_err(|e| {
                            // Applied, but the outcome cannot be shown.
                            tracing::warn!(error = %e, "undecodable routed outcome");
                            AskError::Timeout {
                                command_id: envelope.command_id.clone(),
                            }
                        });
                }
                Status::Rejected => {
                    let decoded = host.codec.as_ref().map(|c| c.rejection(&m.payload));
                    return Err(match decoded {
                        Some(Ok(e)) => AskError::Rejected(e),
                        _ => AskError::Unavailable {
                            command: Box::new(envelope),
                            cause: Error::serialization(format!(
                                "rejected, with an undecodable reason: {}",
                                String::from_utf8_lossy(&m.payload)
                            )),
                        },
                    });
                }
                Status::NotOwner | Status::ShuttingDown => {
                    metrics::counter!("aether_runtime_not_owner_replies_total", "type" => A::TYPE)
                        .increment(1);
                    if !backoff.pause(deadline).await {
                        break;
                    }
                }
                Status::Overloaded => {
                    let wait = retry_after(&m);
                    if !backoff.pause_for(wait, deadline).await {
                        return Err(AskError::Overloaded {
                            command: Box::new(envelope),
                            retry_after: wait,
                        });
                    }
                }
                Status::Unavailable => {
                    return Err(AskError::Unavailable {
                        command: Box::new(envelope),
                        cause: Error::unavailable(problem(&m)),
                    });
                }
                Status::BadRequest => {
                    return Err(AskError::Unavailable {
                        command: Box::new(envelope),
                        cause: Error::invalid_input(problem(&m)),
                    });
                }
                // The node gave up on this attempt (it may have run): as a
                // lost reply.
                Status::Timeout => {
                    maybe = true;
                    if !backoff.pause(deadline).await {
                        break;
                    }
                }
            },
        }
    }
    if maybe {
        Err(AskError::Timeout {
            command_id: envelope.command_id,
        })
    } else {
        Err(AskError::Unavailable {
            cause: Error::unavailable(format!(
                "no node served shard {} of actor {:?} before the deadline",
                shard.0,
                id.as_str()
            )),
            command: Box::new(envelope),
        })
    }
}

/// Runs a query on whoever serves `id`'s shard, until `deadline`.
pub(crate) async fn query<A: Queryable>(
    routing: &Routing,
    host: &Arc<Host<A>>,
    id: &ActorId,
    query: A::Query,
    deadline: Instant,
) -> Result<A::Answer, RuntimeError> {
    let (shard, subject) = routing.subjects.actor(id);
    let body = Bytes::from(serde_json::to_vec(&query).map_err(|e| {
        RuntimeError::with_source(RuntimeErrorKind::InvalidInput, "encoding the query", e)
    })?);
    let mut query = Some(query);
    let mut backoff = Backoff::new(routing.config.max_backoff);
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if routing.serves(shard)
            && let Some(q) = query.take()
        {
            match local::query(host, id, q, deadline).await {
                Err(e) if e.kind() == RuntimeErrorKind::NotOwner => {
                    // The query went into the actor; decode a fresh copy
                    // for the next attempt.
                    query = serde_json::from_slice(&body).ok();
                    if !backoff.pause(deadline).await {
                        break;
                    }
                    continue;
                }
                other => return other,
            }
        }
        let timeout = (deadline - now).min(routing.config.attempt_timeout);
        let headers = routing.headers(Kind::Query, None, None, timeout);
        let attempt = routing
            .gated(shard.0, &subject, headers, body.clone(), timeout, deadline)
            .await;
        let Some(attempt) = attempt else { break };
        match attempt {
            Attempt::NoResponders => {}
            Attempt::Lost => {
                if !backoff.pause(deadline).await {
                    break;
                }
            }
            Attempt::Reply(status, m) => match status {
                Status::Ok => {
                    return serde_json::from_slice(&m.payload).map_err(|e| {
                        RuntimeError::with_source(
                            RuntimeErrorKind::BadRequest,
                            "decoding a routed answer",
                            e,
                        )
                    });
                }
                Status::NotOwner | Status::ShuttingDown => {
                    if !backoff.pause(deadline).await {
                        break;
                    }
                }
                Status::Overloaded => {
                    if !backoff.pause_for(retry_after(&m), deadline).await {
                        return Err(RuntimeError::new(
                            RuntimeErrorKind::Overloaded,
                            "the actor's mailbox is full",
                        ));
                    }
                }
                Status::Unavailable | Status::Rejected => {
                    return Err(RuntimeError::new(
                        RuntimeErrorKind::Unavailable,
                        problem(&m),
                    ));
                }
                Status::BadRequest => {
                    return Err(RuntimeError::new(RuntimeErrorKind::BadRequest, problem(&m)));
                }
                Status::Timeout => {
                    if !backoff.pause(deadline).await {
                        break;
                    }
                }
            },
        }
    }
    Err(RuntimeError::new(
        RuntimeErrorKind::Timeout,
        format!(
            "no answer from actor {:?} (shard {}) before the deadline",
            id.as_str(),
            shard.0
        ),
    ))
}

//! [`NatsTransport`]: routed calls as NATS requests to the actor's subject
//! (`aether.rt.<cluster>.s.<shard>.<type>.<id>`), answered by whoever serves
//! its shard. "No responders" is the server's instant word that nobody
//! serves the shard now; the shard's gate (`gate.rs`) then lets one caller
//! of this node probe it while the others wait.

use std::time::Duration;

use aether_core::{ActorId, BoxFuture};
use async_nats::{HeaderMap, RequestErrorKind};
use bytes::Bytes;
use tokio::time::Instant;

use super::batch_calls::BatchCalls;
use super::gate::{Gates, Pass};
use super::headers;
use super::subject::Subjects;
use crate::runtime::transport::{Request, Sent, Transport};

#[derive(Debug)]
pub(crate) struct NatsTransport {
    pub(crate) client: async_nats::Client,
    pub(crate) subjects: Subjects,
    /// The longest pause of a shard's gate between probes.
    pub(crate) max_backoff: Duration,
    pub(crate) gates: Gates,
    /// A member's batched calls to the other members (`None`: every call
    /// goes to its actor's subject).
    pub(crate) batch: Option<BatchCalls>,
}

impl NatsTransport {
    async fn attempt(
        &self,
        subject: String,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Sent {
        let request = async_nats::Request::new()
            .headers(headers)
            .payload(body)
            .timeout(Some(timeout));
        match self.client.send_request(subject, request).await {
            Ok(m) => match headers::reply(m.headers.as_ref(), m.payload) {
                Some(reply) => Sent::Reply(reply),
                // Not one of ours (another responder on the subject): as
                // good as no reply.
                None => Sent::Lost,
            },
            Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                metrics::counter!("aether_runtime_no_responders_total").increment(1);
                Sent::NoResponders
            }
            Err(e) => {
                tracing::debug!(error = %e, "routed attempt got no reply");
                Sent::Lost
            }
        }
    }
}

impl Transport for NatsTransport {
    fn send<'a>(
        &'a self,
        actor: &'a ActorId,
        request: Request<'a>,
        deadline: Instant,
    ) -> BoxFuture<'a, Sent> {
        Box::pin(async move {
            if request.by_map
                && let Some(batch) = &self.batch
                && let Some(peer) = batch.peer(actor)
            {
                let timeout = request
                    .timeout
                    .min(deadline.saturating_duration_since(Instant::now()));
                if let Some(sent) = batch.send(peer, actor, &request, timeout).await {
                    return sent;
                }
            }
            let (shard, subject) = self.subjects.actor(actor);
            let pass = self.gates.pass(shard.0, deadline).await;
            if pass == Pass::Late {
                return Sent::Late;
            }
            let timeout = request
                .timeout
                .min(deadline.saturating_duration_since(Instant::now()));
            let headers = headers::request_headers(&request);
            let sent = self.attempt(subject, headers, request.body, timeout).await;
            match &sent {
                Sent::NoResponders => self.gates.unserved(shard.0, self.max_backoff),
                Sent::Reply(_) => self.gates.served(shard.0),
                Sent::Lost if pass == Pass::Probe => self.gates.abandon(shard.0),
                Sent::Lost | Sent::Late => {}
            }
            sent
        })
    }
}

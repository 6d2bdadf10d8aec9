//! [`BatchCalls`]: a member's routed calls to another member, many to a
//! message. A call for an actor whose shard the member's map gives to node
//! `P` goes into `P`'s outbox (`outbox.rs`); the frame goes to
//! `aether.rt.<cluster>.n.<P>` with the reply subject
//! `aether.rt.<cluster>.r.<me>.<P>`, where this member reads every answer
//! and hands each to its waiting call by id.
//!
//! Nothing changes in meaning: each call keeps its command id, deadline and
//! dedupe; a lost frame or answer is each call's lost attempt, retried with
//! the same id. When `P` does not serve the path (it left, or runs an older
//! version), the server answers the frame "no responders" on the reply
//! subject: the calls waiting on `P` are then sent to their actors' subjects
//! at once, and `P` is left out of batching for [`NO_PATH_PAUSE`]. (A node
//! that has just started may answer its first frames so too, until the
//! server has its subscription.) Every call waiting on `P` is handed back
//! then, including calls of frames `P` did get: each is sent again with its
//! command id, and the actor's dedupe answers the copy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aether_core::ActorId;
use async_nats::{StatusCode, Subject};
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::frame::{self, Call, FrameBuf};
use super::outbox::{Framed, Outboxes};
use crate::id::NodeId;
use crate::node::ClusterNode;
use crate::runtime::transport::{Reply, Request, Sent};

/// How long a node whose batch path had no responders is sent calls one by
/// one.
pub(crate) const NO_PATH_PAUSE: Duration = Duration::from_secs(1);

/// The subject a member takes batched calls on.
pub(crate) fn calls_subject(cluster: &str, node: &NodeId) -> String {
    format!("aether.rt.{cluster}.n.{node}")
}

/// How a batched call ended, as its waiting caller learns it.
#[derive(Debug)]
enum Answer {
    Reply(Reply),
    /// Not sent, or not taken (the node has no batch path, or the
    /// attempt's time ran out in the outbox): send the call to its actor's
    /// subject.
    NotSent,
}

/// The calls waiting for their answers, by id.
#[derive(Debug, Default)]
struct Waiting {
    calls: Mutex<HashMap<u64, (NodeId, oneshot::Sender<Answer>)>>,
    /// The calls being sent or waited for.
    in_flight: AtomicUsize,
    /// Nodes without a batch path, until when.
    no_path: Mutex<HashMap<NodeId, Instant>>,
}

impl Waiting {
    fn answer(&self, id: u64, answer: Answer) {
        let waiter = self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some((_, tx)) = waiter {
            let _ = tx.send(answer);
        }
    }

    /// Every call waiting on `peer` is told its path is gone.
    fn no_path(&self, peer: &NodeId) {
        metrics::counter!("aether_runtime_batch_no_path_total").increment(1);
        self.no_path
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer.clone(), Instant::now() + NO_PATH_PAUSE);
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let ids: Vec<u64> = calls
            .iter()
            .filter(|(_, (p, _))| p == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some((_, tx)) = calls.remove(&id) {
                let _ = tx.send(Answer::NotSent);
            }
        }
    }

    fn has_path(&self, peer: &NodeId) -> bool {
        let mut no_path = self.no_path.lock().unwrap_or_else(PoisonError::into_inner);
        match no_path.get(peer) {
            None => true,
            Some(until) if *until <= Instant::now() => {
                no_path.remove(peer);
                true
            }
            Some(_) => false,
        }
    }
}

/// Removes a call from [`Waiting`] when its caller stops waiting.
struct Forget<'a>(&'a Waiting, u64);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.1);
    }
}

impl Framed for Call {
    fn write(&self, id: u64, frame: &mut FrameBuf) -> bool {
        let left = self.timeout.saturating_sub(self.since.elapsed());
        if left.is_zero() {
            return false;
        }
        frame.call(id, self, left);
        true
    }
}

/// A member's batched calls to the other members.
#[derive(Debug)]
pub(crate) struct BatchCalls {
    node: Arc<ClusterNode>,
    next: AtomicU64,
    waiting: Arc<Waiting>,
    outboxes: Arc<Outboxes<NodeId, Call>>,
    answers: JoinHandle<()>,
}

impl Drop for BatchCalls {
    fn drop(&mut self) {
        self.answers.abort();
    }
}

impl BatchCalls {
    /// Subscribes to this member's answers subject and starts reading it.
    pub(crate) async fn start(
        node: Arc<ClusterNode>,
        cluster: &str,
    ) -> Result<Self, async_nats::SubscribeError> {
        let client = node.client().clone();
        let prefix = format!("aether.rt.{cluster}.r.{}.", node.id());
        let mut answers = client.subscribe(format!("{prefix}*")).await?;
        let waiting = Arc::new(Waiting::default());
        let w = waiting.clone();
        let answers = tokio::spawn(async move {
            while let Some(m) = answers.next().await {
                if m.status == Some(StatusCode::NO_RESPONDERS) {
                    let peer = m
                        .subject
                        .strip_prefix(prefix.as_str())
                        .and_then(|p| NodeId::new(p).ok());
                    if let Some(peer) = peer {
                        w.no_path(&peer);
                    }
                    continue;
                }
                match frame::answers(m.payload) {
                    Ok(answers) => {
                        for (id, reply) in answers {
                            w.answer(id, Answer::Reply(reply));
                        }
                    }
                    Err(e) => {
                        // Its calls wait out their attempts and are sent again.
                        metrics::counter!("aether_runtime_bad_replies_total").increment(1);
                        tracing::warn!(error = %e, subject = %m.subject, "an unreadable batch of answers");
                    }
                }
            }
        });
        let me = node.id().clone();
        let (calls_to, replies_to) = (cluster.to_owned(), cluster.to_owned());
        let w = waiting.clone();
        let outboxes = Outboxes::new(
            client,
            Box::new(move |peer: &NodeId| {
                let subject = Subject::from(calls_subject(&calls_to, peer));
                let reply = Subject::from(format!("aether.rt.{replies_to}.r.{me}.{peer}"));
                (subject, Some(reply))
            }),
            Box::new(move |id, _why| w.answer(id, Answer::NotSent)),
        );
        Ok(Self {
            node,
            next: AtomicU64::new(0),
            waiting,
            outboxes,
            answers,
        })
    }

    /// The member calls to `actor` are batched to: the owner this member's
    /// map names, when that is another member with a batch path.
    pub(crate) fn peer(&self, actor: &ActorId) -> Option<NodeId> {
        let peer = self.node.place(actor)?;
        (&peer != self.node.id() && self.waiting.has_path(&peer)).then_some(peer)
    }

    /// Sends one attempt of a call to `actor` in `peer`'s next batch and
    /// waits for its answer, at most `timeout`. `None`: `peer` has no batch
    /// path; send the attempt to the actor's subject instead.
    pub(crate) async fn send(
        &self,
        peer: NodeId,
        actor: &ActorId,
        request: &Request<'_>,
        timeout: Duration,
    ) -> Option<Sent> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        // A call with no other in flight has nothing to batch with: it goes
        // at once from this task (a lone ask pays no hop).
        let alone = self.waiting.in_flight.fetch_add(1, Ordering::Relaxed) == 0;
        let (tx, rx) = oneshot::channel();
        self.waiting
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (peer.clone(), tx));
        let _forget = Forget(&self.waiting, id);
        let call = Call {
            kind: request.kind,
            actor: actor.clone(),
            command_id: request.command_id.cloned(),
            metadata: request.metadata.cloned(),
            timeout,
            since: Instant::now(),
            body: request.body.clone(),
        };
        metrics::counter!("aether_runtime_batched_calls_total").increment(1);
        // The lone call's publish counts against the attempt too (it waits
        // when the connection's buffer is full).
        let answered = async {
            if alone {
                self.outboxes.send_now(&peer, id, call).await;
            } else {
                self.outboxes.push(&peer, id, call);
            }
            rx.await
        };
        match tokio::time::timeout(timeout, answered).await {
            Ok(Ok(Answer::Reply(reply))) => Some(Sent::Reply(reply)),
            // Not sent: the actor's subject next (which ends the call
            // `Late` only once its deadline, not this attempt's, passed).
            Ok(Ok(Answer::NotSent)) => None,
            // No answer in time (or the reader is gone): the call may have run.
            Ok(Err(_)) | Err(_) => Some(Sent::Lost),
        }
    }
}

#[cfg(test)]
mod tests {
    use aether_core::{CommandId, Metadata};
    use bytes::Bytes;

    use super::*;
    use crate::runtime::status::Status;
    use crate::runtime::transport::Kind;

    async fn member(server: &aether_testkit::NatsServer, cluster: &str) -> Arc<ClusterNode> {
        let config = crate::ClusterConfig {
            cluster_name: cluster.into(),
            node: crate::NodeInfo::new(NodeId::new("me").unwrap()),
            ..crate::ClusterConfig::default()
        };
        Arc::new(
            ClusterNode::connect(server.url().as_str(), config)
                .await
                .unwrap(),
        )
    }

    fn request<'a>(id: &'a CommandId, meta: &'a Metadata) -> Request<'a> {
        Request {
            kind: Kind::Command,
            command_id: Some(id),
            metadata: Some(meta),
            timeout: Duration::from_secs(2),
            body: Bytes::from_static(b"1"),
            by_map: true,
        }
    }

    /// A node that does not take batched calls (gone, or an older version):
    /// the server's "no responders" comes back on the reply subject, the
    /// call is handed back to be sent to its actor's subject at once, and
    /// the node is left out of batching for a while.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_without_the_path_hands_the_call_back_at_once() {
        let server = aether_testkit::NatsServer::start().await;
        let node = member(&server, "bnp").await;
        let batch = BatchCalls::start(node.clone(), "bnp").await.unwrap();
        let ghost = NodeId::new("ghost").unwrap();
        let actor = ActorId::new("counter-1").unwrap();
        let (id, meta) = (CommandId::new("c-1").unwrap(), Metadata::new());
        let t = Instant::now();
        let sent = batch
            .send(
                ghost.clone(),
                &actor,
                &request(&id, &meta),
                Duration::from_secs(2),
            )
            .await;
        assert!(sent.is_none(), "no path: {sent:?}");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "at once, not at the timeout"
        );
        assert!(!batch.waiting.has_path(&ghost), "left out for a while");
        assert!(batch.waiting.calls.lock().unwrap().is_empty());
        node.shutdown().await.unwrap();
    }

    /// A peer answering a frame: each call gets its own answer by id, with
    /// what the call carried read back on the peer's side; a call the peer
    /// never answers is lost at its timeout and forgotten.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_reach_their_calls_by_id_and_an_unanswered_call_is_lost() {
        let server = aether_testkit::NatsServer::start().await;
        let node = member(&server, "bok").await;
        let batch = Arc::new(BatchCalls::start(node.clone(), "bok").await.unwrap());
        let peer = NodeId::new("peer").unwrap();
        let client = async_nats::connect(server.url().as_str()).await.unwrap();
        let mut frames = client.subscribe(calls_subject("bok", &peer)).await.unwrap();
        // A round trip, so that the server has the subscription (a flush
        // only writes it out): "no responders" comes back after it.
        let barrier = client.request("bok.barrier", Bytes::new()).await;
        assert!(barrier.is_err());
        // The peer: answers `ok` with the actor's id as the body, except
        // for actor `silent`.
        let peer_task = tokio::spawn(async move {
            while let Some(m) = frames.next().await {
                let mut out = FrameBuf::new();
                for r in frame::calls(m.payload).unwrap() {
                    let (actor, incoming) = r.call.unwrap();
                    assert_eq!(incoming.kind, Kind::Command);
                    assert_eq!(incoming.metadata.correlation_id(), Some("k"));
                    assert!(incoming.timeout.unwrap() <= Duration::from_secs(2));
                    if actor.as_str() != "silent" {
                        let body = Bytes::from(actor.as_str().to_owned());
                        out.answer(r.id, &Reply::new(Status::Ok, body));
                    }
                }
                if !out.is_empty() {
                    client
                        .publish(m.reply.unwrap(), out.finish())
                        .await
                        .unwrap();
                }
            }
        });
        let meta = Metadata::new().with_correlation_id("k");
        let calls: Vec<_> = ["a", "b", "c", "silent"]
            .into_iter()
            .map(|name| {
                let (batch, peer, meta) = (batch.clone(), peer.clone(), meta.clone());
                tokio::spawn(async move {
                    let actor = ActorId::new(name).unwrap();
                    let id = CommandId::new(format!("c-{name}")).unwrap();
                    let timeout = Duration::from_millis(300);
                    let sent = batch
                        .send(peer, &actor, &request(&id, &meta), timeout)
                        .await;
                    (name, sent)
                })
            })
            .collect();
        for call in calls {
            let (name, sent) = call.await.unwrap();
            match (name, sent) {
                ("silent", Some(Sent::Lost)) => {}
                (name, Some(Sent::Reply(r))) if name != "silent" => {
                    assert_eq!(r.status, Status::Ok);
                    assert_eq!(&r.body[..], name.as_bytes());
                }
                (name, other) => panic!("{name}: {other:?}"),
            }
        }
        assert!(
            batch.waiting.calls.lock().unwrap().is_empty(),
            "nothing left waiting"
        );
        assert!(batch.waiting.has_path(&peer));
        peer_task.abort();
        node.shutdown().await.unwrap();
    }
}

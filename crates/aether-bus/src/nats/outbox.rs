//! The outbox of a [`super::NatsEventBus`]: one task that hands this node's
//! publications to the NATS client, in order, several to a message when they
//! queue up.
//!
//! Publishers encode their event and queue it (a bounded queue: a publisher
//! waits while it is full, so nothing is dropped). The task takes everything
//! queued at once and sends each run of consecutive events of one namespace
//! as one NATS message (one tag byte, then a frame per event: see
//! `crate::wire`), up to
//! [`super::NatsBusConfig::max_batch_bytes`]. When publishers are slower than
//! the wire, every event travels alone, so batching adds no waiting; when they
//! are faster, the per-message costs of client, server and receiver are shared
//! by the batch.
//!
//! The task also numbers the messages per namespace for gap detection: a
//! message's reply subject carries the number of its first event, and the
//! following events take the next numbers (see [`super::origin`]). Numbers
//! are used up even by a message the client refuses (publishers check sizes
//! first, so that means a closed client): receivers then report the loss, and
//! this node counts it in [`crate::BusStats::unsent`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_nats::{Client, Subject};
use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};

use super::origin;
use crate::core::Core;
use crate::metrics::NsMetrics;

/// How many queued items the task takes per wake-up at most.
const TAKE: usize = 512;

/// One item of the outbox queue.
#[derive(Debug)]
pub(super) enum Outgoing {
    /// An encoded event for the namespace's subject.
    Event {
        /// The namespace (its subject, counters and sequence number).
        ns: Arc<NsMetrics>,
        /// The event as a message of one frame (`crate::wire`).
        payload: Bytes,
    },
    /// Answered once everything queued before it is with the client.
    Flush(oneshot::Sender<()>),
}

/// The outbox task: runs until every sender is gone and the queue is empty.
pub(super) async fn run_outbox(
    client: Client,
    core: Arc<Core>,
    node_id: Arc<str>,
    events_prefix: Arc<str>,
    max_batch_bytes: usize,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    let mut items = Vec::with_capacity(TAKE);
    while rx.recv_many(&mut items, TAKE).await > 0 {
        let mut rest = items.drain(..).peekable();
        while let Some(item) = rest.next() {
            let (ns, payload) = match item {
                Outgoing::Flush(done) => {
                    let _ = done.send(());
                    continue;
                }
                Outgoing::Event { ns, payload } => (ns, payload),
            };
            // The run of events for the same namespace that fits one message.
            let mut batch: Option<BytesMut> = None;
            let mut count = 1u64;
            while let Some(Outgoing::Event {
                ns: next_ns,
                payload: next,
            }) = rest.peek()
            {
                let size = batch.as_ref().map_or(payload.len(), BytesMut::len);
                // The next frame, without its message's tag byte.
                let frame = &next[1..];
                if !Arc::ptr_eq(next_ns, &ns) || size + frame.len() > max_batch_bytes {
                    break;
                }
                let buf = batch.get_or_insert_with(|| {
                    let mut b = BytesMut::with_capacity(max_batch_bytes.min(1 << 16));
                    b.put_slice(&payload);
                    b
                });
                buf.put_slice(frame);
                count += 1;
                rest.next();
            }
            let payload = batch.map_or(payload, BytesMut::freeze);
            if let Err(e) = send(&client, &node_id, &events_prefix, &ns, payload, count).await {
                core.metrics.unsent(&ns, count);
                tracing::error!(
                    namespace = %ns.name,
                    events = count,
                    error = %e,
                    "the NATS client refused a publication; other nodes will not receive it"
                );
            }
        }
    }
}

/// Hands one message of `count` events to the client.
async fn send(
    client: &Client,
    node_id: &str,
    events_prefix: &str,
    ns: &NsMetrics,
    payload: Bytes,
    count: u64,
) -> Result<(), async_nats::PublishError> {
    let subject = ns
        .nats_subject
        .get_or_init(|| Subject::from(format!("{events_prefix}{}", ns.name)))
        .clone();
    // Only this task writes the number.
    let first = ns.seq.as_ref().map(|seq| seq.load(Ordering::Relaxed) + 1);
    let reply = origin::reply(node_id, first);
    let result = client.publish_with_reply(subject, reply, payload).await;
    // The numbers are used up even when the client refuses the message:
    // receivers then see the gap and report the loss as lag.
    if let Some(seq) = &ns.seq {
        seq.fetch_add(count, Ordering::Relaxed);
    }
    // Publishers checked the size; what is left is a closed client.
    result
}

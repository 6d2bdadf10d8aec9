//! [`Outboxes`]: entries for many destinations, each destination's drained
//! by a task of its own that takes everything queued at once into one frame
//! (`frame.rs`) and publishes it. No timer: an idle outbox sends a lone
//! entry at once, so a single call pays nothing for batching, and a busy one
//! batches by itself while its last frame is being sent, as the turn's
//! group commit does. An outbox idle for [`IDLE`] ends its task.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_nats::Subject;
use tokio::sync::mpsc;

use super::frame::FrameBuf;

/// A frame is closed once it holds this many bytes (it may exceed it by its
/// last entry).
const MAX_FRAME: usize = 128 * 1024;
/// How long an outbox waits for an entry before its task ends.
const IDLE: Duration = Duration::from_secs(30);

/// One entry of a frame.
pub(crate) trait Framed: Send + 'static {
    /// Writes the entry of id `id` into `frame`; `false` when it is no
    /// longer worth sending (its caller's time ran out in the outbox).
    fn write(&self, id: u64, frame: &mut FrameBuf) -> bool;
}

/// Why an entry was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsent {
    /// Its time ran out in the outbox.
    Late,
    /// Its frame could not be published (the connection is closed, or the
    /// frame is over the server's payload limit).
    Failed,
}

/// Where a destination's frames go: the subject and the reply subject.
pub(crate) type Route<K> = Box<dyn Fn(&K) -> (Subject, Option<Subject>) + Send + Sync>;
/// Told of every entry not sent.
pub(crate) type OnUnsent = Box<dyn Fn(u64, Unsent) + Send + Sync>;

pub(crate) struct Outboxes<K, T> {
    client: async_nats::Client,
    open: Mutex<HashMap<K, mpsc::UnboundedSender<(u64, T)>>>,
    route: Route<K>,
    unsent: OnUnsent,
}

impl<K, T> std::fmt::Debug for Outboxes<K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.open.lock().map_or(0, |m| m.len());
        f.debug_struct("Outboxes").field("open", &open).finish()
    }
}

impl<K, T> Outboxes<K, T>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Framed,
{
    pub(crate) fn new(client: async_nats::Client, route: Route<K>, unsent: OnUnsent) -> Arc<Self> {
        Arc::new(Self {
            client,
            open: Mutex::new(HashMap::new()),
            route,
            unsent,
        })
    }

    /// Sends entry `id` to `to` at once, alone in its frame, from the
    /// caller's task (no hop through the outbox's: for an entry with
    /// nothing to batch with).
    pub(crate) async fn send_now(&self, to: &K, id: u64, entry: T) {
        let mut frame = FrameBuf::new();
        if !entry.write(id, &mut frame) {
            return (self.unsent)(id, Unsent::Late);
        }
        metrics::counter!("aether_runtime_batch_frames_total").increment(1);
        let (subject, reply) = (self.route)(to);
        if let Err(e) = publish(&self.client, subject, reply, frame).await {
            tracing::debug!(error = %e, "a batch could not be sent");
            (self.unsent)(id, Unsent::Failed);
        }
    }

    /// Queues entry `id` for `to` (starting its outbox's task if it has
    /// none).
    pub(crate) fn push(self: &Arc<Self>, to: &K, id: u64, entry: T) {
        // Under the lock: an outbox ending (under it too) sees every entry
        // pushed before it checks that none is left.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = open.entry(to.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let (subject, reply) = (self.route)(to);
            tokio::spawn(drain(
                Arc::downgrade(self),
                to.clone(),
                rx,
                self.client.clone(),
                subject,
                reply,
            ));
            tx
        });
        if let Err(mpsc::error::SendError((id, _))) = tx.send((id, entry)) {
            // Its task is gone (the runtime is shutting down).
            (self.unsent)(id, Unsent::Failed);
        }
    }
}

async fn publish(
    client: &async_nats::Client,
    subject: Subject,
    reply: Option<Subject>,
    frame: FrameBuf,
) -> Result<(), async_nats::PublishError> {
    let payload = frame.finish();
    match reply {
        Some(r) => client.publish_with_reply(subject, r, payload).await,
        None => client.publish(subject, payload).await,
    }
}

async fn drain<K, T>(
    outboxes: Weak<Outboxes<K, T>>,
    key: K,
    mut rx: mpsc::UnboundedReceiver<(u64, T)>,
    client: async_nats::Client,
    subject: Subject,
    reply: Option<Subject>,
) where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Framed,
{
    let mut ids = Vec::new();
    loop {
        let first = match tokio::time::timeout(IDLE, rx.recv()).await {
            Ok(Some(first)) => first,
            // Every sender gone: the outboxes were dropped.
            Ok(None) => return,
            Err(_) => {
                let Some(o) = outboxes.upgrade() else { return };
                let mut open = o.open.lock().unwrap_or_else(PoisonError::into_inner);
                if rx.is_empty() {
                    open.remove(&key);
                    return;
                }
                continue;
            }
        };
        // Behind every task ready to run now: what they queue goes in this
        // frame too (an idle runtime runs this at once).
        tokio::task::yield_now().await;
        let Some(o) = outboxes.upgrade() else { return };
        let mut frame = FrameBuf::new();
        ids.clear();
        let mut next = Some(first);
        while let Some((id, entry)) = next.take() {
            if entry.write(id, &mut frame) {
                ids.push(id);
            } else {
                (o.unsent)(id, Unsent::Late);
            }
            if frame.len() < MAX_FRAME {
                next = rx.try_recv().ok();
            }
        }
        if frame.is_empty() {
            continue;
        }
        metrics::counter!("aether_runtime_batch_frames_total").increment(1);
        tracing::trace!(entries = ids.len(), bytes = frame.len(), subject = %subject, "a batch");
        if let Err(e) = publish(&client, subject.clone(), reply.clone(), frame).await {
            tracing::debug!(error = %e, subject = %subject, "a batch could not be sent");
            for id in &ids {
                (o.unsent)(*id, Unsent::Failed);
            }
        }
    }
}

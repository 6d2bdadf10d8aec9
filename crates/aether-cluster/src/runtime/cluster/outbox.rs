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
/// At most this many outboxes are open at once (a task and a channel each,
/// kept for [`IDLE`]): past it, an entry for a destination without one is
/// sent alone from a task of its own. A serving member opens one per reply
/// subject it is sent frames from, which its callers choose: this bounds
/// what they can make it keep.
const MAX_OPEN: usize = if cfg!(test) { 4 } else { 1024 };

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
    /// none; with [`MAX_OPEN`] open, sent alone from a task of its own).
    pub(crate) fn push(self: &Arc<Self>, to: &K, id: u64, entry: T) {
        // Under the lock: an outbox ending (under it too) sees every entry
        // pushed before it checks that none is left.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= MAX_OPEN && !open.contains_key(to) {
            drop(open);
            metrics::counter!("aether_runtime_batch_outboxes_full_total").increment(1);
            let (this, to) = (self.clone(), to.clone());
            tokio::spawn(async move { this.send_now(&to, id, entry).await });
            return;
        }
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

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::runtime::cluster::frame;
    use crate::runtime::status::Status;
    use crate::runtime::transport::Reply;

    /// Past [`MAX_OPEN`] destinations, an entry for a new one still goes
    /// (alone), and no more outboxes are opened.
    #[tokio::test]
    async fn past_the_open_outboxes_limit_every_entry_still_goes_and_no_outbox_is_opened() {
        let server = aether_testkit::NatsServer::start().await;
        let client = async_nats::connect(server.url().as_str()).await.unwrap();
        let mut seen = client.subscribe("dest.>").await.unwrap();
        let unsent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = unsent.clone();
        let outboxes: Arc<Outboxes<u64, Reply>> = Outboxes::new(
            client.clone(),
            Box::new(|k: &u64| (Subject::from(format!("dest.{k}")), None)),
            Box::new(move |_, _| {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
        );
        let destinations = 3 * MAX_OPEN as u64;
        for k in 0..destinations {
            outboxes.push(&k, k, Reply::new(Status::Ok, format!("{k}")));
        }
        let open = outboxes.open.lock().unwrap().len();
        assert_eq!(open, MAX_OPEN);
        let mut got = Vec::new();
        while got.len() < destinations as usize {
            let m = tokio::time::timeout(Duration::from_secs(5), seen.next())
                .await
                .expect("every entry arrives")
                .unwrap();
            for (id, reply) in frame::answers(m.payload).unwrap() {
                assert_eq!(m.subject.as_str(), format!("dest.{id}"));
                assert_eq!(reply.body, format!("{id}").into_bytes());
                got.push(id);
            }
        }
        got.sort_unstable();
        assert_eq!(got, (0..destinations).collect::<Vec<_>>());
        assert_eq!(unsent.load(std::sync::atomic::Ordering::Relaxed), 0);
    }
}

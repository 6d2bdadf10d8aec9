//! [`DeferredCommands`]: a queue of commands to execute later.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;

use crate::id::ActorId;
use crate::snapshot::SnapshotStore;
use crate::store::EventStore;

use super::Aggregate;
use super::error::ExecuteError;
use super::repository::Repository;
use super::typed::CommandEnvelope;

/// What [`DeferredCommands::drain`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Commands committed.
    pub committed: usize,
    /// Commands the aggregate rejected (dropped from the queue; their errors
    /// are returned by [`DeferredCommands::drain`]).
    pub rejected: usize,
    /// Commands that failed again and went back to the queue.
    pub requeued: usize,
}

/// The "queue for later" pattern: commands that could not be committed now
/// (conflicts exhausted, circuit open; see [`ExecuteError::into_command`]) are
/// parked here and executed again by [`DeferredCommands::drain`], in order.
/// Thread-safe; the queue is in memory only.
pub struct DeferredCommands<A: Aggregate> {
    queue: Mutex<VecDeque<(ActorId, CommandEnvelope<A::Command>)>>,
}

impl<A: Aggregate> fmt::Debug for DeferredCommands<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredCommands")
            .field("len", &self.len())
            .finish()
    }
}

impl<A: Aggregate> Default for DeferredCommands<A> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
        }
    }
}

type Queue<C> = VecDeque<(ActorId, CommandEnvelope<C>)>;

impl<A: Aggregate> DeferredCommands<A> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<A::Command>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Parks a command (its command id is kept).
    pub fn push(&self, id: ActorId, command: impl Into<CommandEnvelope<A::Command>>) {
        self.lock().push_back((id, command.into()));
    }

    /// Parks the command an error hands back and returns `None`; returns the
    /// error itself when it carries no command (a rejection, a store error).
    #[must_use = "an error that carries no command is handed back, not parked"]
    pub fn defer(
        &self,
        id: &ActorId,
        error: ExecuteError<A::Error, A::Command>,
    ) -> Option<ExecuteError<A::Error, A::Command>> {
        if error.is_retryable_later() {
            if let Some(cmd) = error.into_command() {
                self.push(id.clone(), cmd);
            }
            None
        } else {
            Some(error)
        }
    }

    /// The number of parked commands.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no command is parked.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Executes every command parked when the call starts, in order, with the
    /// repository's retry policy. Commands that fail in a retryable way go
    /// back to the end of the queue; the others (rejections, store failures)
    /// leave the queue and their errors are returned with the actor id.
    ///
    /// Commands are taken off the queue one at a time: if the returned future
    /// is dropped part-way, the commands not yet started stay parked (only the
    /// one being executed is lost with the future, as with a dropped
    /// [`Repository::execute`]).
    pub async fn drain<S: EventStore, SS: SnapshotStore>(
        &self,
        repo: &Repository<A, S, SS>,
    ) -> (
        DrainReport,
        Vec<(ActorId, ExecuteError<A::Error, A::Command>)>,
    ) {
        // Commands parked later, and requeued ones, go behind these.
        let parked = self.len();
        let mut report = DrainReport::default();
        let mut errors = Vec::new();
        for _ in 0..parked {
            // Bind first: the guard must be released before awaiting.
            let next = self.lock().pop_front();
            let Some((id, cmd)) = next else { break };
            match repo.execute(&id, cmd).await {
                Ok(_) => report.committed += 1,
                Err(e) => match self.defer(&id, e) {
                    None => report.requeued += 1,
                    Some(e) => {
                        if e.is_rejected() {
                            report.rejected += 1;
                        }
                        errors.push((id, e));
                    }
                },
            }
        }
        (report, errors)
    }
}

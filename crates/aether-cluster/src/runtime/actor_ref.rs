//! [`ActorRef`]: the handle to one actor, and its calls: [`Ask`], [`Tell`],
//! [`Query`].

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aether_core::aggregate::{Answers, Behavior, CommandEnvelope};
use aether_core::{ActorId, CommandId, Metadata};
use futures::FutureExt;
use futures::future::lazy;
use tokio::time::Instant;
use tracing::Instrument;

use super::call::{self, CommandCall, QueryCall};
use super::error::{AskError, RuntimeError};
use super::local::{self, Caller};
use super::outcome::CommandOutcome;
use super::reach::{Entry, Reach};
use super::transport::Kind;

/// A boxed, `Send` future (what the calls' `IntoFuture` gives).
pub type CallFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A handle to one actor of type `A`: cheap to clone, `Send + Sync`. Getting
/// one does no I/O; the first message activates the actor (loads it) on
/// the node that serves it (this node, on a system of one node).
pub struct ActorRef<A: Behavior> {
    pub(crate) entry: Arc<Entry<A>>,
    pub(crate) id: ActorId,
}

impl<A: Behavior> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        Self {
            entry: self.entry.clone(),
            id: self.id.clone(),
        }
    }
}

impl<A: Behavior> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorRef")
            .field("type", &self.id.actor_type())
            .field("id", &self.id)
            .finish()
    }
}

impl<A: Behavior> ActorRef<A> {
    /// The actor's id.
    pub fn id(&self) -> &ActorId {
        &self.id
    }

    /// Sends `command` and waits for its committed outcome. Set a command
    /// id, a deadline or a correlation id on the returned [`Ask`] before
    /// awaiting it.
    ///
    /// # Errors
    ///
    /// Every error says whether the command took effect ([`AskError`]):
    /// `Rejected` (the aggregate refused; nothing written), `Timeout` (the
    /// outcome is unknown: retry with the same command id, which is safe),
    /// and the others hand the command back, surely not applied
    /// (`Overloaded`, `Unavailable`, `ShuttingDown`, `NotOwner`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use aether_cluster::runtime::{ActorConfig, ActorSystem, AskError};
    /// use aether_core::CommandId;
    /// use aether_store_memory::InMemoryEventStore;
    /// use aether_testkit::fixtures::{Account, deposit, open, withdraw};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// # let system = ActorSystem::builder().events(InMemoryEventStore::new())
    /// #     .register::<Account>(ActorConfig::default()).start().await?;
    /// let ada = system.actor::<Account>("ada")?;
    /// ada.ask(open("Ada")).await?;
    /// let id = CommandId::new("deposit-1")?;
    /// let done = match ada.ask(deposit(10)).command_id(id.clone()).deadline(Duration::from_secs(2)).await {
    ///     Ok(done) => done,
    ///     // Unknown: the same id again returns the recorded outcome if it was applied.
    ///     Err(AskError::Timeout { .. }) => ada.ask(deposit(10)).command_id(id).await?,
    ///     Err(e) => return Err(e.into()),
    /// };
    /// assert_eq!(done.version, 2);
    /// assert!(ada.ask(withdraw(1_000)).await.is_err_and(|e| e.is_rejected()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn ask(&self, command: impl Into<CommandEnvelope<A::Command>>) -> Ask<A> {
        Ask {
            actor: self.clone(),
            envelope: command.into(),
            deadline: None,
        }
    }

    /// Queues `command` without waiting for its outcome (counted in
    /// `aether_runtime_tells_total`; a rejection is logged). Resolves once
    /// the command is queued, to its command id.
    pub fn tell(&self, command: impl Into<CommandEnvelope<A::Command>>) -> Tell<A> {
        Tell {
            ask: self.ask(command),
        }
    }

    /// Tells `command` after `delay` (a non-durable timer: lost if the
    /// process stops first, and it does not keep the actor active while it
    /// waits). Cancel it with [`Timer::cancel`].
    pub fn tell_after(
        &self,
        delay: Duration,
        command: impl Into<CommandEnvelope<A::Command>>,
    ) -> Timer {
        let tell = self.tell(command);
        Timer {
            task: tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Err(e) = tell.await {
                    tracing::debug!(error = %e, "a timer's command was not queued");
                }
            }),
        }
    }

    /// Asks the actor to passivate once its mailbox is empty (it activates
    /// again on the next message). Does nothing if it is not active on this
    /// node.
    pub fn passivate(&self) {
        if let Some(host) = self.entry.host()
            && let Some(cell) = host.cell(&self.id)
        {
            super::actor::evict(host, &cell, super::host::Eviction::Passivate);
        }
    }

    /// Whether the actor is active on this node now.
    pub fn is_active(&self) -> bool {
        self.entry
            .host()
            .is_some_and(|h| h.slots.contains_key(&self.id))
    }

    fn deadline(&self, given: Option<Duration>) -> Instant {
        Instant::now() + given.unwrap_or(self.entry.deadline)
    }
}

impl<A: Answers> ActorRef<A> {
    /// Asks `query` of the actor's committed state (in mailbox order with
    /// its commands: a query sent after a command sees its effect).
    pub fn query(&self, query: A::Query) -> Query<A> {
        Query {
            actor: self.clone(),
            query,
            deadline: None,
        }
    }
}

/// An `ask` being built: await it (it is [`IntoFuture`]) for the outcome.
#[must_use = "an ask does nothing until awaited"]
pub struct Ask<A: Behavior> {
    actor: ActorRef<A>,
    envelope: CommandEnvelope<A::Command>,
    deadline: Option<Duration>,
}

impl<A: Behavior> fmt::Debug for Ask<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ask")
            .field("actor", &self.actor)
            .field("command", &self.envelope)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl<A: Behavior> Ask<A> {
    /// Sets the command id (default: a fresh UUID v7). Reuse an id to retry
    /// a command whose outcome is unknown: the actor returns the recorded
    /// outcome instead of deciding it again.
    pub fn command_id(mut self, id: CommandId) -> Self {
        self.envelope.command_id = id;
        self
    }

    /// Sets how long the call may take (default: the type's
    /// [`super::ActorConfig::deadline`]). The call never waits longer.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the correlation id every event of the command carries.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.envelope.metadata.set_correlation_id(id);
        self
    }

    /// Sets the command's metadata (user, trace ids, ...).
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.envelope.metadata = metadata;
        self
    }

    /// The command id this call carries.
    pub fn id(&self) -> &CommandId {
        &self.envelope.command_id
    }

    /// The call's future, boxed (`kind`: an ask, or a tell, done once
    /// queued; `finish` makes the caller's output of the call's result).
    ///
    /// One box per reach, each with only its own path's future, and no
    /// block that holds a future while awaiting it (the compiler keeps both
    /// copies): a box under 1 KiB stays on the allocator's fast path (see
    /// `local::ask`). The command is dispatched when first polled.
    fn boxed<T>(
        self,
        kind: Kind,
        span: tracing::Span,
        finish: impl FnOnce(call::CommandResult<A>) -> T + Send + 'static,
    ) -> CallFuture<T> {
        let deadline = self.actor.deadline(self.deadline);
        let ActorRef { entry, id } = self.actor;
        let envelope = self.envelope;
        let (host, route, codec) = match &entry.reach {
            Reach::Here(host) => {
                let host = host.clone();
                let caller = if kind == Kind::Tell {
                    Caller::Nobody
                } else {
                    Caller::Here
                };
                let run = lazy(move |_| local::ask(&host, &id, envelope, deadline, caller));
                return Box::pin(run.flatten().map(finish).instrument(span));
            }
            Reach::Routed { host, route, codec } => (host.clone(), route.clone(), codec.clone()),
        };
        let run = async move {
            let command = CommandCall {
                host: host.as_ref(),
                codec: codec.as_ref(),
                actor: &id,
                envelope,
                deadline,
                kind,
                body: None,
            };
            call::run(&route, &id, deadline, command).await
        };
        Box::pin(run.map(finish).instrument(span))
    }
}

impl<A: Behavior> IntoFuture for Ask<A> {
    type Output = Result<CommandOutcome<A::Event>, AskError<A>>;
    type IntoFuture = CallFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let span = tracing::debug_span!(
            "aether.runtime.ask",
            r#type = self.actor.id.actor_type(),
            actor = %self.actor.id,
            command_id = %self.envelope.command_id
        );
        let command_id = self.envelope.command_id.clone();
        // An ask always has an outcome; `None` cannot come back.
        self.boxed(Kind::Command, span, move |result| {
            result?.ok_or(AskError::Timeout { command_id })
        })
    }
}

/// A `tell` being built: await it (it is [`IntoFuture`]) to queue it.
#[must_use = "a tell does nothing until awaited"]
pub struct Tell<A: Behavior> {
    ask: Ask<A>,
}

impl<A: Behavior> fmt::Debug for Tell<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Tell").field(&self.ask).finish()
    }
}

impl<A: Behavior> Tell<A> {
    /// Sets the command id (see [`Ask::command_id`]).
    pub fn command_id(self, id: CommandId) -> Self {
        Self {
            ask: self.ask.command_id(id),
        }
    }

    /// Sets how long the command may wait in the mailbox before it is
    /// dropped unrun (see [`Ask::deadline`]).
    pub fn deadline(self, deadline: Duration) -> Self {
        Self {
            ask: self.ask.deadline(deadline),
        }
    }

    /// Sets the correlation id (see [`Ask::correlation_id`]).
    pub fn correlation_id(self, id: impl Into<String>) -> Self {
        Self {
            ask: self.ask.correlation_id(id),
        }
    }
}

impl<A: Behavior> IntoFuture for Tell<A> {
    /// The command id once queued; the refusals of [`Ask`] that hand the
    /// command back otherwise.
    type Output = Result<CommandId, AskError<A>>;
    type IntoFuture = CallFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let id = self.ask.id().clone();
        self.ask
            .boxed(Kind::Tell, tracing::Span::none(), move |result| {
                result.map(|_| id)
            })
    }
}

/// A `query` being built: await it (it is [`IntoFuture`]) for the answer.
#[must_use = "a query does nothing until awaited"]
pub struct Query<A: Answers> {
    actor: ActorRef<A>,
    query: A::Query,
    deadline: Option<Duration>,
}

impl<A: Answers> fmt::Debug for Query<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("actor", &self.actor)
            .field("query", &self.query)
            .finish()
    }
}

impl<A: Answers> Query<A> {
    /// Sets how long the call may take (see [`Ask::deadline`]).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

impl<A: Answers> IntoFuture for Query<A> {
    type Output = Result<A::Answer, RuntimeError>;
    type IntoFuture = CallFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let deadline = self.actor.deadline(self.deadline);
            let ActorRef { entry, id } = self.actor;
            match &entry.reach {
                Reach::Here(host) => local::query(host, &id, self.query, deadline).await,
                Reach::Routed { host, route, .. } => {
                    let query = QueryCall::new(host.as_ref(), &id, self.query, deadline)?;
                    call::run(route, &id, deadline, query).await
                }
            }
        })
    }
}

/// A command told later ([`ActorRef::tell_after`]).
#[derive(Debug)]
pub struct Timer {
    task: tokio::task::JoinHandle<()>,
}

impl Timer {
    /// Cancels the timer if it has not fired.
    pub fn cancel(&self) {
        self.task.abort();
    }

    /// Whether it has fired (or was cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

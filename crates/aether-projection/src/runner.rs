//! [`ProjectionRunner`]: runs one projection over a store's global log, and
//! [`RunningProjection`], the handle of a started one.

use std::time::Duration;

use aether_core::aggregate::RetryPolicy;
use aether_core::{
    Error, EventLog, LogCursor, LogEntry, LogPosition, LogSubscription, Result, validate_name,
};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use crate::checkpoint::Checkpointing;
use crate::lease::{Lease, ProjectionLeases};
use crate::projection::{Filter, Projection};
use crate::status::{State, Status};

/// Runner settings, with sane defaults.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// With a checkpoint store: save at least every this many entries.
    /// Default 1,000.
    pub checkpoint_every: u64,
    /// With a checkpoint store: save at most this long after the last
    /// handled entry when the log is quiet or at its head. Default 1 s.
    pub checkpoint_interval: Duration,
    /// Retries of a failing handler call before the projection stops at
    /// that event. Default: 5 attempts, exponential from 100 ms to 5 s.
    pub retry: RetryPolicy,
    /// Pause before subscribing again after the log or the checkpoint store
    /// failed. Default 1 s.
    pub reconnect_delay: Duration,
    /// How often a standby tries to take the lease. Default: a quarter of
    /// the lease.
    pub standby_poll: Option<Duration>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            checkpoint_every: 1_000,
            checkpoint_interval: Duration::from_secs(1),
            retry: RetryPolicy::exponential(5, Duration::from_millis(100), Duration::from_secs(5)),
            reconnect_delay: Duration::from_secs(1),
            standby_poll: None,
        }
    }
}

/// Runs a [`Projection`] over an [`EventLog`]: from its checkpoint through
/// the stored events (catch-up), then live, in log order, one handler call at
/// a time; with [`ProjectionLeases`], only while it holds the projection's
/// lease (one active instance across processes).
///
/// ```
/// use aether_core::{ActorId, Event, EventStore, LogPosition, Result, json};
/// use aether_projection::{MemoryCheckpoints, Projection, ProjectionRunner};
/// use aether_store_memory::InMemoryEventStore;
///
/// #[derive(Default)]
/// struct Total(i64);
///
/// impl Projection for Total {
///     fn name(&self) -> &str { "total" }
///     async fn handle(&mut self, event: &Event, _at: LogPosition) -> Result<()> {
///         // The data is JSON text: decode it to the type the handler reads.
///         self.0 += event.data.decode::<i64>()?;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store = InMemoryEventStore::new();
/// let a = ActorId::new("counter-1")?;
/// store.append(Event::new(a.clone(), 1, "Added", json!(5))).await?;
/// let mut running = ProjectionRunner::new(store.clone(), Total::default(), MemoryCheckpoints::new()).start();
/// store.append(Event::new(a, 2, "Added", json!(7))).await?;
/// running.wait_for(|s| s.handled == 2).await;
/// let (total, status) = running.stop().await?;
/// assert_eq!(total.0, 12);
/// assert!(status.position.is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ProjectionRunner<L, P> {
    log: L,
    projection: P,
    checkpointing: Checkpointing,
    leases: Option<ProjectionLeases>,
    config: RunnerConfig,
    reset_first: bool,
    control: Option<async_nats::Client>,
}

impl<L, P> ProjectionRunner<L, P>
where
    L: EventLog + 'static,
    P: Projection,
{
    /// A runner of `projection` over `log`, keeping its position as
    /// `checkpointing` says (a checkpoint store, or
    /// [`Checkpointing::InProjection`]).
    pub fn new(log: L, projection: P, checkpointing: impl Into<Checkpointing>) -> Self {
        Self {
            log,
            projection,
            checkpointing: checkpointing.into(),
            leases: None,
            config: RunnerConfig::default(),
            reset_first: false,
            control: None,
        }
    }

    /// Runs only while holding the projection's lease from `leases`.
    pub fn with_leases(mut self, leases: ProjectionLeases) -> Self {
        self.leases = Some(leases);
        self
    }

    /// Lets operators reach the active instance over `client` (see
    /// [`crate::control`]): it answers `aether rebuild` and publishes its
    /// status for progress displays.
    pub fn with_control(mut self, client: async_nats::Client) -> Self {
        self.control = Some(client);
        self
    }

    /// Other settings.
    pub fn with_config(mut self, config: RunnerConfig) -> Self {
        self.config = config;
        self
    }

    /// Starts the runner on a task (in a tokio runtime) and returns its
    /// handle at once: catch-up, then live, until
    /// [`RunningProjection::stop`].
    ///
    /// # Errors
    ///
    /// Starting cannot fail; what goes wrong later is in the handle's
    /// [`Status`]. An invalid projection name shows as a [`State::Failed`]
    /// status at once; the log or the checkpoint store failing makes the
    /// runner subscribe again after [`RunnerConfig::reconnect_delay`]; a
    /// handler that keeps failing after [`RunnerConfig::retry`] stops the
    /// projection at that event ([`State::Failed`], with the error).
    /// [`RunningProjection::stop`] fails only if a handler panicked.
    ///
    /// # Examples
    ///
    /// A projection over a JetStream store, with its position in NATS KV and
    /// one active instance across processes:
    ///
    /// ```no_run
    /// use aether_core::{Event, LogPosition, Result};
    /// use aether_projection::{
    ///     KvCheckpointConfig, KvCheckpoints, LeaseConfig, Projection, ProjectionLeases,
    ///     ProjectionRunner,
    /// };
    /// use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
    ///
    /// struct Revenue(i64);
    ///
    /// impl Projection for Revenue {
    ///     fn name(&self) -> &str { "revenue" }
    ///     async fn handle(&mut self, event: &Event, _at: LogPosition) -> Result<()> {
    ///         self.0 += event.data.value()?["total"].as_i64().unwrap_or(0);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # async fn demo() -> Result<()> {
    /// let store = JetStreamEventStore::connect("nats://127.0.0.1:4222", JetStreamConfig::default()).await?;
    /// let client = store.client().clone();
    /// let checkpoints = KvCheckpoints::open(client.clone(), KvCheckpointConfig::default()).await?;
    /// let leases = ProjectionLeases::open(client, LeaseConfig::default()).await?;
    /// let mut running = ProjectionRunner::new(store, Revenue(0), checkpoints)
    ///     .with_leases(leases)
    ///     .start();
    /// let status = running.wait_for(|s| s.is_live() || s.is_failed()).await;
    /// println!("revenue: {:?}", status.state);
    /// let (revenue, _) = running.stop().await?;
    /// println!("revenue so far: {}", revenue.0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn start(self) -> RunningProjection<P> {
        let (status_tx, status) = watch::channel(Status::new());
        let (stop, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("aether.projection", name = %self.projection.name());
        let task = tokio::spawn(self.run(status_tx, stop_rx).instrument(span));
        RunningProjection { status, stop, task }
    }

    /// Starts a rebuild: once active (holding the lease, if any), resets the
    /// projection ([`Projection::reset`]) and forgets its checkpoint, then
    /// replays the whole log and goes on live. Follow it with
    /// [`Status::progress`].
    pub fn rebuild(mut self) -> RunningProjection<P> {
        self.reset_first = true;
        self.start()
    }

    async fn run(mut self, status: watch::Sender<Status>, mut stop: watch::Receiver<bool>) -> P {
        let name = self.projection.name().to_string();
        if let Err(e) = validate_name("projection name", &name) {
            set_state(
                &status,
                State::Failed {
                    position: LogPosition::default(),
                    error: e.to_string(),
                },
            );
            stopped(&mut stop).await;
            return self.projection;
        }
        let filter = self.projection.filter();
        let publisher = self
            .control
            .clone()
            .map(|c| crate::control::publish_status(c, name.clone(), status.subscribe()));
        let _publisher = AbortOnDrop(publisher);
        let mut lease: Option<Lease> = None;
        // Where the projection stands: the last position handled in each
        // partition of the log.
        let mut cursor = LogCursor::new();
        // After the log failed, where this instance got to: it goes on from
        // there (the checkpoint store may lag behind by up to
        // `checkpoint_every` entries), unless it lost the lease meanwhile.
        let mut resume: Option<LogCursor> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            // 1. Be the active instance.
            if let Some(leases) = &self.leases
                && !lease.as_ref().is_some_and(Lease::is_valid)
            {
                set_state(&status, State::Standby);
                status.send_modify(|s| s.lease_token = None);
                let poll = self
                    .config
                    .standby_poll
                    .unwrap_or(leases.config().lease / 4);
                let acquired = tokio::select! {
                    l = acquire(leases, &name, poll) => l,
                    _ = stopped(&mut stop) => break,
                };
                status.send_modify(|s| s.lease_token = Some(acquired.token()));
                lease = Some(acquired);
                // Another instance may have run meanwhile.
                resume = None;
            }
            set_state(&status, State::Starting);
            // 2. Where to start (after a rebuild's reset: the beginning).
            let loaded = match resume.take() {
                Some(at) if !self.reset_first => Ok(at),
                _ => self.start_position(&name).await,
            };
            let start = match loaded {
                Ok(start) => start,
                Err(e) => {
                    if pause(self.config.reconnect_delay, &status, &mut stop, e).await {
                        break;
                    }
                    continue;
                }
            };
            cursor = start;
            status.send_modify(|s| s.cursor = cursor.clone());
            // 3. Subscribe and consume.
            let mut sub = match self
                .log
                .subscribe(filter.selection().clone(), cursor.clone())
                .await
            {
                Ok(sub) => sub,
                Err(e) => {
                    // Go on from here, not from the checkpoint store (which
                    // lags behind): a failed resubscription after a log
                    // failure must not repeat what was handled. A cursor
                    // the log refuses (of a layout it cannot translate)
                    // is read from the checkpoint store again instead.
                    resume = (!matches!(e, Error::InvalidInput { .. })).then(|| cursor.clone());
                    if pause(self.config.reconnect_delay, &status, &mut stop, e).await {
                        break;
                    }
                    continue;
                }
            };
            if let Some(start) = sub.start() {
                // The log translated the cursor (the namespace was
                // repartitioned): go on in the new layout's positions.
                tracing::info!(projection = %name, from = %cursor, to = %start, "cursor translated to the log's layout");
                cursor = start.clone();
            }
            status.send_modify(|s| {
                s.cursor = cursor.clone();
                s.read = 0;
                s.backlog = sub.backlog();
                s.behind = sub.backlog();
                s.since = std::time::Instant::now();
                s.state = if sub.backlog() > 0 {
                    State::CatchingUp
                } else {
                    State::Live
                };
            });
            let outcome = self
                .consume(
                    &name,
                    &filter,
                    &mut sub,
                    lease.as_ref(),
                    &status,
                    &mut stop,
                    &mut cursor,
                )
                .await;
            drop(sub);
            match outcome {
                Outcome::Stopped => break,
                Outcome::Rebuild => {
                    tracing::info!(projection = %name, "rebuild requested");
                    self.reset_first = true;
                }
                Outcome::LeaseLost => {
                    tracing::warn!(projection = %name, "lease lost; standing by");
                    lease = None;
                }
                Outcome::LogFailed(e) => {
                    resume = Some(cursor.clone());
                    if pause(self.config.reconnect_delay, &status, &mut stop, e).await {
                        break;
                    }
                }
                Outcome::Failed { at, error } => {
                    metrics::counter!("aether_projection_failures_total", "projection" => name.clone())
                        .increment(1);
                    tracing::error!(projection = %name, position = %at, %error, "projection stopped at a failing event");
                    save(&self.checkpointing, &name, &cursor).await;
                    set_state(
                        &status,
                        State::Failed {
                            position: at,
                            error: error.to_string(),
                        },
                    );
                    if let Some(l) = lease.take() {
                        l.release().await;
                    }
                    stopped(&mut stop).await;
                    return self.projection;
                }
            }
        }
        // The last save is what a restart resumes after: tried again for a
        // while (the checkpoint bucket may be electing a leader) before it
        // is given up, loudly (a restart then resumes from the last save,
        // handling the entries after it again).
        let mut saved = save(&self.checkpointing, &name, &cursor).await;
        for _ in 1..FINAL_SAVE_ATTEMPTS {
            if saved {
                break;
            }
            tokio::time::sleep(self.config.reconnect_delay.min(FINAL_SAVE_PAUSE)).await;
            saved = save(&self.checkpointing, &name, &cursor).await;
        }
        if !saved {
            tracing::error!(projection = %name, position = %cursor, "the checkpoint was not saved on stop; a restart resumes from the last one saved");
        }
        if let Some(l) = lease.take() {
            l.release().await;
        }
        set_state(&status, State::Stopped);
        self.projection
    }

    /// The start cursor: reset first for a rebuild, then the checkpoint.
    async fn start_position(&mut self, name: &str) -> Result<LogCursor> {
        if self.reset_first {
            self.projection.reset().await?;
            if let Checkpointing::Store(store) = &self.checkpointing {
                store.delete(name).await?;
            }
            self.reset_first = false;
            return Ok(LogCursor::new());
        }
        match &self.checkpointing {
            Checkpointing::Store(store) => store.load(name).await,
            Checkpointing::InProjection => self.projection.position().await,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn consume(
        &mut self,
        name: &str,
        filter: &Filter,
        sub: &mut LogSubscription,
        lease: Option<&Lease>,
        status: &watch::Sender<Status>,
        stop: &mut watch::Receiver<bool>,
        cursor: &mut LogCursor,
    ) -> Outcome {
        let handled =
            metrics::counter!("aether_projection_events_total", "projection" => name.to_string());
        let lag = metrics::gauge!("aether_projection_lag", "projection" => name.to_string());
        let store_checkpoints = matches!(self.checkpointing, Checkpointing::Store(_));
        let mut unsaved = 0u64;
        let mut last_save = Instant::now();
        let mut live = sub.backlog() == 0;
        let mut control = match &self.control {
            Some(c) => crate::control::Control::open(c, name, status.subscribe()).await,
            None => None,
        };
        loop {
            let flush_at = last_save + self.config.checkpoint_interval;
            // A quiet log must not hide a lost lease: wake when it would run
            // out (a renewal moves the deadline; the loop re-reads it).
            let lease_ends = lease.map(Lease::valid_until);
            // An entry already read ahead is taken without the waits below
            // (they matter only when the subscription has nothing buffered;
            // a chunk holds at most a few hundred entries).
            let buffered = if *stop.borrow() {
                return Outcome::Stopped;
            } else {
                sub.try_next()
            };
            let entry = if let Some(entry) = buffered {
                Ok(entry)
            } else {
                tokio::select! {
                biased;
                _ = stopped(stop) => return Outcome::Stopped,
                ask = next_ask(&mut control) => match ask {
                    crate::control::Ask::Rebuild => return Outcome::Rebuild,
                },
                _ = sleep_until_some(lease_ends) => {
                    if lease.is_some_and(|l| !l.is_valid()) {
                        return Outcome::LeaseLost;
                    }
                    continue;
                }
                e = sub.next() => e,
                _ = tokio::time::sleep_until(flush_at), if store_checkpoints && unsaved > 0 => {
                    if save(&self.checkpointing, name, cursor).await {
                        unsaved = 0;
                    }
                    last_save = Instant::now();
                    continue;
                }
                }
            };
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return Outcome::LogFailed(e),
            };
            if lease.is_some_and(|l| !l.is_valid()) {
                return Outcome::LeaseLost;
            }
            let at = entry.position;
            let applied = self.apply(filter, &entry, lease, status, stop).await;
            match applied {
                Applied::Done(counted) => {
                    if counted {
                        handled.increment(1);
                    }
                }
                Applied::Stopped => return Outcome::Stopped,
                Applied::LeaseLost => return Outcome::LeaseLost,
                Applied::Failed(error) => return Outcome::Failed { at, error },
            }
            cursor.advance(at);
            unsaved += 1;
            lag.set(entry.behind as f64);
            if store_checkpoints
                && (unsaved >= self.config.checkpoint_every
                    || (entry.behind == 0
                        && last_save.elapsed() >= self.config.checkpoint_interval))
            {
                if save(&self.checkpointing, name, cursor).await {
                    unsaved = 0;
                }
                last_save = Instant::now();
            }
            let now_live = entry.behind == 0;
            status.send_if_modified(|s| {
                s.position = Some(at);
                s.cursor.advance(at);
                s.read += 1;
                s.behind = entry.behind;
                if let Applied::Done(true) = applied {
                    s.handled += 1;
                }
                if now_live != live || !matches!(s.state, State::Live | State::CatchingUp) {
                    s.state = if now_live {
                        State::Live
                    } else {
                        State::CatchingUp
                    };
                }
                // Wake watchers at the head, on state changes, and every 64
                // entries during a catch-up.
                now_live || now_live != live || s.read.is_multiple_of(64)
            });
            live = now_live;
        }
    }

    /// Gives one entry to the projection, retrying a failing handler.
    async fn apply(
        &mut self,
        filter: &Filter,
        entry: &LogEntry,
        lease: Option<&Lease>,
        status: &watch::Sender<Status>,
        stop: &mut watch::Receiver<bool>,
    ) -> Applied {
        let event = match &entry.event {
            Ok(event) => event,
            Err(malformed) => {
                return match self.projection.malformed(malformed, entry.position).await {
                    Ok(()) => Applied::Done(false),
                    Err(e) => Applied::Failed(e),
                };
            }
        };
        if !filter.matches(event) {
            return Applied::Done(false);
        }
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let error = match self.projection.handle(event, entry.position).await {
                Ok(()) => return Applied::Done(true),
                Err(e) => e,
            };
            if attempt >= self.config.retry.max_attempts.max(1) {
                return Applied::Failed(error);
            }
            tracing::warn!(position = %entry.position, attempt, %error, "handler failed; retrying");
            set_state(
                status,
                State::Retrying {
                    position: entry.position,
                    attempt,
                    error: error.to_string(),
                },
            );
            tokio::select! {
                _ = tokio::time::sleep(self.config.retry.delay(attempt, None)) => {}
                _ = stopped(stop) => return Applied::Stopped,
            }
            if lease.is_some_and(|l| !l.is_valid()) {
                return Applied::LeaseLost;
            }
        }
    }
}

/// Shows `error` and waits `delay`; `true` when stopped meanwhile.
async fn pause(
    delay: Duration,
    status: &watch::Sender<Status>,
    stop: &mut watch::Receiver<bool>,
    error: Error,
) -> bool {
    tracing::warn!(%error, "projection reconnecting");
    set_state(
        status,
        State::Reconnecting {
            error: error.to_string(),
        },
    );
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = stopped(stop) => true,
    }
}

/// How many times a stopping runner tries to save its checkpoint, and the
/// longest pause between tries.
const FINAL_SAVE_ATTEMPTS: u32 = 10;
const FINAL_SAVE_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// Saves `cursor` in the checkpoint store, if there is one and the cursor
/// is past the start; `false` when that failed (logged; the next save tries
/// again).
async fn save(checkpointing: &Checkpointing, name: &str, cursor: &LogCursor) -> bool {
    let Checkpointing::Store(store) = checkpointing else {
        return true;
    };
    if cursor.is_empty() {
        return true;
    }
    match store.save(name, cursor).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(projection = name, error = %e, "saving the checkpoint failed");
            false
        }
    }
}

/// The next operator request, or never without control.
async fn next_ask(control: &mut Option<crate::control::Control>) -> crate::control::Ask {
    match control {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.abort();
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Resolves once the runner is asked to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped at once (it must not live
    // across an await).
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Tries for the lease every `poll` until it is ours.
async fn acquire(leases: &ProjectionLeases, name: &str, poll: Duration) -> Lease {
    loop {
        match leases.try_acquire(name).await {
            Ok(Some(lease)) => return lease,
            Ok(None) => {}
            Err(e) => tracing::debug!(projection = name, error = %e, "lease not acquired"),
        }
        tokio::time::sleep(poll).await;
    }
}

fn set_state(status: &watch::Sender<Status>, state: State) {
    status.send_if_modified(|s| {
        if s.state == state {
            false
        } else {
            s.state = state;
            true
        }
    });
}

enum Outcome {
    Stopped,
    Rebuild,
    LeaseLost,
    LogFailed(Error),
    Failed { at: LogPosition, error: Error },
}

enum Applied {
    /// Applied (`true`) or passed over by the filter (`false`).
    Done(bool),
    Stopped,
    LeaseLost,
    Failed(Error),
}

/// A started [`ProjectionRunner`].
#[derive(Debug)]
pub struct RunningProjection<P> {
    status: watch::Receiver<Status>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<P>,
}

impl<P: Projection> RunningProjection<P> {
    /// The latest status.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// A receiver of status changes (for a progress display or a health
    /// check).
    pub fn watch(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Waits until the status satisfies `f` (or the runner ended) and
    /// returns it.
    pub async fn wait_for(&mut self, mut f: impl FnMut(&Status) -> bool) -> Status {
        let found = self
            .status
            .wait_for(|s| f(s) || s.state == State::Stopped)
            .await
            .map(|s| s.clone());
        found.unwrap_or_else(|_| self.status.borrow().clone())
    }

    /// Stops the runner: the handler call in progress finishes, the
    /// position is saved (with a checkpoint store), the lease released; then
    /// hands back the projection and the final status. An error only if the
    /// runner's task panicked (a handler that panics).
    pub async fn stop(self) -> Result<(P, Status)> {
        let _ = self.stop.send(true);
        let projection = self
            .task
            .await
            .map_err(|e| Error::storage(format!("the projection runner panicked: {e}")))?;
        let status = self.status.borrow().clone();
        Ok((projection, status))
    }
}

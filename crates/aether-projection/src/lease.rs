//! [`ProjectionLeases`]: one active instance per projection across
//! processes, by a lease in NATS KV.
//!
//! **Protocol** (the one `aether-cluster`'s leader election uses). The bucket
//! expires entries `lease` after their last write (`max_age`). A runner
//! `create`s the key `<projection name>` (succeeds only when absent, deleted
//! or expired); the KV revision of that write is the lease's
//! [`Lease::token`]. It renews with a compare-and-swap `update` every
//! `lease / 4`; each acknowledged write extends its lease to
//! `sent + lease − safety_margin` on its own monotonic clock, `sent` taken
//! before the request. The server can only expire the key `lease` after it
//! wrote it, i.e. after `sent`, so the holder stops before anyone else can
//! create the key. A failed compare-and-swap means the key was lost: stop at
//! once. Releasing deletes the key so a standby takes over at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aether_core::{Error, Result, validate_name};
use async_nats::jetstream::{self, kv};
use tokio::sync::watch;
use tokio::time::Instant;

/// Lease settings; every runner of one bucket must use the same `lease`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The bucket. Default `AETHER_projection_leases`.
    pub bucket: String,
    /// How long a lease lasts without renewal (the bucket's `max_age`), at
    /// most [`aether_core::MAX_DURATION`]. Default 10 s.
    pub lease: Duration,
    /// Subtracted from each renewal's validity, for clock-rate differences
    /// between processes. Default 1 s; less than `lease / 2`.
    pub safety_margin: Duration,
    /// This process's name in the lease (shown to operators). Default
    /// `<pid>-<random>`.
    pub holder: String,
    /// Bucket replicas. Default 1.
    pub replicas: usize,
    /// Timeout of each request. Default 2 s.
    pub request_timeout: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            bucket: "AETHER_projection_leases".into(),
            lease: Duration::from_secs(10),
            safety_margin: Duration::from_secs(1),
            holder: format!(
                "{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            replicas: 1,
            request_timeout: Duration::from_secs(2),
        }
    }
}

impl LeaseConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.lease.is_zero() || self.lease > aether_core::MAX_DURATION {
            return Err(Error::invalid_input(format!(
                "lease {:?} must be above zero and at most a day",
                self.lease
            )));
        }
        if self.safety_margin * 2 >= self.lease {
            return Err(Error::invalid_input(format!(
                "safety margin {:?} must be under half the lease {:?}",
                self.safety_margin, self.lease
            )));
        }
        if self.holder.is_empty() || self.request_timeout.is_zero() {
            return Err(Error::invalid_input(
                "lease holder and request timeout must not be empty",
            ));
        }
        Ok(())
    }
}

/// The lease bucket: hands out [`Lease`]s by projection name.
#[derive(Debug, Clone)]
pub struct ProjectionLeases {
    store: kv::Store,
    config: Arc<LeaseConfig>,
}

impl ProjectionLeases {
    /// Opens (creating if needed) the lease bucket on `client`.
    pub async fn open(client: async_nats::Client, config: LeaseConfig) -> Result<Self> {
        config.validate()?;
        let js = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client);
        let store = aether_nats::open_bucket(
            &js,
            kv::Config {
                bucket: config.bucket.clone(),
                description: "Aether projection leases".into(),
                history: 1,
                max_age: config.lease,
                num_replicas: config.replicas,
                ..Default::default()
            },
            config.request_timeout,
        )
        .await?;
        let status = store
            .status()
            .await
            .map_err(|e| Error::unavailable_with("reading the lease bucket's settings", e))?;
        if status.max_age() != config.lease {
            return Err(Error::invalid_input(format!(
                "lease bucket {} expires entries after {:?}, not this runner's lease {:?}: use one lease per bucket",
                config.bucket,
                status.max_age(),
                config.lease
            )));
        }
        Ok(Self {
            store,
            config: Arc::new(config),
        })
    }

    /// The settings.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// Takes the lease of projection `name` if nobody holds it; `None` when
    /// someone does. The lease renews itself on a task until released,
    /// dropped or lost.
    pub async fn try_acquire(&self, name: &str) -> Result<Option<Lease>> {
        validate_name("projection name", name)?;
        let sent = Instant::now();
        let created = tokio::time::timeout(
            self.config.request_timeout,
            self.store
                .create(name, self.config.holder.clone().into_bytes().into()),
        )
        .await;
        let revision = match created {
            Ok(Ok(revision)) => revision,
            Ok(Err(e)) if aether_nats::is_already_exists(&e) => return Ok(None),
            Ok(Err(e)) => {
                return Err(Error::unavailable_with(
                    format!("acquiring the lease of {name}"),
                    e,
                ));
            }
            Err(_) => {
                return Err(Error::unavailable(format!(
                    "acquiring the lease of {name}: timed out (outcome unknown; it expires unrenewed)"
                )));
            }
        };
        let until = sent + self.config.lease - self.config.safety_margin;
        let (valid_tx, valid) = watch::channel(until);
        let last = Arc::new(AtomicU64::new(revision));
        let keeper = tokio::spawn(keep(
            self.store.clone(),
            self.config.clone(),
            name.to_string(),
            last.clone(),
            valid_tx,
        ));
        tracing::info!(projection = name, token = revision, holder = %self.config.holder, "lease acquired");
        Ok(Some(Lease {
            name: name.to_string(),
            token: revision,
            last,
            valid,
            keeper,
            store: self.store.clone(),
        }))
    }

    /// Who holds the lease of projection `name` now, by the bucket.
    pub async fn holder(&self, name: &str) -> Result<Option<String>> {
        validate_name("projection name", name)?;
        let entry = self
            .store
            .entry(name)
            .await
            .map_err(|e| Error::unavailable_with(format!("reading the lease of {name}"), e))?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| String::from_utf8_lossy(&e.value).into_owned()))
    }
}

/// Renews the lease until the CAS fails or the lease is released.
async fn keep(
    store: kv::Store,
    config: Arc<LeaseConfig>,
    name: String,
    last: Arc<AtomicU64>,
    valid: watch::Sender<Instant>,
) {
    let every = config.lease / 4;
    loop {
        tokio::time::sleep(every).await;
        let sent = Instant::now();
        let renewed = tokio::time::timeout(
            config.request_timeout,
            store.update(
                &name,
                config.holder.clone().into_bytes().into(),
                last.load(Ordering::Acquire),
            ),
        )
        .await;
        match renewed {
            Ok(Ok(r)) => {
                last.store(r, Ordering::Release);
                let _ = valid.send(sent + config.lease - config.safety_margin);
            }
            Ok(Err(e)) if aether_nats::is_cas_failure(&e) => {
                let _ = valid.send(Instant::now());
                tracing::warn!(projection = %name, "lease lost: someone else holds it");
                return;
            }
            // Unreachable server: keep trying; the lease runs out meanwhile.
            Ok(Err(e)) => tracing::debug!(projection = %name, error = %e, "lease renewal failed"),
            Err(_) => tracing::debug!(projection = %name, "lease renewal timed out"),
        }
        if valid.is_closed() {
            return;
        }
    }
}

/// A held lease. Check [`Lease::is_valid`] before every act that must not
/// overlap with another holder's.
#[derive(Debug)]
pub struct Lease {
    name: String,
    token: u64,
    /// The revision of the last acknowledged write (for the releasing CAS).
    last: Arc<AtomicU64>,
    valid: watch::Receiver<Instant>,
    keeper: tokio::task::JoinHandle<()>,
    store: kv::Store,
}

impl Lease {
    /// The fencing token: the KV revision that created this lease; a later
    /// holder's token is larger.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Whether the lease still holds now (by this process's clock).
    pub fn is_valid(&self) -> bool {
        Instant::now() < *self.valid.borrow()
    }

    /// Until when the lease holds unless renewed.
    pub fn valid_until(&self) -> Instant {
        *self.valid.borrow()
    }

    /// Gives the lease up: stops renewing and deletes the key, so a standby
    /// takes over at once.
    pub async fn release(self) {
        self.keeper.abort();
        // Only our own write is deleted (a lost lease may be someone
        // else's now); a failed delete leaves the key to expire.
        if self.is_valid() {
            let revision = self.last.load(Ordering::Acquire);
            let _ = self
                .store
                .delete_expect_revision(&self.name, Some(revision))
                .await;
        }
        tracing::info!(projection = %self.name, token = self.token, "lease released");
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

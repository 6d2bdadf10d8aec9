//! [`ModelWatcher`]: a node follows the registry's pointers and runs every
//! newly published version.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aether_cluster::runtime::{ActorConfig, ActorSystem};
use async_nats::jetstream::kv;
use futures::StreamExt;
use tokio::sync::watch;
use tracing::Instrument;

use super::error::{RegistryError, RegistryErrorKind};
use super::load::compile;
use super::pointer::{Pointer, pointer_name};
use super::registry::{ModelRegistry, unavailable};
use crate::behavior::{Deployed, ModelBehavior};

/// A version a node could not load: it keeps running the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadFailure {
    /// The model.
    pub name: String,
    /// The version that failed (0 when the pointer itself was unreadable).
    pub version: u32,
    /// Why.
    pub message: String,
    /// When.
    pub at: SystemTime,
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}: {}", self.name, self.version, self.message)
    }
}

/// Follows the model registry for one node: at start it loads the version
/// every pointer names, then each new one as it is published; each is
/// fetched, checked against the pointer's hash, compiled and its examples
/// run off the async threads, then defined in the node's
/// [`ActorSystem`] ([`ActorSystem::define`]: a new type, or a new
/// definition its active actors adopt between turns). It never goes back
/// to an older version. A version it cannot load leaves the previous one
/// running, and is logged, counted (`aether_model_load_failures_total{type}`)
/// and kept for [`ModelWatcher::failures`].
///
/// # Examples
///
/// ```no_run
/// use aether_cluster::runtime::{ActorConfig, ActorSystem};
/// use aether_model::deploy::{ModelRegistry, ModelWatcher, RegistryConfig};
///
/// # async fn run(system: ActorSystem, client: async_nats::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let registry = ModelRegistry::open(client, RegistryConfig::default()).await?;
/// let watcher = ModelWatcher::start(registry, system.clone(), ActorConfig::default()).await?;
/// println!("running {:?}", watcher.loaded()); // [("account", 3)]
/// // ... at shutdown:
/// watcher.stop().await;
/// system.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub struct ModelWatcher {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

struct Inner {
    registry: ModelRegistry,
    system: ActorSystem,
    config: ActorConfig,
    state: Mutex<Known>,
    /// One load at a time: the "never backwards" check and the define it
    /// guards happen together.
    loading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Known {
    loaded: BTreeMap<String, u32>,
    failures: BTreeMap<String, LoadFailure>,
}

impl std::fmt::Debug for ModelWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelWatcher")
            .field("bucket", &self.inner.registry.config().bucket)
            .field("loaded", &self.loaded())
            .finish_non_exhaustive()
    }
}

/// Pause before watching again after the watch ended.
const REWATCH: Duration = Duration::from_millis(500);
/// Attempts at reading a version the pointer names (it is written first,
/// so it is there; a lagging replica may not have it yet).
const FETCH_ATTEMPTS: u32 = 5;

impl ModelWatcher {
    /// Loads every published model's current version into `system` (new
    /// types get `config`), then follows the pointers in a background task.
    /// Returns once the versions published at the start are loaded (or
    /// have failed: see [`ModelWatcher::failures`]).
    ///
    /// # Errors
    ///
    /// [`RegistryErrorKind::Unavailable`] when the registry cannot be
    /// watched or listed.
    pub async fn start(
        registry: ModelRegistry,
        system: ActorSystem,
        config: ActorConfig,
    ) -> Result<Self, RegistryError> {
        // Watch first: a pointer moved while the start loads comes in the
        // watch (and an older one is ignored).
        let watching = registry
            .store
            .watch_with_history("*")
            .await
            .map_err(|e| unavailable("watching the model registry".to_owned(), e))?;
        let inner = Arc::new(Inner {
            registry,
            system,
            config,
            state: Mutex::new(Known::default()),
            loading: tokio::sync::Mutex::new(()),
        });
        for listed in inner.registry.list().await? {
            let _ = inner.load(&listed.name, &listed.pointer).await;
        }
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(follow(inner.clone(), watching, stopped));
        Ok(Self {
            inner,
            stop,
            task: Some(task),
        })
    }

    /// The models this node runs and their versions, by name.
    pub fn loaded(&self) -> Vec<(String, u32)> {
        self.inner
            .known()
            .loaded
            .iter()
            .map(|(n, v)| (n.clone(), *v))
            .collect()
    }

    /// The version of model `name` this node runs.
    pub fn version_of(&self, name: &str) -> Option<u32> {
        self.inner.known().loaded.get(name).copied()
    }

    /// The latest version of each model that this node could not load and
    /// did not load a newer version of since (it runs the previous one).
    pub fn failures(&self) -> Vec<LoadFailure> {
        self.inner.known().failures.values().cloned().collect()
    }

    /// Reads model `name`'s pointer now (from the stream's leader) and
    /// loads its version if it is newer than what this node runs: for a
    /// caller that met an actor whose history is newer than this node's
    /// model (it answers `unavailable` until then) and does not want to
    /// wait for the watch. Returns the version this node runs afterwards.
    ///
    /// # Errors
    ///
    /// The [`LoadFailure`] when the version cannot be loaded (the previous
    /// one keeps running); one with version 0 when the pointer cannot be
    /// read.
    pub async fn load_latest(&self, name: &str) -> Result<Option<u32>, LoadFailure> {
        let failure = |message: String| LoadFailure {
            name: name.to_owned(),
            version: 0,
            message,
            at: SystemTime::now(),
        };
        match self.inner.registry.pointer(name).await {
            Ok(Some((pointer, _))) => {
                self.inner.load(name, &pointer).await?;
                Ok(self.version_of(name))
            }
            Ok(None) => Ok(self.version_of(name)),
            Err(e) => Err(failure(e.to_string())),
        }
    }

    /// Stops following the registry (a load under way finishes first). The
    /// loaded types keep running in the actor system.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ModelWatcher {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The watch loop: every pointer change, until stopped; a watch that ends
/// is started again.
async fn follow(inner: Arc<Inner>, mut watching: kv::Watch, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            next = watching.next() => match next {
                Some(Ok(entry)) => inner.on_entry(entry).await,
                Some(Err(e)) => tracing::warn!(error = %e, "model registry watch error"),
                None => {
                    tracing::warn!("the model registry watch ended; watching again");
                    loop {
                        tokio::select! {
                            _ = stopped.changed() => return,
                            () = tokio::time::sleep(REWATCH) => {}
                        }
                        match inner.registry.store.watch_with_history("*").await {
                            Ok(w) => {
                                watching = w;
                                break;
                            }
                            Err(e) => tracing::warn!(error = %e, "watching the model registry again"),
                        }
                    }
                }
            }
        }
    }
}

impl Inner {
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn on_entry(&self, entry: kv::Entry) {
        let Some(name) = pointer_name(&entry.key) else {
            return;
        };
        if entry.operation != kv::Operation::Put {
            tracing::warn!(
                model = name,
                "the pointer was deleted: this node keeps running the version it has"
            );
            return;
        }
        match Pointer::decode(&entry.value) {
            Ok(pointer) => {
                let _ = self.load(name, &pointer).await;
            }
            Err(e) => {
                self.failed(name, 0, format!("the pointer is not a pointer: {e}"));
            }
        }
    }

    /// Loads the version `pointer` names unless this node runs it or a
    /// newer one.
    async fn load(&self, name: &str, pointer: &Pointer) -> Result<(), LoadFailure> {
        let span = tracing::info_span!("model_load", model = name, version = pointer.version);
        self.load_in_span(name, pointer).instrument(span).await
    }

    async fn load_in_span(&self, name: &str, pointer: &Pointer) -> Result<(), LoadFailure> {
        let _one_at_a_time = self.loading.lock().await;
        if self
            .known()
            .loaded
            .get(name)
            .is_some_and(|&v| v >= pointer.version)
        {
            tracing::debug!("not newer than what runs");
            return Ok(());
        }
        let bytes = match self.fetch(name, pointer.version).await {
            Ok(b) => b,
            Err(message) => return Err(self.failed(name, pointer.version, message)),
        };
        let (owned_name, owned_pointer) = (name.to_owned(), pointer.clone());
        let compiled =
            tokio::task::spawn_blocking(move || compile(&owned_name, &owned_pointer, &bytes)).await;
        let compiled = match compiled {
            Ok(Ok(c)) => c,
            Ok(Err(message)) => return Err(self.failed(name, pointer.version, message)),
            Err(e) => {
                return Err(self.failed(name, pointer.version, format!("compiling: {e}")));
            }
        };
        let fingerprint = compiled.state_fingerprint();
        match self
            .system
            .define::<ModelBehavior>(Deployed::new(compiled), self.config.clone())
        {
            Ok(defined) => {
                let mut known = self.known();
                known.loaded.insert(name.to_owned(), pointer.version);
                if known
                    .failures
                    .get(name)
                    .is_some_and(|f| f.version <= pointer.version)
                {
                    known.failures.remove(name);
                }
                drop(known);
                metrics::gauge!("aether_model_version", "type" => name.to_owned())
                    .set(f64::from(pointer.version));
                tracing::info!(?defined, %fingerprint, "model loaded");
                Ok(())
            }
            Err(e) => Err(self.failed(name, pointer.version, format!("defining it: {e}"))),
        }
    }

    async fn fetch(&self, name: &str, version: u32) -> Result<bytes::Bytes, String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.registry.version_bytes(name, version).await {
                Ok(Some((bytes, _))) => return Ok(bytes),
                Ok(None) if attempt < FETCH_ATTEMPTS => {}
                Ok(None) => {
                    return Err(format!(
                        "the pointer names version {version}, which is not in the registry"
                    ));
                }
                Err(e)
                    if attempt < FETCH_ATTEMPTS && e.kind() == RegistryErrorKind::Unavailable =>
                {
                    tracing::debug!(error = %e, "reading the version; retrying");
                }
                Err(e) => return Err(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(100) * attempt).await;
        }
    }

    fn failed(&self, name: &str, version: u32, message: String) -> LoadFailure {
        metrics::counter!("aether_model_load_failures_total", "type" => name.to_owned())
            .increment(1);
        tracing::warn!(model = name, version, %message, "cannot load the model; the previous version keeps running");
        let failure = LoadFailure {
            name: name.to_owned(),
            version,
            message,
            at: SystemTime::now(),
        };
        let mut known = self.known();
        let newer = known
            .failures
            .get(name)
            .is_none_or(|f| f.version <= version);
        if newer {
            known.failures.insert(name.to_owned(), failure.clone());
        }
        failure
    }
}

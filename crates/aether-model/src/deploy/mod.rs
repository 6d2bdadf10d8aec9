//! Deploying models to a running cluster: the publish rules, the diff
//! between two versions, the replay check, and (feature `nats`) the model
//! registry over a JetStream KV bucket and the watcher every node runs.
//!
//! # The registry
//!
//! Models live in the KV bucket `aether-models` ([`RegistryConfig`]):
//!
//! - `<name>.v<version>`: the canonical JSON of one version, written once
//!   (`create`, a compare-and-set on an absent key) and never changed;
//! - `<name>`: the **pointer**, `{"version": n, "sha256": "…", …}`, the
//!   version the cluster runs; moved only by `update(key, value,
//!   expected_revision)` (compare-and-set), so of two concurrent publishers
//!   exactly one wins and the other is told the version is taken.
//!
//! A publish ([`ModelRegistry::publish`]) passes the same rules on the
//! command line and on every node ([`review`]): the model checks; its
//! examples pass; its version is the previous + 1 (any version ≥ 1 at
//! first); every event type an earlier version could emit still has a fold
//! (never forced: history must stay foldable); removing a command or an
//! event type, or tightening a command's schema, needs
//! [`PublishOptions::breaking`]; a changed state fingerprint is reported
//! (active actors then reload instead of keeping their state).
//!
//! # The watcher
//!
//! Every node runs a [`ModelWatcher`]: it follows the pointers (their
//! latest values at start, then live), fetches each new version, checks and
//! compiles it off the async threads, and defines it in the node's actor
//! system ([`aether_cluster::runtime::ActorSystem::define`]). It never goes
//! back to an older version; a version it cannot load leaves the previous
//! one running, and is logged, counted
//! (`aether_model_load_failures_total{type}`) and reported
//! ([`ModelWatcher::failures`]).
//!
//! `docs/models.md` ("Deployment and versioning") describes the rules,
//! what active actors do on a new version, and the permissions to grant.

mod diff;
mod error;
mod pointer;
mod replay;
mod rules;
mod tighten;

#[cfg(feature = "nats")]
mod actors;
#[cfg(feature = "nats")]
mod config;
#[cfg(feature = "nats")]
mod load;
#[cfg(feature = "nats")]
mod publish;
#[cfg(feature = "nats")]
mod registry;
#[cfg(feature = "nats")]
mod watcher;

pub use diff::{Changes, FingerprintChange, ModelDiff};
pub use error::{PublishError, RegistryError, RegistryErrorKind};
pub use pointer::{Pointer, version_key};
pub use replay::{ReplayFailure, ReplayReport, replay_check};
pub use rules::{Previous, PublishOptions, Review, review};

#[cfg(feature = "nats")]
pub use actors::actors_of_type;
#[cfg(feature = "nats")]
pub use config::{DEFAULT_BUCKET, MAX_MODEL_BYTES, RegistryConfig};
#[cfg(feature = "nats")]
pub use registry::{Listed, ModelRegistry, Published, Shown};
#[cfg(feature = "nats")]
pub use watcher::{LoadFailure, ModelWatcher};

//! [`TypeMetrics`]: the metric handles of one actor type, made once when the
//! type is registered, so the hot path records without building and hashing
//! a metric key per command. (Install the `metrics` recorder before starting
//! the system: handles made before it record nowhere.)

use metrics::{Counter, Histogram};

/// How a command ended, for `aether_runtime_commands_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Ok = 0,
    Deduplicated = 1,
    Rejected = 2,
    Unknown = 3,
    Failed = 4,
}

const ENDED: [&str; 5] = ["ok", "deduplicated", "rejected", "unknown", "failed"];

/// The hot metric handles of one actor type.
#[derive(Debug)]
pub(crate) struct TypeMetrics {
    commands: [Counter; 5],
    tells: [Counter; 5],
    pub(crate) turn_seconds: Histogram,
    /// Of a turn that wrote: the wait for the store's append (the rest of
    /// `turn_seconds` is the actor's own work: deciding, answering).
    pub(crate) append_seconds: Histogram,
    pub(crate) batch_commands: Histogram,
    pub(crate) commits: Counter,
    pub(crate) activations: Counter,
    pub(crate) activation_seconds: Histogram,
    /// `aether_runtime_dedupe_evicted_total` (across types, as it always
    /// was).
    pub(crate) dedupe_evicted: Counter,
}

impl TypeMetrics {
    pub(crate) fn new(actor_type: &std::sync::Arc<str>) -> Self {
        let each = |name: &'static str| {
            ENDED.map(|outcome| metrics::counter!(name, "type" => actor_type.clone(), "outcome" => outcome))
        };
        Self {
            commands: each("aether_runtime_commands_total"),
            tells: each("aether_runtime_tells_total"),
            turn_seconds: metrics::histogram!("aether_runtime_turn_seconds", "type" => actor_type.clone()),
            append_seconds: metrics::histogram!("aether_runtime_turn_append_seconds", "type" => actor_type.clone()),
            batch_commands: metrics::histogram!("aether_runtime_batch_commands", "type" => actor_type.clone()),
            commits: metrics::counter!("aether_runtime_commits_total", "type" => actor_type.clone()),
            activations: metrics::counter!("aether_runtime_activations_total", "type" => actor_type.clone()),
            activation_seconds: metrics::histogram!("aether_runtime_activation_seconds", "type" => actor_type.clone()),
            dedupe_evicted: metrics::counter!("aether_runtime_dedupe_evicted_total"),
        }
    }

    /// Counts one ask (`asked`) or tell that ended so.
    pub(crate) fn ended(&self, asked: bool, how: Ended) {
        let counters = if asked { &self.commands } else { &self.tells };
        counters[how as usize].increment(1);
    }
}

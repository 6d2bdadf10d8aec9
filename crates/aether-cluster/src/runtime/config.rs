//! The runtime's configuration: per actor type ([`ActorConfig`]), per node
//! ([`RuntimeConfig`]) and for routed calls ([`RoutingConfig`]). Public
//! fields, defaults from `RUNTIME.md` §4.11, validated when the system
//! starts.

use std::time::Duration;

use aether_core::MAX_DURATION;
use aether_core::aggregate::{SnapshotPolicy, UpcasterChain};

use super::error::{RuntimeError, RuntimeErrorKind};

/// How many queued commands one turn decides and commits together (one
/// atomic append with one expected-version check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// Most commands in one turn (at least 1; 1 turns group commit off).
    /// Default 256.
    pub max_commands: usize,
    /// Most events one turn appends (at least 1; at most 1,000, the store's
    /// batch limit). A command whose events would pass it starts the next
    /// turn. Default 1,000.
    pub max_events: usize,
    /// Most encoded bytes one turn appends (a command whose events would
    /// pass it starts the next turn; a single command is never split).
    /// Default 512 KiB.
    pub max_bytes: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            max_commands: 256,
            max_events: 1000,
            max_bytes: 512 * 1024,
        }
    }
}

impl GroupCommit {
    /// Group commit off: one command per turn.
    pub fn off() -> Self {
        Self {
            max_commands: 1,
            ..Self::default()
        }
    }
}

/// When an active actor is stopped to free memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passivation {
    /// An actor without messages for this long is passivated. Default 10
    /// minutes.
    pub idle: Duration,
    /// On passivation (and shutdown), a snapshot is taken if at least this
    /// many events were committed since the last one, so the next activation
    /// is cheap; `0` never does (the snapshot policy still applies after
    /// commits). Needs a snapshot store. Default 50.
    pub snapshot_after: u64,
}

impl Default for Passivation {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(600),
            snapshot_after: 50,
        }
    }
}

/// Settings of one registered actor type.
#[derive(Debug, Clone)]
pub struct ActorConfig {
    /// Mailbox capacity: commands and queries waiting for the actor (at least
    /// 1). A full mailbox refuses new messages at once with `Overloaded`,
    /// handing the command back. Default 1,024.
    pub mailbox: usize,
    /// Group commit limits.
    pub group_commit: GroupCommit,
    /// Idle passivation and the snapshot on passivation.
    pub passivation: Passivation,
    /// When to snapshot after commits; `None`: the aggregate's
    /// [`aether_core::aggregate::Aggregate::snapshot_policy`]. Needs a
    /// snapshot store.
    pub snapshot_policy: Option<SnapshotPolicy>,
    /// How many recent command ids each actor remembers (with the versions
    /// they wrote), so a retry with the same id returns the recorded outcome
    /// instead of deciding again. `0` turns deduplication off. Default 256.
    pub dedupe_window: usize,
    /// How long an `ask`, `tell` or `query` may take unless the call sets its
    /// own deadline. Default 5 seconds.
    pub deadline: Duration,
    /// How often a turn whose append met a version conflict (another writer)
    /// reloads and decides again before its commands fail (at least 1).
    /// Default 5.
    pub conflict_retries: u32,
    /// Upcasters every replayed event goes through before decoding.
    pub upcasters: UpcasterChain,
}

impl Default for ActorConfig {
    fn default() -> Self {
        Self {
            mailbox: 1024,
            group_commit: GroupCommit::default(),
            passivation: Passivation::default(),
            snapshot_policy: None,
            dedupe_window: 256,
            deadline: Duration::from_secs(5),
            conflict_retries: 5,
            upcasters: UpcasterChain::new(),
        }
    }
}

fn invalid(message: String) -> RuntimeError {
    RuntimeError::new(RuntimeErrorKind::InvalidConfig, message)
}

pub(crate) fn check_duration(what: &str, d: Duration) -> Result<(), RuntimeError> {
    if d.is_zero() || d > MAX_DURATION {
        return Err(invalid(format!(
            "{what} must be above zero and at most {MAX_DURATION:?}, got {d:?}"
        )));
    }
    Ok(())
}

impl ActorConfig {
    /// Checks every field; the error names the bad one.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        if self.mailbox == 0 {
            return Err(invalid("mailbox must be at least 1".into()));
        }
        let g = &self.group_commit;
        if g.max_commands == 0 || g.max_events == 0 || g.max_bytes == 0 {
            return Err(invalid(format!(
                "group_commit limits must be at least 1, got {g:?}"
            )));
        }
        if g.max_events > crate::runtime::MAX_TURN_EVENTS {
            return Err(invalid(format!(
                "group_commit.max_events must be at most {}, got {}",
                crate::runtime::MAX_TURN_EVENTS,
                g.max_events
            )));
        }
        check_duration("passivation.idle", self.passivation.idle)?;
        check_duration("deadline", self.deadline)?;
        if self.conflict_retries == 0 {
            return Err(invalid("conflict_retries must be at least 1".into()));
        }
        Ok(())
    }
}

/// Settings of one node's runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Most active actors on this node, over all types (at least 1). Past
    /// it, the least recently used actor is passivated; a new activation is
    /// never refused. Default 100,000.
    pub max_active: usize,
    /// Most actor loads (snapshot + replay) at once on this node (at least
    /// 1), so a restart cannot storm the store. Loads for a waiting caller
    /// (`ask`, `query`) go before loads for a `tell`. Default 64.
    pub recovery_permits: usize,
    /// How long [`crate::runtime::ActorSystem::shutdown`] waits for the
    /// actors to finish their turns and snapshots. Default 30 seconds.
    pub shutdown_timeout: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_active: 100_000,
            recovery_permits: 64,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl RuntimeConfig {
    /// Checks every field; the error names the bad one.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        if self.max_active == 0 || self.recovery_permits == 0 {
            return Err(invalid(format!(
                "max_active and recovery_permits must be at least 1, got {} and {}",
                self.max_active, self.recovery_permits
            )));
        }
        check_duration("shutdown_timeout", self.shutdown_timeout)
    }
}

/// How routed calls behave, and how a node hands its shards on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    /// The longest one attempt of a routed call waits for its reply before
    /// it is sent again with the same command id (within the call's
    /// deadline). Default 1 second.
    pub attempt_timeout: Duration,
    /// The least the first attempt of a call waits: it waits eight times
    /// the typical round trip, at least this, at most `attempt_timeout`;
    /// each unanswered attempt doubles the wait. A call to a node that went
    /// silent is thereby sent again (to the new owner, once it serves)
    /// within about this after the node stopped answering. Default 200 ms.
    pub first_attempt_timeout: Duration,
    /// The longest pause between attempts while nobody serves the actor's
    /// shard (pauses start at 1 ms and double, with jitter). Default 100 ms.
    pub max_backoff: Duration,
    /// How long a node releasing a shard waits for the shard's actors to
    /// finish their turns before it releases the claim anyway (their turns
    /// can no longer commit). Default 5 seconds.
    pub drain_timeout: Duration,
    /// How long a node that released a shard keeps answering `not-owner`
    /// on it, so callers retry at once instead of waiting out an attempt,
    /// while the new owner subscribes. Default 2 seconds.
    pub handoff_grace: Duration,
    /// Whether a planned move ships the shard's active actors to the new
    /// owner, warm (their states, versions and recent command ids), instead
    /// of passivating them for the new owner to load from the log. Default
    /// `true`.
    pub warm_handoff: bool,
    /// The longest wait for the new owner to acknowledge one chunk of a
    /// warm handoff; the actors not acknowledged move cold. Default 2
    /// seconds.
    pub handoff_timeout: Duration,
    /// The most shards this node hands on at once (drains and transfers);
    /// at least 1. A shard the map moved away waits its turn with its claim
    /// unchanged: it answers `not-owner` (the map names another owner), its
    /// callers retry until its new owner serves it, and nobody else can
    /// claim it meanwhile. Default 8 (`RUNTIME.md` §4.8).
    ///
    /// ```
    /// use aether_cluster::runtime::RoutingConfig;
    /// let routing = RoutingConfig {
    ///     max_concurrent_handoffs: 2,
    ///     ..RoutingConfig::default()
    /// };
    /// routing.validate().unwrap();
    /// assert!(RoutingConfig { max_concurrent_handoffs: 0, ..routing }.validate().is_err());
    /// ```
    pub max_concurrent_handoffs: usize,
    /// Whether a member sends the calls it routes to another member many
    /// to a message, to the node its shard map names (an outbox per node,
    /// no timer: a lone call goes at once), rather than each as a request
    /// to the actor's subject. A call that finds that node not serving the
    /// actor is sent again to the actor's subject, as every call is with
    /// `false`. Callers that are not members (and other clients) always use
    /// the actor's subject. Default `true`.
    pub batch_calls: bool,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(1),
            first_attempt_timeout: Duration::from_millis(200),
            max_backoff: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(5),
            handoff_grace: Duration::from_secs(2),
            warm_handoff: true,
            handoff_timeout: Duration::from_secs(2),
            max_concurrent_handoffs: 8,
            batch_calls: true,
        }
    }
}

impl RoutingConfig {
    /// Checks every field; the error names the bad one.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        for (name, d) in [
            ("attempt_timeout", self.attempt_timeout),
            ("first_attempt_timeout", self.first_attempt_timeout),
            ("max_backoff", self.max_backoff),
            ("drain_timeout", self.drain_timeout),
            ("handoff_grace", self.handoff_grace),
            ("handoff_timeout", self.handoff_timeout),
        ] {
            check_duration(name, d)?;
        }
        if self.max_concurrent_handoffs == 0 {
            return Err(invalid(
                "max_concurrent_handoffs must be at least 1 (no shard could be handed on), got 0"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_refused() {
        ActorConfig::default().validate().unwrap();
        RuntimeConfig::default().validate().unwrap();
        let bad: Vec<ActorConfig> = vec![
            ActorConfig {
                mailbox: 0,
                ..Default::default()
            },
            ActorConfig {
                group_commit: GroupCommit {
                    max_events: 1001,
                    ..Default::default()
                },
                ..Default::default()
            },
            ActorConfig {
                deadline: Duration::MAX,
                ..Default::default()
            },
            ActorConfig {
                conflict_retries: 0,
                ..Default::default()
            },
        ];
        for c in bad {
            assert_eq!(
                c.validate().unwrap_err().kind(),
                RuntimeErrorKind::InvalidConfig
            );
        }
        RoutingConfig::default().validate().unwrap();
        let err = RoutingConfig {
            max_concurrent_handoffs: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.kind(), RuntimeErrorKind::InvalidConfig);
        assert!(err.to_string().contains("max_concurrent_handoffs"), "{err}");
        assert!(
            RuntimeConfig {
                max_active: 0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}

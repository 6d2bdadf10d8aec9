//! [`JetStreamConfig`]: where and how a store keeps its events.

use std::time::Duration;

use aether_core::{Error, MAX_DURATION, Result, validate_name};
use aether_nats::{ConnectConfig, StorageType};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy};

/// Configuration of a [`crate::JetStreamEventStore`] and
/// [`crate::JetStreamSnapshotStore`]. Public fields, sensible defaults:
///
/// ```
/// use aether_store_jetstream::JetStreamConfig;
/// let config = JetStreamConfig { namespace: "billing".into(), replicas: 3, ..Default::default() };
/// assert_eq!(config.effective_stream_name().unwrap(), "AETHER_billing");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JetStreamConfig {
    /// Base stream name, a name by [`aether_core::validate_name`]: 1 to 32
    /// characters from `[A-Za-z0-9_-]`. Default `AETHER`.
    pub stream_name: String,
    /// Storage isolation: each namespace has its own stream (and subjects), so
    /// a namespaced store can never read another namespace's events. A name
    /// by [`aether_core::validate_name`] without `_` (the stream is named
    /// `<stream_name>_<namespace>`, and `_` would let two configurations
    /// share a stream), or empty for no namespace. Default `default`.
    pub namespace: String,
    /// How long events are kept (the stream's `max_age`). Default one year.
    /// `Duration::ZERO` keeps them forever.
    pub retention: Duration,
    /// Stream replicas (1, 3 or 5 on a cluster). Default 1. See
    /// `docs/guarantees.md` for what this does to durability.
    pub replicas: usize,
    /// File (default) or memory storage.
    pub storage: StorageType,
    /// Largest encoded event accepted, in bytes (also capped by the server's
    /// `max_payload`). Default 1 MiB.
    pub max_event_size: usize,
    /// Server-side deduplication window for `Nats-Msg-Id`, which messages
    /// holding several events carry (their last event's id; one-event
    /// messages are protected by their expected sequence instead). Default 2
    /// minutes.
    pub dedupe_window: Duration,
    /// Timeout of every request to the server (publish acks, lookups), at
    /// most [`aether_core::MAX_DURATION`]. Default 5 seconds.
    pub request_timeout: Duration,
    /// How [`crate::JetStreamEventStore::connect`] dials (timeout, client
    /// name); unused by `open`.
    pub connect: ConnectConfig,
    /// Most actors whose latest version is cached (0 disables the cache).
    /// Default 100 000.
    pub version_cache_capacity: usize,
    /// How many appends [`crate::JetStreamEventStore::append_many`] keeps in
    /// flight. Default 256.
    pub pipeline_depth: usize,
    /// Use the server's atomic batch publish for multi-event appends (and set
    /// `allow_atomic_publish` on the stream). Needs nats-server ≥ 2.12. When
    /// off, or on an older server, appending more than one event at once fails
    /// with [`aether_core::Error::Unsupported`]. Default `true`.
    pub atomic_batches: bool,
    /// How many partitions a namespace this store **creates** has: 1
    /// (default) is one stream, the layout every earlier version wrote
    /// (layout v1); a power of two from 2 to 1,024 is that many streams
    /// (layout v2), each taking the writes of a fixed range of the 1,024
    /// slices, so writes spread over as many stream leaders. An actor's
    /// slice and partition follow from the runtime's shard hash
    /// ([`aether_core::hash`]), so with `partitions` dividing the runtime's
    /// shard count every shard writes to exactly one stream.
    ///
    /// A namespace that exists keeps the layout it has (the store reads it
    /// from the streams' metadata): this setting does not repartition it
    /// (see [`crate::repartition`] and `docs/operations.md`).
    pub partitions: u32,
    /// Server tags placing the event streams a store creates (nats-server
    /// `server_tags`): the stream of partition `k` is placed on servers with
    /// tag `placement_tags[k % len]`. Empty (default): the server places
    /// them. Each tag needs at least `replicas` servers.
    pub placement_tags: Vec<String>,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        Self {
            stream_name: "AETHER".into(),
            namespace: "default".into(),
            retention: Duration::from_secs(365 * 24 * 60 * 60),
            replicas: 1,
            storage: StorageType::File,
            max_event_size: 1024 * 1024,
            dedupe_window: Duration::from_secs(120),
            request_timeout: Duration::from_secs(5),
            connect: ConnectConfig::default(),
            version_cache_capacity: 100_000,
            pipeline_depth: 256,
            atomic_batches: true,
            partitions: 1,
            placement_tags: Vec::new(),
        }
    }
}

impl JetStreamConfig {
    /// Checks every field; the error names the bad one.
    pub fn validate(&self) -> Result<()> {
        validate_name("stream name", &self.stream_name)?;
        if !self.namespace.is_empty() {
            validate_name("namespace", &self.namespace)?;
            if self.namespace.contains('_') {
                return Err(Error::invalid_input(format!(
                    "namespace {:?} is invalid: character '_' is not allowed (it joins the \
                     stream name and the namespace)",
                    self.namespace
                )));
            }
        }
        if self.replicas == 0 || self.replicas > 5 {
            return Err(Error::invalid_input(format!(
                "replicas must be 1 to 5, not {}",
                self.replicas
            )));
        }
        if self.max_event_size == 0 {
            return Err(Error::invalid_input("max_event_size must be > 0"));
        }
        if self.request_timeout.is_zero() || self.request_timeout > MAX_DURATION {
            return Err(Error::invalid_input(format!(
                "request_timeout must be above zero and at most {MAX_DURATION:?}, got {:?}",
                self.request_timeout
            )));
        }
        self.connect.validate()?;
        if self.pipeline_depth == 0 {
            return Err(Error::invalid_input("pipeline_depth must be > 0"));
        }
        if !self.partitions.is_power_of_two() || self.partitions > aether_core::hash::SLICES {
            return Err(Error::invalid_input(format!(
                "partitions must be a power of two from 1 to {}, not {}",
                aether_core::hash::SLICES,
                self.partitions
            )));
        }
        if let Some(bad) = self.placement_tags.iter().find(|t| t.is_empty()) {
            return Err(Error::invalid_input(format!(
                "placement tag {bad:?} is empty"
            )));
        }
        Ok(())
    }

    /// The namespace (empty when none).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The event stream's name: `<stream_name>_<namespace>`, or `stream_name`
    /// without a namespace. It is also the first token of every subject.
    pub fn effective_stream_name(&self) -> Result<String> {
        self.validate()?;
        Ok(if self.namespace.is_empty() {
            self.stream_name.clone()
        } else {
            format!("{}_{}", self.stream_name, self.namespace)
        })
    }

    /// The snapshot stream's name: the event stream's name with `_SNAP`.
    pub fn snapshot_stream_name(&self) -> Result<String> {
        Ok(format!("{}_SNAP", self.effective_stream_name()?))
    }

    /// The name of the stream of partition `partition` (layout v2):
    /// `<stream_name>_<namespace>_P<partition>`.
    pub fn partition_stream_name(&self, partition: u16) -> Result<String> {
        Ok(format!("{}_P{partition}", self.effective_stream_name()?))
    }

    /// The placement of the stream of partition `k` (see
    /// [`Self::placement_tags`]).
    pub(crate) fn placement(&self, k: u16) -> Option<stream::Placement> {
        if self.placement_tags.is_empty() {
            return None;
        }
        let tag = &self.placement_tags[usize::from(k) % self.placement_tags.len()];
        Some(stream::Placement {
            cluster: None,
            tags: vec![tag.clone()],
        })
    }

    /// The JetStream configuration of the event stream (layout v1).
    pub(crate) fn event_stream_config(&self, atomic: bool) -> Result<stream::Config> {
        let name = self.effective_stream_name()?;
        Ok(stream::Config {
            subjects: vec![format!("{name}.events.>")],
            name,
            placement: self.placement(0),
            description: Some("Aether events: one subject per actor".into()),
            max_age: self.retention,
            num_replicas: self.replicas,
            storage: self.storage,
            duplicate_window: self.dedupe_window,
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            allow_direct: true,
            deny_delete: true,
            allow_atomic_publish: atomic,
            ..Default::default()
        })
    }

    /// The JetStream configuration of the stream of partition `k` of `layout`
    /// (layout v2): the v1 settings, the subjects of its slices, placement
    /// and the layout in its metadata.
    pub(crate) fn partition_stream_config(
        &self,
        layout: &crate::layout::LayoutMeta,
        k: u16,
        atomic: bool,
    ) -> Result<stream::Config> {
        let base = self.effective_stream_name()?;
        let slices = layout.slices_of(k);
        Ok(stream::Config {
            name: self.partition_stream_name(k)?,
            subjects: slices
                .clone()
                .map(|s| crate::subject::partition_filter(&base, s))
                .collect(),
            description: Some(format!(
                "Aether events, partition {k} of {}: one subject per actor",
                layout.partitions
            )),
            metadata: layout.metadata(k),
            placement: self.placement(k),
            ..self.event_stream_config(atomic)?
        })
    }

    /// The JetStream configuration of the snapshot stream: one message per subject.
    pub(crate) fn snapshot_stream_config(&self) -> Result<stream::Config> {
        let events = self.effective_stream_name()?;
        Ok(stream::Config {
            name: self.snapshot_stream_name()?,
            subjects: vec![format!("{events}.snapshots.>")],
            description: Some("Aether snapshots: the latest per actor".into()),
            max_messages_per_subject: 1,
            num_replicas: self.replicas,
            storage: self.storage,
            duplicate_window: self.dedupe_window,
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            allow_direct: true,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `Duration::MAX` timeouts used to overflow
    /// `connect timeout + 1 s` and `now + request_timeout` at connect.
    #[test]
    fn huge_timeouts_are_invalid_input_not_overflows() {
        for c in [
            JetStreamConfig {
                request_timeout: Duration::MAX,
                ..Default::default()
            },
            JetStreamConfig {
                connect: ConnectConfig {
                    timeout: Duration::MAX,
                    ..Default::default()
                },
                ..Default::default()
            },
        ] {
            assert!(matches!(c.validate(), Err(Error::InvalidInput { .. })));
        }
    }

    #[test]
    fn defaults_are_valid() {
        let c = JetStreamConfig::default();
        c.validate().unwrap();
        assert_eq!(c.effective_stream_name().unwrap(), "AETHER_default");
        assert_eq!(c.retention, Duration::from_secs(31_536_000));
        assert_eq!(c.replicas, 1);
    }

    #[test]
    fn names_are_checked() {
        let bad_ns = JetStreamConfig {
            namespace: "a.b".into(),
            ..Default::default()
        };
        let err = bad_ns.validate().unwrap_err().to_string();
        assert!(err.contains("namespace"), "{err}");
        let under = JetStreamConfig {
            namespace: "a_b".into(),
            ..Default::default()
        };
        assert!(under.validate().is_err());
        let empty_ns = JetStreamConfig {
            namespace: String::new(),
            ..Default::default()
        };
        assert_eq!(empty_ns.effective_stream_name().unwrap(), "AETHER");
        let no_stream = JetStreamConfig {
            stream_name: String::new(),
            ..Default::default()
        };
        assert!(no_stream.validate().is_err());
        let zero = JetStreamConfig {
            replicas: 0,
            ..Default::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn stream_configs() {
        let c = JetStreamConfig::default();
        let e = c.event_stream_config(true).unwrap();
        assert_eq!(e.subjects, vec!["AETHER_default.events.>".to_string()]);
        assert!(e.allow_atomic_publish && e.allow_direct);
        let s = c.snapshot_stream_config().unwrap();
        assert_eq!(s.name, "AETHER_default_SNAP");
        assert_eq!(s.max_messages_per_subject, 1);
    }
}

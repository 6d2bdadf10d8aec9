//! [`RegistryConfig`]: which bucket holds the models, and how it is made.

use std::time::Duration;

use super::error::{RegistryError, RegistryErrorKind};

/// The registry's bucket unless configured otherwise.
pub const DEFAULT_BUCKET: &str = "aether-models";

/// The largest model a registry holds, as canonical JSON (the bucket's
/// `max_value_size`): 256 KiB.
pub const MAX_MODEL_BYTES: usize = 256 * 1024;

/// Where the model registry lives and how its bucket is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// The KV bucket (default [`DEFAULT_BUCKET`]).
    pub bucket: String,
    /// Replicas of the bucket when this opener creates it (default 1; 3 on
    /// a 3-server NATS cluster). An existing bucket keeps its own.
    pub replicas: usize,
    /// History kept per key when created (default 64: the pointer's last
    /// 64 moves, for audit).
    pub history: i64,
    /// How long one request to JetStream may take (default 5 s).
    pub timeout: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            bucket: DEFAULT_BUCKET.to_owned(),
            replicas: 1,
            history: 64,
            timeout: Duration::from_secs(5),
        }
    }
}

impl RegistryConfig {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`RegistryErrorKind::InvalidInput`] for a bucket name NATS refuses,
    /// replicas outside 1..=5, a history outside 1..=64 or a zero timeout.
    pub fn validate(&self) -> Result<(), RegistryError> {
        let bad = |m: String| Err(RegistryError::new(RegistryErrorKind::InvalidInput, m));
        let name_ok = !self.bucket.is_empty()
            && self
                .bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return bad(format!(
                "bucket {:?}: a bucket name is ASCII letters, digits, `_` and `-`",
                self.bucket
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return bad(format!("replicas {}: must be 1 to 5", self.replicas));
        }
        if !(1..=64).contains(&self.history) {
            return bad(format!("history {}: must be 1 to 64", self.history));
        }
        if self.timeout.is_zero() {
            return bad("timeout: must be more than zero".to_owned());
        }
        Ok(())
    }
}

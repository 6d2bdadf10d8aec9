//! The registry's keys and its pointer value.

use serde::{Deserialize, Serialize};

/// The key of version `version` of model `name`: `<name>.v<version>`.
///
/// # Examples
///
/// ```
/// assert_eq!(aether_model::deploy::version_key("account", 3), "account.v3");
/// ```
pub fn version_key(name: &str, version: u32) -> String {
    format!("{name}.v{version}")
}

/// The value of a model's pointer key (`<name>`): the version the cluster
/// runs, and what a node checks the version's document against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// The version to run.
    pub version: u32,
    /// SHA-256 (lower-case hex) of the version's canonical JSON as stored.
    pub sha256: String,
    /// Its state fingerprint.
    #[serde(default)]
    pub fingerprint: String,
    /// Every event type this version or an earlier one could emit (what
    /// every later version must still fold).
    #[serde(default)]
    pub emitted: Vec<String>,
}

impl Pointer {
    /// Reads a pointer value.
    ///
    /// # Errors
    ///
    /// The JSON error, when `bytes` is not a pointer.
    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The pointer as stored (compact JSON).
    pub fn encode(&self) -> Vec<u8> {
        // Numbers and strings only: this cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The model a key names, when it is a pointer key (no `.`).
#[cfg(feature = "nats")]
pub(crate) fn pointer_name(key: &str) -> Option<&str> {
    (!key.is_empty() && !key.contains('.')).then_some(key)
}

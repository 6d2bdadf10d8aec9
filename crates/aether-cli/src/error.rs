//! [`CliError`]: a one-line message and the exit code that says what kind
//! of failure it was.

use aether_core::Error;

/// Exit code: the operation failed.
pub(crate) const FAILED: u8 = 1;
/// Exit code: bad usage or input.
pub(crate) const USAGE: u8 = 2;
/// Exit code: not found.
pub(crate) const NOT_FOUND: u8 = 3;
/// Exit code: NATS unreachable.
pub(crate) const UNREACHABLE: u8 = 4;
/// Exit code: credentials or permission refused.
pub(crate) const DENIED: u8 = 5;

/// What ends a command unsuccessfully.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(USAGE, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(NOT_FOUND, message)
    }

    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::new(FAILED, message)
    }
}

/// The message on one line: the error and its causes, `: `-separated.
fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    aether_core::error_chain(e).replace('\n', " ")
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::InvalidInput { .. } | Error::TooLarge { .. } => USAGE,
            Error::Missing { .. } => NOT_FOUND,
            Error::Unavailable { .. } => UNREACHABLE,
            Error::PermissionDenied { .. } => DENIED,
            _ => FAILED,
        };
        Self::new(code, one_line(&e))
    }
}

impl From<aether_nats::ConnectError> for CliError {
    fn from(e: aether_nats::ConnectError) -> Self {
        use aether_nats::ConnectErrorKind as K;
        let code = match e.kind() {
            K::Unreachable => UNREACHABLE,
            K::Unauthorized | K::CredentialsExpired => DENIED,
            _ => USAGE,
        };
        Self::new(code, one_line(&e))
    }
}

impl From<aether_cluster::ClusterError> for CliError {
    fn from(e: aether_cluster::ClusterError) -> Self {
        use aether_cluster::ClusterErrorKind as K;
        let code = match e.kind() {
            K::InvalidInput | K::InvalidConfig => USAGE,
            K::NotFound => NOT_FOUND,
            K::Unavailable => UNREACHABLE,
            K::PermissionDenied => DENIED,
            _ => FAILED,
        };
        Self::new(code, one_line(&e))
    }
}

impl From<aether_bus::BusError> for CliError {
    fn from(e: aether_bus::BusError) -> Self {
        use aether_bus::BusErrorKind as K;
        let code = match e.kind() {
            K::InvalidNamespace | K::InvalidPattern | K::InvalidOptions => USAGE,
            K::Nats => UNREACHABLE,
            K::PermissionDenied => DENIED,
            _ => FAILED,
        };
        Self::new(code, one_line(&e))
    }
}

impl From<aether_model::deploy::RegistryError> for CliError {
    fn from(e: aether_model::deploy::RegistryError) -> Self {
        use aether_model::deploy::RegistryErrorKind as K;
        let code = match e.kind() {
            K::NotFound => NOT_FOUND,
            K::Unavailable => UNREACHABLE,
            K::InvalidInput => USAGE,
            _ => FAILED,
        };
        Self::new(code, one_line(&e))
    }
}

/// A failure of a raw NATS request, with what was being done.
pub(crate) fn nats(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::new(FAILED, format!("{what}: {e}"))
}

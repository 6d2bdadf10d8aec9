//! [`ConnectError`]: why dialing NATS failed. Both the credentials and TLS
//! settings (`auth.rs`) and the dial (`connect.rs`) report it; it depends on
//! neither.

use std::fmt;

use aether_core::{ComponentError, Error, ErrorKind, SharedError};

/// Why [`connect`](crate::connect()) failed. **What to do:** see each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// The addresses or the connect settings are invalid. **What to do:** fix
    /// them; retrying cannot help.
    InvalidConfig,
    /// No server answered in time (refused, unreachable, DNS, timeout).
    /// **What to do:** start a server or fix the address; retrying later may
    /// succeed.
    Unreachable,
    /// The server did not accept the credentials (wrong password, unknown
    /// user, a bad token or key, revoked credentials). **What to do:** fix
    /// the credentials; retrying as it is cannot help.
    Unauthorized,
    /// The credentials have expired (a user JWT past its `exp`). **What to
    /// do:** issue new credentials.
    CredentialsExpired,
    /// The TLS handshake failed (the server requires TLS and the client
    /// does not use it, or the other way round, an untrusted certificate, a
    /// missing client certificate). **What to do:** fix the TLS settings.
    Tls,
}

impl fmt::Display for ConnectErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidConfig => "invalid connect configuration",
            Self::Unreachable => "NATS unreachable",
            Self::Unauthorized => "credentials refused by the server",
            Self::CredentialsExpired => "credentials expired",
            Self::Tls => "TLS handshake failed",
        })
    }
}

impl ErrorKind for ConnectErrorKind {
    fn is_transient(self) -> bool {
        self == Self::Unreachable
    }

    fn is_invalid_input(self) -> bool {
        self == Self::InvalidConfig
    }

    fn into_core(self, message: String, source: Option<SharedError>) -> Error {
        match (self, source) {
            (Self::Unreachable, Some(s)) => Error::unavailable_with(message, s),
            (Self::Unreachable, None) => Error::unavailable(message),
            (Self::Unauthorized | Self::CredentialsExpired, Some(s)) => {
                Error::permission_denied_with(message, s)
            }
            (Self::Unauthorized | Self::CredentialsExpired, None) => {
                Error::permission_denied(message, None)
            }
            _ => Error::invalid_input(message),
        }
    }
}

/// The error of [`connect`](crate::connect()).
pub type ConnectError = ComponentError<ConnectErrorKind>;

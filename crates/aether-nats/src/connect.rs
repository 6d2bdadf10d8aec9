//! [`connect`]: dialing NATS the same way for every component.

use std::fmt;
use std::time::Duration;

use aether_core::{BoxError, ComponentError, Error, ErrorKind, MAX_DURATION};
use async_nats::Client;

use crate::addrs::ToServerAddrs;

/// How a component's `connect` door dials NATS. Part of every NATS-backed
/// component's configuration (`connect` field); unused by `open`, which takes
/// a client the caller built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// The client name the server shows for the connection (`nats server
    /// report connections`). Default `None`: `aether-<component>`, with the
    /// node id where the component has one.
    pub name: Option<String>,
    /// How long the whole dial may take (DNS, TCP, TLS, the NATS handshake),
    /// at most [`aether_core::MAX_DURATION`]. Default 5 seconds.
    pub timeout: Duration,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        Self {
            name: None,
            timeout: Duration::from_secs(5),
        }
    }
}

impl ConnectConfig {
    /// Checks the settings; the error names the bad one.
    pub fn validate(&self) -> Result<(), ConnectError> {
        if self.timeout.is_zero() || self.timeout > MAX_DURATION {
            return Err(ConnectError::new(
                ConnectErrorKind::InvalidConfig,
                format!(
                    "connect timeout must be above zero and at most {MAX_DURATION:?}, got {:?}",
                    self.timeout
                ),
            ));
        }
        if self
            .name
            .as_deref()
            .is_some_and(|n| n.contains(['\r', '\n']))
        {
            return Err(ConnectError::new(
                ConnectErrorKind::InvalidConfig,
                "connect name must not contain a line break",
            ));
        }
        Ok(())
    }
}

/// Why [`connect`] failed. **What to do:** see each kind.
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
    /// A server answered but refused the connection (authentication,
    /// authorization or TLS failed). **What to do:** fix the credentials or
    /// TLS settings; retrying as it is cannot help.
    Refused,
}

impl fmt::Display for ConnectErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidConfig => "invalid connect configuration",
            Self::Unreachable => "NATS unreachable",
            Self::Refused => "connection refused by the server",
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

    fn into_core(self, message: String, source: Option<BoxError>) -> Error {
        match (self, source) {
            (Self::Unreachable, Some(s)) => Error::unavailable_with(message, s),
            (Self::Unreachable, None) => Error::unavailable(message),
            _ => Error::invalid_input(message),
        }
    }
}

/// The error of [`connect`].
pub type ConnectError = ComponentError<ConnectErrorKind>;

/// Dials `addrs` with `config`; `default_name` names the client unless
/// `config.name` does. The dial is bounded by `config.timeout` as a whole.
pub async fn connect(
    addrs: impl ToServerAddrs,
    config: &ConnectConfig,
    default_name: &str,
) -> Result<Client, ConnectError> {
    connect_with(
        addrs,
        config,
        default_name,
        async_nats::ConnectOptions::new(),
    )
    .await
}

/// [`connect`] on top of `options` (for a component's own settings, such as
/// the bus's `no_echo`), failing with the component's own error kind `K`.
pub async fn connect_with<K>(
    addrs: impl ToServerAddrs,
    config: &ConnectConfig,
    default_name: &str,
    options: async_nats::ConnectOptions,
) -> Result<Client, ComponentError<K>>
where
    K: ErrorKind + From<ConnectErrorKind>,
{
    dial(addrs, config, default_name, options)
        .await
        .map_err(|e| e.map_kind(K::from))
}

async fn dial(
    addrs: impl ToServerAddrs,
    config: &ConnectConfig,
    default_name: &str,
    options: async_nats::ConnectOptions,
) -> Result<Client, ConnectError> {
    config.validate()?;
    let servers = addrs
        .to_server_addrs()
        .map_err(|e| ConnectError::new(ConnectErrorKind::InvalidConfig, e))?;
    // Scheme, host and port only: never credentials from a URL.
    let shown = servers
        .iter()
        .map(|s| format!("{}://{}:{}", s.scheme(), s.host(), s.port()))
        .collect::<Vec<_>>()
        .join(",");
    let name = config.name.as_deref().unwrap_or(default_name);
    let dial = options
        .name(name)
        .connection_timeout(config.timeout)
        .connect(servers);
    match tokio::time::timeout(config.timeout, dial).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => {
            use async_nats::ConnectErrorKind as K;
            let kind = match e.kind() {
                K::ServerParse => ConnectErrorKind::InvalidConfig,
                K::Authentication | K::AuthorizationViolation | K::Tls => ConnectErrorKind::Refused,
                K::Dns | K::TimedOut | K::Io | K::MaxReconnects => ConnectErrorKind::Unreachable,
            };
            Err(ConnectError::with_source(
                kind,
                format!("cannot connect to NATS at {shown}"),
                e,
            ))
        }
        Err(_) => Err(ConnectError::new(
            ConnectErrorKind::Unreachable,
            format!(
                "cannot connect to NATS at {shown}: no answer within {:?}",
                config.timeout
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked() {
        assert!(ConnectConfig::default().validate().is_ok());
        for bad in [Duration::ZERO, MAX_DURATION + Duration::from_secs(1)] {
            let c = ConnectConfig {
                timeout: bad,
                ..Default::default()
            };
            assert_eq!(
                c.validate().unwrap_err().kind(),
                ConnectErrorKind::InvalidConfig
            );
        }
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable_within_the_timeout() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = ConnectConfig {
            timeout: Duration::from_millis(500),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let err = connect(format!("nats://127.0.0.1:{port}"), &config, "t")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ConnectErrorKind::Unreachable);
        assert!(err.is_transient());
        assert!(err.to_string().contains(&port.to_string()), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(Error::from(err).is_transient());
    }

    #[tokio::test]
    async fn bad_addresses_are_invalid_config() {
        let err = connect("nats://a:1,nats://b:bad", &ConnectConfig::default(), "t")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ConnectErrorKind::InvalidConfig);
        assert!(Error::from(err).is_invalid_input());
    }
}

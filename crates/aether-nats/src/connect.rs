//! [`connect`]: dialing NATS the same way for every component.

use std::time::Duration;

use aether_core::{ComponentError, ErrorKind, MAX_DURATION};
use async_nats::Client;

use crate::addrs::ToServerAddrs;
use crate::auth::{Auth, TlsConfig};
use crate::error::{ConnectError, ConnectErrorKind};
use crate::refusal::Refusals;

/// How a component's `connect` door dials NATS. Part of every NATS-backed
/// component's configuration (`connect` field); unused by `open`, which takes
/// a client the caller built (build it with [`connect`] to get the same
/// settings and refusal reporting, or see [`Refusals`] to add refusal
/// reporting to a client of your own).
///
/// ```
/// use aether_nats::{Auth, ConnectConfig, TlsConfig};
/// let config = ConnectConfig {
///     auth: Auth::UserPassword { user: "orders".into(), password: "s3cret".into() },
///     tls: Some(TlsConfig { ca: Some("ca.pem".into()), ..Default::default() }),
///     ..Default::default()
/// };
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// The client name the server shows for the connection (`nats server
    /// report connections`). Default `None`: `aether-<component>`, with the
    /// node id where the component has one.
    pub name: Option<String>,
    /// How long the whole dial may take (DNS, TCP, TLS, the NATS handshake),
    /// at most [`aether_core::MAX_DURATION`]. Default 5 seconds.
    pub timeout: Duration,
    /// The credentials to present. Default none.
    pub auth: Auth,
    /// TLS settings; `Some` requires TLS. Default `None` (plain, unless the
    /// URL says `tls://` or the server requires TLS).
    pub tls: Option<TlsConfig>,
    /// The prefix of reply subjects (default `_INBOX`). Give each tenant its
    /// own (`_INBOX_<tenant>`) and permit only that, so one tenant cannot
    /// subscribe to another's replies (`docs/security.md`).
    pub inbox_prefix: Option<String>,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        Self {
            name: None,
            timeout: Duration::from_secs(5),
            auth: Auth::None,
            tls: None,
            inbox_prefix: None,
        }
    }
}

impl ConnectConfig {
    /// The settings the `nats` CLI reads from the environment, over the
    /// defaults: `NATS_USER` and `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_NKEY`
    /// (a file holding the seed), `NATS_CREDS` (a `.creds` file), `NATS_CA`,
    /// `NATS_CERT` and `NATS_KEY` (PEM files; any of them requires TLS),
    /// `NATS_TLS_FIRST` (`1`/`true`), `NATS_TIMEOUT` (seconds) and
    /// `NATS_INBOX_PREFIX`. The server addresses are `NATS_URL`, read by the
    /// caller. More than one kind of credential is invalid configuration.
    pub fn from_env() -> Result<Self, ConnectError> {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// [`Self::from_env`] over any source of variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConnectError> {
        let invalid = |m: String| ConnectError::new(ConnectErrorKind::InvalidConfig, m);
        let mut config = Self::default();
        let mut kinds = Vec::new();
        if let Some(user) = var("NATS_USER") {
            config.auth = Auth::UserPassword {
                user,
                password: var("NATS_PASSWORD").unwrap_or_default(),
            };
            kinds.push("NATS_USER");
        }
        if let Some(token) = var("NATS_TOKEN") {
            config.auth = Auth::Token(token);
            kinds.push("NATS_TOKEN");
        }
        if let Some(path) = var("NATS_NKEY") {
            let seed = std::fs::read_to_string(&path)
                .map_err(|e| invalid(format!("NATS_NKEY: cannot read {path}: {e}")))?;
            config.auth = Auth::NKey(seed.trim().to_string());
            kinds.push("NATS_NKEY");
        }
        if let Some(path) = var("NATS_CREDS") {
            config.auth = Auth::CredsFile(path.into());
            kinds.push("NATS_CREDS");
        }
        if kinds.len() > 1 {
            return Err(invalid(format!(
                "more than one kind of credential in the environment: {}",
                kinds.join(", ")
            )));
        }
        let (ca, cert, key) = (var("NATS_CA"), var("NATS_CERT"), var("NATS_KEY"));
        let first =
            var("NATS_TLS_FIRST").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        if ca.is_some() || cert.is_some() || key.is_some() || first {
            config.tls = Some(TlsConfig {
                ca: ca.map(Into::into),
                cert: cert.map(Into::into),
                key: key.map(Into::into),
                first,
            });
        }
        if let Some(t) = var("NATS_TIMEOUT") {
            let secs: f64 = t
                .parse()
                .map_err(|_| invalid(format!("NATS_TIMEOUT {t:?} is not a number of seconds")))?;
            config.timeout = Duration::try_from_secs_f64(secs)
                .map_err(|_| invalid(format!("NATS_TIMEOUT {t:?} is out of range")))?;
        }
        config.inbox_prefix = var("NATS_INBOX_PREFIX");
        config.validate()?;
        Ok(config)
    }

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
        if let Some(prefix) = &self.inbox_prefix
            && (prefix.is_empty()
                || prefix
                    .split('.')
                    .any(|t| t.is_empty() || t == "*" || t == ">")
                || prefix.contains(char::is_whitespace))
        {
            return Err(ConnectError::new(
                ConnectErrorKind::InvalidConfig,
                format!("inbox prefix {prefix:?} must be a subject without wildcards"),
            ));
        }
        Ok(())
    }
}

/// Dials `addrs` with `config`; `default_name` names the client unless
/// `config.name` does. The dial is bounded by `config.timeout` as a whole.
///
/// The connection gets its own [`Refusals`]: installed as its event
/// callback and attached to the client, so the stores, buses and nodes
/// opened on it (or on a clone) end an operation the server refuses at
/// once, with a permission error naming the subject, and are never ended by
/// another connection's refusals.
///
/// # Errors
///
/// A [`ConnectError`] whose kind says what to do:
/// [`InvalidConfig`](ConnectErrorKind::InvalidConfig) for bad addresses or
/// settings (also a creds file that cannot be read), before anything is
/// dialed; [`Unreachable`](ConnectErrorKind::Unreachable) when no server
/// answered within `config.timeout`;
/// [`Unauthorized`](ConnectErrorKind::Unauthorized) and
/// [`CredentialsExpired`](ConnectErrorKind::CredentialsExpired) for refused
/// credentials; [`Tls`](ConnectErrorKind::Tls) for a failed TLS handshake.
///
/// # Examples
///
/// ```no_run
/// use aether_nats::{Auth, ConnectConfig, ConnectErrorKind, Refusals, connect};
///
/// # async fn run() -> Result<(), aether_nats::ConnectError> {
/// let config = ConnectConfig {
///     auth: Auth::UserPassword { user: "orders".into(), password: "s3cret".into() },
///     ..ConnectConfig::default()
/// };
/// match connect("nats://10.0.0.1:4222,nats://10.0.0.2:4222", &config, "orders-service").await {
///     Ok(client) => assert!(Refusals::of(&client).is_some()),
///     Err(e) if e.kind() == ConnectErrorKind::Unreachable => eprintln!("retry later: {e}"),
///     Err(e) => return Err(e),
/// }
/// # Ok(())
/// # }
/// ```
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
/// `config` and the connection's [`Refusals`] are applied over `options`:
/// the name (`config.name`, else `default_name`), the connection timeout,
/// the credentials, TLS and inbox prefix `config` sets, and the event
/// callback (call
/// [`Refusals::on_event`] from your own callback and
/// [`Refusals::attach`] the record to keep both; see [`Refusals`]).
///
/// # Errors
///
/// As [`connect`], with the kind converted into `K`.
///
/// # Examples
///
/// ```no_run
/// use aether_nats::{ConnectConfig, ConnectErrorKind, connect_with};
///
/// # async fn run() -> Result<(), aether_nats::ConnectError> {
/// let options = async_nats::ConnectOptions::new().no_echo();
/// let client =
///     connect_with::<ConnectErrorKind>("nats://127.0.0.1:4222", &ConnectConfig::default(), "tool", options)
///         .await?;
/// # drop(client);
/// # Ok(())
/// # }
/// ```
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
    let mut options = crate::auth::apply(options, &config.auth, config.tls.as_ref()).await?;
    if let Some(prefix) = &config.inbox_prefix {
        options = options.custom_inbox_prefix(prefix.clone());
    }
    let refusals = Refusals::new();
    let dial = refusals
        .install(options.name(name).connection_timeout(config.timeout))
        .connect(servers);
    match tokio::time::timeout(config.timeout, dial).await {
        Ok(Ok(client)) => {
            refusals.attach(&client);
            Ok(client)
        }
        Ok(Err(e)) => {
            use async_nats::ConnectErrorKind as K;
            let kind = match e.kind() {
                K::ServerParse => ConnectErrorKind::InvalidConfig,
                K::Authentication | K::AuthorizationViolation => ConnectErrorKind::Unauthorized,
                K::Tls => ConnectErrorKind::Tls,
                K::Io if is_tls_failure(&e) => ConnectErrorKind::Tls,
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

/// Whether an I/O failure of the dial was the TLS handshake's (async-nats
/// reports those as I/O errors carrying the rustls error).
fn is_tls_failure(e: &async_nats::ConnectError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if err.is::<async_nats::rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<async_nats::rustls::Error>())
        {
            return true;
        }
        next = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::Error;

    #[test]
    fn the_environment_is_read_like_the_nats_cli() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = ConnectConfig::from_vars(vars(&[
            ("NATS_USER", "u"),
            ("NATS_PASSWORD", "p"),
            ("NATS_CA", "/ca.pem"),
            ("NATS_TIMEOUT", "2.5"),
            ("NATS_INBOX_PREFIX", "_INBOX_t"),
        ]))
        .unwrap();
        assert_eq!(
            c.auth,
            Auth::UserPassword {
                user: "u".into(),
                password: "p".into()
            }
        );
        assert_eq!(
            c.tls.unwrap().ca.unwrap(),
            std::path::PathBuf::from("/ca.pem")
        );
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(c.inbox_prefix.as_deref(), Some("_INBOX_t"));
        let c = ConnectConfig::from_vars(vars(&[("NATS_CREDS", "/u.creds")])).unwrap();
        assert_eq!(c.auth, Auth::CredsFile("/u.creds".into()));
        assert!(c.tls.is_none());
        let both = ConnectConfig::from_vars(vars(&[("NATS_USER", "u"), ("NATS_TOKEN", "t")]));
        assert_eq!(both.unwrap_err().kind(), ConnectErrorKind::InvalidConfig);
        let bad = ConnectConfig::from_vars(vars(&[("NATS_INBOX_PREFIX", "a.*")]));
        assert_eq!(bad.unwrap_err().kind(), ConnectErrorKind::InvalidConfig);
        assert_eq!(
            ConnectConfig::from_vars(|_| None).unwrap(),
            ConnectConfig::default()
        );
    }

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

//! How a connection proves who it is ([`Auth`]) and secures itself
//! ([`TlsConfig`]), as [`crate::ConnectConfig`] carries them; applied onto
//! async-nats's `ConnectOptions`.

use std::fmt;
use std::path::{Path, PathBuf};

use async_nats::ConnectOptions;

use crate::error::{ConnectError, ConnectErrorKind};

/// The credentials a connection presents. Secrets never appear in `Debug`.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Auth {
    /// None (a server without authentication, or credentials in the URL).
    #[default]
    None,
    /// A user name and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A token.
    Token(String),
    /// An NKey seed (`SU...`): the server knows the public key.
    NKey(String),
    /// A `.creds` file: a user JWT and its NKey seed (decentralised auth,
    /// `nsc`). The JWT's expiry is checked before dialing.
    CredsFile(PathBuf),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::UserPassword { user, .. } => {
                write!(f, "UserPassword {{ user: {user:?}, password: \"***\" }}")
            }
            Self::Token(_) => f.write_str("Token(\"***\")"),
            Self::NKey(_) => f.write_str("NKey(\"***\")"),
            Self::CredsFile(path) => write!(f, "CredsFile({path:?})"),
        }
    }
}

/// TLS settings. With any of them set the connection requires TLS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// A PEM file of CA certificates to trust (in addition to none: the
    /// system roots are not loaded). `None`: the webpki roots.
    pub ca: Option<PathBuf>,
    /// A PEM client certificate, for servers that verify clients
    /// (`verify: true`); needs `key`.
    pub cert: Option<PathBuf>,
    /// The PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// Start TLS before the server's INFO (`handshake_first` servers).
    pub first: bool,
}

fn invalid(message: impl Into<String>) -> ConnectError {
    ConnectError::new(ConnectErrorKind::InvalidConfig, message)
}

/// Applies `auth` and `tls` onto `options`. Reads a creds file (and refuses
/// one whose JWT has expired) before anything is dialed.
pub(crate) async fn apply(
    mut options: ConnectOptions,
    auth: &Auth,
    tls: Option<&TlsConfig>,
) -> Result<ConnectOptions, ConnectError> {
    options = match auth {
        Auth::None => options,
        Auth::UserPassword { user, password } => {
            options.user_and_password(user.clone(), password.clone())
        }
        Auth::Token(token) => options.token(token.clone()),
        Auth::NKey(seed) => {
            // Checked here, so a bad seed is a configuration error rather
            // than a failed handshake.
            nkeys::KeyPair::from_seed(seed.trim())
                .map_err(|e| invalid(format!("the NKey seed is not valid: {e}")))?;
            options.nkey(seed.trim().to_string())
        }
        Auth::CredsFile(path) => {
            check_creds_expiry(path)?;
            options.credentials_file(path).await.map_err(|e| {
                invalid(format!("cannot use the creds file {}: {e}", path.display()))
            })?
        }
    };
    if let Some(tls) = tls {
        options = options.require_tls(true);
        if let Some(ca) = &tls.ca {
            must_exist(ca, "CA file")?;
            options = options.add_root_certificates(ca.clone());
        }
        match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => {
                must_exist(cert, "client certificate")?;
                must_exist(key, "client key")?;
                options = options.add_client_certificate(cert.clone(), key.clone());
            }
            (None, None) => {}
            _ => return Err(invalid("a TLS client certificate needs both cert and key")),
        }
        if tls.first {
            options = options.tls_first();
        }
    }
    Ok(options)
}

fn must_exist(path: &Path, what: &str) -> Result<(), ConnectError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(invalid(format!(
            "the TLS {what} {} does not exist",
            path.display()
        )))
    }
}

/// Refuses a creds file whose user JWT has expired (`exp` in the past), so
/// the caller learns why instead of the server's bare "authorization
/// violation".
fn check_creds_expiry(path: &Path) -> Result<(), ConnectError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(format!(
            "cannot read the creds file {}: {e}",
            path.display()
        ))
    })?;
    let Some(jwt) = creds_jwt(&text) else {
        return Err(invalid(format!(
            "the creds file {} holds no user JWT",
            path.display()
        )));
    };
    if let Some(exp) = jwt_expiry(jwt) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if exp <= now {
            return Err(ConnectError::new(
                ConnectErrorKind::CredentialsExpired,
                format!(
                    "the user JWT in {} expired {} s ago: issue new credentials",
                    path.display(),
                    now - exp
                ),
            ));
        }
    }
    Ok(())
}

/// The user JWT of a creds file: the line after `-----BEGIN NATS USER JWT-----`.
fn creds_jwt(text: &str) -> Option<&str> {
    let mut lines = text.lines().map(str::trim);
    lines.find(|l| l.starts_with("-----BEGIN NATS USER JWT"))?;
    lines.find(|l| !l.is_empty())
}

/// The `exp` claim (seconds since the epoch) of a JWT, if it has one.
fn jwt_expiry(jwt: &str) -> Option<u64> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt_with(claims: serde_json::Value) -> String {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#),
            b64(claims.to_string().as_bytes()),
            b64(b"sig")
        )
    }

    fn creds(jwt: &str) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\nSUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n------END USER NKEY SEED------\n"
        )
    }

    #[test]
    fn expired_creds_are_refused_before_dialing() {
        let dir = std::env::temp_dir().join(format!("aether-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let expired = dir.join("expired.creds");
        std::fs::write(
            &expired,
            creds(&jwt_with(serde_json::json!({"exp": 1_000}))),
        )
        .unwrap();
        let err = check_creds_expiry(&expired).unwrap_err();
        assert_eq!(err.kind(), ConnectErrorKind::CredentialsExpired);
        assert!(err.to_string().contains("expired"), "{err}");
        let fine = dir.join("fine.creds");
        std::fs::write(&fine, creds(&jwt_with(serde_json::json!({"sub": "U"})))).unwrap();
        assert!(check_creds_expiry(&fine).is_ok());
        let garbage = dir.join("garbage.creds");
        std::fs::write(&garbage, "nothing here").unwrap();
        assert_eq!(
            check_creds_expiry(&garbage).unwrap_err().kind(),
            ConnectErrorKind::InvalidConfig
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let a = Auth::UserPassword {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Token("t0k3n".into())).contains("t0k3n"));
        assert!(!format!("{:?}", Auth::NKey("SUAB".into())).contains("SUAB"));
    }
}

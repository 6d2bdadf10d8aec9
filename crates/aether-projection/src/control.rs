//! Operating a running projection over NATS (with
//! [`crate::ProjectionRunner::with_control`]): the active instance answers
//! requests on `aether.projection.<name>.control` and publishes its
//! [`crate::Status`] on `aether.projection.<name>.status`, for tools such as
//! `aether rebuild` and its progress bar.
//!
//! Requests (JSON): `{"op": "rebuild"}` → `{"ok": true}`, then the runner
//! resets the projection and replays the whole log; `{"op": "status"}` →
//! the status. Only the instance holding the lease subscribes, so a request
//! reaches the active one; with no instance active, the request finds no
//! responders.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::status::{State, Status};

/// The subject the active instance of projection `name` answers.
pub fn control_subject(name: &str) -> String {
    format!("aether.projection.{name}.control")
}

/// The subject where the active instance of `name` publishes its status.
pub fn status_subject(name: &str) -> String {
    format!("aether.projection.{name}.status")
}

/// A status as JSON (the `.status` messages and `{"op":"status"}` replies).
pub fn status_json(name: &str, s: &Status) -> Value {
    let p = s.progress();
    let (state, error) = match &s.state {
        State::Starting => ("starting", None),
        State::Standby => ("standby", None),
        State::CatchingUp => ("catching-up", None),
        State::Live => ("live", None),
        State::Retrying { error, .. } => ("retrying", Some(error.clone())),
        State::Reconnecting { error } => ("reconnecting", Some(error.clone())),
        State::Failed { error, .. } => ("failed", Some(error.clone())),
        State::Stopped => ("stopped", None),
    };
    json!({
        "projection": name,
        "state": state,
        "error": error,
        "position": s.position.map(|p| p.to_string()),
        "handled": s.handled,
        "done": p.done,
        "total": p.total,
        "rate": p.rate,
        "eta_s": p.eta.map(|d| d.as_secs_f64()),
        "lease_token": s.lease_token,
    })
}

/// What an operator asked.
pub(crate) enum Ask {
    Rebuild,
}

/// The control subscription of the active instance.
pub(crate) struct Control {
    client: async_nats::Client,
    sub: async_nats::Subscriber,
    name: String,
    status: watch::Receiver<Status>,
}

impl Control {
    pub(crate) async fn open(
        client: &async_nats::Client,
        name: &str,
        status: watch::Receiver<Status>,
    ) -> Option<Self> {
        let sub = client.subscribe(control_subject(name)).await.ok()?;
        Some(Self {
            client: client.clone(),
            sub,
            name: name.to_string(),
            status,
        })
    }

    /// The next request that needs the runner; answers the others itself.
    pub(crate) async fn next(&mut self) -> Ask {
        loop {
            let Some(msg) = self.sub.next().await else {
                return std::future::pending().await;
            };
            let op = serde_json::from_slice::<Value>(&msg.payload)
                .ok()
                .and_then(|v| v.get("op").and_then(Value::as_str).map(str::to_string));
            let (answer, ask) = match op.as_deref() {
                Some("rebuild") => (json!({"ok": true}), Some(Ask::Rebuild)),
                Some("status") => (status_json(&self.name, &self.status.borrow()), None),
                other => (
                    json!({"error": format!("unknown op {other:?} (rebuild, status)")}),
                    None,
                ),
            };
            if let Some(reply) = msg.reply {
                let _ = self
                    .client
                    .publish(reply, answer.to_string().into_bytes().into())
                    .await;
            }
            if let Some(ask) = ask {
                return ask;
            }
        }
    }
}

/// Publishes `name`'s status on its status subject whenever it changes, at
/// most every 200 ms, until aborted.
pub(crate) fn publish_status(
    client: async_nats::Client,
    name: String,
    mut status: watch::Receiver<Status>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let subject = status_subject(&name);
        loop {
            let body = status_json(&name, &status.borrow_and_update()).to_string();
            let _ = client
                .publish(subject.clone(), body.into_bytes().into())
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            if status.changed().await.is_err() {
                return;
            }
        }
    })
}

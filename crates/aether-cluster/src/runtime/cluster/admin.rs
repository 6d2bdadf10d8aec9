//! The operator endpoint of a node: `aether.rt.<cluster>.admin.<node>`
//! answers requests (JSON) listing the node's active actors and asking one
//! to passivate, for tools such as the `aether` CLI. See `docs/wire.md`.
//!
//! Requests: `{"op": "actors"}` → `{"node": .., "actors": ["counter-1", ..]}`;
//! `{"op": "passivate", "actor": "counter-1"}` → `{"node": .., "passivated":
//! true|false}` (false: not active here); anything else → `{"error": ..}`.

use std::sync::Arc;

use aether_core::ActorId;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::id::NodeId;
use crate::runtime::host::passivate_in;
use crate::runtime::registry::Registry;

/// The admin subject of `node` in `cluster`.
pub fn admin_subject(cluster: &str, node: &NodeId) -> String {
    format!("aether.rt.{cluster}.admin.{node}")
}

#[derive(Deserialize)]
struct Request {
    op: String,
    #[serde(default)]
    actor: Option<String>,
}

/// The system's types.
pub(crate) type Types = Arc<Registry>;

/// Serves the admin subject until the task is aborted.
pub(crate) async fn start(
    client: async_nats::Client,
    subject: String,
    node: NodeId,
    types: Types,
) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
    let mut requests = client.subscribe(subject).await?;
    Ok(tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            let Some(reply) = msg.reply.clone() else {
                continue;
            };
            let answer = answer(&node, &types, &msg.payload);
            let _ = client
                .publish(reply, answer.to_string().into_bytes().into())
                .await;
        }
    }))
}

fn answer(node: &NodeId, types: &Types, payload: &[u8]) -> serde_json::Value {
    let request: Request = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(e) => return json!({"node": node.as_str(), "error": format!("bad request: {e}")}),
    };
    match (request.op.as_str(), request.actor) {
        ("actors", _) => {
            let mut ids: Vec<String> = types
                .actors()
                .iter()
                .flat_map(|(_, actors, _)| actors.ids())
                .map(|id| id.as_str().to_string())
                .collect();
            ids.sort();
            json!({"node": node.as_str(), "actors": ids})
        }
        ("passivate", Some(actor)) => match ActorId::new(&actor) {
            Ok(id) => {
                let actors = types.actors();
                let passivated = passivate_in(actors.iter().map(|(n, a, _)| (&**n, a)), &id);
                json!({"node": node.as_str(), "passivated": passivated})
            }
            Err(e) => {
                json!({"node": node.as_str(), "error": format!("bad actor id: {}", e.message())})
            }
        },
        (op, _) => {
            json!({"node": node.as_str(), "error": format!("unknown op {op:?} (actors, passivate)")})
        }
    }
}

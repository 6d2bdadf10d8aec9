//! The replay check: fold real histories with a model before publishing it
//! (decoded, upcast and folded exactly as the runtime will).

use std::fmt;

use aether_core::aggregate::Behavior;
use aether_core::{ActorId, EventStore};
use serde::Serialize;

use crate::behavior::{Deployed, ModelBehavior};

/// The first history a model could not fold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayFailure {
    /// The actor.
    pub actor: String,
    /// The version of the event that could not be decoded or folded.
    pub version: u64,
    /// Its type.
    pub event_type: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ReplayFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "actor {} cannot be replayed: event {} ({}): {}",
            self.actor, self.version, self.event_type, self.message
        )
    }
}

/// What a replay check did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Histories folded (up to and including the failing one).
    pub actors: usize,
    /// Events folded.
    pub events: u64,
    /// The first history that failed; `None` when all folded.
    pub failure: Option<ReplayFailure>,
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(
                f,
                "replayed {} actors ({} events): all fold",
                self.actors, self.events
            ),
            Some(failure) => write!(f, "{failure}"),
        }
    }
}

/// Folds the whole history of each of `actors` (read from `store`) with
/// `model`, the way the runtime activates an actor (each event decoded,
/// upcast by the version that wrote it, folded), and stops at the first
/// event that fails.
///
/// # Errors
///
/// The store's error when a history cannot be read (a malformed entry
/// included).
///
/// # Examples
///
/// ```
/// use aether_core::{ActorId, Event, EventStore, json};
/// use aether_model::{Deployed, Model, check};
/// use aether_model::deploy::replay_check;
/// use aether_store_memory::InMemoryEventStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml"))?;
/// let model = Deployed::new(check(&Model::from_yaml(&yaml)?).map_err(aether_model::ModelErrors)?);
/// let store = InMemoryEventStore::new();
/// let ann = ActorId::new("account-ann")?;
/// store.append(Event::new(ann.clone(), 1, "Opened", json!({"owner": "ann", "overdraft": 0}))).await?;
/// store.append(Event::new(ann.clone(), 2, "Teleported", json!({}))).await?;
///
/// let report = replay_check(&model, &store, &[ann]).await?;
/// let failure = report.failure.unwrap();
/// assert_eq!((failure.actor.as_str(), failure.version), ("account-ann", 2));
/// # Ok(())
/// # }
/// ```
pub async fn replay_check<S: EventStore>(
    model: &Deployed,
    store: &S,
    actors: &[ActorId],
) -> aether_core::Result<ReplayReport> {
    let mut report = ReplayReport::default();
    for actor in actors {
        report.actors += 1;
        let mut state = ModelBehavior::initial(model);
        for event in store.read(actor, 1).await? {
            let folded = ModelBehavior::decode_event(model, &event)
                .and_then(|e| ModelBehavior::evolve(model, &mut state, &e));
            if let Err(e) = folded {
                report.failure = Some(ReplayFailure {
                    actor: actor.to_string(),
                    version: event.version,
                    event_type: event.event_type.to_string(),
                    message: e.to_string(),
                });
                return Ok(report);
            }
            report.events += 1;
        }
    }
    Ok(report)
}

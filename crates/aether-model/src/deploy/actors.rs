//! The actors of a type in a JetStream event store: the histories a replay
//! check folds.

use aether_core::ActorId;
use aether_store_jetstream::{JetStreamEventStore, Subjects, encode_token};
use futures::TryStreamExt;

use super::error::{RegistryError, RegistryErrorKind};
use super::registry::unavailable;

/// Up to `limit` actors of type `actor_type` that have events in `store`
/// (from the stream's per-subject counts; in no particular order).
///
/// # Errors
///
/// [`RegistryErrorKind::Unavailable`] when the stream's information cannot
/// be read.
///
/// # Examples
///
/// ```no_run
/// use aether_model::deploy::{actors_of_type, replay_check};
/// # async fn run(store: aether_store_jetstream::JetStreamEventStore, model: aether_model::Deployed)
/// #     -> Result<(), Box<dyn std::error::Error>> {
/// let actors = actors_of_type(&store, "account", 100).await?;
/// let report = replay_check(&model, &store, &actors).await?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
pub async fn actors_of_type(
    store: &JetStreamEventStore,
    actor_type: &str,
    limit: usize,
) -> Result<Vec<ActorId>, RegistryError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let stream_name = store.stream_name();
    let js = async_nats::jetstream::new(store.client().clone());
    let stream = js
        .get_stream(stream_name)
        .await
        .map_err(|e| unavailable(format!("reading the event stream {stream_name}"), e))?;
    let filter = format!("{stream_name}.events.{}.*", encode_token(actor_type));
    let mut subjects = stream
        .info_with_subjects(filter.as_str())
        .await
        .map_err(|e| unavailable(format!("listing the subjects {filter}"), e))?;
    let names = Subjects::new(stream_name);
    let mut out = Vec::new();
    while let Some((subject, _count)) = subjects
        .try_next()
        .await
        .map_err(|e| unavailable(format!("listing the subjects {filter}"), e))?
    {
        match names.actor_of_event_subject(&subject) {
            Ok(actor) => out.push(actor),
            Err(e) => {
                return Err(RegistryError::with_source(
                    RegistryErrorKind::Corrupt,
                    format!("the subject {subject} names no actor"),
                    e,
                ));
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

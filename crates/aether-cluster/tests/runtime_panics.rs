//! A bug in an aggregate (a panic in `handle`, `apply` or `query`) fails the
//! command or the query it ran for, never the runtime, the other commands of
//! its turn, or the caller that happened to run the actor: an actor at rest
//! runs in its caller's task, so a panic that escaped would unwind there.

mod runtime_support;

use aether_cluster::runtime::{ActorConfig, AskError, RuntimeConfig, RuntimeErrorKind};
use aether_core::EventStore;
use aether_core::aggregate::{Aggregate, DomainEvent, Queryable};
use runtime_support::{actor, fresh, store, system};
use serde::{Deserialize, Serialize};

/// A tally that panics deciding 13, applying 666, and answering `Boom`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Fragile {
    total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Added {
    Added(u64),
}

impl DomainEvent for Added {
    fn event_type(&self) -> &'static str {
        "Added"
    }
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl Aggregate for Fragile {
    const TYPE: &'static str = "fragile";
    type Command = u64;
    type Event = Added;
    type Error = Never;

    fn handle(&self, n: &u64) -> Result<Vec<Added>, Never> {
        assert_ne!(*n, 13, "thirteen is unlucky");
        Ok(vec![Added::Added(*n)])
    }

    fn apply(&mut self, Added::Added(n): &Added) {
        self.total += n;
        assert_ne!(*n, 666, "applied half way");
    }
}

#[derive(Debug, Serialize, Deserialize)]
enum Ask {
    Total,
    Boom,
}

impl Queryable for Fragile {
    type Query = Ask;
    type Answer = u64;

    fn query(&self, q: &Ask) -> u64 {
        match q {
            Ask::Total => self.total,
            Ask::Boom => panic!("no answer"),
        }
    }
}

fn cause(e: &AskError<Fragile>) -> String {
    match e {
        AskError::Unavailable { cause, .. } => cause.to_string(),
        other => panic!("expected the command back as unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_its_own_command_or_query_and_nothing_else() {
    let s = store();
    let sys =
        system::<Fragile, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let id = fresh::<Fragile>();
    let f = actor::<Fragile>(&sys, &id);
    f.ask(1).await.unwrap();

    // Deciding: the command comes back, not applied; the actor goes on.
    let e = f.ask(13).await.unwrap_err();
    assert!(cause(&e).contains("thirteen is unlucky"), "{e}");
    assert!(e.into_command().is_some());
    assert_eq!(f.ask(2).await.unwrap().version, 2);

    // Applying: not applied either, and the half-applied state is thrown
    // away (reloaded from the log before the next command).
    assert!(cause(&f.ask(666).await.unwrap_err()).contains("applied half way"));
    assert_eq!(f.query(Ask::Total).await.unwrap(), 3);
    assert_eq!(f.ask(4).await.unwrap().version, 3);

    // Answering: the query fails, the actor answers the next one.
    let q = f.query(Ask::Boom).await.unwrap_err();
    assert_eq!(q.kind(), RuntimeErrorKind::BadRequest);
    assert_eq!(f.query(Ask::Total).await.unwrap(), 7);
    assert_eq!(s.read(&id, 1).await.unwrap().len(), 3);
    sys.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_shared_turn_spoils_none_of_the_other_commands() {
    let s = store();
    s.delay_appends(std::time::Duration::from_millis(5));
    let sys =
        system::<Fragile, _>(&s, None, RuntimeConfig::default(), ActorConfig::default()).await;
    let id = fresh::<Fragile>();
    let f = actor::<Fragile>(&sys, &id);
    let asks: Vec<_> = [1u64, 13, 2, 666, 3, 13, 4]
        .into_iter()
        .cycle()
        .take(70)
        .map(|n| {
            let f = f.clone();
            tokio::spawn(async move { (n, f.ask(n).await) })
        })
        .collect();
    let mut applied = 0u64;
    for a in asks {
        let (n, r) = a.await.unwrap();
        match (n, r) {
            (13 | 666, Err(AskError::Unavailable { .. })) => {}
            (n, Ok(_)) if n != 13 && n != 666 => applied += n,
            (n, other) => panic!("{n}: {other:?}"),
        }
    }
    assert_eq!(f.query(Ask::Total).await.unwrap(), applied);
    let stored = s.read(&id, 1).await.unwrap();
    assert_eq!(stored.len(), 40, "the 40 good commands, once each");
    sys.shutdown().await.unwrap();
}

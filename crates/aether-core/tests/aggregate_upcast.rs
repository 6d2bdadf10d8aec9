//! Schema evolution: events stored by v1 code are read by v2 code through an
//! upcaster.

use aether_core::aggregate::{Aggregate, AggregateTest, DomainEvent, Repository, UpcasterChain};
use aether_core::{ActorId, Error, Event, EventStore, json};
use aether_store_memory::InMemoryEventStore;
use serde::{Deserialize, Serialize};

/// Version 1 of the account events: amounts in whole units, type `MoneyIn`.
mod v1 {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) enum Event {
        Opened { owner: String },
        MoneyIn { amount: u64 },
    }

    impl DomainEvent for Event {
        fn event_type(&self) -> &'static str {
            match self {
                Self::Opened { .. } => "Opened",
                Self::MoneyIn { .. } => "MoneyIn",
            }
        }
    }
}

/// Version 2: the deposit is called `Deposited` and carries cents and a
/// currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum V2Event {
    Opened { owner: String },
    Deposited { cents: u64, currency: String },
}

impl DomainEvent for V2Event {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "Opened",
            Self::Deposited { .. } => "Deposited",
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct V2Account {
    cents: u64,
}

impl Aggregate for V2Account {
    const TYPE: &'static str = "account";
    type Command = u64;
    type Event = V2Event;
    type Error = std::convert::Infallible;

    fn handle(&self, cents: &u64) -> Result<Vec<V2Event>, Self::Error> {
        Ok(vec![V2Event::Deposited {
            cents: *cents,
            currency: "EUR".into(),
        }])
    }

    fn apply(&mut self, event: &V2Event) {
        if let V2Event::Deposited { cents, .. } = event {
            self.cents += cents;
        }
    }
}

fn v1_to_v2() -> UpcasterChain {
    UpcasterChain::new().map_data("MoneyIn", Some("Deposited"), |data| {
        let amount = data["amount"]
            .as_u64()
            .ok_or_else(|| Error::invalid_input("MoneyIn without an amount"))?;
        Ok(json!({"cents": amount * 100, "currency": "EUR"}))
    })
}

/// Stores events the way v1 code did (typed v1 events, default mapping).
async fn store_v1_history(store: &InMemoryEventStore, id: &ActorId) {
    let v1 = [
        v1::Event::Opened {
            owner: "ada".into(),
        },
        v1::Event::MoneyIn { amount: 3 },
    ];
    for (i, e) in v1.iter().enumerate() {
        store
            .append(Event::new(
                id.clone(),
                i as u64 + 1,
                e.event_type(),
                e.to_data().unwrap(),
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn stored_v1_event_is_read_by_v2_code() {
    let store = InMemoryEventStore::new();
    let id = ActorId::new("account-v1").unwrap();
    store_v1_history(&store, &id).await;

    // Without the upcaster, v2 code cannot read the history: a clear error.
    let err = Repository::<V2Account, _>::new(store.clone())
        .load(&id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("MoneyIn"), "{err}");

    let repo = Repository::<V2Account, _>::new(store.clone()).with_upcasters(v1_to_v2());
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.version, loaded.state.cents), (2, 300));
    let c = repo.execute(&id, 50).await.unwrap();
    assert_eq!((c.version, c.state.cents), (3, 350));

    // The stored history is unchanged: v1 events stay v1 on disk.
    let stored = store.read(&id, 1).await.unwrap();
    assert_eq!(stored[1].event_type, "MoneyIn");
    assert_eq!(stored[1].data, json!({"amount": 3}));
    assert_eq!(stored[2].event_type, "Deposited");
}

#[test]
fn harness_reads_v1_events_through_the_upcaster() {
    let id = ActorId::new("account-v1").unwrap();
    let t = AggregateTest::<V2Account>::given_no_previous_events()
        .with_upcasters(v1_to_v2())
        .and_stored(vec![Event::new(id, 1, "MoneyIn", json!({"amount": 2}))]);
    assert_eq!(t.state().cents, 200);
}

#[tokio::test]
async fn a_failing_upcaster_is_an_error_not_a_skip() {
    let store = InMemoryEventStore::new();
    let id = ActorId::new("account-bad").unwrap();
    store
        .append(Event::new(id.clone(), 1, "MoneyIn", json!({"oops": true})))
        .await
        .unwrap();
    let repo = Repository::<V2Account, _>::new(store).with_upcasters(v1_to_v2());
    let err = repo.load(&id).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
}

//! The given/when/then harness, tested on the bank account aggregate.

use aether_core::aggregate::{AggregateTest, UpcasterChain};
use aether_core::{ActorId, Event, json};
use aether_testkit::fixtures::*;

#[test]
fn given_when_then_expect_events() {
    let state = AggregateTest::<Account>::given(vec![
        AccountEvent::Opened {
            owner: "ada".into(),
        },
        AccountEvent::Deposited { amount: 10 },
    ])
    .when(withdraw(4))
    .then_expect_events(vec![AccountEvent::Withdrawn { amount: 4 }]);
    assert_eq!(state.balance, 6);
    assert_eq!(state.transactions, 3);
}

#[test]
fn given_no_events_when_open() {
    AggregateTest::<Account>::given_no_previous_events()
        .when(open("ada"))
        .then_expect_events(vec![AccountEvent::Opened {
            owner: "ada".into(),
        }]);
}

#[test]
fn then_expect_error_by_message_and_by_predicate() {
    let given = || {
        AggregateTest::<Account>::given(vec![AccountEvent::Opened {
            owner: "ada".into(),
        }])
        .and(vec![AccountEvent::Deposited { amount: 3 }])
    };
    given()
        .when(withdraw(5))
        .then_expect_error_message("insufficient funds: balance 3, requested 5");
    let err = given()
        .when(withdraw(5))
        .then_expect_error(|e| matches!(e, AccountError::InsufficientFunds { .. }));
    assert_eq!(
        err,
        AccountError::InsufficientFunds {
            balance: 3,
            requested: 5
        }
    );
    AggregateTest::<Account>::given_no_previous_events()
        .when(deposit(1))
        .then_expect_error(|e| *e == AccountError::NotOpen);
}

#[test]
fn then_expect_state_sees_the_new_events() {
    AggregateTest::<Account>::given(vec![AccountEvent::Opened {
        owner: "ada".into(),
    }])
    .when(deposit(7))
    .then_expect_state(|s| s.balance == 7);
}

#[test]
fn given_stored_events_go_through_upcasters() {
    let actor = ActorId::new("account-1").unwrap();
    let chain = UpcasterChain::new().rename("AccountOpened", "Opened");
    let t = AggregateTest::<Account>::given_no_previous_events()
        .with_upcasters(chain)
        .and_stored(vec![
            Event::new(actor.clone(), 1, "AccountOpened", json!({"owner": "ada"})),
            Event::new(actor, 2, "Deposited", json!({"amount": 2})),
        ]);
    assert_eq!(t.state().balance, 2);
    t.when(withdraw(2))
        .then_expect_events(vec![AccountEvent::Withdrawn { amount: 2 }]);
}

#[test]
#[should_panic(expected = "the command caused other events")]
fn harness_fails_on_wrong_events() {
    AggregateTest::<Account>::given(vec![AccountEvent::Opened {
        owner: "ada".into(),
    }])
    .when(deposit(1))
    .then_expect_events(vec![AccountEvent::Deposited { amount: 2 }]);
}

#[test]
#[should_panic(expected = "the command was rejected")]
fn harness_fails_when_events_expected_but_rejected() {
    AggregateTest::<Account>::given_no_previous_events()
        .when(deposit(1))
        .then_expect_events(vec![]);
}

#[test]
#[should_panic(expected = "but the command caused")]
fn harness_fails_when_error_expected_but_events_caused() {
    AggregateTest::<Account>::given_no_previous_events()
        .when(open("ada"))
        .then_expect_error_message("account not open");
}

#[test]
#[should_panic(expected = "the command failed differently")]
fn harness_fails_on_wrong_error() {
    AggregateTest::<Account>::given_no_previous_events()
        .when(deposit(1))
        .then_expect_error_message("something else");
}

#[test]
#[should_panic(expected = "unexpected error")]
fn harness_fails_on_unmatched_error_predicate() {
    AggregateTest::<Account>::given_no_previous_events()
        .when(deposit(1))
        .then_expect_error(|e| *e == AccountError::ZeroAmount);
}

#[test]
#[should_panic(expected = "does not survive storage")]
fn harness_catches_events_that_do_not_round_trip() {
    use aether_core::aggregate::{Aggregate, DomainEvent};
    use serde::{Deserialize, Serialize};

    /// NaN is written as JSON `null`, which does not decode as a float.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Bad {
        Ratio(f64),
    }
    impl DomainEvent for Bad {
        fn event_type(&self) -> &'static str {
            "Ratio"
        }
    }
    #[derive(Debug, Default, Serialize, Deserialize)]
    struct Agg;
    impl Aggregate for Agg {
        const TYPE: &'static str = "agg";
        type Command = ();
        type Event = Bad;
        type Error = std::io::Error;
        fn handle(&self, _: &()) -> Result<Vec<Bad>, std::io::Error> {
            Ok(vec![Bad::Ratio(f64::NAN)])
        }
        fn apply(&mut self, _: &Bad) {}
    }
    AggregateTest::<Agg>::given_no_previous_events()
        .when(())
        .then_expect_events(vec![Bad::Ratio(f64::NAN)]);
}
